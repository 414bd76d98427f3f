"""Marts benchmark: `seller_daily_sales` on the embedded engine against awswrangler + pandas.

Issue 4: on a generated lake of at least 10,000,000 sales lines over 365 days, in one run, build
`seller_daily_sales` for every day, and run one seller's 90-day report, on the embedded engine
(`pipelines.marts.runner.build` with `DuckDBEngine`) and the awswrangler/pandas way
(`wr.s3.read_parquet` of the staging partitions, pandas group-bys computing the same figures,
`wr.s3.to_parquet(partition_cols=["dt"])`). Goals: >= 10x faster, <= 1/3 of the peak memory, the
one-seller query under a second. Results and analysis: docs/benchmarks-marts.md.

Steps (each in a fresh child process with a timeout; peak RSS is the child's own `VmHWM`, read by
the child as it ends - not `ru_maxrss`, which Linux carries over from the parent; wall time is the
child's own clock around the work, after its imports; CPU is user + system from `wait4`):

1. the raw lake (`raw_sales`, `raw_order_events`), generated with seeded, vectorised numpy/pyarrow
   and written with the lake's own `PartitionWriter`; cached on disk under `$TMPDIR`;
2. the staging models `stg_sales` and `stg_event_lines`, built from it with the runner on disk
   (timed separately: in production staging is materialised upstream of the marts); cached too;
3. a moto S3 server on a free loopback port (stopped by pid); the staging partitions are copied
   into a bucket in the lake's S3 layout (run folders, manifests, `_current/` pointers);
4. on moto S3: the competitor, then ours (`build(...)` with the runner's default chunk, with one
   chunk for the whole year, and with the proposed concurrent partition writes), each on a fresh
   `marts/` zone and compared with the competitor's output row for row; moto's log counts the
   S3 requests of every step;
5. the one-seller report over 90 days: `DuckDBEngine.query` on ours' mart (cold: a new lake and
   engine in a fresh process; warm: the same engine again; a new engine in the warm process)
   against `wr.s3.read_parquet` of the competitor's mart + pandas; the rows are compared;
6. the same build on a disk lake (the same staging files): pandas (`pd.read_parquet`,
   `to_parquet`) and ours, outputs compared; the report on disk.

    .venv/bin/python bench/marts_bench.py                 # 10,000,000 lines / 365 days: ~8 min
                                                          # (+ ~4 min generation, ~4 min staging once)
    .venv/bin/python bench/marts_bench.py --quick         # 1,000,000 lines: a smoke test, ~4 min
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import Proc, free_port, wait_for_quiet, wait_http
from benchlib import rss_mb as _rss_mb
from benchlib import status_mb as _status_mb

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.append(str(REPO))  # after PYTHONPATH and the editable install

FIRST_DAY = dt.date(2025, 1, 1)
DAY_MS = 86_400_000
DATA_VERSION = 1  # bump when the generator changes (the cache key)


# ================================================================================================
# the data: a year of sales lines and their order events
# ================================================================================================
LINES_PER_ORDER = ((1, 0.56), (2, 0.25), (3, 0.12), (4, 0.07))  # the simulation's mixes (docs/simulation.md)
UNITS_PER_LINE = ((1, 0.78), (2, 0.16), (3, 0.06))
CURRENCIES = (("USD", 0.30), ("EUR", 0.34), ("GBP", 0.12), ("JPY", 0.10), ("CAD", 0.07), ("AUD", 0.07))
COUNTRIES = (("US", 30), ("GB", 12), ("DE", 12), ("JP", 10), ("FR", 8), ("CA", 7), ("AU", 7), ("ES", 5), ("IT", 5),
             ("NL", 4))  # fmt: skip
KINDS = (  # kind, weight, platforms, unit price range (cents)
    ("game", 49, ("PlayStation 5", "PC", "PlayStation 4", "Xbox Series X|S", "Nintendo Switch"), (1999, 6999)),
    ("merch", 27, ("Merchandise",), (1500, 4999)),
    ("dlc", 18, ("PlayStation 5", "PC", "PlayStation 4", "Xbox Series X|S", "Nintendo Switch"), (499, 1999)),
    ("gift_card", 6, ("Nintendo eShop", "PlayStation Store", "Xbox Store", "Steam"), (1000, 5000)),
)
GENRES = ("Action", "Adventure", "RPG", "Shooter", "Sports", "Strategy", "Puzzle", "Racing", "Simulation", "Platformer")
WEEKDAY = (0.92, 0.90, 0.94, 0.98, 1.08, 1.32, 1.26)
EVENT_TYPES = ("order_placed", "payment_captured", "order_shipped", "order_delivered", "order_cancelled",
               "order_refunded")  # fmt: skip
STATUSES = ("placed", "cancelled", "refunded")  # the storefront changes a sale line's status on these only
CROCKFORD = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"
DUPLICATE_SHARE = 0.02  # raw rows delivered twice (an older version of a sale line, or the same event again)


def _strings(prefix: bytes, body: Any) -> Any:
    """A pyarrow string array `prefix + row` from an (n, k) uint8 matrix of ASCII bytes."""
    import numpy as np
    import pyarrow as pa

    n, k = body.shape
    width = len(prefix) + k
    data = np.empty((n, width), dtype=np.uint8)
    data[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    data[:, len(prefix) :] = body
    offsets = np.arange(0, n * width + 1, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data.tobytes()))


def _ulids(prefix: str, ms: Any, rand: Any) -> Any:
    """ULIDs (`prefix_` + 10 time characters + 16 random ones) for times `ms` and (n, 16) random 5-bit values."""
    import numpy as np

    alphabet = np.frombuffer(CROCKFORD, dtype=np.uint8)
    ms = np.asarray(ms, dtype=np.int64)
    chars = np.empty((len(ms), 26), dtype=np.uint8)
    for i in range(10):
        chars[:, i] = alphabet[(ms >> (5 * (9 - i))) & 31]
    chars[:, 10:] = alphabet[rand]
    return _strings(prefix.encode() + b"_", chars)


def _hex_ids(rng: Any, n: int, nbytes: int) -> Any:
    import numpy as np

    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    return _strings(b"", digits[rng.integers(0, 16, (n, 2 * nbytes), dtype=np.uint8)])


def _triangular_ms(rng: Any, n: int, lo: float, mode: float, hi: float) -> Any:
    return (rng.triangular(lo, mode, hi, n) * DAY_MS).astype("int64")


class World:
    """Sellers, products, buyers, orders, their lines and their lifecycle: one seeded draw, all numpy."""

    def __init__(self, lines: int, days: int, seed: int) -> None:
        import numpy as np
        import pyarrow as pa

        rng = np.random.default_rng(seed)
        self.days = days
        self.seed = seed
        self.start_ms = int(dt.datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=dt.UTC).timestamp()
                            * 1000)  # fmt: skip
        self.end_ms = self.start_ms + days * DAY_MS  # exclusive

        # sellers: a long tail of popularity, one currency each
        n_sellers = int(min(500, max(60, lines // 30_000)))
        popularity = 1.0 / np.arange(1, n_sellers + 1) ** 1.1
        self.seller_currency = rng.choice(len(CURRENCIES), n_sellers, p=[w for _, w in CURRENCIES]).astype(np.int8)
        seller_ms = self.start_ms - rng.integers(DAY_MS, 900 * DAY_MS, n_sellers)
        self.seller_ids = _ulids("sel", seller_ms, rng.integers(0, 32, (n_sellers, 16), dtype=np.uint8))
        self.currencies = pa.array([c for c, _ in CURRENCIES])

        # products: more for popular sellers, contiguous per seller
        per_seller = np.maximum(3, np.round(40 * n_sellers * popularity**0.6 / (popularity**0.6).sum())).astype(
            np.int64
        )
        self.product_first = np.concatenate([[0], np.cumsum(per_seller)[:-1]])
        self.product_count = per_seller
        n_products = int(per_seller.sum())
        kind = rng.choice(len(KINDS), n_products, p=np.array([k[1] for k in KINDS]) / sum(k[1] for k in KINDS))
        platform_names = sorted({p for k in KINDS for p in k[2]})
        platform = np.empty(n_products, dtype=np.int64)
        price = np.empty(n_products, dtype=np.int64)
        for i, (_, _, platforms, (lo, hi)) in enumerate(KINDS):
            m = kind == i
            choice = rng.integers(0, len(platforms), int(m.sum()))
            platform[m] = [platform_names.index(p) for p in np.array(platforms)[choice]]
            price[m] = (rng.integers(lo // 100, hi // 100 + 1, int(m.sum())) * 100) - 1  # x.99 prices
        product_seller = np.repeat(np.arange(n_sellers), per_seller)
        jpy = np.array([c for c, _ in CURRENCIES].index("JPY"))
        price = np.where(self.seller_currency[product_seller] == jpy, (price + 1) // 100 * 100, price)
        self.product_price = price
        genre = rng.integers(0, len(GENRES), n_products)
        has_genre = np.isin(kind, [0, 2])  # games and dlc
        self.product_ids = _ulids(
            "prd", self.start_ms - rng.integers(DAY_MS, 700 * DAY_MS, n_products),
            rng.integers(0, 32, (n_products, 16), dtype=np.uint8),
        )  # fmt: skip
        self.product_kind = pa.array(np.array([k[0] for k in KINDS])[kind])
        self.product_platform = pa.array(np.array(platform_names)[platform])
        self.product_genre = pa.array(np.where(has_genre, np.array(GENRES)[genre], None), pa.string())

        # orders: how many lines each, and when (weekday factors, slow growth, a few promotion days)
        mean = sum(n * p for n, p in LINES_PER_ORDER)
        guess = int(lines / mean * 1.05) + 1000
        n_lines = rng.choice([n for n, _ in LINES_PER_ORDER], guess, p=[p for _, p in LINES_PER_ORDER]).astype(np.int64)
        cum = np.cumsum(n_lines)
        n_orders = int(np.searchsorted(cum, lines)) + 1
        n_lines = n_lines[:n_orders]
        day_w = np.array([WEEKDAY[(FIRST_DAY + dt.timedelta(days=d)).weekday()] for d in range(days)])
        day_w *= 1.0025 ** np.arange(days)
        promo = rng.choice(days, max(1, days // 40), replace=False)
        day_w[promo] *= rng.uniform(2.0, 3.0, len(promo))
        per_day = rng.multinomial(n_orders, day_w / day_w.sum())
        order_day = np.repeat(np.arange(days), per_day)
        self.order_ms = np.sort(self.start_ms + order_day * DAY_MS + rng.integers(0, DAY_MS, n_orders))
        self.order_first = np.concatenate([[0], np.cumsum(n_lines)[:-1]])
        self.order_lines = n_lines
        self.day_order_bounds = np.concatenate([[0], np.cumsum(per_day)])
        self.order_ids = _ulids("ord", self.order_ms, rng.integers(0, 32, (n_orders, 16), dtype=np.uint8))

        # buyers: many, a heavy tail of repeat buyers; a country each
        n_buyers = max(10_000, int(n_orders * 0.35))
        buyer_cdf = np.cumsum(rng.pareto(1.2, n_buyers) + 1.0)
        self.order_buyer = np.searchsorted(buyer_cdf, rng.random(n_orders) * buyer_cdf[-1]).astype(np.int64)
        self.buyer_ids = _hex_ids(rng, n_buyers, 16)  # keyed-HMAC pseudonyms: 32 hex characters
        country_w = np.array([w for _, w in COUNTRIES], dtype=float)
        self.buyer_country = pa.array(
            np.array([c for c, _ in COUNTRIES])[rng.choice(len(COUNTRIES), n_buyers, p=country_w / country_w.sum())]
        )

        # lines: the first line's seller by popularity; every other line half the time from the same
        # seller, otherwise from another seller of the same currency (an order has one currency)
        seller_cdf = np.cumsum(popularity)
        order_seller = np.searchsorted(seller_cdf, rng.random(n_orders) * seller_cdf[-1]).clip(0, n_sellers - 1)
        self.order_currency = self.seller_currency[order_seller]
        n_total = int(n_lines.sum())
        line_order = np.repeat(np.arange(n_orders), n_lines)
        self.line_no = (np.arange(n_total) - np.repeat(self.order_first, n_lines) + 1).astype(np.int32)
        by_currency = np.argsort(self.seller_currency, kind="stable")
        sorted_currency = self.seller_currency[by_currency]
        group_cdf = np.empty(n_sellers)  # per currency group, from c (exclusive) to c + 1
        for c in range(len(CURRENCIES)):
            m = sorted_currency == c
            if m.any():
                w = np.cumsum(popularity[by_currency][m])
                group_cdf[m] = c + w / w[-1]
        other = np.searchsorted(group_cdf, self.order_currency[line_order] + 1e-9 + rng.random(n_total) * 0.999998)
        other = by_currency[other.clip(0, n_sellers - 1)]
        same = (self.line_no == 1) | (rng.random(n_total) < 0.5)
        self.line_seller = np.where(same, order_seller[line_order], other)
        self.line_product = self.product_first[self.line_seller] + (
            self.product_count[self.line_seller] * rng.random(n_total) ** 2
        ).astype(np.int64)
        self.line_qty = rng.choice([n for n, _ in UNITS_PER_LINE], n_total, p=[p for _, p in UNITS_PER_LINE]).astype(
            np.int32
        )
        self.line_unit = self.product_price[self.line_product]
        self.line_amount = self.line_qty * self.line_unit
        self.line_order = line_order
        self.order_total = np.add.reduceat(self.line_amount, self.order_first)

        # lifecycle (docs/simulation.md): payment, cancellation (4 %, 35 % of them before payment),
        # shipment, delivery, refunds (5 % of delivered orders, 40 % of the multi-line ones partial)
        t0 = self.order_ms
        t_pay = t0 + 30_000 + np.minimum(rng.exponential(240_000, n_orders), 3_600_000).astype(np.int64)
        ship_delay = _triangular_ms(rng, n_orders, 0.5, 1.0, 3.0)
        t_ship = t_pay + ship_delay
        t_deliv = t_ship + _triangular_ms(rng, n_orders, 1.0, 2.0, 5.0)
        cancel = rng.random(n_orders) < 0.04
        before_pay = cancel & (rng.random(n_orders) < 0.35)
        t_cancel = np.where(
            before_pay,
            t_pay + rng.integers(20 * 60_000, 3 * 3_600_000, n_orders),
            t_pay + (rng.uniform(0.02, 0.25, n_orders) * ship_delay).astype(np.int64),
        )
        refund = ~cancel & (rng.random(n_orders) < 0.05)
        t_refund = t_deliv + _triangular_ms(rng, n_orders, 1.0, 3.0, 14.0)
        partial = refund & (n_lines > 1) & (rng.random(n_orders) < 0.4)
        refund_first = self.order_first + np.where(partial, (rng.random(n_orders) * n_lines).astype(np.int64), 0)
        refund_lines = np.where(partial, 1, n_lines)

        # events: (order, time, type, first line, number of lines, amount); after the window: not yet
        refund_amount = np.add.reduceat(
            np.where(
                (np.arange(n_total) >= np.repeat(refund_first, n_lines))
                & (np.arange(n_total) < np.repeat(refund_first + refund_lines, n_lines)),
                self.line_amount,
                0,
            ),
            self.order_first,
        )
        orders = np.arange(n_orders)
        parts = []
        for code, mask, times, first, count, amount in (
            (0, np.ones(n_orders, bool), t0, self.order_first, n_lines, self.order_total),
            (1, ~before_pay, t_pay, self.order_first, n_lines, self.order_total),
            (2, ~cancel, t_ship, self.order_first, n_lines, self.order_total),
            (3, ~cancel, t_deliv, self.order_first, n_lines, self.order_total),
            (4, cancel, t_cancel, self.order_first, n_lines, self.order_total),
            (5, refund, t_refund, refund_first, refund_lines, refund_amount),
        ):
            m = mask & (times < self.end_ms)
            parts.append((orders[m], times[m], np.full(int(m.sum()), code, np.int8), first[m], count[m], amount[m]))
        ev = [np.concatenate([p[i] for p in parts]) for i in range(6)]
        order_by_time = np.argsort(ev[1], kind="stable")
        self.ev_order, self.ev_ms, self.ev_type, self.ev_first, self.ev_lines, self.ev_amount = (
            a[order_by_time] for a in ev
        )
        self.day_event_bounds = np.searchsorted(self.ev_ms, self.start_ms + np.arange(days + 1) * DAY_MS)
        self.ev_rand = rng.integers(0, 32, (len(self.ev_ms), 16), dtype=np.uint8)

        # each sale line's status and last change as of the window's end
        status = np.zeros(n_total, np.int8)
        updated = np.repeat(t0, n_lines)
        cancelled_line = np.repeat(cancel & (t_cancel < self.end_ms), n_lines)
        status[cancelled_line] = 1
        updated = np.where(cancelled_line, np.repeat(t_cancel, n_lines), updated)
        refunded_line = (
            np.repeat(refund & (t_refund < self.end_ms), n_lines)
            & (np.arange(n_total) >= np.repeat(refund_first, n_lines))
            & (np.arange(n_total) < np.repeat(refund_first + refund_lines, n_lines))
        )
        status[refunded_line] = 2
        self.line_status = status
        self.line_updated = np.where(refunded_line, np.repeat(t_refund, n_lines), updated)
        self.n_lines = n_total
        self.n_orders = n_orders
        self.n_events = len(self.ev_ms)
        self.n_sellers = n_sellers
        self.n_buyers = n_buyers
        self.n_products = n_products

    def day(self, d: int) -> str:
        return (FIRST_DAY + dt.timedelta(days=d)).isoformat()

    def _shards(self, d: int, n: int, rng: Any) -> Any:
        import pyarrow as pa

        return pa.array([f"{self.day(d)}#{k}" for k in range(8)]).take(pa.array(rng.integers(0, 8, n)))

    def sales(self, d: int) -> Any:
        """The raw_sales partition of day `d`: its lines, plus older versions / copies of a few."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        from pipelines.ingest.schemas import RAW_SALES, UTC_MS

        rng = np.random.default_rng([self.seed, 1, d])
        o_a, o_b = self.day_order_bounds[d], self.day_order_bounds[d + 1]
        a = int(self.order_first[o_a]) if o_a < self.n_orders else self.n_lines
        b = int(self.order_first[o_b]) if o_b < self.n_orders else self.n_lines
        idx = np.arange(a, b)
        dup = idx[rng.random(len(idx)) < DUPLICATE_SHARE]
        rows = np.concatenate([idx, dup])
        status = self.line_status[rows].copy()
        updated = self.line_updated[rows].copy()
        old = np.arange(len(rows)) >= len(idx)  # the copies: an older version where the line changed since
        updated[old] = np.where(status[old] > 0, self.order_ms[self.line_order[rows[old]]], updated[old])
        status[old] = 0
        order = self.line_order[rows]
        sold = self.order_ms[order]
        sold_at = pa.array(sold, pa.timestamp("ms")).cast(UTC_MS)
        line = pa.array(self.line_no[rows])
        order_id = self.order_ids.take(pa.array(order))
        sk = pc.binary_join_element_wise(
            pc.binary_join_element_wise(pc.strftime(sold_at, "%Y-%m-%dT%H:%M:%S"), "Z", ""),
            order_id,
            pc.utf8_lpad(pc.cast(line, pa.string()), 2, "0"),
            "#",
        )
        product = pa.array(self.line_product[rows])
        seller = pa.array(self.line_seller[rows])
        buyer = pa.array(self.order_buyer[order])
        arrays = [
            self.seller_ids.take(seller),
            sk,
            order_id,
            line,
            sold_at,
            self.product_ids.take(product),
            self.product_kind.take(product),
            self.product_platform.take(product),
            self.product_genre.take(product),
            pa.array(self.line_qty[rows]),
            pa.array(self.line_unit[rows]),
            pa.array(self.line_amount[rows]),
            self.currencies.take(pa.array(self.order_currency[order])),
            self.buyer_country.take(buyer),
            self.buyer_ids.take(buyer),
            pa.array(np.array(STATUSES)[status]),
            pa.array(updated, pa.timestamp("ms")).cast(UTC_MS),
            self._shards(d, len(rows), rng),
        ]
        return pa.Table.from_arrays(arrays, schema=RAW_SALES)

    def events(self, d: int) -> Any:
        """The raw_order_events partition of day `d`, a few events delivered twice."""
        import numpy as np
        import pyarrow as pa

        from pipelines.ingest.schemas import EVENT_LINE, RAW_ORDER_EVENTS, UTC_MS

        rng = np.random.default_rng([self.seed, 2, d])
        idx = np.arange(self.day_event_bounds[d], self.day_event_bounds[d + 1])
        rows = np.concatenate([idx, idx[rng.random(len(idx)) < DUPLICATE_SHARE]])
        order = self.ev_order[rows]
        counts = self.ev_lines[rows]
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        flat = np.repeat(self.ev_first[rows] - offsets[:-1], counts) + np.arange(int(offsets[-1]))
        product = pa.array(self.line_product[flat])
        lines = pa.StructArray.from_arrays(
            [
                pa.array(self.line_no[flat]),
                self.seller_ids.take(pa.array(self.line_seller[flat])),
                self.product_ids.take(product),
                pa.array(self.line_qty[flat]),
                pa.array(self.line_unit[flat]),
                pa.array(self.line_amount[flat]),
                self.product_kind.take(product),
                self.product_platform.take(product),
            ],
            fields=list(EVENT_LINE),
        )
        buyer = pa.array(self.order_buyer[order])
        arrays = [
            _ulids("evt", self.ev_ms[rows], self.ev_rand[rows]),
            pa.array(np.array(EVENT_TYPES)[self.ev_type[rows]]),
            pa.array(np.ones(len(rows), np.int32)),
            pa.array(self.ev_ms[rows], pa.timestamp("ms")).cast(UTC_MS),
            self.order_ids.take(pa.array(order)),
            pa.nulls(len(rows), pa.string()),
            self.buyer_ids.take(buyer),
            self.buyer_country.take(buyer),
            self.currencies.take(pa.array(self.order_currency[order])),
            pa.array(self.ev_amount[rows]),
            pa.ListArray.from_arrays(pa.array(offsets), lines, type=pa.list_(EVENT_LINE)),
            self._shards(d, len(rows), rng),
        ]
        return pa.Table.from_arrays(arrays, schema=RAW_ORDER_EVENTS)


