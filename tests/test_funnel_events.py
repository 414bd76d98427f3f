"""Funnel events end to end: the order service's internal endpoint (storefront/orders/funnel.py)
validates a batch whole, writes it once however often it is sent, and never overwrites another
event; the shop's pages record views, cart additions and checkouts without slowing down when the
order service stalls; and pages browsed on a (backdated) day come out of the ingest and the
`funnel` mart with the counts worked out by hand."""

from __future__ import annotations

import json
import re
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests

from gitgoods import aws
from gitgoods.contract import events as contract
from gitgoods.contract.ids import day_shard, new_id, utc_iso
from gitgoods.settings import Settings
from storefront.common.clock import sign, signed_headers
from storefront.common.ddb import from_item
from storefront.common.pii import PiiProtector
from tests.conftest import LiveServer
from tests.helpers import customer, order_body, pick, reserved, scan_all

pytestmark = pytest.mark.stack

TOKEN = "test-internal-token"  # tests/conftest.py
CLOCK_KEY = "test-sim-clock-key"
VISITOR = "vis_" + "A" * 22
PATH = "/internal/funnel-events"


def line(product: dict[str, Any], qty: int) -> dict[str, Any]:
    return {"seller_id": product["seller_id"], "product_id": product["product_id"], "qty": qty,
            "unit_cents": product["price_cents"], "kind": product["kind"], "platform": product["platform"]}


def funnel_event(products: list[tuple[dict[str, Any], int]], event_type: str = "product_viewed",
                 at: datetime | None = None, session: str = "ses_one") -> dict[str, Any]:
    at = at or datetime.now(UTC) - timedelta(seconds=5)
    return {"event_id": new_id("evt", at), "event_type": event_type, "occurred_at": utc_iso(at),
            "session_id": session, "visitor_id": VISITOR, "currency": products[0][0]["currency"],
            "lines": [line(p, q) for p, q in products]}


def stored(settings: Settings, event_id: str) -> dict[str, Any] | None:
    item = aws.client("dynamodb", settings).get_item(
        TableName=settings.table("order_events"), Key={"event_id": {"S": event_id}}, ConsistentRead=True
    ).get("Item")
    return from_item(item) if item else None


def pseudonym(settings: Settings, visitor: str) -> str:
    pii = PiiProtector(aws.client("kms", settings), settings.pii_key_alias, settings.lookup_hmac_key_alias,
                       settings.pseudonym_hmac_key_alias)
    return pii.pseudonym(visitor)


@pytest.fixture()
def post(orders_app):  # type: ignore[no-untyped-def]
    client = orders_app.test_client()

    def send(events: list[dict[str, Any]], token: str | None = TOKEN):  # type: ignore[no-untyped-def]
        headers = {"X-Internal-Token": token} if token else {}
        return client.post(PATH, json={"events": events}, headers=headers)

    return send


def products(catalog_data, n: int = 2) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    first = pick(catalog_data)
    same = [p for p in catalog_data.products if p["currency"] == first["currency"] and p["active"]
            and p["product_id"] != first["product_id"]]
    return [first, *same[: n - 1]]


# -- the internal endpoint ----------------------------------------------------------------------------


def test_a_batch_is_written_as_contract_events_with_a_pseudonym(settings, catalog_data, post) -> None:
    p1, p2 = products(catalog_data)
    batch = [
        funnel_event([(p1, 0)]),
        funnel_event([(p1, 2)], "cart_added"),
        funnel_event([(p1, 2), (p2, 1)], "checkout_started"),
    ]
    resp = post(batch)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"written": 3}

    customer_ = pseudonym(settings, VISITOR)
    assert re.fullmatch(r"[0-9a-f]{32}", customer_)
    checkout = stored(settings, batch[2]["event_id"])
    at = datetime.fromisoformat(batch[2]["occurred_at"].replace("Z", "+00:00"))
    assert checkout == {
        "event_id": batch[2]["event_id"],
        "event_type": "checkout_started",
        "schema_version": 1,
        "occurred_at": batch[2]["occurred_at"],
        "day_shard": day_shard(at, batch[2]["event_id"]),
        "session_id": "ses_one",
        "customer": customer_,
        "currency": p1["currency"],
        "amount_cents": 2 * p1["price_cents"] + p2["price_cents"],
        "lines": [
            {**line(p1, 2), "line": 1, "amount_cents": 2 * p1["price_cents"]},
            {**line(p2, 1), "line": 2, "amount_cents": p2["price_cents"]},
        ],
    }
    view = stored(settings, batch[0]["event_id"])
    assert view is not None and view["amount_cents"] == 0 and view["lines"][0]["qty"] == 0
    for event in batch:  # the visitor id itself is never stored
        item = stored(settings, event["event_id"])
        assert item is not None and contract.errors(item) == []
        assert VISITOR not in json.dumps(item) and "visitor_id" not in item


