"""The shop's funnel events leave in the background: a bounded queue and one sender thread.

A page puts its event on the queue (`emit`, which never waits: a full queue drops the event and
counts it) and is served; the sender thread takes batches off the queue, every `flush_interval_s`
or as soon as `max_batch` events (or `max_batch_bytes` of JSON) are waiting, and posts each to the
order service's `POST /internal/funnel-events` with the internal token. A batch that fails for a
reason worth retrying (no connection, a timeout, a 5xx, a 429) is sent again up to `attempts`
times; the order service writes a batch sent twice once (the event ids are made here, see
storefront/orders/funnel.py). A batch refused with a 4xx naming one event loses that event only:
the rest is sent again. Whatever is lost is counted, by reason, and logged (at most one line per
kind every `LOG_EVERY_S`), never with the events' contents.

So a slow or stalled order service costs the pages nothing: the queue fills, new events are
dropped and counted, and the sender catches up when the service is back. At exit the queue is
flushed for at most `close(timeout_s)` (an `atexit` hook), best effort.

The counters are on `GET /metrics` (`stats()`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import re
import threading
import time
from collections import Counter, deque
from typing import Any

import requests

log = logging.getLogger(__name__)

PATH = "/internal/funnel-events"
LOG_EVERY_S = 10.0
_BAD_EVENT = re.compile(r"^events\.(\d+)(\.|$)")
_STOP = object()


class FunnelEmitter:
    def __init__(
        self,
        orders_url: str | None,
        internal_token: str | None,
        *,
        max_queue: int = 10_000,
        max_batch: int = 50,
        max_batch_bytes: int = 48 * 1024,
        flush_interval_s: float = 0.5,
        timeout_s: float = 2.0,
        attempts: int = 3,
        retry_backoff_s: float = 0.2,
    ):
        self.endpoint = orders_url.rstrip("/") + PATH if orders_url and internal_token else None
        self.token = internal_token or ""
        self.max_batch = max_batch
        self.max_batch_bytes = max_batch_bytes
        self.flush_interval_s = flush_interval_s
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.retry_backoff_s = retry_backoff_s
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._in_flight = 0
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._close_by = float("inf")
        self._last_log: dict[str, float] = {}
        self._last_refusal = ""
        if self.endpoint is None:
            log.warning("funnel events are off: no order service URL or internal token")

    # -- the request side: never waits ---------------------------------------------------------
    def emit(self, event: dict[str, Any]) -> bool:
        """Queue `event` for sending; False (and counted) when it is dropped instead."""
        if self.endpoint is None:
            self._count("dropped_disabled")
            return False
        if self._closing.is_set():
            self._count("dropped_shutdown")
            return False
        self._ensure_sender()
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self._count("dropped_queue_full")
            self._warn("dropped_queue_full", "funnel event queue full (%d): events are being dropped",
                       self._queue.maxsize)
            return False
        self._count("queued")
        return True

    def stats(self) -> dict[str, int]:
        with self._lock:
            counts = dict(self._counts)
            in_flight = self._in_flight
        dropped = sum(v for k, v in counts.items() if k.startswith("dropped_"))
        return {
            "queued": counts.get("queued", 0),
            "sent": counts.get("sent", 0),
            "dropped": dropped,
            "dropped_queue_full": counts.get("dropped_queue_full", 0),
            "dropped_send_failed": counts.get("dropped_send_failed", 0),
            "dropped_refused": counts.get("dropped_refused", 0),
            "dropped_shutdown": counts.get("dropped_shutdown", 0),
            "dropped_disabled": counts.get("dropped_disabled", 0),
            "waiting": self._queue.qsize(),
            "in_flight": in_flight,
        }

    def close(self, timeout_s: float = 2.0) -> None:
        """Stop taking events and send what is queued, for at most `timeout_s`; the rest is
        counted as dropped at shutdown."""
        self._close_by = time.monotonic() + timeout_s
        self._closing.set()
        thread = self._thread
        if thread is not None and thread.is_alive():
            with contextlib.suppress(queue.Full):  # wakes an idle sender; a busy one sees the flag
                self._queue.put_nowait(_STOP)
            thread.join(max(0.0, self._close_by - time.monotonic()))
        left = 0
        while True:
            try:
                if self._queue.get_nowait() is not _STOP:
                    left += 1
            except queue.Empty:
                break
        if left:
            self._count("dropped_shutdown", left)
            log.warning("funnel events: %d not sent at shutdown", left)

    # -- the sender thread -----------------------------------------------------------------------
    def _ensure_sender(self) -> None:
        # Started on the first event (also after a fork: threads do not survive one).
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="funnel-events", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        session = requests.Session()
        session.trust_env = False  # an internal address: no proxy or .netrc look-ups per call
        carry: list[Any] = []
        while True:
            batch, carry, stop = self._next_batch(carry)
            if batch:
                try:
                    self._send(session, batch)
                except Exception:  # a bug here must not stop the sender for good
                    log.exception("funnel events: sending a batch failed")
                    self._count("dropped_send_failed", len(batch))
                finally:
                    with self._lock:
                        self._in_flight -= len(batch)
            if stop and not carry:
                return

    def _next_batch(self, carry: list[Any]) -> tuple[list[dict[str, Any]], list[Any], bool]:
        """(a batch, events taken but kept for the next batch, whether to stop after this one).

        Waits for a first event, then up to `flush_interval_s` more for the batch to fill; while
        closing it takes only what is already queued."""
        batch: list[dict[str, Any]] = []
        size = 2  # the brackets
        pending = deque(carry)
        deadline = 0.0
        while len(batch) < self.max_batch:
            if pending:
                item = pending.popleft()
            else:
                closing = self._closing.is_set()
                # Idle, wait half a second at a time (to notice closing); filling, until the deadline.
                wait = 0.0 if closing else 0.5 if not batch else deadline - time.monotonic()
                try:
                    item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
                except queue.Empty:
                    if batch or closing:
                        return batch, [], closing and not batch
                    continue
                if item is not _STOP:
                    with self._lock:
                        self._in_flight += 1  # off the queue, not yet sent or dropped
            if item is _STOP:
                return batch, list(pending), True
            item_size = len(json.dumps(item, separators=(",", ":"))) + 1
            if batch and size + item_size > self.max_batch_bytes:
                pending.appendleft(item)
                break
            batch.append(item)
            size += item_size
            if len(batch) == 1:
                deadline = time.monotonic() + self.flush_interval_s
        return batch, list(pending), False

    def _send(self, session: requests.Session, batch: list[dict[str, Any]]) -> None:
        attempt = 0
        while batch:
            attempt += 1
            reason = self._post(session, batch)
            if reason is None:
                self._count("sent", len(batch))
                return
            if isinstance(reason, int):  # the service refused the event at this index: drop it
                self._count("dropped_refused")
                self._warn("dropped_refused", "funnel events: the order service refused an event (%s)",
                           self._last_refusal)
                batch = batch[:reason] + batch[reason + 1:]
                continue
            if reason == "refused":
                self._count("dropped_refused", len(batch))
                self._warn("dropped_refused", "funnel events: the order service refused a batch (%s)",
                           self._last_refusal)
                return
            last_try = attempt >= self.attempts or time.monotonic() >= self._close_by
            if last_try:
                self._count("dropped_send_failed", len(batch))
                self._warn("dropped_send_failed", "funnel events: %d lost, the order service failed (%s)",
                           len(batch), reason)
                return
            time.sleep(min(self.retry_backoff_s * 2 ** (attempt - 1), max(0.0, self._close_by - time.monotonic())))

    def _post(self, session: requests.Session, batch: list[dict[str, Any]]) -> str | int | None:
        """None when written; an event index the service refused; "refused" for a refused batch;
        otherwise why it is worth trying again."""
        try:
            resp = session.post(
                self.endpoint or "",
                json={"events": batch},
                headers={"X-Internal-Token": self.token},
                timeout=(self.timeout_s, self.timeout_s),
            )
        except requests.RequestException as exc:
            return type(exc).__name__
        if resp.status_code == 200:
            return None
        if resp.status_code == 429 or resp.status_code >= 500:
            return f"HTTP {resp.status_code}"
        try:
            error = resp.json().get("error", {})
        except (ValueError, AttributeError):
            error = {}
        field = str(error.get("field") or "")
        self._last_refusal = f"HTTP {resp.status_code} {error.get('code', '')} {field}".strip()
        match = _BAD_EVENT.match(field)
        if match and int(match.group(1)) < len(batch) and len(batch) > 1:
            return int(match.group(1))
        return "refused"

    # -- counting ----------------------------------------------------------------------------
    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def _warn(self, kind: str, message: str, *args: Any) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last_log.get(kind, -LOG_EVERY_S) < LOG_EVERY_S:
                return
            self._last_log[kind] = now
            total = self._counts.get(kind, 0)
        log.warning(message + " [%s so far: %d]", *args, kind, total)