def generate(folder: Path, lines: int, days: int, seed: int) -> dict[str, Any]:
    """The raw lake under `folder/lake` (cached: `folder/raw.json` is written last)."""
    marker = folder / "raw.json"
    if marker.exists():
        return json.loads(marker.read_text())
    import pyarrow as pa

    from pipelines.ingest.schemas import RAW_ORDER_EVENTS, RAW_SALES
    from pipelines.lake.fs import LakeFS
    from pipelines.lake.partitions import PartitionWriter

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    t0 = time.perf_counter()
    world = World(lines, days, seed)
    drawn = time.perf_counter() - t0
    lake = LakeFS.from_uri(f"file://{folder / 'lake'}")
    sales_w = PartitionWriter(lake, "raw_sales", RAW_SALES)
    events_w = PartitionWriter(lake, "raw_order_events", RAW_ORDER_EVENTS)
    raw_sales = raw_events = event_lines = 0
    for d in range(days):
        sales = world.sales(d)
        events = world.events(d)
        raw_sales += sales.num_rows
        raw_events += events.num_rows
        event_lines += len(pa.compute.list_flatten(events["lines"]))
        sales_w.write(world.day(d), [sales])
        events_w.write(world.day(d), [events])
        if d % 30 == 0:
            print(f"  generated {world.day(d)} ({time.perf_counter() - t0:.0f}s)", flush=True)
    meta = {
        "version": DATA_VERSION,
        "lines": world.n_lines,
        "orders": world.n_orders,
        "events": world.n_events,
        "raw_sales_rows": raw_sales,
        "raw_event_rows": raw_events,
        "raw_event_lines": event_lines,
        "sellers": world.n_sellers,
        "buyers": world.n_buyers,
        "products": world.n_products,
        "first": world.day(0),
        "last": world.day(days - 1),
        "draw_s": round(drawn, 1),
        "generate_s": round(time.perf_counter() - t0, 1),
        "bytes": sum(p.stat().st_size for p in (folder / "lake").rglob("*.parquet")),
    }
    marker.write_text(json.dumps(meta, indent=1))
    return meta