def test_a_batch_sent_again_writes_nothing_twice(settings, catalog_data, post) -> None:
    (p1,) = products(catalog_data, 1)
    batch = [funnel_event([(p1, 0)]), funnel_event([(p1, 1)], "cart_added")]
    assert post(batch).status_code == 200
    first = [stored(settings, e["event_id"]) for e in batch]
    extra = funnel_event([(p1, 0)], session="ses_two")
    again = post([*batch, extra])  # a retry after a lost answer, with a newer event behind it
    assert again.status_code == 200
    assert [stored(settings, e["event_id"]) for e in batch] == first
    assert stored(settings, extra["event_id"]) is not None
    ids = {e["event_id"] for e in [*batch, extra]}
    assert sum(1 for i in scan_all(settings, "order_events") if i["event_id"]["S"] in ids) == 3


def _set(path: list[Any], value: Any):  # type: ignore[no-untyped-def]
    def mutate(event: dict[str, Any]) -> None:
        target = event
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return mutate


def _drop(name: str):  # type: ignore[no-untyped-def]
    return lambda event: event.pop(name)


BAD_EVENTS = [
    ("an order event type", _set(["event_type"], "order_placed"), "events.1.event_type"),
    ("a product id that is not one", _set(["lines", 0, "product_id"], "prd_nope"), "events.1.lines.0.product_id"),
    ("a seller id that is not one", _set(["lines", 0, "seller_id"], "sel_x"), "events.1.lines.0.seller_id"),
    ("eleven units", _set(["lines", 0, "qty"], 11), "events.1.lines.0.qty"),
    ("a negative price", _set(["lines", 0, "unit_cents"], -1), "events.1.lines.0.unit_cents"),
    ("an unknown kind", _set(["lines", 0, "kind"], "toy"), "events.1.lines.0.kind"),
    ("no session", _drop("session_id"), "events.1.session_id"),
    ("an empty session", _set(["session_id"], ""), "events.1.session_id"),
    ("a visitor id of another shape", _set(["visitor_id"], "someone@mail.example"), "events.1.visitor_id"),
    ("an unknown field", _set(["email"], "someone@mail.example"), "events.1.email"),
    ("a bad event id", _set(["event_id"], "evt_1"), "events.1.event_id"),
    ("a time that is not ISO-8601", _set(["occurred_at"], "yesterday"), "events.1.occurred_at"),
    ("a time without Z", _set(["occurred_at"], "2030-01-01T10:00:00"), "events.1.occurred_at"),
    ("a time in the future", _set(["occurred_at"], utc_iso(datetime.now(UTC) + timedelta(hours=1))),
     "events.1.occurred_at"),
    ("a time two hours ago", _set(["occurred_at"], utc_iso(datetime.now(UTC) - timedelta(hours=2))),
     "events.1.occurred_at"),
    ("a backdated time with a forged signature", lambda e: e.update(
        occurred_at=utc_iso(datetime.now(UTC) - timedelta(days=3)), sim_signature="0" * 64),
     "events.1.occurred_at"),
    ("no lines", _set(["lines"], []), "events.1.lines"),
]


@pytest.mark.parametrize("name,mutate,field", BAD_EVENTS, ids=[b[0] for b in BAD_EVENTS])
def test_a_bad_event_refuses_the_whole_batch(settings, catalog_data, post, name, mutate, field) -> None:
    (p1,) = products(catalog_data, 1)
    good, bad = funnel_event([(p1, 0)]), funnel_event([(p1, 1)], "cart_added")
    mutate(bad)
    resp = post([good, bad])
    assert resp.status_code == 400, (name, resp.get_json())
    assert resp.get_json()["error"]["field"] == field
    assert "someone@mail.example" not in resp.get_data(as_text=True)  # values are not echoed
    assert stored(settings, good["event_id"]) is None  # nothing of the batch was written


def test_batches_that_are_not_one_are_refused(settings, catalog_data, post) -> None:
    (p1,) = products(catalog_data, 1)
    twice = funnel_event([(p1, 0)])
    resp = post([twice, dict(twice)])
    assert resp.status_code == 400 and resp.get_json()["error"]["field"] == "events.1.event_id"
    assert stored(settings, twice["event_id"]) is None
    too_many = [funnel_event([(p1, 0)]) for _ in range(101)]
    assert post(too_many).status_code == 400
    assert post([]).status_code == 400
    assert stored(settings, too_many[0]["event_id"]) is None


