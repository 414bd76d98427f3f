"""Retried lifecycle changes (Idempotency-Key) and stock conflicts told by the failed item."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.helpers import order_body, patient, reserved, scan_all, set_stock, stock_of

pytestmark = pytest.mark.stack


@pytest.fixture()
def server(settings, catalog_data):  # type: ignore[no-untyped-def]
    from storefront.orders.app import create_app
    from tests.conftest import LiveServer

    slow_ok = patient(settings)
    app = create_app({"TESTING": True}, settings=slow_ok)
    live = LiveServer(app)
    live.app = app
    yield live
    live.stop()


def place(url, body, key):  # type: ignore[no-untyped-def]
    return requests.post(f"{url}/orders", json=body, headers={"Idempotency-Key": key}, timeout=60)


def change(url, settings, order_id, body, key=None):  # type: ignore[no-untyped-def]
    headers = {"X-Internal-Token": settings.internal_token}
    if key is not None:
        headers["Idempotency-Key"] = key
    return requests.post(f"{url}/internal/orders/{order_id}/events", json=body, headers=headers, timeout=60)


def event_types(settings, order_id):  # type: ignore[no-untyped-def]
    found = [i for i in scan_all(settings, "order_events") if i.get("order_id", {}).get("S") == order_id]
    return [i["event_type"]["S"] for i in sorted(found, key=lambda i: i["event_id"]["S"])]


# -- lifecycle retries ----------------------------------------------------------------------------
def test_a_retried_payment_gets_the_first_answer_and_writes_no_second_event(server, settings, catalog_data):
    product = reserved(catalog_data, 30)
    order = place(server.url, order_body(product, qty=1), "retry-pay").json()
    oid = order["order_id"]

    first = change(server.url, settings, oid, {"type": "payment_captured"}, key="pay-1")
    assert first.status_code == 200 and first.json()["status"] == "paid"
    assert "Idempotent-Replayed" not in first.headers
    again = change(server.url, settings, oid, {"type": "payment_captured"}, key="pay-1")  # the answer was lost
    assert again.status_code == 200
    assert again.json() == first.json()  # same order view, same event id
    assert again.headers["Idempotent-Replayed"] == "true"
    assert event_types(settings, oid) == ["order_placed", "payment_captured"]

    # The same key with another change is not a retry.
    reused = change(server.url, settings, oid, {"type": "order_shipped"}, key="pay-1")
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "idempotency_key_reused"
    # A genuinely invalid transition is still refused, with a key or without.
    for key in ("deliver-1", None):
        invalid = change(server.url, settings, oid, {"type": "order_delivered"}, key=key)
        assert invalid.status_code == 409 and invalid.json()["error"]["code"] == "invalid_transition"
    # Without a key a repeated change is judged by the state machine, as before.
    repeated = change(server.url, settings, oid, {"type": "payment_captured"})
    assert repeated.status_code == 409 and repeated.json()["error"]["code"] == "invalid_transition"
    assert event_types(settings, oid) == ["order_placed", "payment_captured"]
    # A key is per order: the same key on another order is a change of its own.
    other = place(server.url, order_body(product, qty=1, n=1), "retry-pay-other").json()
    assert change(server.url, settings, other["order_id"], {"type": "payment_captured"}, key="pay-1").status_code == 200
    assert event_types(settings, other["order_id"]) == ["order_placed", "payment_captured"]


def test_a_retry_racing_the_first_call_applies_the_change_once(server, settings, catalog_data):
    product = reserved(catalog_data, 31)
    set_stock(settings, product["product_id"], 50)
    oid = place(server.url, order_body(product, qty=3), "retry-race").json()["order_id"]
    assert stock_of(settings, product["product_id"]) == 47

    def cancel(_: int) -> requests.Response:
        return change(server.url, settings, oid, {"type": "order_cancelled"}, key="cancel-once")

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(cancel, range(12)))
    assert [a.status_code for a in answers] == [200] * 12, [a.text for a in answers]
    assert len({a.json()["event_id"] for a in answers}) == 1
    assert all(a.json() == answers[0].json() for a in answers)
    assert sum(1 for a in answers if a.headers.get("Idempotent-Replayed") != "true") == 1
    assert stock_of(settings, product["product_id"]) == 50  # returned once
    assert event_types(settings, oid) == ["order_placed", "order_cancelled"]


# -- stock conflicts ------------------------------------------------------------------------------
def test_the_out_of_stock_product_is_named_whatever_order_the_actions_are_in(  # type: ignore[no-untyped-def]
    server, settings, catalog_data, monkeypatch
):
    """The stock read before the transaction is stale (another order took the units since): the
    transaction fails on the second product's decrement, and the 409 must name that line, also
    when the transaction's actions are sent in another order than they were built in."""
    products = [reserved(catalog_data, n) for n in (32, 33, 35)]
    assert len({p["currency"] for p in products}) == 1
    for p, stock in zip(products, (5, 1, 5), strict=True):
        set_stock(settings, p["product_id"], stock)
    repo = server.app.extensions["order_service"].repo
    real_products, real_transact = repo.products, repo.transact

    def stale(ids):  # type: ignore[no-untyped-def]
        return {pid: {**p, "stock": 99} for pid, p in real_products(ids).items()}

    monkeypatch.setattr(repo, "products", stale)
    body = {
        "customer": order_body(products[0])["customer"],
        "lines": [{"product_id": p["product_id"], "qty": 2} for p in products],
        "currency": products[0]["currency"],
    }
    for n, arrange in enumerate((list, lambda a: list(reversed(a)), lambda a: a[1::2] + a[0::2])):
        monkeypatch.setattr(repo, "transact", lambda actions, token=None, a=arrange: real_transact(a(actions)))
        resp = place(server.url, body, f"stale-stock-{n}")
        assert resp.status_code == 409, resp.text
        assert resp.json()["error"] == {
            "code": "insufficient_stock",
            "message": "not enough stock left",
            "field": "lines.1.qty",
        }
        assert [stock_of(settings, p["product_id"]) for p in products] == [5, 1, 5]  # nothing written


def test_duplicate_submissions_race_correctly_whatever_order_the_actions_are_in(  # type: ignore[no-untyped-def]
    server, settings, catalog_data, monkeypatch
):
    product = reserved(catalog_data, 34)
    set_stock(settings, product["product_id"], 40)
    repo = server.app.extensions["order_service"].repo
    real_transact = repo.transact
    monkeypatch.setattr(repo, "transact", lambda actions, token=None: real_transact(list(reversed(actions))))
    body = order_body(product, qty=2)
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: place(server.url, body, "reversed-dup"), range(10)))
    assert [a.status_code for a in answers] == [201] * 10, [a.text for a in answers]
    assert len({a.json()["order_id"] for a in answers}) == 1
    assert stock_of(settings, product["product_id"]) == 38
