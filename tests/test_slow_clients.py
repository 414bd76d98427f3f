"""Slow or stalled clients hold no worker (docs/serving.md).

The order and catalog services are started as subprocesses with the very command `make up` runs
(`gitgoods.local.stack._server`), on free loopback ports against the session's DynamoDB Local and
moto. 100 connections each send a `POST /orders` head with `Content-Length: 200` and then one body
byte a second; while they dribble, `/health`, `/openapi.json`, a catalog page and real orders must
keep answering within a second, for about 10 s. The former gunicorn gthread command (2 workers x
16 threads) is run through the same scenario and shown to stall.
Loopback only; every loop is bounded in time and the servers and sockets are closed at the end.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gitgoods.local.stack import _server, _service_env
from gitgoods.settings import REPO_ROOT, Settings
from tests.conftest import free_port
from tests.helpers import order_body, pick

pytestmark = [pytest.mark.stack, pytest.mark.xdist_group("slow_clients")]

SLOW_CLIENTS = 100
BODY_LENGTH = 200  # declared; the clients never get near sending it all within the test
DRIBBLE_S = 10.0  # how long the probes run while the slow clients dribble
PROBE_BOUND_S = 1.0  # each probe must be answered within this
ORDER_BOUND_S = 2.0  # a real order (KMS on moto + DynamoDB Local writes) gets a little longer


def gunicorn_gthread(app: str, port: int) -> list[str]:
    """The command the services ran before (the one that stalled), kept to show the difference."""
    return [
        sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--workers", "2", "--threads", "16",
        "--bind", f"127.0.0.1:{port}", "--access-logfile", "-", "--graceful-timeout", "5", app,
    ]  # fmt: skip


def served(settings: Settings, app: str, port: int) -> list[str]:
    return _server(settings, app, port)


class Service:
    def __init__(self, cmd: list[str], settings: Settings, port: int, log: Path) -> None:
        self.port = port
        env = {
            **os.environ,
            **_service_env(settings),  # the session's stack, as `make up` hands it to its services
            "GITGOODS_INTERNAL_TOKEN": "test-internal-token",
            "GITGOODS_CATALOG_URL": "http://127.0.0.1:9",  # no catalog to notify: notices are dropped
            "GITGOODS_RATE_LIMIT_ORDERS": "100000 per second",
            "GITGOODS_RATE_LIMIT_READS": "100000 per second",
        }
        self.log = log
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=REPO_ROOT,
            stdout=open(log, "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if request(port, "GET", "/health", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the service did not start: {log.read_text()[-3000:]}")
            time.sleep(0.3)

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        return self.proc.returncode


def request(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> tuple[int, bytes]:  # fmt: skip
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


class SlowClients:
    """`n` connections sending a POST head, then one body byte a second each, from one thread."""

    def __init__(self, port: int, n: int, path: str = "/orders") -> None:
        self.socks: list[socket.socket] = []
        self.refused = 0
        self.dropped = 0
        self.stopped = threading.Event()
        for i in range(n):
            s = socket.socket()
            s.settimeout(2)
            try:
                s.connect(("127.0.0.1", port))
                s.sendall(
                    (
                        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                        f"Idempotency-Key: slow-{i}-{uuid.uuid4().hex[:8]}\r\nContent-Length: {BODY_LENGTH}\r\n\r\n{{"
                    ).encode()
                )
            except OSError:
                self.refused += 1
                s.close()
                continue
            s.setblocking(False)
            self.socks.append(s)
        self.thread = threading.Thread(target=self._dribble, daemon=True)
        self.thread.start()

    def _dribble(self) -> None:
        deadline = time.monotonic() + DRIBBLE_S + 30  # bounded even if stop() is never called
        while not self.stopped.wait(1.0) and time.monotonic() < deadline:
            for s in self.socks:
                if s.fileno() < 0:
                    continue
                try:
                    s.send(b" ")
                except BlockingIOError:
                    pass  # the server reads nothing from it: its buffers are full
                except OSError:
                    self.dropped += 1
                    s.close()

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        for s in self.socks:
            s.close()


@dataclass
class Probes:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    failures: dict[str, list[str]] = field(default_factory=dict)

    def run(self, name: str, call: Callable[[], tuple[int, bytes]], expect: int) -> None:
        started = time.monotonic()
        try:
            status, body = call()
            outcome = None if status == expect else f"status {status}: {body[:200]!r}"
        except OSError as exc:
            outcome = f"{type(exc).__name__}: {exc}"
        self.latencies.setdefault(name, []).append(time.monotonic() - started)
        if outcome:
            self.failures.setdefault(name, []).append(outcome)

    def worst(self) -> dict[str, float]:
        return {name: round(max(values), 3) for name, values in self.latencies.items()}

    def summary(self) -> str:
        return json.dumps(
            {
                name: {"n": len(v), "max_s": round(max(v), 3), "median_s": round(sorted(v)[len(v) // 2], 3)}
                for name, v in self.latencies.items()
            }
            | {"failures": {k: v[:3] for k, v in self.failures.items()}}
        )


def probe_under_slow_clients(
    service: Service, probes: list[tuple[str, Callable[[], tuple[int, bytes]], int]], timeout: float
) -> tuple[Probes, SlowClients]:
    slow = SlowClients(service.port, SLOW_CLIENTS)
    result = Probes()
    try:
        time.sleep(1.5)  # every slow client has its head in and is dribbling
        deadline = time.monotonic() + DRIBBLE_S
        while time.monotonic() < deadline:
            for name, call, expect in probes:
                result.run(name, call, expect)
            time.sleep(0.2)
    finally:
        slow.close()
    return result, slow


@pytest.fixture()
def log_dir(tmp_path: Path) -> Path:
    return tmp_path


def start(command: Callable[[str, int], list[str]], app: str, settings: Settings, log: Path) -> Service:
    port = free_port()
    return Service(command(app, port), settings, port, log)


@pytest.fixture()
def orders_service(settings: Settings, catalog_data, tmp_path: Path) -> Iterator[Service]:  # type: ignore[no-untyped-def]
    service = start(lambda app, port: served(settings, app, port), "storefront.orders.app:create_app()",
                    settings, tmp_path / "orders.log")  # fmt: skip
    yield service
    service.stop()


def test_order_service_answers_while_100_clients_dribble_their_bodies(orders_service: Service, catalog_data) -> None:
    port = orders_service.port
    n = iter(range(10_000))

    def place() -> tuple[int, bytes]:
        body = json.dumps(order_body(pick(catalog_data), n=next(n))).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": f"fast-{uuid.uuid4().hex}"}
        return request(port, "POST", "/orders", body, headers, timeout=ORDER_BOUND_S + 3)

    result, slow = probe_under_slow_clients(
        orders_service,
        [
            ("health", lambda: request(port, "GET", "/health", timeout=PROBE_BOUND_S + 3), 200),
            ("openapi", lambda: request(port, "GET", "/openapi.json", timeout=PROBE_BOUND_S + 3), 200),
            ("order", place, 201),
        ],
        PROBE_BOUND_S,
    )
    print("waitress orders under slow clients:", result.summary())
    assert slow.refused == 0 and slow.dropped == 0, "the slow clients were refused or cut off, not served"
    assert not result.failures, result.summary()
    assert len(result.latencies["health"]) >= 5, result.summary()
    worst = result.worst()
    assert worst["health"] < PROBE_BOUND_S and worst["openapi"] < PROBE_BOUND_S, result.summary()
    assert worst["order"] < ORDER_BOUND_S, result.summary()

    # once they are gone the service is as before, and a slow client that finishes is served
    assert request(port, "GET", "/health")[0] == 200
    status, body = request(port, "POST", "/orders", b"{", {"Content-Type": "application/json",
                                                          "Idempotency-Key": "after-1"})  # fmt: skip
    assert status == 400 and json.loads(body)["error"]["code"] == "invalid_json"


def test_catalog_answers_while_100_clients_dribble_their_bodies(settings: Settings, catalog_data, tmp_path) -> None:  # type: ignore[no-untyped-def]
    service = start(lambda app, port: served(settings, app, port), "storefront.catalog.app:create_app()",
                    settings, tmp_path / "catalog.log")  # fmt: skip
    try:
        port = service.port
        result, slow = probe_under_slow_clients(
            service,
            [
                ("health", lambda: request(port, "GET", "/health", timeout=PROBE_BOUND_S + 3), 200),
                ("openapi", lambda: request(port, "GET", "/openapi.json", timeout=PROBE_BOUND_S + 3), 200),
                ("products", lambda: request(port, "GET", "/products?limit=5", timeout=PROBE_BOUND_S + 3), 200),
            ],
            PROBE_BOUND_S,
        )
    finally:
        assert service.stop() == 0, "the server did not stop cleanly on SIGTERM"
    print("waitress catalog under slow clients:", result.summary())
    assert slow.refused == 0 and slow.dropped == 0
    assert not result.failures, result.summary()
    assert max(result.worst().values()) < PROBE_BOUND_S, result.summary()
    assert "GET /products?limit=5 HTTP/1.1" in service.log.read_text(), "the access log is written"


def test_served_bodies_keep_the_apps_limits(orders_service: Service) -> None:
    """The server buffers bodies but leaves the answers to the app: 413 as JSON past the app's
    64 KiB (waitress' own limit is 1 MiB), a chunked body is read whole, and unknown paths 404."""
    port = orders_service.port
    big = b'{"a": "' + b"x" * (70 * 1024) + b'"}'
    status, body = request(port, "POST", "/orders", big, {"Content-Type": "application/json", "Idempotency-Key": "big"})
    assert status == 413 and json.loads(body)["error"]["code"] == "payload_too_large"

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        chunks = iter([b'{"a": ', b"1}"])
        conn.request("POST", "/orders", body=chunks, headers={"Content-Type": "application/json",
                                                              "Idempotency-Key": "chunked"})  # fmt: skip
        resp = conn.getresponse()
        # read whole and handed over: the app sees a complete (if invalid) order, not a cut body
        assert resp.status == 400 and json.loads(resp.read())["error"]["code"] != "bad_request"
    finally:
        conn.close()
    assert request(port, "GET", "/nowhere")[0] == 404


def test_the_former_gunicorn_gthread_command_stalls(settings: Settings, catalog_data, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The same scenario against the former command: its 32 threads are all held reading the slow
    bodies, so /health waits (or times out) behind them. This is the issue the server change fixes."""
    service = start(gunicorn_gthread, "storefront.orders.app:create_app()", settings, tmp_path / "gthread.log")
    try:
        port = service.port
        result, _ = probe_under_slow_clients(
            service, [("health", lambda: request(port, "GET", "/health", timeout=PROBE_BOUND_S + 1), 200)],
            PROBE_BOUND_S,
        )  # fmt: skip
    finally:
        service.stop()
    print("gunicorn gthread orders under slow clients:", result.summary())
    assert result.failures.get("health") or result.worst()["health"] >= PROBE_BOUND_S, result.summary()