def test_the_internal_token_is_required(settings, catalog_data, post) -> None:
    (p1,) = products(catalog_data, 1)
    event = funnel_event([(p1, 0)])
    assert post([event], token=None).status_code == 401
    assert post([event], token="wrong").status_code == 401
    assert stored(settings, event["event_id"]) is None


def test_a_backdated_event_needs_the_simulators_signature(settings, catalog_data, post) -> None:
    (p1,) = products(catalog_data, 1)
    at = datetime.now(UTC) - timedelta(days=3)
    event = funnel_event([(p1, 0)], at=at)
    assert post([event]).status_code == 400
    event["sim_signature"] = sign(CLOCK_KEY, "FUNNEL", event["event_id"], event["occurred_at"])
    assert post([event]).status_code == 200
    item = stored(settings, event["event_id"])
    assert item is not None and item["day_shard"].startswith(at.date().isoformat() + "#")
    assert "sim_signature" not in item


def test_an_event_id_of_another_event_is_a_409_and_overwrites_nothing(settings, catalog_data, orders_app, post
                                                                      ) -> None:
    product = reserved(catalog_data, 16)
    placed = orders_app.test_client().post("/orders", json=order_body(product),
                                           headers={"Idempotency-Key": f"funnel-{uuid.uuid4()}"})
    assert placed.status_code == 201
    order_id = placed.get_json()["order_id"]
    (order_event,) = [from_item(i) for i in scan_all(settings, "order_events")
                      if i.get("order_id", {}).get("S") == order_id]
    new, clash = funnel_event([(product, 0)]), funnel_event([(product, 0)])
    clash["event_id"] = order_event["event_id"]
    resp = post([new, clash])
    assert resp.status_code == 409 and resp.get_json()["error"] == {
        "code": "event_id_taken", "message": "an event id of this batch names another event",
        "field": "events.1.event_id"}
    assert stored(settings, order_event["event_id"]) == order_event
    assert stored(settings, new["event_id"]) is None


# -- the shop's pages -------------------------------------------------------------------------------------


def web_app(settings: Settings, catalog_url: str, orders_url: str, **config: Any):  # type: ignore[no-untyped-def]
    from storefront.web.app import create_app

    return create_app({"CATALOG_URL": catalog_url, "ORDERS_URL": orders_url, "SECRET_KEY": "test-web-secret",
                       **config}, settings=settings)


def csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match, "no CSRF token"
    return match.group(1)


def test_a_stalled_order_service_does_not_slow_the_pages(settings, catalog_app, catalog_data) -> None:
    catalog = LiveServer(catalog_app)
    with socket.socket() as black_hole:  # accepts connections, never answers
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(64)
        stalled = f"http://127.0.0.1:{black_hole.getsockname()[1]}"
        web = LiveServer(web_app(settings, catalog.url, stalled, FUNNEL_QUEUE_MAX=3, FUNNEL_BATCH_MAX=1,
                                 FUNNEL_FLUSH_S=0.01))
        try:
            product = pick(catalog_data)["product_id"]
            browser = requests.Session()
            browser.get(f"{web.url}/products/{product}")  # warm: the catalog's cache, the connection
            slowest = 0.0
            for _ in range(12):
                started = time.monotonic()
                assert browser.get(f"{web.url}/products/{product}").status_code == 200
                slowest = max(slowest, time.monotonic() - started)
            # a page that waited for the order service would take its 2 s timeout
            assert slowest < 1.0, slowest
            stats = requests.get(f"{web.url}/metrics").json()["funnel_events"]
            # 13 views: one being sent (hanging), three waiting, the rest dropped and counted
            assert stats["queued"] + stats["dropped_queue_full"] == 13
            assert stats["dropped_queue_full"] >= 9 and stats["sent"] == 0
        finally:
            web.stop()
            catalog.stop()


@pytest.fixture()
def shop(settings: Settings, catalog_app, orders_app) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    catalog, orders = LiveServer(catalog_app), LiveServer(orders_app)
    web = LiveServer(web_app(settings, catalog.url, orders.url, FUNNEL_FLUSH_S=0.05))
    yield web
    for server in (web, orders, catalog):
        server.stop()


