"""The sweep that cancels orders left unpaid: found by their marker, cancelled once however many
sweeps run, never when paid, and by the service's clock (not the order's backdated one).

These tests sweep everything overdue, so they run on tables of their own (own prefix, in the
session's DynamoDB Local), with a few products copied from the session's catalog: the other
tests' unpaid orders are not theirs to cancel.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests

from gitgoods import aws
from gitgoods.contract.ids import parse_utc, utc_iso
from gitgoods.contract.tables import ensure_tables
from storefront.common.clock import signed_headers
from storefront.orders.lifecycle import Lifecycle
from storefront.orders.repo import OrdersRepo
from storefront.orders.sweep import Overdue, UnpaidSweep
from tests.helpers import order_body, patient, reserved, scan_all, set_stock, stock_of

pytestmark = pytest.mark.stack

TTL_S = 1800.0


@pytest.fixture(scope="module")
def own(settings, catalog_data):  # type: ignore[no-untyped-def]
    """Settings on tables of this module's own, with reserved products 21-28 copied in."""
    own = patient(settings, table_prefix=settings.table_prefix + "sweep-", unpaid_order_ttl_s=TTL_S)
    ensure_tables(own)
    ddb = aws.client("dynamodb", settings)
    for n in range(21, 29):
        item = ddb.get_item(
            TableName=settings.table("catalog"), Key={"product_id": {"S": reserved(catalog_data, n)["product_id"]}}
        )["Item"]
        ddb.put_item(TableName=own.table("catalog"), Item=item)
    return own


@pytest.fixture(scope="module")
def server(own):  # type: ignore[no-untyped-def]
    from storefront.orders.app import create_app
    from tests.conftest import LiveServer

    live = LiveServer(create_app({"TESTING": True}, settings=own))
    live.settings = own
    yield live
    live.stop()


@pytest.fixture(autouse=True)
def no_unpaid_left(own):  # type: ignore[no-untyped-def]
    """Each test starts with no marker and leaves none, whatever happened in it."""
    yield
    sweep_all(own)


def sweeper(own, batch: int = 100) -> UnpaidSweep:  # type: ignore[no-untyped-def]
    return UnpaidSweep(Lifecycle(OrdersRepo(aws.client("dynamodb", own), own), lambda ids: None), batch=batch)


def place(server, product, qty, key, at=None):  # type: ignore[no-untyped-def]
    headers = {"Idempotency-Key": key}
    if at is not None:
        headers |= signed_headers(server.settings.sim_clock_key, "POST", "/orders", at)
    resp = requests.post(f"{server.url}/orders", json=order_body(product, qty=qty), headers=headers, timeout=60)
    assert resp.status_code == 201, resp.text
    return resp.json()


def apply(server, order_id, event):  # type: ignore[no-untyped-def]
    return requests.post(
        f"{server.url}/internal/orders/{order_id}/events",
        json={"type": event},
        headers={"X-Internal-Token": server.settings.internal_token},
        timeout=60,
    )


def stored(own, order_id):  # type: ignore[no-untyped-def]
    from storefront.common.ddb import from_item

    item = aws.client("dynamodb", own).get_item(
        TableName=own.table("orders"), Key={"order_id": {"S": order_id}}, ConsistentRead=True
    )["Item"]
    return from_item(item)


def events(own, order_id):  # type: ignore[no-untyped-def]
    found = [i for i in scan_all(own, "order_events") if i["order_id"]["S"] == order_id]
    return sorted((i["event_id"]["S"], i["event_type"]["S"]) for i in found)


def event_types(own, order_id):  # type: ignore[no-untyped-def]
    return [t for _, t in events(own, order_id)]


def markers(own):  # type: ignore[no-untyped-def]
    return sorted(i["order_id"]["S"] for i in scan_all(own, "unpaid_orders"))


def sweep_all(own) -> None:  # type: ignore[no-untyped-def]
    """Leave no unpaid order behind for the next test (their stock is theirs to check)."""
    sweeper(own).run_once(datetime.now(UTC) + timedelta(days=1))
    assert markers(own) == []


def test_overdue_order_is_cancelled_once_by_two_concurrent_sweeps_and_paid_one_is_kept(own, server, catalog_data):
    unpaid_product, paid_product = reserved(catalog_data, 21), reserved(catalog_data, 22)
    set_stock(own, unpaid_product["product_id"], 10)
    set_stock(own, paid_product["product_id"], 10)
    before = datetime.now(UTC)
    unpaid = place(server, unpaid_product, 3, "sweep-unpaid")
    paid = place(server, paid_product, 2, "sweep-paid")
    after = datetime.now(UTC)
    assert apply(server, paid["order_id"], "payment_captured").status_code == 200
    assert stock_of(own, unpaid_product["product_id"]) == 7
    assert stock_of(own, paid_product["product_id"]) == 8
    # pay-by = when it was placed + the TTL, by the service's clock (milliseconds)
    pay_by = parse_utc(stored(own, unpaid["order_id"])["pay_by"])
    assert before + timedelta(seconds=TTL_S, milliseconds=-1) <= pay_by <= after + timedelta(seconds=TTL_S)
    assert markers(own) == [unpaid["order_id"]]  # the payment removed the paid order's marker

    # Not overdue yet: nothing happens.
    assert sweeper(own).run_once(pay_by - timedelta(seconds=1)).cancelled == 0
    assert stored(own, unpaid["order_id"])["status"] == "placed"

    # Two sweeps at once, both past the pay-by time.
    now = pay_by + timedelta(seconds=1)
    start = threading.Barrier(2)

    def sweep(_: int):  # type: ignore[no-untyped-def]
        mine = sweeper(own)
        found = mine.overdue(now)
        start.wait()
        return found, [mine.cancel(o, now) for o in found]

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(sweep, range(2)))
    assert [found for found, _ in results] == [[Overdue(utc_iso(pay_by), unpaid["order_id"])]] * 2
    assert sorted(done for _, outcome in results for done in outcome) == [False, True]

    assert stored(own, unpaid["order_id"])["status"] == "cancelled"
    assert stock_of(own, unpaid_product["product_id"]) == 10  # 7 + 3, once
    assert event_types(own, unpaid["order_id"]) == ["order_placed", "order_cancelled"]
    sales = [i for i in scan_all(own, "sales") if i["order_id"]["S"] == unpaid["order_id"]]
    assert [i["status"]["S"] for i in sales] == ["cancelled"]
    assert markers(own) == []
    # The paid order is never cancelled, however late the sweep.
    assert sweeper(own).run_once(now + timedelta(days=30)).cancelled == 0
    assert stored(own, paid["order_id"])["status"] == "paid"
    assert stock_of(own, paid_product["product_id"]) == 8
    assert event_types(own, paid["order_id"]) == ["order_placed", "payment_captured"]


