"""The shop's funnel-event sender (storefront/web/funnel.py) against stand-ins of the order service:
events leave in batches, a full queue drops and counts instead of waiting, failed batches are
retried and a refused event is dropped alone, and closing sends what is queued."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, jsonify, request

from storefront.web.funnel import PATH, FunnelEmitter
from tests.conftest import LiveServer, free_port

TOKEN = "t0ken"


class FakeOrders:
    """Records every batch posted to it; answers from `answers` (status, body) in turn, then 200."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.tokens: list[str] = []
        self.answers: list[tuple[int, dict[str, Any]]] = []
        self.hold = threading.Event()
        self.hold.set()
        app = Flask("fake_orders")

        @app.post(PATH)
        def _events():  # type: ignore[no-untyped-def]
            self.hold.wait(20)
            self.tokens.append(request.headers.get("X-Internal-Token", ""))
            self.batches.append([e["event_id"] for e in request.get_json()["events"]])
            status, body = self.answers.pop(0) if self.answers else (200, {"written": 0})
            return jsonify(body), status

        self.server = LiveServer(app)
        self.url = self.server.url


@pytest.fixture()
def orders() -> Iterator[FakeOrders]:
    fake = FakeOrders()
    yield fake
    fake.hold.set()
    fake.server.stop()


def event(n: int) -> dict[str, Any]:
    return {"event_id": f"evt_{n:026d}", "event_type": "product_viewed", "lines": [{"qty": 0}]}


def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_events_leave_in_batches_of_at_most_max_batch(orders: FakeOrders) -> None:
    emitter = FunnelEmitter(orders.url, TOKEN, max_batch=50, flush_interval_s=0.3)
    for n in range(120):
        assert emitter.emit(event(n))
    until(lambda: emitter.stats()["sent"] == 120)
    assert [len(b) for b in orders.batches] == [50, 50, 20]
    assert [e for b in orders.batches for e in b] == [event(n)["event_id"] for n in range(120)]
    assert set(orders.tokens) == {TOKEN}
    stats = emitter.stats()
    assert (stats["queued"], stats["dropped"], stats["waiting"], stats["in_flight"]) == (120, 0, 0, 0)
    emitter.close()


def test_a_few_events_wait_for_the_flush_interval(orders: FakeOrders) -> None:
    emitter = FunnelEmitter(orders.url, TOKEN, max_batch=50, flush_interval_s=0.4)
    started = time.monotonic()
    for n in range(3):
        emitter.emit(event(n))
    time.sleep(0.2)
    assert orders.batches == [] and emitter.stats()["in_flight"] == 3  # taken, waiting for more
    until(lambda: len(orders.batches) == 1)
    assert time.monotonic() - started >= 0.4
    assert orders.batches == [[event(n)["event_id"] for n in range(3)]]
    emitter.close()


def test_a_full_queue_drops_and_counts_and_emit_never_waits(orders: FakeOrders) -> None:
    orders.hold.clear()  # the order service stalls
    emitter = FunnelEmitter(orders.url, TOKEN, max_queue=5, max_batch=1, flush_interval_s=0.05, timeout_s=15)
    emitter.emit(event(0))
    until(lambda: emitter.stats()["in_flight"] == 1)  # the sender is stuck on event 0
    slowest = 0.0
    results = []
    for n in range(1, 11):
        started = time.monotonic()
        results.append(emitter.emit(event(n)))
        slowest = max(slowest, time.monotonic() - started)
    assert slowest < 0.01
    assert results == [True] * 5 + [False] * 5  # five fit in the queue, five are dropped
    stats = emitter.stats()
    assert (stats["queued"], stats["dropped_queue_full"], stats["dropped"], stats["waiting"]) == (6, 5, 5, 5)
    orders.hold.set()
    until(lambda: emitter.stats()["sent"] == 6)
    assert [e for b in orders.batches for e in b] == [event(n)["event_id"] for n in range(6)]
    emitter.close()


def test_a_failed_batch_is_sent_again_and_a_refused_event_is_dropped_alone(orders: FakeOrders) -> None:
    orders.answers = [
        (503, {"error": {"code": "unavailable"}}),
        (400, {"error": {"code": "invalid_event", "field": "events.1.lines.0.product_id"}}),
    ]
    emitter = FunnelEmitter(orders.url, TOKEN, flush_interval_s=0.1, retry_backoff_s=0.01)
    for n in range(3):
        emitter.emit(event(n))
    until(lambda: emitter.stats()["in_flight"] == 0 and emitter.stats()["sent"] + emitter.stats()["dropped"] == 3)
    ids = [event(n)["event_id"] for n in range(3)]
    # the same batch twice (the same event ids), then without the refused event
    assert orders.batches == [ids, ids, [ids[0], ids[2]]]
    stats = emitter.stats()
    assert (stats["sent"], stats["dropped_refused"], stats["dropped"]) == (2, 1, 1)
    emitter.close()


def test_a_dead_order_service_loses_batches_after_the_retries_and_counts_them() -> None:
    emitter = FunnelEmitter(f"http://127.0.0.1:{free_port()}", TOKEN, flush_interval_s=0.05, attempts=2,
                            retry_backoff_s=0.01)
    for n in range(3):
        emitter.emit(event(n))
    until(lambda: emitter.stats()["dropped"] == 3)
    stats = emitter.stats()
    assert (stats["sent"], stats["dropped_send_failed"], stats["in_flight"]) == (0, 3, 0)
    emitter.close()


def test_close_sends_what_is_queued_and_later_events_are_dropped(orders: FakeOrders) -> None:
    emitter = FunnelEmitter(orders.url, TOKEN, flush_interval_s=30.0)
    for n in range(4):
        emitter.emit(event(n))
    started = time.monotonic()
    emitter.close(timeout_s=3.0)
    assert time.monotonic() - started < 2.0  # not the 30 s flush interval
    assert orders.batches == [[event(n)["event_id"] for n in range(4)]]
    assert emitter.emit(event(9)) is False
    stats = emitter.stats()
    assert (stats["sent"], stats["dropped_shutdown"]) == (4, 1)


def test_without_a_token_events_are_counted_and_not_sent() -> None:
    emitter = FunnelEmitter("http://127.0.0.1:9", None)
    assert emitter.emit(event(0)) is False
    assert emitter.stats()["dropped_disabled"] == 1


def test_a_stalled_order_service_does_not_slow_the_sender_s_caller() -> None:
    """A listener that never accepts: the sender's post hangs until its timeout."""
    with socket.socket() as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(64)
        url = f"http://127.0.0.1:{black_hole.getsockname()[1]}"
        emitter = FunnelEmitter(url, TOKEN, max_queue=3, max_batch=1, flush_interval_s=0.01, timeout_s=2.0)
        started = time.monotonic()
        for n in range(50):
            emitter.emit(event(n))
        assert time.monotonic() - started < 0.1
        stats = emitter.stats()
        assert stats["queued"] + stats["dropped_queue_full"] == 50 and stats["dropped_queue_full"] >= 46
        emitter.close(timeout_s=0.2)
