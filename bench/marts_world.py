"""The generated year of sales for the marts benchmark: sellers, products, buyers, orders, their
lines and their lifecycle events, drawn in one seeded pass with vectorised numpy/pyarrow and written
as the raw lake (`raw_sales`, `raw_order_events`) with the lake's own `PartitionWriter`.

The mixes follow the simulation (docs/simulation.md), scaled to a year; docs/benchmarks-marts.md
describes the resulting data.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from pathlib import Path
from typing import Any

FIRST_DAY = dt.date(2025, 1, 1)
DAY_MS = 86_400_000
DATA_VERSION = 2  # bump when the generator changes (the cache key)


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
BUYER_WEIGHT_CAP = 300.0  # a buyer's weight is at most 300x the least active's
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

        # buyers: many, a heavy tail of repeat buyers, capped so that the busiest (a reseller) places
        # a few hundred orders a year rather than a share of the whole shop; a country each
        n_buyers = max(10_000, int(n_orders * 0.35))
        buyer_cdf = np.cumsum(np.minimum(rng.pareto(1.2, n_buyers) + 1.0, BUYER_WEIGHT_CAP))
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
    from pipelines.lake.partitions.writer import PartitionWriter

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
