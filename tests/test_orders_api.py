"""POST /orders and GET /orders/<id> against DynamoDB Local: validation, totals from the
catalog, idempotency, receipt tokens."""

from __future__ import annotations

import copy

import pytest

from tests.helpers import count_where, order_body, pick, stock_of

pytestmark = pytest.mark.stack


def post(client, body, key="key-1", **headers):  # type: ignore[no-untyped-def]
    return client.post("/orders", json=body, headers={"Idempotency-Key": key, **headers})


def test_order_is_priced_from_the_catalog_and_readable_with_its_receipt(orders_app, catalog_data, settings):
    client = orders_app.test_client()
    product = pick(catalog_data, "game")
    before = stock_of(settings, product["product_id"])
    resp = post(client, order_body(product, qty=3), key="price-1")
    assert resp.status_code == 201, resp.json
    order = resp.json
    assert order["status"] == "placed"
    assert order["total_cents"] == 3 * product["price_cents"]
    assert order["lines"][0]["unit_cents"] == product["price_cents"]
    assert order["lines"][0]["seller_id"] == product["seller_id"]
    assert stock_of(settings, product["product_id"]) == before - 3
    # one sales line and one order_placed event were written with the order
    assert count_where(settings, "sales", "order_id", order["order_id"]) == 1
    assert count_where(settings, "order_events", "order_id", order["order_id"]) == 1

    got = client.get(f"/orders/{order['order_id']}", headers={"X-Receipt-Token": order["receipt_token"]})
    assert got.status_code == 200
    assert got.json["total_cents"] == order["total_cents"]
    assert "receipt_token" not in got.json


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_order_without_its_receipt_token_is_not_found(orders_app, catalog_data, token):
    client = orders_app.test_client()
    order = post(client, order_body(pick(catalog_data)), key=f"rcpt-{token}").json
    headers = {"X-Receipt-Token": token} if token is not None else {}
    resp = client.get(f"/orders/{order['order_id']}", headers=headers)
    assert resp.status_code == 404
    assert resp.json["error"]["code"] == "not_found"


def test_same_key_and_body_returns_the_first_order_and_writes_nothing(orders_app, catalog_data, settings):
    client = orders_app.test_client()
    product = pick(catalog_data, "merch")
    body = order_body(product, qty=2)
    first = post(client, body, key="idem-same")
    stock_after_first = stock_of(settings, product["product_id"])
    again = post(client, body, key="idem-same")
    assert again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json == first.json
    assert stock_of(settings, product["product_id"]) == stock_after_first
    assert count_where(settings, "sales", "order_id", first.json["order_id"]) == 1


def test_same_key_with_another_body_is_a_conflict(orders_app, catalog_data, settings):
    client = orders_app.test_client()
    product = pick(catalog_data, "dlc")
    body = order_body(product, qty=1)
    assert post(client, body, key="idem-other").status_code == 201
    other = copy.deepcopy(body)
    other["lines"][0]["qty"] = 2
    stock = stock_of(settings, product["product_id"])
    resp = post(client, other, key="idem-other")
    assert resp.status_code == 409
    assert resp.json["error"] == {
        "code": "idempotency_key_reused",
        "message": "this Idempotency-Key was used with another body",
        "field": "Idempotency-Key",
    }
    assert stock_of(settings, product["product_id"]) == stock