# ================================================================================================
# children: one step or approach each, in a fresh process
# ================================================================================================
def _engine(cfg: dict[str, Any], lake: Any) -> Any:
    from gitgoods.settings import get_settings
    from pipelines.sql.duckdb_engine import DuckDBEngine

    return DuckDBEngine(
        get_settings(), lake=lake, dynamodb=False, threads=cfg.get("threads"), memory_limit=cfg.get("memory_limit")
    )


def child_generate(cfg: dict[str, Any]) -> dict[str, Any]:
    base = _rss_mb()
    t0 = time.perf_counter()
    meta = generate(Path(cfg["folder"]), cfg["lines"], cfg["days"], cfg["seed"])
    return {"wall": time.perf_counter() - t0, "baseline_rss_mb": base, "meta": meta}


def child_staging(cfg: dict[str, Any]) -> dict[str, Any]:
    """Build stg_sales and stg_event_lines for every day of the raw lake (the runner, on disk)."""
    from pipelines.lake.fs import LakeFS
    from pipelines.marts.models import discover
    from pipelines.marts.runner import build

    models = discover()
    lake = LakeFS.from_uri(cfg["lake"])
    base = _rss_mb()
    out: dict[str, Any] = {"baseline_rss_mb": base}
    t0 = time.perf_counter()
    with _engine(cfg, lake) as engine:
        for name in ("stg_sales", "stg_event_lines"):
            t = time.perf_counter()
            r = build(models[name], cfg["first"], cfg["last"], engine=engine, lake=lake)
            out[name] = {"wall": time.perf_counter() - t, "rows": r.rows, "query_s": r.query_s, "write_s": r.write_s}
            print(f"  {name}: {r.rows:,} rows in {out[name]['wall']:.1f}s", flush=True)
    out["wall"] = time.perf_counter() - t0
    return out