def test_a_run_is_bounded_and_takes_the_earliest_due_first(own, server, catalog_data):
    product = reserved(catalog_data, 23)
    set_stock(own, product["product_id"], 10)
    orders = [place(server, product, 1, f"sweep-batch-{n}")["order_id"] for n in range(3)]
    due = [parse_utc(stored(own, o)["pay_by"]) for o in orders]
    now = max(due) + timedelta(seconds=1)
    sweep = sweeper(own, batch=2)
    first = sweep.overdue(now)
    # the two earliest pay-by times, whatever shard their markers are in
    expected = sorted(zip(due, orders, strict=True))[:2]
    assert [(o.pay_by, o.order_id) for o in first] == [(utc_iso(d), o) for d, o in expected]
    assert sweep.run_once(now).cancelled == 2
    assert stock_of(own, product["product_id"]) == 9
    assert sweep.run_once(now).cancelled == 1
    assert stock_of(own, product["product_id"]) == 10
    assert sweep.run_once(now).cancelled == 0


def test_a_payment_between_the_scan_and_the_cancel_wins(own, server, catalog_data):
    product = reserved(catalog_data, 24)
    set_stock(own, product["product_id"], 10)
    order = place(server, product, 4, "sweep-pay-between")
    now = parse_utc(stored(own, order["order_id"])["pay_by"]) + timedelta(seconds=1)
    sweep = sweeper(own)
    found = sweep.overdue(now)
    assert [o.order_id for o in found] == [order["order_id"]]
    assert apply(server, order["order_id"], "payment_captured").status_code == 200  # after the scan
    assert sweep.cancel(found[0], now) is False
    assert stored(own, order["order_id"])["status"] == "paid"
    assert stock_of(own, product["product_id"]) == 6
    assert event_types(own, order["order_id"]) == ["order_placed", "payment_captured"]


def test_payments_racing_the_sweep_one_side_wins_each_order(own, server, catalog_data):
    product = reserved(catalog_data, 25)
    set_stock(own, product["product_id"], 100)
    orders = [place(server, product, 2, f"sweep-race-{n}")["order_id"] for n in range(8)]
    now = max(parse_utc(stored(own, o)["pay_by"]) for o in orders) + timedelta(seconds=1)
    sweep = sweeper(own)
    overdue = {o.order_id: o for o in sweep.overdue(now)}
    assert set(overdue) == set(orders)

    def race(order_id: str):  # type: ignore[no-untyped-def]
        start = threading.Barrier(2)

        def pay() -> int:
            start.wait()
            return apply(server, order_id, "payment_captured").status_code

        def cancel() -> bool:
            start.wait()
            return sweep.cancel(overdue[order_id], now)

        with ThreadPoolExecutor(2) as pool:
            paid, cancelled = pool.submit(pay), pool.submit(cancel)
            return paid.result(), cancelled.result()

    outcomes = {o: race(o) for o in orders}
    for order_id, (payment, cancelled) in outcomes.items():
        status = stored(own, order_id)["status"]
        if cancelled:  # the sweep got there first: the payment is refused
            assert (payment, status) == (409, "cancelled")
            assert event_types(own, order_id) == ["order_placed", "order_cancelled"]
        else:  # the payment got there first: the order is left alone
            assert (payment, status) == (200, "paid")
            assert event_types(own, order_id) == ["order_placed", "payment_captured"]
    kept = sum(1 for payment, _ in outcomes.values() if payment == 200)
    assert stock_of(own, product["product_id"]) == 100 - 2 * kept
    assert markers(own) == []


def test_a_backdated_order_is_given_the_ttl_from_when_it_was_placed(own, server, catalog_data):
    """The simulator places orders months in the past and pays them a moment later: judged by
    their `created_at`, every one would be overdue on arrival."""
    product = reserved(catalog_data, 26)
    set_stock(own, product["product_id"], 10)
    months_ago = datetime.now(UTC) - timedelta(days=90)
    before = datetime.now(UTC)
    order = place(server, product, 1, "sweep-backdated", at=months_ago)
    item = stored(own, order["order_id"])
    assert parse_utc(item["created_at"]) < before - timedelta(days=89)
    assert parse_utc(item["pay_by"]) >= before + timedelta(seconds=TTL_S, milliseconds=-1)
    assert sweeper(own).run_once().cancelled == 0  # now, by the real clock: not overdue
    assert stored(own, order["order_id"])["status"] == "placed"
    assert apply(server, order["order_id"], "payment_captured").status_code == 200
    assert markers(own) == []
    sweep_all(own)
    assert stored(own, order["order_id"])["status"] == "paid"
