"""A generated month of sales for the incremental-build tests: a seeded draw over the sellers and
products of `tests/marts_data.py` and a small pool of buyers, so that buyers come back often (new
and returning buyers, cohorts across a month boundary), with cancellations on the order day and
refunds a few days later. The expected figures come from the rows themselves (`first_purchases`),
not from the models.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pyarrow as pa

from pipelines.ingest.schemas import RAW_ORDER_EVENTS, RAW_SALES
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.writer import PartitionWriter
from tests.marts_data import PRODUCTS

FIRST, LAST = "2030-03-20", "2030-04-18"  # 30 days across a month boundary
PRICES = dict(zip(PRODUCTS, (1000, 500, 2000, 1500), strict=True))
COUNTRIES = ("DE", "FR", "US", "GB")


def days(first: str = FIRST, last: str = LAST) -> list[str]:
    a, b = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [(a + dt.timedelta(days=i)).isoformat() for i in range((b - a).days + 1)]


def _event(n: int, event_type: str, when: dt.datetime, order: str, buyer: str, country: str,
           lines: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    return {
        "event_id": f"evt_{n:026d}", "event_type": event_type, "schema_version": 1, "occurred_at": when,
        "order_id": order, "session_id": None, "customer": buyer, "country": country,
        "currency": PRODUCTS[lines[0]["product_id"]]["currency"], "amount_cents": sum(x["amount_cents"] for x in lines),
        "lines": lines, "day_shard": f"{when.date().isoformat()}#0",
    }


def generate(seed: int, first: str = FIRST, last: str = LAST, buyers: int = 9) -> tuple[dict, dict]:
    """(raw sales rows by day, raw event rows by day) of a seeded month."""
    rng = random.Random(seed)
    pool = [f"{seed:04x}{i:028x}" for i in range(buyers)]
    country = {b: rng.choice(COUNTRIES) for b in pool}
    sales: dict[str, list[dict[str, Any]]] = {}
    events: dict[str, list[dict[str, Any]]] = {}
    n = 0
    for day in days(first, last):
        for _ in range(rng.choice((0, 1, 2, 3, 4, 5, 6))):
            n += 1
            order = f"ord_{seed:04d}{n:022d}"
            buyer = rng.choice(pool)
            sold = dt.datetime.fromisoformat(f"{day}T{rng.randint(0, 22):02d}:{rng.randint(0, 59):02d}:00+00:00")
            fate = rng.choices(("placed", "cancelled", "refunded"), (8, 1, 1))[0]
            lines = []
            for line, product in enumerate(rng.sample(sorted(PRODUCTS), rng.randint(1, 3)), start=1):
                p, qty = PRODUCTS[product], rng.randint(1, 3)
                lines.append({"line": line, "seller_id": p["seller_id"], "product_id": product, "qty": qty,
                              "unit_cents": PRICES[product], "amount_cents": qty * PRICES[product],
                              "kind": p["kind"], "platform": p["platform"]})  # fmt: skip
                sales.setdefault(day, []).append({
                    "seller_id": p["seller_id"], "sk": f"{sold.isoformat()}#{order}#{line:02d}", "order_id": order,
                    "line": line, "sold_at": sold, "product_id": product, "kind": p["kind"],
                    "platform": p["platform"], "genre": p["genre"], "qty": qty, "unit_cents": PRICES[product],
                    "amount_cents": qty * PRICES[product], "currency": p["currency"], "country": country[buyer],
                    "customer": buyer, "status": fate, "updated_at": sold + dt.timedelta(hours=1),
                    "day_shard": f"{day}#0",
                })  # fmt: skip
            placed = _event(10 * n, "order_placed", sold, order, buyer, country[buyer], lines)
            events.setdefault(day, []).append(placed)
            if fate != "placed":
                when = sold + (dt.timedelta(hours=1) if fate == "cancelled" else dt.timedelta(days=rng.randint(1, 5)))
                if when.date().isoformat() <= last:
                    kind = "order_cancelled" if fate == "cancelled" else "order_refunded"
                    back = _event(10 * n + 1, kind, when, order, buyer, country[buyer], lines)
                    events.setdefault(when.date().isoformat(), []).append(back)
    return sales, events


def write_month(lake: LakeFS, seed: int, first: str = FIRST, last: str = LAST) -> dict[str, list[dict[str, Any]]]:
    """The raw partitions of every day of the month (days without data empty); the sales rows by day."""
    sales, events = generate(seed, first, last)
    sw = PartitionWriter(lake, "raw_sales", RAW_SALES)
    ew = PartitionWriter(lake, "raw_order_events", RAW_ORDER_EVENTS)
    for day in days(first, last):
        sw.write(day, [pa.Table.from_pylist(sales.get(day, []), schema=RAW_SALES)])
        ew.write(day, [pa.Table.from_pylist(events.get(day, []), schema=RAW_ORDER_EVENTS)])
    return sales


def first_purchases(sales: dict[str, list[dict[str, Any]]]) -> dict[tuple[str, str], str]:
    """(seller, buyer) -> the day of the first purchase, from the rows themselves."""
    firsts: dict[tuple[str, str], str] = {}
    for day in sorted(sales):
        for row in sales[day]:
            firsts.setdefault((row["seller_id"], row["customer"]), day)
    return firsts
