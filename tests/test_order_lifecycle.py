"""Order lifecycle: the one internal path that changes an order's status and writes its events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storefront.common.clock import signed_headers
from tests.helpers import reserved, scan_all, stock_of

pytestmark = pytest.mark.stack


def _events(settings, order_id):  # type: ignore[no-untyped-def]
    return sorted(
        (i["occurred_at"]["S"], i["event_type"]["S"], int(i["amount_cents"]["N"]))
        for i in scan_all(settings, "order_events")
        if i.get("order_id", {}).get("S") == order_id
    )


def _sales_status(settings, order_id):  # type: ignore[no-untyped-def]
    return {
        int(i["line"]["N"]): i["status"]["S"]
        for i in scan_all(settings, "sales")
        if i.get("order_id", {}).get("S") == order_id
    }


def _place(client, settings, products, key, at=None):  # type: ignore[no-untyped-def]
    body = {
        "customer": {
            "email": f"{key}@mail.example",
            "name": "Lee Lifecycle",
            "address": "1 Loop Road",
            "phone": "+44 20 7946 0000",
            "country": "GB",
        },
        "lines": [{"product_id": p["product_id"], "qty": q} for p, q in products],
        "currency": products[0][0]["currency"],
    }
    headers = {"Idempotency-Key": key}
    if at:
        headers |= signed_headers(settings.sim_clock_key, "POST", "/orders", at)
    resp = client.post("/orders", json=body, headers=headers)
    assert resp.status_code == 201, resp.json
    return resp.json


def _apply(client, settings, order_id, body, at=None, token=True):  # type: ignore[no-untyped-def]
    path = f"/internal/orders/{order_id}/events"
    headers = {"X-Internal-Token": settings.internal_token} if token else {}
    if at:
        headers |= signed_headers(settings.sim_clock_key, "POST", path, at)
    return client.post(path, json=body, headers=headers)


def same_currency(catalog_data, n):  # type: ignore[no-untyped-def]
    first = reserved(catalog_data, 10)
    others = [p for p in catalog_data.products[-30:] if p["active"] and p["currency"] == first["currency"]]
    return [first] + [p for p in others if p["product_id"] != first["product_id"]][: n - 1]


def test_full_lifecycle_with_backdated_clock_and_partial_refund(orders_app, catalog_data, settings):
    client = orders_app.test_client()
    products = same_currency(catalog_data, 2)
    assert len(products) == 2
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=20)
    order = _place(client, settings, [(products[0], 2), (products[1], 1)], "life-1", at=t0)
    assert order["created_at"].startswith(t0.strftime("%Y-%m-%dT%H:%M:%S"))
    sales = [i for i in scan_all(settings, "sales") if i.get("order_id", {}).get("S") == order["order_id"]]
    assert {i["day_shard"]["S"][:10] for i in sales} == {t0.strftime("%Y-%m-%d")}

    steps = [("payment_captured", "paid", 1), ("order_shipped", "shipped", 24), ("order_delivered", "delivered", 72)]
    for event, status, hours in steps:
        resp = _apply(client, settings, order["order_id"], {"type": event}, at=t0 + timedelta(hours=hours))
        assert resp.status_code == 200, resp.json
        assert resp.json["status"] == status

    refund = _apply(
        client, settings, order["order_id"], {"type": "order_refunded", "lines": [2]}, at=t0 + timedelta(days=10)
    )
    assert refund.status_code == 200 and refund.json["status"] == "partially_refunded"
    assert _sales_status(settings, order["order_id"]) == {1: "placed", 2: "refunded"}
    rest = _apply(client, settings, order["order_id"], {"type": "order_refunded"}, at=t0 + timedelta(days=11))
    assert rest.status_code == 200 and rest.json["status"] == "refunded"
    assert _sales_status(settings, order["order_id"]) == {1: "refunded", 2: "refunded"}

    events = _events(settings, order["order_id"])
    assert [e[1] for e in events] == [
        "order_placed",
        "payment_captured",
        "order_shipped",
        "order_delivered",
        "order_refunded",
        "order_refunded",
    ]
    total = order["total_cents"]
    assert events[0][2] == total
    assert events[4][2] == products[1]["price_cents"]  # line 2 only
    assert events[5][2] == 2 * products[0]["price_cents"]
    assert events[0][0].startswith(t0.strftime("%Y-%m-%dT%H"))


def test_cancel_returns_stock_and_invalid_transitions_are_refused(orders_app, catalog_data, settings):
    client = orders_app.test_client()
    product = reserved(catalog_data, 11)
    before = stock_of(settings, product["product_id"])
    order = _place(client, settings, [(product, 3)], "life-2")
    assert stock_of(settings, product["product_id"]) == before - 3

    assert _apply(client, settings, order["order_id"], {"type": "order_delivered"}).status_code == 409
    assert _apply(client, settings, order["order_id"], {"type": "order_cancelled"}, token=False).status_code == 401
    resp = _apply(client, settings, order["order_id"], {"type": "order_cancelled"})
    assert resp.status_code == 200 and resp.json["status"] == "cancelled"
    assert stock_of(settings, product["product_id"]) == before
    assert _sales_status(settings, order["order_id"]) == {1: "cancelled"}
    # a retried cancel is refused by the state machine and writes nothing twice
    again = _apply(client, settings, order["order_id"], {"type": "order_cancelled"})
    assert again.status_code == 409 and again.json["error"]["code"] == "invalid_transition"
    assert stock_of(settings, product["product_id"]) == before
    assert [e[1] for e in _events(settings, order["order_id"])] == ["order_placed", "order_cancelled"]
    bad = _apply(client, settings, order["order_id"], {"type": "order_lost"})
    assert bad.status_code == 400


def test_every_written_event_matches_the_contract_schema(orders_app, settings, catalog_data):
    from gitgoods.contract import events
    from storefront.common.ddb import from_item

    client = orders_app.test_client()
    order = _place(client, settings, [(reserved(catalog_data, 13), 1)], "life-schema")
    for event in ("payment_captured", "order_cancelled"):
        assert _apply(client, settings, order["order_id"], {"type": event}).status_code == 200
    # (other tests put deliberately broken items in the shared table: look at this order's only)
    written = [
        from_item(i) for i in scan_all(settings, "order_events") if i.get("order_id", {}).get("S") == order["order_id"]
    ]
    assert len(written) == 3
    for event in written:
        assert events.errors(event) == [], event
    broken = dict(written[0], amount_cents=-1, event_type="order_lost")
    assert len(events.errors(broken)) == 2


def test_simulated_time_needs_a_valid_signature_and_cannot_be_in_the_future(orders_app, catalog_data, settings):
    client = orders_app.test_client()
    product = reserved(catalog_data, 12)
    body = {
        "customer": {"email": "t@mail.example", "name": "T", "address": "A", "phone": "+1 5550000", "country": "US"},
        "lines": [{"product_id": product["product_id"], "qty": 1}],
        "currency": product["currency"],
    }
    past = datetime.now(UTC) - timedelta(days=3)
    good = signed_headers(settings.sim_clock_key, "POST", "/orders", past)
    forged = signed_headers("not-the-key", "POST", "/orders", past)
    other_path = signed_headers(settings.sim_clock_key, "POST", "/elsewhere", past)
    future = signed_headers(settings.sim_clock_key, "POST", "/orders", datetime.now(UTC) + timedelta(days=1))
    for n, headers in enumerate((forged, other_path, future)):
        resp = client.post("/orders", json=body, headers={"Idempotency-Key": f"clock-{n}", **headers})
        assert resp.status_code == 400, headers
    resp = client.post("/orders", json=body, headers={"Idempotency-Key": "clock-ok", **good})
    assert resp.status_code == 201 and resp.json["created_at"][:10] == past.strftime("%Y-%m-%d")