def child_upload(cfg: dict[str, Any]) -> dict[str, Any]:
    """Copy the current staging partitions of the disk lake into the S3 lake, in the lake's S3
    layout: the run folders as they are, then each partition's pointer (its manifest)."""
    from concurrent.futures import ThreadPoolExecutor

    from pipelines.lake.fs import LakeFS
    from pipelines.lake.partitions import (
        MANIFEST,
        current_manifest,
        list_partitions,
        pointer_rel,
        run_rel,
    )

    src = LakeFS.from_uri(cfg["source"])
    dst = LakeFS.from_uri(cfg["lake"])
    t0 = time.perf_counter()
    copied = {"files": 0, "bytes": 0}

    def one(table: str, day: str) -> int:
        manifest = current_manifest(src, table, day, zone="stg")
        assert manifest is not None
        rel = run_rel("stg", table, day, manifest["run_id"])
        size = 0
        for name in [f["name"] for f in manifest["files"]] + [MANIFEST]:
            data = src.read_bytes(rel, name)
            with dst.fs.open_output_stream(dst.path(rel, name)) as fh:
                fh.write(data)
            size += len(data)
        dst.write_bytes(json.dumps(manifest).encode(), pointer_rel("stg", table, day), content_type="application/json")
        return size

    jobs = [(t, d) for t in cfg["tables"] for d in list_partitions(src, t, zone="stg")]
    with ThreadPoolExecutor(8) as pool:
        for size in pool.map(lambda job: one(*job), jobs):
            copied["files"] += 1
            copied["bytes"] += size
    return {"wall": time.perf_counter() - t0, "baseline_rss_mb": 0.0, **copied}


def build_writing_concurrently(
    model: Any, start: str, end: str, *, engine: Any, lake: Any, chunk: int | None, threads: int
) -> Any:
    """A PROPOSED change of `pipelines.marts.runner.build`, measured here only: the same query per
    chunk, conform and split, but the chunk's partitions written by `threads` threads at once (on S3
    each partition is ~4 sequential requests). Not the runner's code: see docs/benchmarks-marts.md."""
    from concurrent.futures import ThreadPoolExecutor

    from pipelines.lake.partitions import PartitionWriter
    from pipelines.marts import runner

    keys = runner.partition_keys(model, start, end)
    chunk = chunk or runner.DEFAULT_CHUNK[model.partitioned_by]
    written: list[Any] = []
    query_s = write_s = 0.0
    with ThreadPoolExecutor(threads) as pool:
        for i in range(0, len(keys), chunk):
            part = keys[i : i + chunk]
            t0 = time.perf_counter()
            table = runner.conform(model, engine.query(model.sql, {"start": part[0], "end": part[-1]}))
            t1 = time.perf_counter()
            query_s += t1 - t0
            writer = PartitionWriter(
                lake, model.name, table.schema.remove(table.schema.get_field_index("dt")), zone=model.zone
            )
            rows_by_dt = dict(runner._split(table))
            del table
            jobs = [(key, rows_by_dt.pop(key, None)) for key in part]
            written += pool.map(lambda job, w=writer: w.write(job[0], [job[1]] if job[1] is not None else []), jobs)
            write_s += time.perf_counter() - t1
    return runner.BuildResult(model.name, written, query_s, write_s)


def child_ours(cfg: dict[str, Any]) -> dict[str, Any]:
    """`build(seller_daily_sales)` for every day, as the mart asset runs it (or, with
    `write_threads`, the proposed runner change above)."""
    from pipelines.lake.fs import LakeFS
    from pipelines.marts.models import discover
    from pipelines.marts.runner import build

    model = discover()["seller_daily_sales"]
    lake = LakeFS.from_uri(cfg["lake"])
    base = _rss_mb()
    t0 = time.perf_counter()
    with _engine(cfg, lake) as engine:
        if cfg.get("write_threads"):
            r = build_writing_concurrently(
                model, cfg["first"], cfg["last"], engine=engine, lake=lake, chunk=cfg.get("chunk"),
                threads=cfg["write_threads"],
            )  # fmt: skip
        else:
            r = build(model, cfg["first"], cfg["last"], engine=engine, lake=lake, chunk=cfg.get("chunk"))
    wall = time.perf_counter() - t0
    return {
        "wall": wall,
        "baseline_rss_mb": base,
        "rows": r.rows,
        "partitions": len(r.partitions),
        "query_s": r.query_s,
        "write_s": r.write_s,
    }