class Browser:
    """A shopper's browser whose every request is backdated to `at` plus a minute a step."""

    def __init__(self, url: str, at: datetime) -> None:
        self.url, self.at, self.http = url, at, requests.Session()
        self.token = ""

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        self.at += timedelta(minutes=1)
        headers = signed_headers(CLOCK_KEY, method, path, self.at)
        return self.http.request(method, self.url + path, headers=headers, allow_redirects=False, **kwargs)

    def view(self, product_id: str) -> None:
        page = self._send("GET", f"/products/{product_id}")
        assert page.status_code == 200
        self.token = csrf(page.text)

    def add(self, product_id: str, qty: int) -> None:
        resp = self._send("POST", "/cart/add", data={"csrf_token": self.token, "product_id": product_id,
                                                      "qty": str(qty)})
        assert resp.status_code == 303 and resp.headers["Location"].endswith("/cart")

    def checkout(self) -> dict[str, str]:
        page = self._send("GET", "/checkout")
        assert page.status_code == 200
        key = re.search(r'name="checkout_key" type="hidden" value="([^"]+)"', page.text)
        assert key
        return {"csrf_token": csrf(page.text), "checkout_key": key.group(1)}

    def place(self, form: dict[str, str], who: dict[str, str]) -> None:
        resp = self._send("POST", "/checkout", data={**form, **who})
        assert resp.status_code == 303 and resp.headers["Location"].endswith("/checkout/done")


def test_pages_browsed_on_a_day_make_that_day_s_funnel(settings, shop, catalog_data, tmp_path) -> None:
    from pipelines.ingest.load import ingest_day
    from pipelines.lake.fs import LakeFS
    from pipelines.lake.partitions.reading import read_partition
    from pipelines.marts.models import discover
    from pipelines.marts.runner import build
    from pipelines.sql.duckdb_engine import DuckDBEngine

    day = (datetime.now(UTC) - timedelta(days=45)).replace(hour=10, minute=0, second=0, microsecond=0)
    p1, p2 = reserved(catalog_data, 17), reserved(catalog_data, 18)
    before = requests.get(f"{shop.url}/metrics").json()["funnel_events"]["sent"]

    a, b, c = (Browser(shop.url, day + timedelta(hours=h)) for h in (0, 1, 2))
    a.view(p1["product_id"])
    a.view(p1["product_id"])
    a.add(p1["product_id"], 2)
    form = a.checkout()
    buyer = customer(7)
    a.place(form, buyer)  # through the shop, at the shop's (backdated) time
    b.view(p1["product_id"])
    b.view(p2["product_id"])
    b.add(p2["product_id"], 1)
    c.view(p2["product_id"])

    def sent() -> int:
        return requests.get(f"{shop.url}/metrics").json()["funnel_events"]["sent"] - before

    deadline = time.monotonic() + 10
    while sent() < 8 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sent() == 8  # A: 2 views, a cart, a checkout; B: 2 views, a cart; C: a view

    lake = LakeFS.from_uri(f"file://{tmp_path}/lake", settings)
    assert ingest_day("raw_order_events", date.fromisoformat(day.date().isoformat()), settings, lake).published
    events = [r for r in read_partition(lake, "raw_order_events", day.date().isoformat()).to_pylist()
              if {line["product_id"] for line in r["lines"]} & {p1["product_id"], p2["product_id"]}]
    funnel = [e for e in events if e["event_type"] != "order_placed"]
    assert sorted(e["event_type"] for e in funnel) == sorted(
        ["product_viewed"] * 5 + ["cart_added"] * 2 + ["checkout_started"])
    assert len({e["session_id"] for e in funnel}) == 3 and len({e["customer"] for e in funnel}) == 3
    assert [e["event_type"] for e in events].count("order_placed") == 1
    raw_text = json.dumps(events, default=str)
    for value in (buyer["email"], buyer["name"], buyer["address"], buyer["phone"]):  # no PII
        assert value not in raw_text

    models = discover()
    engine = DuckDBEngine(settings, lake=lake)
    try:
        for name in ("stg_event_lines", "funnel"):
            build(models[name], day.date().isoformat(), day.date().isoformat(), engine=engine, lake=lake)
    finally:
        engine.close()
    rows = {r["product_id"]: r for r in read_partition(lake, "funnel", day.date().isoformat(),
                                                       zone="marts").to_pylist()}
    cols = ("views", "view_sessions", "cart_sessions", "viewed_cart_sessions", "cart_units", "checkout_sessions",
            "orders", "units", "view_to_cart_rate", "orders_per_view_session")
    # P1: viewed by A twice and B; carted (2 units), checked out and ordered (2 units) by A
    assert tuple(rows[p1["product_id"]][c] for c in cols) == (3, 2, 1, 1, 2, 1, 1, 2, 0.5, 0.5)
    # P2: viewed by B and C; carted by B (1 unit); no checkout, no order
    assert tuple(rows[p2["product_id"]][c] for c in cols) == (2, 2, 1, 1, 1, 0, 0, 0, 0.5, 0.0)
    assert rows[p1["product_id"]]["seller_id"] == p1["seller_id"]
