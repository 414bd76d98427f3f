"""The shoppers browse the shop's pages: the visit plan is deterministic and covers every seller on
every day and every seller's orders, and a small simulation through the real pages leaves funnel
events for every seller and every simulated day, once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from storefront.simulate import seed as seeding
from storefront.simulate.browsing import MIN_BUYER_VISITS_PER_SELLER, build_visits, describe_visits
from storefront.simulate.shoppers import build_plan
from tests.conftest import LiveServer
from tests.helpers import scan_all

END = datetime(2026, 3, 2, 17, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    catalog = seeding.generate(42, n_sellers=20, n_products=300)
    plan = build_plan(catalog, 42, 14, END, orders_per_day=15)
    return catalog, plan


def test_the_visits_are_a_function_of_the_plan(world) -> None:  # type: ignore[no-untyped-def]
    catalog, plan = world
    visits = build_visits(catalog, plan)
    assert visits == build_visits(seeding.generate(42, n_sellers=20, n_products=300), plan)
    other = build_plan(catalog, 43, 14, END, orders_per_day=15)
    assert [v.steps for v in build_visits(catalog, other)[:20]] != [v.steps for v in visits[:20]]
    assert [v.index for v in visits] == list(range(len(visits)))
    assert all(a.steps[0].at <= b.steps[0].at for a, b in zip(visits, visits[1:], strict=False))


def test_every_seller_is_browsed_every_day_within_the_window(world) -> None:  # type: ignore[no-untyped-def]
    catalog, plan = world
    visits = build_visits(catalog, plan)
    seller_of = {p["product_id"]: p["seller_id"] for p in catalog.products}
    on_sale = {p["seller_id"] for p in catalog.products if p["active"]}
    browsing = [v for v in visits if not v.buyer]
    first_views = Counter((v.day, seller_of[v.steps[0].product_id]) for v in browsing)
    full_days = sorted({v.day for v in browsing})[1:-1]  # the window's first and last days are cut
    assert len(full_days) == 13
    for day in full_days:
        assert {s for d, s in first_views if d == day} == on_sale, day
        assert sum(n for (d, _), n in first_views.items() if d == day) == len(on_sale)  # one visit each
    for visit in visits:
        assert plan.start <= visit.steps[0].at and visit.steps[-1].at <= plan.end
        assert [s.at for s in visit.steps] == sorted(s.at for s in visit.steps)
        kinds = [s.kind for s in visit.steps]
        assert kinds[0] == "view" and kinds.count("checkout") <= 1 and kinds[-1] in ("view", "cart", "checkout")
    figures = describe_visits(visits)
    assert figures["page_views"] > figures["cart_adds"] > figures["checkouts"] > 0


def test_buyer_visits_view_and_cart_each_line_before_the_order(world) -> None:  # type: ignore[no-untyped-def]
    catalog, plan = world
    visits = [v for v in build_visits(catalog, plan) if v.buyer]
    seller_of = {p["product_id"]: p["seller_id"] for p in catalog.products}
    orders_by_lines: dict[tuple[tuple[str, int], ...], list] = {}  # type: ignore[type-arg]
    for order in plan.orders:
        orders_by_lines.setdefault(order.lines, []).append(order)
    covered: Counter[str] = Counter()
    for visit in visits:
        carts = tuple((s.product_id, s.qty) for s in visit.steps if s.kind == "cart")
        views = [s.product_id for s in visit.steps if s.kind == "view"]
        # the order this visit came before: the same lines, placed within minutes of the checkout
        (order,) = [o for o in orders_by_lines[carts]
                    if visit.steps[-1].at < o.at <= visit.steps[-1].at + timedelta(minutes=5)]
        assert views == [pid for pid, _ in order.lines] and visit.steps[-1].kind == "checkout"
        assert [s.kind for s in visit.steps] == ["view", "cart"] * len(order.lines) + ["checkout"]
        covered.update({seller_of[pid] for pid, _ in order.lines})
    sellers_with_orders = {seller_of[pid] for o in plan.orders for pid, _ in o.lines}
    assert set(covered) == sellers_with_orders  # every seller's orders came through the pages
    assert MIN_BUYER_VISITS_PER_SELLER >= 1 and len(visits) < len(plan.orders)


def test_only_the_last_days_are_browsed_but_every_seller_s_orders_are(world) -> None:  # type: ignore[no-untyped-def]
    catalog, plan = world
    visits = build_visits(catalog, plan, browse_days=3)
    browsing = [v for v in visits if not v.buyer]
    assert browsing and min(v.steps[0].at for v in browsing) >= plan.end - timedelta(days=3)
    seller_of = {p["product_id"]: p["seller_id"] for p in catalog.products}
    last_orders = {}
    for order in plan.orders:
        for seller in {seller_of[pid] for pid, _ in order.lines}:
            last_orders[seller] = order
    buyer_checkouts = {v.steps[-1].at for v in visits if v.buyer}
    for seller, order in last_orders.items():  # the last order of each seller came through the pages
        assert any(order.at - timedelta(minutes=5) < at < order.at for at in buyer_checkouts), seller
    earlier = [v for v in visits if v.buyer and v.steps[0].at < plan.end - timedelta(days=3)]
    assert earlier and len(earlier) <= MIN_BUYER_VISITS_PER_SELLER * len(last_orders)
    assert len(visits) < len(build_visits(catalog, plan))


@pytest.mark.stack
def test_a_small_simulation_browses_the_pages_for_every_seller_once(settings, catalog_app, orders_app) -> None:
    """Orders first, as a stack simulated before the browsing existed; the next run adds the
    browsing without placing the orders again; the one after does nothing."""
    from storefront.simulate.run import seed_and_simulate
    from storefront.web.app import create_app

    catalog, orders = LiveServer(catalog_app), LiveServer(orders_app)
    web = LiveServer(create_app({"CATALOG_URL": catalog.url, "ORDERS_URL": orders.url, "SECRET_KEY": "s",
                                 "FUNNEL_FLUSH_S": 0.05}, settings=settings))
    seed, end = 5151, datetime(2026, 6, 10, 17, 30, tzinfo=UTC)
    kwargs = dict(seed=seed, days=2, orders_url=orders.url, orders_per_day=10, n_sellers=8,
                  n_products=60, workers=6, progress=False, end=end)
    try:
        orders_only = seed_and_simulate(settings, **kwargs)  # an explicit orders_url alone: no browsing
        assert "browsing" not in orders_only
        kwargs["web_url"] = web.url
        counts = seed_and_simulate(settings, **kwargs)
        assert counts == {**orders_only, "browsing": counts["browsing"]}  # the orders were not replayed
        shop_catalog = seeding.generate(seed, n_sellers=8, n_products=60)
        plan = build_plan(shop_catalog, seed, 2, end, orders_per_day=10)
        planned = describe_visits(build_visits(shop_catalog, plan))
        browsing = counts["browsing"]
        assert counts["orders"] == len(plan.orders) and counts["orders_failed"] == 0
        assert browsing["visits"] == browsing["visits_done"] == planned["visits"]
        assert browsing["visits_failed"] == 0 and browsing["funnel_events_dropped"] == 0
        done = browsing["steps_done"]
        assert browsing["funnel_events_sent"] == done["view"] + done["cart"] + done["checkout"]

        mine = {s["seller_id"] for s in shop_catalog.sellers}
        on_sale = {p["seller_id"] for p in shop_catalog.products if p["active"]}
        events = [i for i in scan_all(settings, "order_events") if i["lines"]["L"][0]["M"]["seller_id"]["S"] in mine]
        funnel = [i for i in events if "session_id" in i]
        assert len(funnel) == browsing["funnel_events_sent"]
        by_type = Counter(i["event_type"]["S"] for i in funnel)
        assert set(by_type) == {"product_viewed", "cart_added", "checkout_started"}
        assert by_type["product_viewed"] == done["view"]
        viewed = Counter((i["occurred_at"]["S"][:10], line["M"]["seller_id"]["S"]) for i in funnel
                         if i["event_type"]["S"] == "product_viewed" for line in i["lines"]["L"])
        window_days = sorted({day for day, _ in viewed})
        assert len(window_days) == 3  # the two days' window spans three dates
        assert {s for d, s in viewed if d == window_days[1]} == on_sale  # the one whole day: every seller
        sellers_ordered = {line["M"]["seller_id"]["S"] for i in events if i["event_type"]["S"] == "order_placed"
                           for line in i["lines"]["L"]}
        sellers_carted = {line["M"]["seller_id"]["S"] for i in funnel if i["event_type"]["S"] == "cart_added"
                          for line in i["lines"]["L"]}
        assert sellers_ordered <= sellers_carted  # every seller with orders had them carted first

        # once only: nothing is browsed again
        assert seed_and_simulate(settings, **kwargs) == counts
        assert len([i for i in scan_all(settings, "order_events") if "session_id" in i
                    and i["lines"]["L"][0]["M"]["seller_id"]["S"] in mine]) == len(funnel)
    finally:
        for server in (web, orders, catalog):
            server.stop()