def _s3_parts(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/")


PANDAS_SALES = ["seller_id", "currency", "order_id", "buyer", "qty", "amount_cents"]
PANDAS_EVENTS = ["event_type", "seller_id", "currency", "qty", "amount_cents"]
KEYS = ["seller_id", "dt", "currency"]


def _pandas_mart(sales: Any, events: Any) -> Any:
    """seller_daily_sales from the staging rows, with pandas group-bys (the same figures as the SQL)."""
    import numpy as np
    import pandas as pd

    # a buyer is new on the day of their first purchase from this seller
    first_dt = sales.groupby(["seller_id", "buyer"], sort=False)["dt"].transform("min")
    sales["new_buyer"] = sales["buyer"].where(first_dt == sales["dt"])
    del first_dt
    sold = sales.groupby(KEYS, sort=False).agg(
        orders=("order_id", "nunique"),
        units=("qty", "sum"),
        gross_cents=("amount_cents", "sum"),
        buyers=("buyer", "nunique"),
        new_buyers=("new_buyer", "nunique"),
    )
    cancelled = events["event_type"] == "order_cancelled"
    events = events.assign(
        cancelled_units=events["qty"].where(cancelled, 0), cancelled_cents=events["amount_cents"].where(cancelled, 0)
    )
    returned = events.groupby(KEYS, sort=False).agg(
        refunded_units=("qty", "sum"),
        refund_cents=("amount_cents", "sum"),
        cancelled_units=("cancelled_units", "sum"),
        cancelled_cents=("cancelled_cents", "sum"),
    )
    df = sold.join(returned, how="outer").reset_index()
    counts = ["orders", "units", "gross_cents", "buyers", "new_buyers", "refunded_units", "refund_cents",
              "cancelled_units", "cancelled_cents"]  # fmt: skip
    for c in counts:
        df[c] = df[c].fillna(0).astype("int64")
    df["net_cents"] = df["gross_cents"] - df["refund_cents"]
    orders = df["orders"].to_numpy()
    gross = df["gross_cents"].to_numpy()
    aov = (2 * gross + orders) // np.maximum(2 * orders, 1)  # gross / orders rounded half up (all >= 0)
    df["avg_order_value_cents"] = pd.array(np.where(orders > 0, aov, 0), dtype="Int64")
    df.loc[orders == 0, "avg_order_value_cents"] = pd.NA
    df["returning_buyers"] = df["buyers"] - df["new_buyers"]
    return df[[*MART_COLUMNS, "dt"]]


def _only_returns(events: Any) -> Any:
    events = events[events["event_type"].isin(["order_refunded", "order_cancelled"])]
    return events.assign(dt=events["dt"].astype(str))


def child_pandas(cfg: dict[str, Any]) -> dict[str, Any]:
    """The awswrangler + pandas way: read the staging partitions from S3, group by, write back."""
    from concurrent.futures import ThreadPoolExecutor

    import awswrangler as wr
    import boto3
    import pandas as pd

    wr.config.s3_endpoint_url = cfg["s3_endpoint"]
    # one session for every call (without it awswrangler builds a new one, re-parsing the service
    # models, on every call): awswrangler at its best
    session = boto3.Session()
    s3 = session.client("s3")
    bucket, prefix = _s3_parts(cfg["lake"])
    first, last = cfg["first"], cfg["last"]
    backend = cfg.get("dtype_backend", "pyarrow")
    base = _rss_mb()
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def files(table: str) -> tuple[list[str], str]:
        """The current files of every partition in range: the lake's pointers name them."""
        pointers = []
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=f"{prefix}/stg/{table}/_current/"
        ):
            pointers += [o["Key"] for o in page.get("Contents", [])]
        pointers = [k for k in pointers if first <= k.rsplit("dt=", 1)[1][:10] <= last]

        def manifest(key: str) -> dict[str, Any]:
            return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

        with ThreadPoolExecutor(16) as pool:
            manifests = list(pool.map(manifest, pointers))
        root = f"s3://{bucket}/{prefix}/stg/{table}/_runs/"
        return [f"{root}dt={m['dt']}/run={m['run_id']}/{f['name']}" for m in manifests for f in m["files"]], root

    def read(table: str, columns: list[str]) -> pd.DataFrame:
        paths, root = files(table)
        df = wr.s3.read_parquet(
            paths, path_root=root, dataset=True, columns=columns, dtype_backend=backend, boto3_session=session
        )
        return df.drop(columns=["run"])

    t = time.perf_counter()
    sales = read("stg_sales", PANDAS_SALES)
    sales["dt"] = sales["dt"].astype(str)
    timings["read_sales"] = time.perf_counter() - t
    t = time.perf_counter()
    events = _only_returns(read("stg_event_lines", PANDAS_EVENTS))
    timings["read_events"] = time.perf_counter() - t
    t = time.perf_counter()
    df = _pandas_mart(sales, events)
    del sales, events
    timings["compute"] = time.perf_counter() - t
    t = time.perf_counter()
    wr.s3.to_parquet(
        df,
        path=cfg["output"],
        dataset=True,
        partition_cols=["dt"],
        mode="overwrite_partitions",
        concurrent_partitioning=True,
        boto3_session=session,
    )
    timings["write"] = time.perf_counter() - t
    return {"wall": time.perf_counter() - t0, "baseline_rss_mb": base, "rows": len(df), **timings}


def child_pandas_disk(cfg: dict[str, Any]) -> dict[str, Any]:
    """The same pandas code on the disk lake: `pd.read_parquet` of the current partitions (the
    `dt=` symlinks), `DataFrame.to_parquet(partition_cols=["dt"])`."""
    import pandas as pd

    first, last = cfg["first"], cfg["last"]
    root = Path(cfg["lake"].removeprefix("file://"))
    base = _rss_mb()
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def read(table: str, columns: list[str]) -> pd.DataFrame:
        folders = sorted(p for p in (root / "stg" / table).glob("dt=*") if first <= p.name[3:] <= last)
        frames = []
        for folder in folders:
            df = pd.read_parquet(folder, columns=columns, dtype_backend="pyarrow")
            frames.append(df.assign(dt=folder.name[3:]))
        return pd.concat(frames, ignore_index=True)

    t = time.perf_counter()
    sales = read("stg_sales", PANDAS_SALES)
    timings["read_sales"] = time.perf_counter() - t
    t = time.perf_counter()
    events = _only_returns(read("stg_event_lines", PANDAS_EVENTS))
    timings["read_events"] = time.perf_counter() - t
    t = time.perf_counter()
    df = _pandas_mart(sales, events)
    del sales, events
    timings["compute"] = time.perf_counter() - t
    t = time.perf_counter()
    df.to_parquet(cfg["output"].removeprefix("file://"), partition_cols=["dt"], index=False)
    timings["write"] = time.perf_counter() - t
    return {"wall": time.perf_counter() - t0, "baseline_rss_mb": base, "rows": len(df), **timings}


MART_COLUMNS = ["seller_id", "currency", "orders", "units", "gross_cents", "refunded_units", "refund_cents",
                "cancelled_units", "cancelled_cents", "net_cents", "avg_order_value_cents", "buyers", "new_buyers",
                "returning_buyers"]  # fmt: skip


def child_verify(cfg: dict[str, Any]) -> dict[str, Any]:
    """Ours' mart (through the lake's pointers) against the competitor's output, row for row."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    from pipelines.lake.fs import LakeFS
    from pipelines.lake.partitions import dataset

    t0 = time.perf_counter()
    lake = LakeFS.from_uri(cfg["lake"])
    ours = dataset(lake, "seller_daily_sales", zone="marts").to_table()
    out: dict[str, Any] = {"baseline_rss_mb": 0.0, "ours_rows": ours.num_rows}
    schema = pa.schema([*(pa.field(c, pa.string() if c in ("seller_id", "currency") else pa.int64())
                          for c in MART_COLUMNS), pa.field("dt", pa.string())])  # fmt: skip
    order = [("dt", "ascending"), ("seller_id", "ascending"), ("currency", "ascending")]
    ours = ours.select(schema.names).cast(schema).sort_by(order)
    if cfg.get("output"):
        other_lake = LakeFS.from_uri(cfg["output"])
        theirs = ds.dataset(
            other_lake.root,
            filesystem=other_lake.fs,
            format="parquet",
            partitioning=ds.partitioning(pa.schema([("dt", pa.string())]), flavor="hive"),
        ).to_table()
        theirs = theirs.select(schema.names).cast(schema).sort_by(order)
        out["theirs_rows"] = theirs.num_rows
        out["equal"] = ours.equals(theirs)
        if not out["equal"]:
            diff = []
            for c in schema.names:
                if ours.num_rows == theirs.num_rows and not ours[c].equals(theirs[c]):
                    diff.append(c)
            out["columns_differing"] = diff
    # the report's seller: the biggest by gross over the year
    by_seller = (
        ours.group_by("seller_id").aggregate([("gross_cents", "sum")]).sort_by([("gross_cents_sum", "descending")])
    )
    out["seller"] = by_seller["seller_id"][0].as_py()
    out["sellers"] = by_seller.num_rows
    out["mart_rows_per_day"] = ours.num_rows / max(1, len(pc.unique(ours["dt"])))
    out["wall"] = time.perf_counter() - t0
    return out


# The one-seller report: 90 days of daily figures and the period's totals (the row with dt NULL)
REPORT_SQL = """
SELECT
    dt,
    sum(orders) AS orders,
    sum(units) AS units,
    sum(gross_cents) AS gross_cents,
    sum(refund_cents) AS refund_cents,
    sum(net_cents) AS net_cents,
    CAST(round(CAST(sum(gross_cents) AS double) / nullif(sum(orders), 0)) AS bigint) AS avg_order_value_cents,
    sum(new_buyers) AS new_buyers,
    sum(returning_buyers) AS returning_buyers
