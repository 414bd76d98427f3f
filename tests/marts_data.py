"""A small hand-made lake and dimension tables for the mart tests; every figure the tests expect is
worked out by hand from the story below.

Sellers S1 (games, EUR), S2 (games, USD), S3 (merch, GBP). Products P1 (S1, game, PC, RPG),
P2 (S1, dlc, PC, RPG), P3 (S2, game, PS5, RPG), P4 (S3, merch, no platform or genre).
Buyers B1 (DE), B2 (FR), B3 (US).

2030-01-01  O1 B1: P1 2 x 1000, P2 1 x 500            placed 10:00, shipped 18:00 the same day
            O2 B2: P1 1 x 1000                          placed 11:00, cancelled 12:00
            O3 B3: P3 3 x 2000                          placed 12:00
2030-01-02  O4 B1: P1 1 x 1000                          (raw_sales holds an older copy of the line too)
            O5 B3: P1 1 x 1000
            O6 B2: P4 2 x 1500
            O1 delivered 10:00; O1 line 2 (P2, 500) refunded 15:00 (the event is in the lake twice)
2030-02-01  O7 B2: P1 1 x 1000
            P1 viewed by sessions s1 (twice), s2, s3; added to a cart by s1 and s4
            s1 starts a checkout with P1 twice (a reload), s4 once with P1 and P2
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from gitgoods import aws
from gitgoods.contract.tables import ensure_tables
from gitgoods.settings import Settings
from pipelines.ingest.schemas import RAW_ORDER_EVENTS, RAW_SALES
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.writer import PartitionWriter

D1, D2, D3 = "2030-01-01", "2030-01-02", "2030-02-01"
S1, S2, S3 = "sel_00000000000000000000000S1", "sel_00000000000000000000000S2", "sel_00000000000000000000000S3"
P1, P2, P3, P4 = (f"prd_0000000000000000000000000P{i}" for i in range(1, 5))
B1, B2, B3 = "b1" * 16, "b2" * 16, "b3" * 16

SELLERS = {
    S1: {"display_name": "One", "category": "games", "currency": "EUR", "country": "DE"},
    S2: {"display_name": "Two", "category": "games", "currency": "USD", "country": "US"},
    S3: {"display_name": "Three", "category": "merch", "currency": "GBP", "country": "GB"},
}
PRODUCTS = {
    P1: {"seller_id": S1, "title": "Dragon Path", "kind": "game", "platform": "PC", "genre": "RPG", "currency": "EUR"},
    P2: {"seller_id": S1, "title": "Dragon Path: Isles", "kind": "dlc", "platform": "PC", "genre": "RPG",
         "currency": "EUR"},
    P3: {"seller_id": S2, "title": "Star Forge", "kind": "game", "platform": "PS5", "genre": "RPG", "currency": "USD"},
    P4: {"seller_id": S3, "title": "Controller Tee", "kind": "merch", "platform": None, "genre": None,
         "currency": "GBP"},
}
COUNTRY = {B1: "DE", B2: "FR", B3: "US"}


def ts(day: str, hhmm: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hhmm}:00+00:00")


def order_id(n: int) -> str:
    return f"ord_{n:026d}"


DAYS = (D1, D2, D3)
Orders = dict[int, tuple[str, str, str, list[tuple[int, str, int, int]]]]


def story_days(first_of_month: dt.date) -> tuple[str, str, str]:
    """The story moved: D1 the first of a month, D2 the day after, D3 the first of the next month."""
    nxt = (first_of_month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first_of_month.isoformat(), (first_of_month + dt.timedelta(days=1)).isoformat(), nxt.isoformat()


def orders(days: tuple[str, str, str] = DAYS) -> Orders:
    """order -> (buyer, day, time, [(line, product, qty, unit)])"""
    d1, d2, d3 = days
    return {
        1: (B1, d1, "10:00", [(1, P1, 2, 1000), (2, P2, 1, 500)]),
        2: (B2, d1, "11:00", [(1, P1, 1, 1000)]),
        3: (B3, d1, "12:00", [(1, P3, 3, 2000)]),
        4: (B1, d2, "09:00", [(1, P1, 1, 1000)]),
        5: (B3, d2, "09:30", [(1, P1, 1, 1000)]),
        6: (B2, d2, "11:00", [(1, P4, 2, 1500)]),
        7: (B2, d3, "13:00", [(1, P1, 1, 1000)]),
    }


ORDERS = orders()
LINE_STATUS = {(2, 1): "cancelled", (1, 2): "refunded"}


def sale_rows(days: tuple[str, str, str] = DAYS) -> dict[str, list[dict[str, Any]]]:
    by_day: dict[str, list[dict[str, Any]]] = {}
    for n, (buyer, day, hhmm, lines) in orders(days).items():
        sold = ts(day, hhmm)
        for line, product, qty, unit in lines:
            p = PRODUCTS[product]
            row = {
                "seller_id": p["seller_id"], "sk": f"{sold.isoformat()}#{order_id(n)}#{line:02d}",
                "order_id": order_id(n), "line": line, "sold_at": sold, "product_id": product, "kind": p["kind"],
                "platform": p["platform"], "genre": p["genre"], "qty": qty, "unit_cents": unit,
                "amount_cents": qty * unit, "currency": p["currency"], "country": COUNTRY[buyer], "customer": buyer,
                "status": LINE_STATUS.get((n, line), "placed"), "updated_at": sold + dt.timedelta(days=1),
                "day_shard": f"{day}#0",
            }
            by_day.setdefault(day, []).append(row)
    # an older copy of O4's line: staging keeps the newest version only
    old = dict(by_day[days[1]][0], updated_at=ts(days[1], "09:00"), status="placed")
    by_day[days[1]].append(old)
    return by_day


def _event(n: int, event_type: str, when: dt.datetime, lines: list[tuple[int, str, int, int]], amount: int,
           *, order: int | None = None, buyer: str | None = None, session: str | None = None) -> dict[str, Any]:
    buyer = buyer or ORDERS[order][0]
    currency = PRODUCTS[lines[0][1]]["currency"]
    return {
        "event_id": f"evt_{n:026d}", "event_type": event_type, "schema_version": 1, "occurred_at": when,
        "order_id": order_id(order) if order else None, "session_id": session, "customer": buyer,
        "country": COUNTRY[buyer] if order else None, "currency": currency if order else None,
        "amount_cents": amount if order else None,
        "lines": [
            {"line": line, "seller_id": PRODUCTS[p]["seller_id"], "product_id": p, "qty": q, "unit_cents": u,
             "amount_cents": q * u, "kind": PRODUCTS[p]["kind"], "platform": PRODUCTS[p]["platform"]}
            for line, p, q, u in lines
        ],
        "day_shard": f"{when.date().isoformat()}#0",
    }


def event_rows(days: tuple[str, str, str] = DAYS) -> dict[str, list[dict[str, Any]]]:
    D1, D2, D3 = days  # noqa: N806
    events = []
    for o, (_, day, hhmm, lines) in orders(days).items():
        events.append(_event(o, "order_placed", ts(day, hhmm), lines, sum(q * u for _, _, q, u in lines), order=o))
    o1, o2 = ORDERS[1][3], ORDERS[2][3]
    events += [
        _event(101, "order_cancelled", ts(D1, "12:00"), o2, 1000, order=2),
        _event(102, "order_shipped", ts(D1, "18:00"), o1, 2500, order=1),
        _event(103, "order_delivered", ts(D2, "10:00"), o1, 2500, order=1),
        _event(104, "order_refunded", ts(D2, "15:00"), [o1[1]], 500, order=1),
        _event(104, "order_refunded", ts(D2, "15:00"), [o1[1]], 500, order=1),  # delivered twice
    ]
    view = [(1, P1, 0, 1000)]
    for i, session in enumerate(["s1", "s1", "s2", "s3"]):
        events.append(_event(200 + i, "product_viewed", ts(D3, f"12:0{i}"), view, 0, buyer=B2, session=session))
    for i, session in enumerate(["s1", "s4"]):
        events.append(_event(210 + i, "cart_added", ts(D3, f"12:1{i}"), [(1, P1, 1, 1000)], 0, buyer=B2,
                             session=session))
    for i, (session, lines) in enumerate([("s1", [(1, P1, 1, 1000)]), ("s1", [(1, P1, 1, 1000)]),
                                          ("s4", [(1, P1, 1, 1000), (2, P2, 1, 500)])]):
        events.append(_event(220 + i, "checkout_started", ts(D3, f"12:2{i}"), lines, 0, buyer=B2, session=session))
    by_day: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_day.setdefault(e["occurred_at"].date().isoformat(), []).append(e)
    return by_day


def write_raw(lake: LakeFS, days: tuple[str, str, str] = DAYS) -> None:
    """The raw partitions of every day from D1 to D3 (days without data are written empty)."""
    sales, events = sale_rows(days), event_rows(days)
    sw = PartitionWriter(lake, "raw_sales", RAW_SALES)
    ew = PartitionWriter(lake, "raw_order_events", RAW_ORDER_EVENTS)
    for day in days_between(days[0], days[2]):
        sw.write(day, [pa.Table.from_pylist(sales.get(day, []), schema=RAW_SALES)])
        ew.write(day, [pa.Table.from_pylist(events.get(day, []), schema=RAW_ORDER_EVENTS)])


def days_between(first: str, last: str) -> list[str]:
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [(start + dt.timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def record_raw_checks(instance: Any, days: list[str]) -> None:
    """Record in a Dagster instance that the raw partitions of `days` passed their blocking
    reconciliation check: the hand-made raw partitions are written behind the ingest's back, and
    the models' gate reads these evaluations. (Runless records: once per partition and check.)"""
    import dagster as dg

    from pipelines.ingest.load import RECONCILIATION_CHECK

    for table in ("raw_sales", "raw_order_events"):
        for day in days:
            instance.report_runless_asset_event(dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey(table), check_name=RECONCILIATION_CHECK, passed=True, partition=day))


