"""Acknowledged orders, and the keys that protect their PII, survive restarts of the stack and a
kill -9 of either emulator. Runs the real local stack (DynamoDB Local, the moto launcher,
gunicorn services) in a temporary home on free ports."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import time

import pytest
import requests

from gitgoods import aws
from gitgoods.local import processes, stack
from gitgoods.settings import Settings
from storefront.common.pii import PiiProtector
from storefront.simulate import seed
from tests.conftest import free_port
from tests.helpers import customer, missing_prerequisite

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture()
def live_stack(tmp_path):  # type: ignore[no-untyped-def]
    catalog_port = free_port()
    s = Settings(
        env="local",
        home=tmp_path / "home",
        dynamodb_port=free_port(),
        moto_port=free_port(),
        catalog_port=catalog_port,
        orders_port=free_port(),
        catalog_url=f"http://127.0.0.1:{catalog_port}",
        table_prefix="persist-",
    )
    try:
        stack.check_prerequisites()
    except processes.StartError as exc:
        missing_prerequisite(str(exc))
    stack.start_emulators(s)  # prerequisites are there: an emulator that does not start fails
    stack.start_services(s)
    yield s
    stack.stop_all(s)


def _pii(s: Settings) -> PiiProtector:
    return PiiProtector(aws.client("kms", s), s.pii_key_alias, s.lookup_hmac_key_alias, s.pseudonym_hmac_key_alias)


def _place(s: Settings, product: dict, n: int) -> tuple[dict, dict]:
    who = customer(n)
    body = {
        "customer": who,
        "lines": [{"product_id": product["product_id"], "qty": 1}],
        "currency": product["currency"],
    }
    resp = requests.post(
        f"http://127.0.0.1:{s.orders_port}/orders", json=body, headers={"Idempotency-Key": f"persist-{n}"}, timeout=30
    )
    assert resp.status_code == 201, resp.text
    return resp.json(), who


def _check_readable(s: Settings, placed: list[tuple[dict, dict]]) -> None:
    pii = _pii(s)
    ddb = aws.client("dynamodb", s)
    for order, who in placed:
        got = requests.get(
            f"http://127.0.0.1:{s.orders_port}/orders/{order['order_id']}",
            headers={"X-Receipt-Token": order["receipt_token"]},
            timeout=30,
        )
        assert got.status_code == 200 and got.json()["total_cents"] == order["total_cents"]
        customer_id = pii.customer_id_for_email(who["email"])
        item = ddb.get_item(TableName=s.table("customers"), Key={"customer_id": {"S": customer_id}})["Item"]
        stored = {k: v["B"] for k, v in item.items() if "B" in v}
        assert pii.open("customers", customer_id, stored, ["email", "phone"]) == {
            "email": who["email"],
            "phone": who["phone"],
        }


def _kill9(s: Settings, name: str) -> None:
    pid = processes.pid_of(s, name)
    assert pid
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while processes.pid_of(s, name) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    assert processes.pid_of(s, name) is None


def test_orders_and_keys_survive_kill9_and_restarts(live_stack):
    s = live_stack
    catalog = seed.generate(seed=1, n_sellers=5, n_products=20)
    seed.write(aws.client("dynamodb", s), catalog, s.table("catalog"), s.table("sellers"), _pii(s))
    products = [p for p in catalog.products if p["active"]]
    rng = random.Random(1)
    placed = [_place(s, rng.choice(products), n) for n in range(5)]

    _kill9(s, "dynamodb")  # acknowledged writes are on disk
    stack.start_emulators(s)
    _check_readable(s, placed)

    _kill9(s, "moto")  # the KMS keys come back from the state folder
    stack.start_emulators(s)
    aws.reset()
    _check_readable(s, placed)
    placed.append(_place(s, rng.choice(products), 100))  # and new orders still work

    stack.stop_all(s)  # make down && make up
    assert all(pid is None for pid in stack.state_summary(s).values())
    stack.start_emulators(s)
    stack.start_services(s)
    _check_readable(s, placed)
    # replaying an acknowledged order after the restart still returns the first order
    order, who = placed[0]
    body_product = order["lines"][0]["product_id"]
    product = next(p for p in products if p["product_id"] == body_product)
    again = requests.post(
        f"http://127.0.0.1:{s.orders_port}/orders",
        json={"customer": who, "lines": [{"product_id": body_product, "qty": 1}], "currency": product["currency"]},
        headers={"Idempotency-Key": "persist-0"},
        timeout=30,
    )
    assert again.status_code == 201 and again.json()["order_id"] == order["order_id"]