FROM marts_seller_daily_sales
WHERE seller_id = :seller AND dt BETWEEN :start AND :end
GROUP BY GROUPING SETS ((dt), ())
ORDER BY dt NULLS LAST
"""
REPORT_COLUMNS = ["orders", "units", "gross_cents", "refund_cents", "net_cents", "avg_order_value_cents",
                  "new_buyers", "returning_buyers"]  # fmt: skip


def child_query_ours(cfg: dict[str, Any]) -> dict[str, Any]:
    """The report through `DuckDBEngine.query`: cold (a new lake and engine, in a process that has
    imported the modules), warm (the same engine again, median of 5), and a new engine again."""
    import pipelines.sql.duckdb_engine  # noqa: F401 (imported before the clock starts, as in a service)
    from gitgoods.settings import get_settings
    from pipelines.lake.fs import LakeFS

    get_settings()
    params = {"seller": cfg["seller"], "start": cfg["start"], "end": cfg["end"]}
    base = _rss_mb()
    t0 = time.perf_counter()
    lake = LakeFS.from_uri(cfg["lake"])
    engine = _engine(cfg, lake)
    table = engine.query(REPORT_SQL, params)
    cold = time.perf_counter() - t0
    out: dict[str, Any] = {"wall": cold, "cold": cold, "baseline_rss_mb": base, "queries": 1}
    out["rows"] = [[r["dt"], *(r[c] for c in REPORT_COLUMNS)] for r in table.to_pylist()]
    if cfg.get("repeat", 5):  # 0: the cold query only (the parent counts its S3 requests)
        warm = []
        for _ in range(cfg.get("repeat", 5)):
            t = time.perf_counter()
            engine.query(REPORT_SQL, params)
            warm.append(time.perf_counter() - t)
        t = time.perf_counter()
        with _engine(cfg, LakeFS.from_uri(cfg["lake"])) as again:  # a new lake and engine, warm process
            again.query(REPORT_SQL, params)
        out.update(warm=sorted(warm)[len(warm) // 2], new_engine=time.perf_counter() - t, queries=len(warm) + 2)
    engine.close()
    return out


def child_query_pandas(cfg: dict[str, Any]) -> dict[str, Any]:
    """The report the awswrangler way, from the competitor's own mart: cold (first call) and warm."""
    import awswrangler as wr
    import boto3
    import numpy as np
    import pandas as pd

    wr.config.s3_endpoint_url = cfg["s3_endpoint"]
    session = boto3.Session()
    start, end, seller = cfg["start"], cfg["end"], cfg["seller"]
    columns = ["seller_id", "orders", "units", "gross_cents", "refund_cents", "net_cents", "new_buyers",
               "returning_buyers"]  # fmt: skip

    def report() -> pd.DataFrame:
        df = wr.s3.read_parquet(
            cfg["output"],
            dataset=True,
            partition_filter=lambda p: start <= p["dt"] <= end,
            columns=columns,
            boto3_session=session,
        )
        df = df[df["seller_id"] == seller].drop(columns=["seller_id"])
        df["dt"] = df["dt"].astype(str)
        daily = df.groupby("dt").sum().reset_index()
        total = daily.drop(columns=["dt"]).sum().to_frame().T
        total["dt"] = None
        out = pd.concat([daily.sort_values("dt"), total], ignore_index=True)
        orders, gross = out["orders"].to_numpy(), out["gross_cents"].to_numpy()
        out["avg_order_value_cents"] = np.where(orders > 0, (2 * gross + orders) // np.maximum(2 * orders, 1), -1)
        return out

    base = _rss_mb()
    t0 = time.perf_counter()
    out = report()
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(cfg.get("repeat", 5)):
        t = time.perf_counter()
        report()
        warm.append(time.perf_counter() - t)
    rows = [
        [r["dt"], *(None if c == "avg_order_value_cents" and r[c] < 0 else int(r[c]) for c in REPORT_COLUMNS)]
        for r in out.to_dict("records")
    ]
    return {
        "wall": cold,
        "cold": cold,
        "warm": sorted(warm)[len(warm) // 2],
        "baseline_rss_mb": base,
        "rows": rows,
        "queries": len(warm) + 1,
    }


CHILDREN = {
    "generate": child_generate,
    "staging": child_staging,
    "upload": child_upload,
    "ours": child_ours,
    "pandas": child_pandas,
    "pandas-disk": child_pandas_disk,
    "verify": child_verify,
    "query-ours": child_query_ours,
    "query-pandas": child_query_pandas,
}


def run_child_main(kind: str, cfg_path: str) -> int:
    cfg = json.loads(Path(cfg_path).read_text())
    profile = cfg.get("profile")
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
        result = CHILDREN[kind](cfg)
        prof.disable()
        prof.dump_stats(profile)
    else:
        result = CHILDREN[kind](cfg)
    # The peak of this process image. Not wait4's ru_maxrss: Linux carries the parent's high-water
    # mark over the fork/vfork + exec into the child's, so a child of a bigger parent reads as big.
    result["peak_rss_mb"] = _status_mb("VmHWM")
    print("RESULT " + json.dumps(result), flush=True)
    return 0


# ================================================================================================
# the orchestrator
# ================================================================================================
def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GITGOODS_"))}
    env.update(
        {
            # fake credentials only, never a profile or instance metadata
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
            "GITGOODS_ENV": "local",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def run_child(kind: str, cfg: dict[str, Any], env: dict[str, str], work: Path, timeout: float) -> dict[str, Any]:
    """Run one step in a fresh process; its result plus CPU from wait4 (its peak RSS it reads itself)."""
    tag = f"{kind}-{int(time.time() * 1000) % 10**8}"
    cfg_path = work / f"{tag}.json"
    cfg_path.write_text(json.dumps(cfg))
    out_path, err_path = work / f"{tag}.out", work / f"{tag}.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--config", str(cfg_path)],
            stdout=out,
            stderr=err,
            env=env,
            cwd=str(work),  # DuckDB and friends write nothing into the checkout
        )
        deadline = time.monotonic() + timeout
        status = usage = None
        while time.monotonic() < deadline:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.05)
        else:
            os.kill(proc.pid, signal.SIGKILL)
            os.wait4(proc.pid, 0)
            raise RuntimeError(f"{kind} ran over {timeout}s; see {err_path}")
        proc.returncode = os.waitstatus_to_exitcode(status)
    text = out_path.read_text()
    if proc.returncode != 0 or "RESULT " not in text:
        raise RuntimeError(f"{kind} failed (exit {proc.returncode}):\n{err_path.read_text()[-4000:]}")
    result = json.loads(text.split("RESULT ", 1)[1].splitlines()[0])
    result.update({"kind": kind, "cpu_s": usage.ru_utime + usage.ru_stime})
    return result


def create_bucket(moto_url: str, name: str) -> None:
    import boto3

    s3 = boto3.client(
        "s3", endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench"
    )
    s3.create_bucket(Bucket=name)


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 1) + ":" if i else "-" * (w + 2) for i, w in enumerate(widths)) + "|")
    for r in rows:
        lines.append(
            "| "
            + " | ".join(
                str(x).rjust(w) if i else str(x).ljust(w) for i, (x, w) in enumerate(zip(r, widths, strict=True))
            )
            + " |"
        )
    return "\n".join(lines)


