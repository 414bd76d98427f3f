"""The shopper simulator: a deterministic plan with a realistic shape, executed through the real
order API with backdated times, once only and safely resumable."""

from __future__ import annotations

import json
import statistics
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask, jsonify, request

from gitgoods.contract.ids import utc_iso
from storefront.simulate import seed as seeding
from storefront.simulate.execute import pending_events
from storefront.simulate.order_client import OrderClient
from storefront.simulate.plan import PlannedEvent, describe, local_hour_counts, weekend_share
from storefront.simulate.run import marker_path, seed_and_simulate
from storefront.simulate.shoppers import build_plan
from tests.conftest import LiveServer
from tests.helpers import scan_all


def _first_seller(item):  # type: ignore[no-untyped-def]
    """The seller of an event's first line; None for items without one (other tests write some)."""
    try:
        return item["lines"]["L"][0]["M"]["seller_id"]["S"]
    except (KeyError, IndexError, TypeError):
        return None


END = datetime(2026, 3, 2, 17, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def catalog() -> seeding.Catalog:
    return seeding.generate(42)


@pytest.fixture(scope="module")
def plan(catalog):  # type: ignore[no-untyped-def]
    return build_plan(catalog, 42, 90, END)


# -- the plan ----------------------------------------------------------------------------------
def test_the_plan_is_a_function_of_the_seed(catalog, plan):
    again = build_plan(seeding.generate(42), 42, 90, END)
    assert again == plan
    other = build_plan(seeding.generate(43), 43, 90, END)
    assert [o.body() for o in other.orders[:50]] != [o.body() for o in plan.orders[:50]]
    assert [o.at for o in other.orders[:50]] != [o.at for o in plan.orders[:50]]
    # the same catalog with another seed still gives other shoppers
    assert build_plan(catalog, 7, 90, END).orders[0].customer != plan.orders[0].customer


def test_the_plan_has_the_expected_volume_and_baskets(catalog, plan):
    assert 4500 <= len(plan.orders) <= 5500
    products = {p["product_id"]: p for p in catalog.products}
    for order in plan.orders:
        ids = [pid for pid, _ in order.lines]
        assert 1 <= len(ids) <= 4 and len(set(ids)) == len(ids)
        assert all(1 <= qty <= 3 for _, qty in order.lines)
        assert all(products[pid]["currency"] == order.currency for pid in ids)
        assert all(products[pid]["active"] for pid in ids)
        assert order.customer.email.endswith(".example")
    assert [o.index for o in plan.orders] == list(range(len(plan.orders)))
    assert len({o.idempotency_key for o in plan.orders}) == len(plan.orders)
    # never more of a product than its seeded stock
    sold = Counter()
    for order in plan.orders:
        sold.update({pid: qty for pid, qty in order.lines})
    assert all(sold[pid] <= products[pid]["stock"] for pid in sold)
    # returning buyers: fewer customers than orders, some with several orders
    figures = describe(plan)
    assert figures["customers"] < 0.7 * len(plan.orders)
    assert figures["returning_customers"] > 0.2 * figures["customers"]
    # popular sellers sell more: the top seller has many times the median seller's lines
    per_seller = Counter(products[pid]["seller_id"] for o in plan.orders for pid, _ in o.lines)
    assert max(per_seller.values()) > 5 * statistics.median(per_seller.values())


def test_the_plan_has_daily_and_weekly_patterns_and_no_future(plan):
    hours = local_hour_counts(plan.orders)
    assert min(hours[19:22]) > 3 * hours[4]
    assert sum(hours[18:23]) > sum(hours[0:7])
    assert weekend_share(plan.orders) > 2 / 7 + 0.02
    # gentle growth: the last month sells more than the first
    first = sum(1 for o in plan.orders if o.at < plan.start + timedelta(days=30))
    last = sum(1 for o in plan.orders if o.at >= plan.end - timedelta(days=30))
    assert 1.05 * first < last < 1.6 * first
    # promotion days stand out
    per_day = Counter(o.local_time.date().isoformat() for o in plan.orders)
    assert plan.promo_days and all(per_day[d] > 1.4 * statistics.median(per_day.values()) for d in plan.promo_days)
    # nothing after the end of the window, events after the order and in order
    assert all(plan.start <= o.at <= END for o in plan.orders)
    for order in plan.orders:
        times = [order.at] + [e.at for e in order.events]
        assert times == sorted(times) and times[-1] <= END


def test_the_lifecycle_follows_the_state_machine_with_plausible_rates(plan):
    allowed = {
        ("payment_captured", "order_shipped", "order_delivered", "order_refunded"),
        ("payment_captured", "order_shipped", "order_delivered"),
        ("payment_captured", "order_shipped"),
        ("payment_captured",),
        ("payment_captured", "order_cancelled"),
        ("order_cancelled",),
        (),
    }
    for order in plan.orders:
        assert tuple(e.type for e in order.events) in allowed
        for event in order.events:
            if event.lines is not None:
                assert event.type == "order_refunded"
                assert 0 < len(event.lines) < len(order.lines)
    counts = plan.event_counts()
    n = len(plan.orders)
    assert 0.025 * n < counts["order_cancelled"] < 0.055 * n
    assert 0.025 * counts["order_delivered"] < counts["order_refunded"] < 0.07 * counts["order_delivered"]
    assert any(e.lines for o in plan.orders for e in o.events)  # some partial refunds
    # the last days' orders are not delivered yet
    recent = [o for o in plan.orders if o.at > END - timedelta(hours=12)]
    assert recent and not any(e.type == "order_delivered" for o in recent for e in o.events)
    # payment comes minutes after placing, shipping half a day to three days after that
    for order in plan.orders[:500]:
        events = {e.type: e.at for e in order.events}
        if "payment_captured" in events:
            assert timedelta(0) < events["payment_captured"] - order.at <= timedelta(minutes=61)
        if "order_shipped" in events:
            assert timedelta(hours=12) <= events["order_shipped"] - events["payment_captured"] <= timedelta(days=3)


def test_pending_events_skip_what_the_order_status_shows_done(plan):
    order = next(o for o in plan.orders if len(o.events) == 4 and o.events[-1].lines)
    assert pending_events(order, "placed") == order.events
    assert pending_events(order, "shipped") == order.events[2:]
    assert pending_events(order, "partially_refunded") == ()
    full = next(o for o in plan.orders if len(o.events) == 4 and not o.events[-1].lines)
    assert pending_events(full, "refunded") == ()
    cancelled = next(o for o in plan.orders if [e.type for e in o.events] == ["payment_captured", "order_cancelled"])
    assert pending_events(cancelled, "paid") == cancelled.events[1:]
    assert pending_events(cancelled, "cancelled") == ()


# -- the HTTP client ---------------------------------------------------------------------------
def test_client_retries_rate_limits_and_server_errors_and_accepts_done_events(plan):
    app = Flask("stub")
    calls: Counter[str] = Counter()
    lock = threading.Lock()

    @app.post("/orders")
    def orders():  # type: ignore[no-untyped-def]
        with lock:
            calls["orders"] += 1
            n = calls["orders"]
        assert request.headers["Idempotency-Key"] == plan.orders[0].idempotency_key
        assert request.headers["X-Sim-Time"] == utc_iso(plan.orders[0].at)
        if n == 1:
            return jsonify({"error": {"code": "rate_limited"}}), 429, {"Retry-After": "0"}
        if n == 2:
            return jsonify({"error": {"code": "internal"}}), 503
        return jsonify({"order_id": "ord_1", "status": "placed"}), 201

    @app.post("/internal/orders/<order_id>/events")
    def events(order_id):  # type: ignore[no-untyped-def]
        assert request.headers["X-Internal-Token"] == "tok"
        return jsonify({"error": {"code": "invalid_transition", "field": "type"}}), 409

    server = LiveServer(app)
    try:
        client = OrderClient(server.url, "tok", "key")
        created, replayed = client.place(plan.orders[0])
        assert created["order_id"] == "ord_1" and not replayed and calls["orders"] == 3
        assert client.event("ord_1", PlannedEvent("payment_captured", plan.orders[0].at)) is False
    finally:
        server.stop()


# -- end to end against the order service and DynamoDB Local -----------------------------------
SEED = 4242


@pytest.mark.stack
def test_a_small_simulation_writes_backdated_orders_and_events_once(settings):
    from storefront.orders.app import create_app

    server = LiveServer(create_app({"TESTING": True}, settings=settings))
    end = datetime.now(UTC) - timedelta(minutes=2)
    kwargs = dict(
        seed=SEED,
        days=3,
        orders_url=server.url,
        orders_per_day=20,
        n_sellers=25,
        n_products=150,
        workers=8,
        progress=False,
    )
    try:
        counts = seed_and_simulate(settings, end=end, **kwargs)
        catalog = seeding.generate(SEED, n_sellers=25, n_products=150)
        plan = build_plan(catalog, SEED, 3, end, orders_per_day=20)
        expected = plan.event_counts()
        assert 30 <= len(plan.orders) <= 100
        assert counts["orders"] == counts["orders_new"] == len(plan.orders)
        assert counts["orders_failed"] == counts["orders_out_of_stock"] == 0
        assert counts["events"] == expected
        assert counts["events_written"] == sum(expected.values())

        mine = {s["seller_id"] for s in catalog.sellers}

        def stored_events() -> Counter[str]:
            return Counter(i["event_type"]["S"] for i in scan_all(settings, "order_events") if _first_seller(i) in mine)

        assert stored_events() == Counter({k: v for k, v in expected.items() if v})

        # every sales line is on its order's simulated time and day
        sales = [i for i in scan_all(settings, "sales") if i["seller_id"]["S"] in mine]
        planned_times = Counter(utc_iso(o.at) for o in plan.orders for _ in o.lines)
        assert Counter(i["sold_at"]["S"] for i in sales) == planned_times
        assert all(i["day_shard"]["S"].split("#")[0] == i["sold_at"]["S"][:10] for i in sales)
        days = {i["sold_at"]["S"][:10] for i in sales}
        window = ((end - timedelta(days=3)).date().isoformat(), end.date().isoformat())
        assert len(days) >= 3 and window[0] <= min(days) and max(days) <= window[1]
        # lifecycle events carry their simulated times too
        placed_ms = {utc_iso(o.at) for o in plan.orders}
        event_times = {
            i["occurred_at"]["S"]
            for i in scan_all(settings, "order_events")
            if _first_seller(i) in mine and i["event_type"]["S"] == "order_placed"
        }
        assert event_times == placed_ms

        # once only: a second call returns the stored counts and writes nothing
        assert seed_and_simulate(settings, **kwargs) == counts
        # an interrupted run resumes with the same plan: everything replays, nothing is new
        path = marker_path(settings, SEED)
        marker = json.loads(path.read_text())
        path.write_text(json.dumps({**marker, "status": "incomplete"}))
        resumed = seed_and_simulate(settings, **kwargs)
        assert resumed["orders"] == resumed["orders_replayed"] == len(plan.orders)
        assert resumed["events_written"] == 0 and resumed["events"] == expected
        assert stored_events() == Counter({k: v for k, v in expected.items() if v})
        assert len([i for i in scan_all(settings, "sales") if i["seller_id"]["S"] in mine]) == len(sales)
    finally:
        server.stop()
