"""Two transports with one interface: RabbitMQ (`AmqpTransport`) and in-memory (`MemoryBroker`).

`publish` returns only once the broker has taken responsibility for the message (RabbitMQ:
publisher confirm; in memory: routed and, if a consumer is attached, handled) and raises
`PublishFailed` otherwise. `consume` hands each message to a handler as a `Delivery`, which the
handler settles with `ack()` or `nack()`; a nacked message, or one whose consumer went away
before settling it, is delivered again, and dead-lettered once delivered more often than the
queue's delivery limit allows.

A transport object belongs to one thread (pika's BlockingConnection is not thread-safe): the
relay and the consumer each make their own.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from storefront.events.topology import Topology

log = logging.getLogger(__name__)


class PublishFailed(Exception):
    """The broker did not confirm the message: it must be published again."""


@dataclass
class Message:
    body: bytes
    message_id: str
    routing_key: str
    # How often this message was handed out before (0 on the first delivery).
    delivery_count: int = 0
    headers: dict[str, Any] = field(default_factory=dict)


class Delivery(Protocol):
    message: Message

    def ack(self) -> None: ...

    def nack(self) -> None: ...


Handler = Callable[[Delivery], None]


class Transport(Protocol):
    def publish(self, routing_key: str, body: bytes, message_id: str, event_type: str) -> None: ...

    def consume(self, handler: Handler, stop: threading.Event, idle_timeout: float | None = None) -> None: ...

    def pause(self, seconds: float) -> None: ...

    def close(self) -> None: ...


# -- RabbitMQ ------------------------------------------------------------------------------------
class AmqpTransport:
    def __init__(self, url: str, topology: Topology, prefetch: int = 16, connect_timeout: float = 5.0):
        import pika  # here: the storefront imports this package without needing a broker client

        self.pika = pika
        self.params = pika.URLParameters(url)
        # A broker that stops reading (memory or disk alarm) must not hang a publish forever.
        self.params.blocked_connection_timeout = 30
        self.params.socket_timeout = connect_timeout
        self.params.stack_timeout = connect_timeout
        self.params.heartbeat = 30
        self.params.connection_attempts = 1
        self.topology = topology
        self.prefetch = prefetch
        self.connection: Any = None
        self.channel: Any = None

    def _connect(self) -> Any:
        if self.channel is not None and self.channel.is_open:
            return self.channel
        self.close()
        self.connection = self.pika.BlockingConnection(self.params)
        channel = self.connection.channel()
        t = self.topology
        channel.exchange_declare(t.exchange, "topic", durable=True)
        channel.exchange_declare(t.dead_letter_exchange, "fanout", durable=True)
        channel.queue_declare(t.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_bind(t.dead_letter_queue, t.dead_letter_exchange)
        channel.queue_declare(t.queue, durable=True, arguments=t.queue_arguments())
        for key in t.bindings:
            channel.queue_bind(t.queue, t.exchange, routing_key=key)
        channel.confirm_delivery()
        channel.basic_qos(prefetch_count=self.prefetch)
        self.channel = channel
        return channel

    def publish(self, routing_key: str, body: bytes, message_id: str, event_type: str) -> None:
        exc_types = (self.pika.exceptions.AMQPError, OSError)
        try:
            channel = self._connect()
            # With confirm_delivery() on, basic_publish waits for the broker's ack and raises
            # NackError on a nack; persistent (delivery_mode 2) into durable quorum queues.
            channel.basic_publish(
                self.topology.exchange,
                routing_key,
                body,
                self.pika.BasicProperties(
                    content_type="application/json",
                    delivery_mode=2,
                    message_id=message_id,
                    type=event_type,
                    timestamp=int(time.time()),
                ),
            )
        except exc_types as exc:
            self.close()
            raise PublishFailed(f"{type(exc).__name__}: {exc}") from exc

    def consume(self, handler: Handler, stop: threading.Event, idle_timeout: float | None = None) -> None:
        """Hand messages to `handler` until `stop` is set (or nothing came for `idle_timeout`
        seconds). A lost connection is re-opened with jittered backoff."""
        from tenacity import Retrying, retry_if_exception_type, stop_when_event_set, wait_random_exponential

        exc_types = (self.pika.exceptions.AMQPError, OSError)
        last = time.monotonic()
        while not stop.is_set():
            for attempt in Retrying(
                retry=retry_if_exception_type(exc_types),
                wait=wait_random_exponential(multiplier=0.2, max=10),
                stop=stop_when_event_set(stop),
                reraise=True,
                before_sleep=lambda s: log.warning("broker unreachable, retrying: %s", s.outcome.exception()),
            ):
                with attempt:
                    channel = self._connect()
            try:
                for method, props, body in channel.consume(self.topology.queue, inactivity_timeout=0.2):
                    if method is None:
                        if stop.is_set() or (idle_timeout is not None and time.monotonic() - last > idle_timeout):
                            self.close()
                            return
                        continue
                    last = time.monotonic()
                    headers = dict(props.headers or {})
                    message = Message(
                        body,
                        props.message_id or "",
                        method.routing_key,
                        int(headers.get("x-delivery-count", 0)),
                        headers,
                    )
                    handler(_AmqpDelivery(channel, method.delivery_tag, message))
                    if stop.is_set():
                        break
            except exc_types as exc:
                log.warning("consumer lost its connection: %s", exc)
                self.close()
        self.close()

    def pause(self, seconds: float) -> None:
        # Keep serving heartbeats while idle, so an idle relay keeps its connection.
        if self.connection is not None and self.connection.is_open:
            try:
                self.connection.sleep(seconds)
                return
            except (self.pika.exceptions.AMQPError, OSError):
                self.close()
        time.sleep(seconds)

    def close(self) -> None:
        connection, self.connection, self.channel = self.connection, None, None
        if connection is not None and connection.is_open:
            # closing a broken connection may fail; it is gone either way
            with contextlib.suppress(Exception):
                connection.close()


@dataclass
class _AmqpDelivery:
    channel: Any
    tag: int
    message: Message

    def ack(self) -> None:
        self.channel.basic_ack(self.tag)

    def nack(self) -> None:
        self.channel.basic_nack(self.tag, requeue=True)


# -- in memory -------------------------------------------------------------------------------------
def _topic_matches(pattern: str, key: str) -> bool:
    def match(p: list[str], k: list[str]) -> bool:
        if not p:
            return not k
        if p[0] == "#":
            return any(match(p[1:], k[i:]) for i in range(len(k) + 1))
        return bool(k) and (p[0] in ("*", k[0])) and match(p[1:], k[1:])

    return match(pattern.split("."), key.split("."))


class MemoryBroker:
    """The broker of the embedded default: the same topology and delivery rules as RabbitMQ's
    (routing by binding, redelivery with a count, dead-lettering past the limit), in one process.

    Delivery is synchronous: `publish` hands the message to the attached consumer and returns
    once it was acked or dead-lettered, so the relay clears an outbox entry only after the notice
    exists. A message published while no consumer is attached waits in memory; run the relay and
    the consumer together (`python -m storefront.events both`)."""

    def __init__(self, topology: Topology, on_dead_letter: Callable[[Message], None] | None = None):
        self.topology = topology
        self.lock = threading.RLock()
        self.queue: deque[Message] = deque()
        self.dead: list[Message] = []
        self.handler: Handler | None = None
        self.on_dead_letter = on_dead_letter
        self.fail_publishes = 0  # tests: how many next publishes fail as if the broker were down

    def transport(self) -> MemoryTransport:
        return MemoryTransport(self)

    def publish(self, message: Message) -> None:
        with self.lock:
            if self.fail_publishes > 0:
                self.fail_publishes -= 1
                raise PublishFailed("in-memory broker set to fail")
            if any(_topic_matches(b, message.routing_key) for b in self.topology.bindings):
                self.queue.append(message)
            self.drain()

    def drain(self) -> None:
        with self.lock:
            while self.handler is not None and self.queue:
                message = self.queue.popleft()
                delivery = _MemoryDelivery(message)
                try:
                    self.handler(delivery)
                except Exception:
                    log.exception("consumer failed on message %s", message.message_id)
                if delivery.outcome == "ack":
                    continue
                # nacked, or the consumer failed before settling it: back, counted
                message.delivery_count += 1
                if message.delivery_count > self.topology.delivery_limit:
                    message.headers["x-first-death-reason"] = "delivery_limit"
                    self.dead.append(message)
                    if self.on_dead_letter:
                        self.on_dead_letter(message)
                else:
                    self.queue.appendleft(message)


class MemoryTransport:
    def __init__(self, broker: MemoryBroker):
        self.broker = broker

    def publish(self, routing_key: str, body: bytes, message_id: str, event_type: str) -> None:
        self.broker.publish(Message(body, message_id, routing_key, headers={"type": event_type}))

    def consume(self, handler: Handler, stop: threading.Event, idle_timeout: float | None = None) -> None:
        with self.broker.lock:
            self.broker.handler = handler
            self.broker.drain()
        try:
            stop.wait(idle_timeout)
        finally:
            with self.broker.lock:
                self.broker.handler = None

    def attach(self, handler: Handler) -> None:
        """Attach a consumer without blocking (the in-process default and tests)."""
        with self.broker.lock:
            self.broker.handler = handler
            self.broker.drain()

    def pause(self, seconds: float) -> None:
        time.sleep(seconds)

    def close(self) -> None:
        pass


@dataclass
class _MemoryDelivery:
    message: Message
    outcome: str | None = None

    def ack(self) -> None:
        self.outcome = "ack"

    def nack(self) -> None:
        self.outcome = "nack"
