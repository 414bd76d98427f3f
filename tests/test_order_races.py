"""Races over real HTTP against DynamoDB Local: duplicate submissions and the last units.

These check correctness under contention, not latency: 50-100 transactions at once queue up in
DynamoDB Local on 2 cores (shared with the rest of the suite), longer than the services' 2 s
request budget, which would answer some of them 503 (tests/test_storefront_faults.py tests that).
So this server has a patient budget.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.helpers import count_where, order_body, patient, pick, reserved, set_stock, stock_of

pytestmark = pytest.mark.stack


@pytest.fixture()
def orders_server(settings, catalog_data):  # type: ignore[no-untyped-def]
    from storefront.orders.app import create_app
    from tests.conftest import LiveServer

    slow_ok = patient(settings)
    server = LiveServer(create_app({"TESTING": True}, settings=slow_ok))
    yield server
    server.stop()


def test_fifty_concurrent_duplicates_make_exactly_one_order(orders_server, catalog_data, settings):
    product = pick(catalog_data, "game", random.Random(11))
    stock = stock_of(settings, product["product_id"])
    body = order_body(product, qty=2)

    def submit(_: int) -> requests.Response:
        return requests.post(
            f"{orders_server.url}/orders", json=body, headers={"Idempotency-Key": "dup-50"}, timeout=30
        )

    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(submit, range(50)))

    assert [r.status_code for r in responses] == [201] * 50, {r.status_code: r.text for r in responses}
    order_ids = {r.json()["order_id"] for r in responses}
    tokens = {r.json()["receipt_token"] for r in responses}
    assert len(order_ids) == 1 and len(tokens) == 1
    assert sum(1 for r in responses if r.headers.get("Idempotent-Replayed") != "true") == 1
    assert stock_of(settings, product["product_id"]) == stock - 2
    order_id = order_ids.pop()
    assert count_where(settings, "orders", "order_id", order_id) == 1
    assert count_where(settings, "sales", "order_id", order_id) == 1
    assert count_where(settings, "order_events", "order_id", order_id) == 1


def test_hundred_buyers_race_for_the_last_ten_units(orders_server, catalog_data, settings):
    product = reserved(catalog_data, 0)
    set_stock(settings, product["product_id"], 10)

    def buy(n: int) -> requests.Response:
        return requests.post(
            f"{orders_server.url}/orders",
            json=order_body(product, qty=1, n=n),
            headers={"Idempotency-Key": f"last-ten-{n}"},
            timeout=60,
        )

    with ThreadPoolExecutor(100) as pool:
        responses = list(pool.map(buy, range(100)))

    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 10, statuses
    assert statuses.count(409) == 90, statuses
    assert all(
        r.json()["error"]["code"] in ("insufficient_stock", "conflict") for r in responses if r.status_code == 409
    )
    assert stock_of(settings, product["product_id"]) == 0
    sold = {r.json()["order_id"] for r in responses if r.status_code == 201}
    assert len(sold) == 10
    sales = [count_where(settings, "sales", "order_id", oid) for oid in sold]
    assert sales == [1] * 10
