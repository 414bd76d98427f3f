"""DynamoDB and KMS down, hung or throttling: the storefront answers a JSON 503 with Retry-After
within about two seconds, never a 500 and never a hang; a replayed order is answered while KMS
is down; everything works again afterwards (docs/storefront.md, "Timeouts and outages").

Outages are made on loopback only: a closed port (connection refused), a black hole (a thread that
accepts connections and never answers) and a valve (a proxy in front of DynamoDB Local or moto that
forwards, or swallows every byte while shut). The services run on LiveServers and are called
over HTTP. Every socket has a timeout and every thread stops with its test.
"""

from __future__ import annotations

import contextlib
import hashlib
import select
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from botocore.stub import Stubber

from gitgoods import aws
from gitgoods.settings import Settings
from storefront.common import deadline
from tests.conftest import LiveServer, free_port
from tests.helpers import order_body, pick

pytestmark = pytest.mark.stack

BOUND_S = 2.5  # a client gets its answer within this in any outage
HTTP_TIMEOUT_S = 15  # the test's own guard: a hang fails the test instead of blocking it


class BlackHole:
    """Accepts connections on 127.0.0.1 and never answers (reads and drops what arrives)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
                self.conns.append(conn)
            except TimeoutError:
                pass
            readable = [c for c in self.conns if c.fileno() >= 0]
            if readable:
                for conn in select.select(readable, [], [], 0)[0]:
                    with contextlib.suppress(OSError):
                        conn.recv(65536)

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        for conn in [*self.conns, self.sock]:
            conn.close()


class Valve:
    """A loopback proxy to `target_port`: open, it forwards; shut, it swallows every byte (requests
    on connections already open hang too, and new connections are accepted and never answered)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.is_open = threading.Event()
        self.is_open.set()
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def shut(self) -> None:
        self.is_open.clear()

    def open(self) -> None:
        self.is_open.set()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.sock.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._pump, args=(client,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _pump(self, client: socket.socket) -> None:
        upstream = None
        try:
            if self.is_open.is_set():
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            while not self.stopped.is_set():
                ends = [client] if upstream is None else [client, upstream]
                for end in select.select(ends, [], [], 0.1)[0]:
                    data = end.recv(65536)
                    if not data:
                        return
                    if upstream is None or not self.is_open.is_set():
                        continue  # shut: swallowed, never answered
                    (upstream if end is client else client).sendall(data)
        except OSError:
            return
        finally:
            client.close()
            if upstream is not None:
                upstream.close()

    def close(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(5)
        self.sock.close()


@pytest.fixture()
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    yield hole
    hole.close()


@pytest.fixture()
def dynamodb_valve(settings: Settings) -> Iterator[Valve]:
    valve = Valve(settings.dynamodb_port)
    yield valve
    valve.close()


@pytest.fixture()
def kms_valve(settings: Settings) -> Iterator[Valve]:
    valve = Valve(settings.moto_port)
    yield valve
    valve.close()


def _served(kind: str, settings: Settings) -> LiveServer:
    if kind == "catalog":
        from storefront.catalog.app import create_app
    else:
        from storefront.orders.app import create_app
    return LiveServer(create_app({"TESTING": True}, settings=settings))


@pytest.fixture()
def serve() -> Iterator[Any]:
    servers: list[LiveServer] = []

    def start(kind: str, settings: Settings) -> LiveServer:
        servers.append(_served(kind, settings))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def _timed(method: str, url: str, **kwargs: Any) -> tuple[requests.Response, float]:
    started = time.monotonic()
    resp = requests.request(method, url, timeout=HTTP_TIMEOUT_S, **kwargs)
    return resp, time.monotonic() - started


def _post_order(server: LiveServer, body: dict[str, Any], key: str) -> tuple[requests.Response, float]:
    return _timed("POST", f"{server.url}/orders", json=body, headers={"Idempotency-Key": key})


def _assert_unavailable(resp: requests.Response, elapsed: float) -> None:
    assert resp.status_code == 503, resp.text
    assert resp.json()["error"]["code"] == "unavailable"
    assert 1 <= int(resp.headers["Retry-After"]) <= 10
    assert elapsed < BOUND_S, f"answered after {elapsed:.2f} s"


def _dynamodb_down(kind: str, settings: Settings, black_hole: BlackHole) -> Settings:
    port = black_hole.port if kind == "black_hole" else free_port()  # free_port: closed again
    return settings.model_copy(update={"dynamodb_port": port})


# -- the client profiles ---------------------------------------------------------------------


def test_request_path_clients_are_short_and_bounded_and_batch_clients_keep_theirs(settings: Settings) -> None:
    batch = aws.client("dynamodb", settings)
    assert (batch.meta.config.connect_timeout, batch.meta.config.read_timeout) == (5, 30)
    bounded = deadline.bounded(batch)
    assert (bounded.meta.config.connect_timeout, bounded.meta.config.read_timeout) == (0.5, 1.0)
    assert bounded.meta.config.retries["total_max_attempts"] == 3
    assert bounded.meta.endpoint_url == batch.meta.endpoint_url
    # Outside a request there is no deadline and the bounded client works as any other.
    assert "TableNames" in bounded.list_tables(Limit=1)
    with deadline.budget(0.0), pytest.raises(deadline.DeadlineExceeded):
        bounded.list_tables(Limit=1)


# -- DynamoDB down ---------------------------------------------------------------------------


@pytest.mark.parametrize("outage", ["closed_port", "black_hole"])
def test_product_read_with_dynamodb_down_is_a_quick_503(settings, catalog_data, black_hole, serve, outage) -> None:  # type: ignore[no-untyped-def]
    catalog = serve("catalog", _dynamodb_down(outage, settings, black_hole))
    product = pick(catalog_data)
    resp, elapsed = _timed("GET", f"{catalog.url}/products/{product['product_id']}")  # cache cold
    _assert_unavailable(resp, elapsed)
    resp, elapsed = _timed("GET", f"{catalog.url}/products")  # a scan on worker threads
    _assert_unavailable(resp, elapsed)


@pytest.mark.parametrize("outage", ["closed_port", "black_hole"])
def test_order_with_dynamodb_down_is_a_quick_503(settings, catalog_data, black_hole, serve, outage) -> None:  # type: ignore[no-untyped-def]
    orders = serve("orders", _dynamodb_down(outage, settings, black_hole))
    resp, elapsed = _post_order(orders, order_body(pick(catalog_data)), f"ddb-down-{uuid.uuid4()}")
    _assert_unavailable(resp, elapsed)


def test_dynamodb_hanging_then_back(settings, catalog_data, dynamodb_valve, serve) -> None:  # type: ignore[no-untyped-def]
    via_valve = settings.model_copy(update={"dynamodb_port": dynamodb_valve.port})
    catalog = serve("catalog", via_valve)
    orders = serve("orders", via_valve)
    product = pick(catalog_data)
    body = order_body(product)
    key = f"ddb-valve-{uuid.uuid4()}"

    dynamodb_valve.shut()
    resp, elapsed = _timed("GET", f"{catalog.url}/products/{product['product_id']}")
    _assert_unavailable(resp, elapsed)
    resp, elapsed = _post_order(orders, body, key)
    _assert_unavailable(resp, elapsed)

    dynamodb_valve.open()
    resp, _ = _timed("GET", f"{catalog.url}/products/{product['product_id']}")
    assert resp.status_code == 200
    assert resp.json()["product_id"] == product["product_id"]
    resp, _ = _post_order(orders, body, key)  # the shopper's retry after the 503
    assert resp.status_code == 201, resp.text
    assert "Idempotent-Replayed" not in resp.headers


def test_throttling_after_retries_is_a_503(catalog_app, catalog_data) -> None:  # type: ignore[no-untyped-def]
    client = catalog_app.test_client()
    repo = catalog_app.extensions["catalog_repo"]
    product = pick(catalog_data)
    with Stubber(repo.ddb) as stub:
        stub.add_client_error(
            "get_item", service_error_code="ProvisionedThroughputExceededException", http_status_code=400
        )
        resp = client.get(f"/products/{product['product_id']}")
    assert resp.status_code == 503
    assert resp.json["error"]["code"] == "unavailable"
    assert resp.headers["Retry-After"]
    # A client error that is not an outage stays what it was (here: an internal error, a 500).
    with Stubber(repo.ddb) as stub:
        stub.add_client_error("get_item", service_error_code="ValidationException", http_status_code=400)
        resp = client.get(f"/products/{product['product_id']}")
    assert resp.status_code == 500


# -- KMS down --------------------------------------------------------------------------------


def test_kms_hanging_new_orders_503_replays_answered_then_back(settings, catalog_data, kms_valve, serve) -> None:  # type: ignore[no-untyped-def]
    via_valve = settings.model_copy(update={"moto_port": kms_valve.port})
    orders = serve("orders", via_valve)
    placed_body = order_body(pick(catalog_data, "game"), qty=2)
    placed_key = f"kms-before-{uuid.uuid4()}"
    placed, _ = _post_order(orders, placed_body, placed_key)
    assert placed.status_code == 201, placed.text

    kms_valve.shut()
    new_body, new_key = order_body(pick(catalog_data, "merch"), n=1), f"kms-during-{uuid.uuid4()}"
    resp, elapsed = _post_order(orders, new_body, new_key)
    _assert_unavailable(resp, elapsed)

    # The replay, on this instance and on a fresh one (no data key cached: nothing it could
    # decrypt without KMS), is the first answer.
    fresh = serve("orders", via_valve)
    for server in (orders, fresh):
        again, elapsed = _post_order(server, placed_body, placed_key)
        assert again.status_code == 201, again.text
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == placed.json()
        assert elapsed < BOUND_S
    # Another body under the same key is still refused, without KMS too.
    other, _ = _post_order(fresh, {**placed_body, "customer": order_body(pick(catalog_data))["customer"]}, placed_key)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"

    kms_valve.open()
    resp, _ = _post_order(orders, new_body, new_key)
    assert resp.status_code == 201, resp.text
    got, _ = _timed(
        "GET",
        f"{orders.url}/orders/{resp.json()['order_id']}",
        headers={"X-Receipt-Token": resp.json()["receipt_token"]},
    )
    assert got.status_code == 200


def test_replay_material_keeps_no_plaintext(settings, catalog_data, orders_app) -> None:  # type: ignore[no-untyped-def]
    from storefront.orders.schemas import OrderIn
    from storefront.orders.service import _canonical, _key_hash

    body = order_body(pick(catalog_data))
    key = f"material-{uuid.uuid4()}"
    created = orders_app.test_client().post("/orders", json=body, headers={"Idempotency-Key": key}).json
    record = orders_app.extensions["order_service"].repo.idempotency_record(_key_hash(key))
    stored = repr(record)
    assert created["receipt_token"] not in stored and key not in stored
    for value in body["customer"].values():
        assert value not in stored
    canonical = _canonical(OrderIn.model_validate(body))
    assert hashlib.sha256(canonical.encode()).hexdigest() not in stored  # keyed, not a plain hash
    assert {"replay_kid", "replay_fp", "replay_token", "body_mac", "receipt_token", "pii_key"} <= set(record)