def _mutations(product):  # type: ignore[no-untyped-def]
    base = order_body(product)

    def change(path, value=None, delete=False):  # type: ignore[no-untyped-def]
        body = copy.deepcopy(base)
        target = body
        for part in path[:-1]:
            target = target[part]
        if delete:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return body

    return [
        ("missing customer", change(["customer"], delete=True), "customer"),
        ("missing email", change(["customer", "email"], delete=True), "customer.email"),
        ("bad email", change(["customer", "email"], "not-an-email"), "customer.email"),
        ("bad country", change(["customer", "country"], "XX"), "customer.country"),
        ("lowercase country", change(["customer", "country"], "us"), "customer.country"),
        ("bad currency", change(["currency"], "ABC"), "currency"),
        ("zero qty", change(["lines", 0, "qty"], 0), "lines.0.qty"),
        ("eleven units", change(["lines", 0, "qty"], 11), "lines.0.qty"),
        ("string qty", change(["lines", 0, "qty"], "2"), "lines.0.qty"),
        ("fractional qty", change(["lines", 0, "qty"], 2.5), "lines.0.qty"),
        ("boolean qty", change(["lines", 0, "qty"], True), "lines.0.qty"),
        ("no lines", change(["lines"], []), "lines"),
        ("21 lines", change(["lines"], [{"product_id": product["product_id"], "qty": 1}] * 21), "lines"),
        ("unknown field", change(["discount_cents"], 500), "discount_cents"),
        ("client price", change(["lines", 0, "unit_cents"], 1), "lines.0.unit_cents"),
        ("unknown product", change(["lines", 0, "product_id"], "prd_01ARZ3NDEKTSV4RRFFQ69G5FAV"), "lines.0.product_id"),
        ("malformed product id", change(["lines", 0, "product_id"], "../etc"), "lines.0.product_id"),
        ("currency mismatch", change(["currency"], "USD" if product["currency"] != "USD" else "EUR"), "currency"),
        (
            "duplicate lines",
            change(["lines"], [{"product_id": product["product_id"], "qty": 1}] * 2),
            "lines.1.product_id",
        ),
    ]


def test_bad_input_gets_a_400_with_the_field_and_changes_nothing(orders_app, catalog_data, settings):
    client = orders_app.test_client()
    product = pick(catalog_data, "game")
    stock = stock_of(settings, product["product_id"])
    for i, (name, body, field) in enumerate(_mutations(product)):
        resp = post(client, body, key=f"bad-{i}")
        assert resp.status_code == 400, (name, resp.json)
        error = resp.json["error"]
        assert error["field"] == field, (name, error)
        assert error["code"] and error["message"]
    assert stock_of(settings, product["product_id"]) == stock
    # none of those keys was used up: a valid body with one of them is accepted
    assert post(client, order_body(product), key="bad-0").status_code == 201


def test_idempotency_key_is_required_and_checked(orders_app, catalog_data):
    client = orders_app.test_client()
    body = order_body(pick(catalog_data))
    resp = client.post("/orders", json=body)
    assert resp.status_code == 400 and resp.json["error"]["field"] == "Idempotency-Key"
    resp = post(client, body, key="x" * 129)
    assert resp.status_code == 400 and resp.json["error"]["field"] == "Idempotency-Key"


def test_non_json_bodies_get_json_errors(orders_app):
    client = orders_app.test_client()
    resp = client.post("/orders", data="customer=x", headers={"Idempotency-Key": "k", "Content-Type": "text/plain"})
    assert resp.status_code == 415 and resp.json["error"]["code"] == "unsupported_media_type"
    resp = client.post(
        "/orders", data="{not json", headers={"Idempotency-Key": "k", "Content-Type": "application/json"}
    )
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_json"
    resp = client.post("/orders", json=[1, 2], headers={"Idempotency-Key": "k"})
    assert resp.status_code == 400
    resp = client.delete("/orders")
    assert resp.status_code == 405 and resp.json["error"]["code"] == "method_not_allowed"
    resp = client.get("/nowhere")
    assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"


def test_out_of_stock_is_a_conflict_and_changes_nothing(orders_app, catalog_data, settings):
    from tests.helpers import reserved, set_stock

    client = orders_app.test_client()
    product = reserved(catalog_data, 1)
    set_stock(settings, product["product_id"], 2)
    resp = post(client, order_body(product, qty=3), key="oos-1")
    assert resp.status_code == 409
    assert resp.json["error"]["code"] == "insufficient_stock"
    assert stock_of(settings, product["product_id"]) == 2


def test_public_requests_cannot_set_their_own_time(orders_app, catalog_data):
    client = orders_app.test_client()
    body = order_body(pick(catalog_data))
    resp = post(client, body, key="clock-1", **{"X-Sim-Time": "2020-01-01T00:00:00.000Z", "X-Sim-Signature": "00"})
    assert resp.status_code == 400 and resp.json["error"]["code"] == "clock_not_settable"