def ingest_run(instance: Any, table: str, day: str, *, passed: bool) -> str:
    """A run of a stand-in for the ingest asset `table` on `day` whose reconciliation check passes
    or fails, as the real asset reports it (a materialisation only when published). Its run id."""
    import dagster as dg

    from pipelines.defs.ingest.checks import check_spec
    from pipelines.defs.partitions import daily
    from pipelines.ingest.load import RECONCILIATION_CHECK

    @dg.asset(name=table, partitions_def=daily, check_specs=[check_spec(table)])
    def stand_in():  # type: ignore[no-untyped-def]
        if passed:
            yield dg.MaterializeResult()
        yield dg.AssetCheckResult(check_name=RECONCILIATION_CHECK, passed=passed)

    return dg.materialize([stand_in], instance=instance, partition_key=day, raise_on_error=False).run_id


def put_dimensions(settings: Settings) -> None:
    """The sellers and catalog tables (under the settings' own table prefix)."""
    ensure_tables(settings)
    ddb = aws.client("dynamodb", settings)
    for seller_id, s in SELLERS.items():
        ddb.put_item(TableName=settings.table("sellers"), Item={
            "seller_id": {"S": seller_id}, **{k: {"S": v} for k, v in s.items()}})
    for product_id, p in PRODUCTS.items():
        item = {"product_id": {"S": product_id}, "price_cents": {"N": "1000"}, "stock": {"N": "10"},
                "active": {"BOOL": True}}
        item.update({k: {"S": v} for k, v in p.items() if v is not None})
        ddb.put_item(TableName=settings.table("catalog"), Item=item)
