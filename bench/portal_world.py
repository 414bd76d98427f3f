"""Generated marts for the portal benchmark: N sellers over 90 days, with the columns and types of
`sql/marts/models.yml`, written as lake partitions and registered in Glue (on the moto server).

Sizes follow a skewed marketplace: seller k sells about `top_orders / (k+1)^0.8` orders a day and
has `top_products / (k+1)^0.7` products, so the largest seller (k = 0) has ~200 orders and ~400
products a day, the median one a few. Figures are self-consistent where the marts' checks say so
(net = gross - refunds, returning = buyers - new, rates within 0-1), which is all a report needs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from pipelines.lake.catalog import GlueCatalog
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.writer import PartitionWriter
from pipelines.marts.models import Model, discover

COUNTRIES = ["DE", "FR", "US", "GB", "ES", "IT", "NL", "PL", "SE", "BR", "JP", "CA", "AU", "MX", "BE"]
PLATFORMS = ["PC", "PS5", "Switch", "Xbox", "none"]
GENRES = ["RPG", "Action", "Puzzle", "Strategy", "Sports", "none"]
CURRENCIES = ["EUR", "USD", "GBP"]


@dataclass
class Sizes:
    sellers: int = 200
    days: int = 90
    top_orders: float = 200.0
    top_products: int = 400


def seller_id(k: int) -> str:
    return f"sel_BENCH{k:021d}"


def product_id(k: int, p: int) -> str:
    return f"prd_BENCH{k:08d}{p:014d}"


class World:
    def __init__(self, sizes: Sizes, end: dt.date, seed: int = 7) -> None:
        self.sizes = sizes
        self.rng = np.random.default_rng(seed)
        self.days = [(end - dt.timedelta(days=sizes.days - 1 - i)).isoformat() for i in range(sizes.days)]
        ks = np.arange(sizes.sellers)
        self.rate = sizes.top_orders / (ks + 1) ** 0.8
        self.products = np.maximum(3, (sizes.top_products / (ks + 1) ** 0.7).astype(int))
        self.currency = [CURRENCIES[k % 3] for k in ks]
        self.category = ["games" if k % 4 else "merch" for k in ks]
        self.names = {seller_id(k): f"Bench Seller {k:03d}" for k in ks}

    # -- one day of each daily mart -------------------------------------------------------------

    def _orders(self, day_index: int) -> np.ndarray:
        season = 1.0 + 0.3 * np.sin(day_index / 7.0)
        return self.rng.poisson(self.rate * season)

    def daily(self, day_index: int) -> dict[str, dict[str, list]]:
        orders = self._orders(day_index)
        out: dict[str, dict[str, list]] = {m: {} for m in ("sales", "segments", "products", "kpis", "fulfil", "funnel")}
        sales, seg, prod, kpis, ful, fun = (out[m] for m in ("sales", "segments", "products", "kpis", "fulfil",
                                                             "funnel"))
        for k, n in enumerate(orders):
            sid, cur = seller_id(k), self.currency[k]
            units = int(n + self.rng.poisson(0.8 * n))
            gross = int(units * self.rng.integers(1500, 6000))
            refunded = int(self.rng.binomial(units, 0.05)) if units else 0
            refund = int(refunded * (gross / units)) if units else 0
            cancelled = refunded // 3
            buyers = int(n * 0.95)
            new = int(buyers * 0.6)
            _append(sales, seller_id=sid, currency=cur, orders=int(n), units=units, gross_cents=gross,
                    refunded_units=refunded, refund_cents=refund, cancelled_units=cancelled,
                    cancelled_cents=cancelled * (gross // max(units, 1)), net_cents=gross - refund,
                    avg_order_value_cents=round(gross / n) if n else None, buyers=buyers, new_buyers=new,
                    returning_buyers=buyers - new)
            combos = min(len(COUNTRIES) * len(PLATFORMS), max(1, int(n)))
            picks = self.rng.choice(len(COUNTRIES) * len(PLATFORMS), size=combos, replace=False) if n else []
            for c in picks:
                share = max(1, int(n) // combos)
                g = gross // combos
                _append(seg, seller_id=sid, country=COUNTRIES[c // len(PLATFORMS)],
                        platform=PLATFORMS[c % len(PLATFORMS)], currency=cur, orders=share, units=share,
                        gross_cents=g, refunded_units=0, refund_cents=0, net_cents=g)
            sold = self.rng.choice(self.products[k], size=min(int(self.products[k]), int(n)), replace=False)
            for rank, p in enumerate(sold):
                u = int(self.rng.integers(1, 4))
                g = u * int(self.rng.integers(1500, 6000))
                r = int(self.rng.binomial(u, 0.05))
                _append(prod, product_id=product_id(k, int(p)), seller_id=sid, title=f"Game {k}-{int(p)}",
                        kind="game", platform=PLATFORMS[int(p) % 5], genre=GENRES[int(p) % 6], currency=cur,
                        orders=u, units=u, gross_cents=g, returned_units=r, returned_cents=r * (g // u),
                        net_cents=g - r * (g // u), refund_rate=r / u, rank_in_genre=rank + 1,
                        rank_in_platform=rank + 1)
                views = int(self.rng.integers(u, 10 * u + 5))
                vs = max(1, views // 2)
                cs = min(vs, u + int(self.rng.integers(0, 3)))
                _append(fun, product_id=product_id(k, int(p)), seller_id=sid, views=views, view_sessions=vs,
                        cart_sessions=cs, viewed_cart_sessions=cs, cart_units=cs, orders=u, units=u,
                        view_to_cart_rate=cs / vs, orders_per_view_session=u / vs)
            o7, o28 = int(n * 7), int(n * 28)
            _append(kpis, seller_id=sid, category=self.category[k], currency=cur, orders_7d=o7, orders_28d=o28,
                    net_7d_cents=gross * 7, net_prev_7d_cents=gross * 6, net_28d_cents=gross * 28,
                    net_prev_28d_cents=gross * 27, wow_growth=1 / 6, mom_growth=1 / 27,
                    category_sellers=self.sizes.sellers // 2, category_median_orders_28d=float(o28) * 0.7,
                    orders_28d_vs_category_median=1 / 0.7, category_percentile=1 - k / self.sizes.sellers)
            shipped = int(n * 0.9)
            _append(ful, seller_id=sid, orders=int(n), shipped_orders=shipped, delivered_orders=int(n * 0.8),
                    cancelled_orders=int(n) - shipped, shipped_rate=shipped / n if n else 0.0,
                    cancellation_rate=(int(n) - shipped) / n if n else 0.0, avg_hours_to_ship=20.0,
                    max_hours_to_ship=60.0, avg_hours_to_deliver=70.0, max_hours_to_deliver=160.0)
        return out

    def cohorts(self, month: str, months: list[str]) -> dict[str, list]:
        rows: dict[str, list] = {}
        for k in range(self.sizes.sellers):
            for i, cohort in enumerate(m for m in months if m <= month):
                size = int(self.rate[k] * 20) + 1
                active = int(size * (1.0 if cohort == month else 0.3 / (1 + i)))
                _append(rows, seller_id=seller_id(k), cohort_month=cohort,
                        months_since_first=_months(cohort, month), cohort_size=size, active_buyers=active,
                        repeat_buyers=active // 3, retention_rate=active / size, orders=active,
                        gross_cents=active * 3000, currency=self.currency[k])
        return rows


MART_OF = {"sales": "seller_daily_sales", "segments": "seller_daily_segments", "products": "product_performance",
           "kpis": "seller_kpis", "fulfil": "fulfilment", "funnel": "funnel"}


def _append(rows: dict[str, list], **values: object) -> None:
    for key, value in values.items():
        rows.setdefault(key, []).append(value)


def _months(a: str, b: str) -> int:
    return (int(b[:4]) - int(a[:4])) * 12 + int(b[5:7]) - int(a[5:7])


def _table(model: Model, rows: dict[str, list]) -> pa.Table:
    columns = [c for c in model.columns if c.name != "dt"]
    schema = pa.schema([(c.name, c.arrow_type) for c in columns])
    if not rows:
        return schema.empty_table()
    return pa.table({c.name: pa.array(rows[c.name], type=c.arrow_type) for c in columns}, schema=schema)


def write(world: World, lake: LakeFS, catalog: GlueCatalog) -> dict[str, int]:
    """Every mart's partitions; returns rows per mart."""
    models = discover()
    writers = {}
    for mart in [*MART_OF.values(), "buyer_cohorts"]:
        model = models[mart]
        schema = pa.schema([(c.name, c.arrow_type) for c in model.columns if c.name != "dt"])
        writers[mart] = (model, PartitionWriter(lake, mart, schema, zone="marts", catalog=catalog))
    counts = dict.fromkeys(writers, 0)
    for i, day in enumerate(world.days):
        for key, rows in world.daily(i).items():
            model, writer = writers[MART_OF[key]]
            table = _table(model, rows)
            writer.write(day, [table])
            counts[model.name] += table.num_rows
    months = sorted({d[:7] + "-01" for d in world.days})
    model, writer = writers["buyer_cohorts"]
    for month in months:
        table = _table(model, world.cohorts(month, months))
        writer.write(month, [table])
        counts["buyer_cohorts"] += table.num_rows
    return counts