def moto_requests(log: Path) -> int:
    """Requests the moto server has answered so far (one log line each)."""
    with log.open("rb") as fh:
        return sum(1 for line in fh if b" HTTP/1.1" in line)


def delete_prefix(moto_url: str, bucket: str, prefix: str) -> None:
    import boto3

    s3 = boto3.resource(
        "s3", endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench"
    )
    s3.Bucket(bucket).objects.filter(Prefix=prefix).delete()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=10_000_000, help="sales lines of the generated year")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quick", action="store_true", help="1,000,000 lines: a smoke test")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (ours)")
    parser.add_argument("--memory-limit", default="1GB", help="DuckDB memory_limit (ours)")
    parser.add_argument("--chunks", default="0,366", help="runner chunk sizes ours runs with (0: the runner's default)")
    parser.add_argument(
        "--write-threads", type=int, default=8, help="also run the proposed runner change: N write threads (0: skip)"
    )
    parser.add_argument("--report-days", type=int, default=90, help="days of the one-seller report")
    parser.add_argument("--no-disk", action="store_true", help="skip the runs on a disk lake")
    parser.add_argument("--rebuild-staging", action="store_true", help="build the cached staging models again")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "gitgoods-marts-bench")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per child process")
    parser.add_argument("--wait-quiet", type=float, default=0.0, help="wait up to this many s for load < 1.0")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--profile", type=Path, help="cProfile the first `ours` run into this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child_main(args.child, args.config)
    if args.quick:
        args.lines = 1_000_000

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="gitgoods-marts-bench-"))
    print(f"work folder: {work}")
    folder = args.cache / f"raw-{args.lines}-{args.days}-{args.seed}-v{DATA_VERSION}"
    env = child_env({"GITGOODS_HOME": str(work / "home")})
    engine_cfg = {"threads": args.threads, "memory_limit": args.memory_limit}
    chunks = [int(c) or None for c in args.chunks.split(",")]
    results: dict[str, dict[str, Any]] = {}

    def step(name: str, kind: str, cfg: dict[str, Any], step_env: dict[str, str] | None = None) -> dict[str, Any]:
        r = run_child(kind, cfg, step_env or env, work, args.timeout)
        results[name] = r
        return r

    # 1. the raw lake (cached)
    g = step("generate", "generate", {"folder": str(folder), "lines": args.lines, "days": args.days, "seed": args.seed})
    meta = g["meta"]
    first, last = meta["first"], meta["last"]
    print(
        f"raw lake: {meta['lines']:,} sales lines ({meta['raw_sales_rows']:,} raw rows), {meta['orders']:,} orders, "
        f"{meta['events']:,} events ({meta['raw_event_rows']:,} raw rows, {meta['raw_event_lines']:,} lines), "
        f"{meta['sellers']} sellers, {meta['buyers']:,} buyers, {first}..{last}, {meta['bytes'] / 1e6:,.0f} MB "
        f"(generated in {meta['generate_s']:.0f}s; cached in {folder})",
        flush=True,
    )
    # 2. staging (cached: in production it is materialised upstream of the marts)
    staging_marker = folder / "staging.json"
    if args.rebuild_staging or not staging_marker.exists():
        print("building stg_sales and stg_event_lines ...", flush=True)
        lake_uri = f"file://{folder / 'lake'}"
        s = step("staging", "staging", {"lake": lake_uri, "first": first, "last": last, **engine_cfg})
        staging_marker.write_text(json.dumps(s, indent=1))
    staging = json.loads(staging_marker.read_text())
    results["staging"] = staging
    print(
        f"staging (runner, disk lake): stg_sales {staging['stg_sales']['rows']:,} rows in "
        f"{staging['stg_sales']['wall']:.0f}s, stg_event_lines {staging['stg_event_lines']['rows']:,} rows in "
        f"{staging['stg_event_lines']['wall']:.0f}s, peak {staging['peak_rss_mb']:.0f} MB",
        flush=True,
    )

    if args.wait_quiet:
        print(f"load average now {os.getloadavg()[0]:.2f}; waiting up to {args.wait_quiet:.0f}s for < 1.0 ...")
        wait_for_quiet(args.wait_quiet, 1.0)
    load_start = os.getloadavg()
    print(f"cpus: {os.cpu_count()}, load average: {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}")

    procs: list[Proc] = []
    rows: list[dict[str, Any]] = []
    verified: list[str] = []
    queries: list[dict[str, Any]] = []

    def show(r: dict[str, Any]) -> None:
        extra = ""
        if "query_s" in r:
            extra = f"  (query {r['query_s']:.1f}s, write {r['write_s']:.1f}s)"
        if "compute" in r:
            extra = (f"  (read sales {r['read_sales']:.1f}s, events {r['read_events']:.1f}s, "
                     f"compute {r['compute']:.1f}s, write {r['write']:.1f}s)")  # fmt: skip
        if r.get("requests"):
            extra += f"  {r['requests']:,} S3 requests"
        print(
            f"  {r['label']:<58} {r['wall']:7.1f}s  cpu {r['cpu_s']:6.1f}s  peak {r['peak_rss_mb']:6.0f} MB "
            f"(base {r['baseline_rss_mb']:4.0f}){extra}",
            flush=True,
        )

    try:
        # 3. moto S3 with the staging partitions
        moto_port = free_port()
        moto_log = work / "moto.log"
        moto = Proc(
            [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
            moto_log,
            env=child_env({}),
        )
        procs.append(moto)
        moto_url = f"http://127.0.0.1:{moto_port}"
        wait_http(moto_url + "/moto-api/", 60)
        bucket = f"marts-bench-{os.getpid()}"
        create_bucket(moto_url, bucket)
        s3_env = child_env({"GITGOODS_HOME": str(work / "home"), "AWS_ENDPOINT_URL": moto_url})
        lake_s3 = f"s3://{bucket}/lake"
        tables = ["stg_sales", "stg_event_lines"]
        up = step(
            "upload", "upload", {"source": f"file://{folder / 'lake'}", "lake": lake_s3, "tables": tables}, s3_env
        )
        print(f"staging copied to moto S3: {up['files']} partitions, {up['bytes'] / 1e6:,.0f} MB in {up['wall']:.0f}s")

        def s3_step(name: str, kind: str, cfg: dict[str, Any], label: str) -> dict[str, Any]:
            before = moto_requests(moto_log)
            r = step(name, kind, cfg, s3_env)
            time.sleep(0.5)  # the log line follows the response
            r.update(label=label, requests=moto_requests(moto_log) - before)
            return r

        # 4. the build, on moto S3: the competitor first, then ours (each variant on a fresh marts zone)
        print(f"\nseller_daily_sales, {first}..{last}, on moto S3:")
        output = f"s3://{bucket}/pandas/seller_daily_sales"
        base_cfg = {"lake": lake_s3, "first": first, "last": last}
        r = s3_step("pandas-s3", "pandas", {**base_cfg, "s3_endpoint": moto_url, "output": output},
                    "awswrangler + pandas")  # fmt: skip
        rows.append(r)
        show(r)
        variants = [(f"ours-s3-{c}", c, 0, f"ours, chunk {c or 'default'}") for c in chunks]
        if args.write_threads:
            c = chunks[-1]
            variants.append((f"ours-s3-{c}-w{args.write_threads}", c, args.write_threads,
                             f"ours, chunk {c or 'default'}, PROPOSED {args.write_threads} write threads"))  # fmt: skip
        for i, (name, chunk, write_threads, label) in enumerate(variants):
            delete_prefix(moto_url, bucket, "lake/marts/")
            cfg = {**base_cfg, "chunk": chunk, "write_threads": write_threads, **engine_cfg}
            if args.profile and i == 0:
                cfg["profile"] = str(args.profile)
            r = s3_step(name, "ours", cfg, label)
            rows.append(r)
            show(r)
            v = step(f"verify-{name}", "verify", {"lake": lake_s3, "output": output}, s3_env)
            verified.append(f"{label}: {'equal' if v['equal'] else 'DIFFERENT ' + str(v.get('columns_differing'))}")
            print(f"    equal to the competitor's, row for row: {v['equal']} ({v['ours_rows']:,} rows)", flush=True)

        # 5. the one-seller report on moto S3 (ours: the last variant's mart; theirs: their output)
        start = (dt.date.fromisoformat(last) - dt.timedelta(days=args.report_days - 1)).isoformat()
        q = {"seller": v["seller"], "start": start, "end": last}
        print(f"\none seller's report, {start}..{last} (seller {v['seller']}, the largest of {v['sellers']}):")
        qc = s3_step("query-ours-s3-cold", "query-ours", {"lake": lake_s3, **q, **engine_cfg, "repeat": 0}, "")
        qo = s3_step("query-ours-s3", "query-ours", {"lake": lake_s3, **q, **engine_cfg}, "ours on moto S3")
        qo["cold_requests"] = qc["requests"]
        qo["warm_requests"] = (qo["requests"] - qc["requests"]) / (qo["queries"] - 1)
        qp = s3_step("query-pandas-s3", "query-pandas", {"output": output, "s3_endpoint": moto_url, **q},
                     "awswrangler + pandas on moto S3")  # fmt: skip
        queries += [qo, qp]
        same = qo["rows"] == qp["rows"]
        verified.append(f"report: {'same rows' if same else 'DIFFERENT rows'} ({len(qo['rows'])} incl. the totals)")
        results["moto"] = {"peak_rss_mb": moto.rss_mb()}
        moto.stop()  # the disk runs get the CPU without it

        # 6. the same on a disk lake (the same staging files, read in place)
        if not args.no_disk:
            print(f"\nseller_daily_sales, {first}..{last}, on local disk:")
            out_disk = f"file://{work / 'pandas-out'}"
            r = step("pandas-disk", "pandas-disk", {"lake": f"file://{folder / 'lake'}", "first": first,
                                                   "last": last, "output": out_disk})  # fmt: skip
            r["label"] = "pandas (pd.read_parquet / to_parquet)"
            rows.append(r)
            show(r)
            for name, chunk, write_threads, label in variants:
                disk = work / f"lake-disk-{len(rows)}"
                disk.mkdir()
                (disk / "stg").symlink_to(folder / "lake" / "stg")
                cfg = {"lake": f"file://{disk}", "first": first, "last": last, "chunk": chunk,
                       "write_threads": write_threads, **engine_cfg}  # fmt: skip
                r = step(name.replace("-s3-", "-disk-"), "ours", cfg)
                r["label"] = label
                rows.append(r)
                show(r)
                v = step(f"verify-{name}-disk", "verify", {"lake": f"file://{disk}", "output": out_disk})
                verified.append(f"disk, {label}: {'equal' if v['equal'] else 'DIFFERENT'}")
                print(f"    equal to pandas', row for row: {v['equal']}", flush=True)
            qd = step("query-ours-disk", "query-ours", {"lake": f"file://{disk}", **q, **engine_cfg})
            qd["label"] = "ours on local disk"
            queries.append(qd)
        for r in queries:
            print(
                f"  {r['label']:<36} cold {r['cold']:.3f}s  warm {r['warm']:.3f}s"
                + (f"  new engine {r['new_engine']:.3f}s" if "new_engine" in r else "")
                + f"  peak {r['peak_rss_mb']:.0f} MB"
                + (
                    f"  S3 requests: {r['cold_requests']} cold, {r['warm_requests']:.0f} warm"
                    if "cold_requests" in r
                    else f"  {r['requests'] / r['queries']:.0f} S3 requests a query"
                    if r.get("requests")
                    else ""
                ),
                flush=True,
            )
    finally:
        for proc in reversed(procs):
            proc.stop()
        for path in [*work.glob("lake-disk-*"), work / "pandas-out", work / "home"]:
            shutil.rmtree(path, ignore_errors=True)

    load_end = os.getloadavg()
    print(f"\n## seller_daily_sales, {first}..{last} ({meta['lines']:,} sales lines)\n")
    header = ["approach", "lake", "wall s", "CPU s", "peak RSS MB", "base MB", "S3 requests"]
    print(
        table(
            [
                [
                    r["label"],
                    "moto S3" if r.get("requests") else "disk",
                    f"{r['wall']:.1f}",
                    f"{r['cpu_s']:.1f}",
                    f"{r['peak_rss_mb']:.0f}",
                    f"{r['baseline_rss_mb']:.0f}",
                    f"{r.get('requests', 0):,}",
                ]  # fmt: skip
                for r in rows
            ],
            header,
        )
    )
    pandas_s3 = results["pandas-s3"]
    ratios = []
    for name, _, _, label in variants:
        o = results[name]
        speed, mem = pandas_s3["wall"] / o["wall"], o["peak_rss_mb"] / pandas_s3["peak_rss_mb"]
        ratios.append([f"S3 build, {label}: awswrangler wall / ours", f"{speed:.1f}", ">= 10",
                       "met" if speed >= 10 else "MISSED"])  # fmt: skip
        ratios.append([f"S3 build, {label}: ours peak / awswrangler peak", f"{mem:.2f}", "<= 0.33",
                       "met" if mem <= 1 / 3 else "MISSED"])  # fmt: skip
    if "pandas-disk" in results:
        for name, _, _, label in variants:
            o, pd_disk = results[name.replace("-s3-", "-disk-")], results["pandas-disk"]
            ratios.append([f"disk build, {label}: pandas wall / ours", f"{pd_disk['wall'] / o['wall']:.1f}", "", ""])
            ratios.append([f"disk build, {label}: ours peak / pandas peak",
                           f"{o['peak_rss_mb'] / pd_disk['peak_rss_mb']:.2f}", "", ""])  # fmt: skip
    ratios += [
        ["report on S3: ours cold (s)", f"{qo['cold']:.3f}", "< 1", "met" if qo["cold"] < 1 else "MISSED"],
        ["report on S3: ours warm (s)", f"{qo['warm']:.3f}", "< 1", "met" if qo["warm"] < 1 else "MISSED"],
        [
            "report on S3: ours, a new engine in a warm process (s)",
            f"{qo['new_engine']:.3f}",
            "< 1",
            "met" if qo["new_engine"] < 1 else "MISSED",
        ],  # fmt: skip
        ["report on S3: awswrangler cold / ours cold", f"{qp['cold'] / qo['cold']:.1f}", "", ""],
        ["report on S3: awswrangler warm / ours warm", f"{qp['warm'] / qo['warm']:.1f}", "", ""],
    ]
    if "query-ours-disk" in results:
        ratios.append(["report on disk: ours cold / warm (s)", f"{qd['cold']:.3f} / {qd['warm']:.3f}", "< 1",
                       "met" if qd["cold"] < 1 else "MISSED"])  # fmt: skip
    print()
    print(table(ratios, ["ratio", "value", "goal", ""]))
    print("\nchecks: " + "; ".join(verified))
    print(
        f"\ntotal {time.perf_counter() - started:.0f}s; load average at the start {load_start[0]:.2f}, "
        f"at the end {load_end[0]:.2f} (2 cores: above ~0.5 other work shared the machine); logs in {work}"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "args": {k: str(x) for k, x in vars(args).items()},
                    "load": [load_start, load_end],
                    "meta": meta,
                    "results": results,
                    "ratios": ratios,
                    "checks": verified,
                },  # fmt: skip
                indent=1,
            )
        )
    return 0 if all("DIFFERENT" not in c for c in verified) else 1


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.exit(main())
