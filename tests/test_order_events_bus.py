"""Order events through the outbox, the relay and the notification consumer: over the machine's
RabbitMQ (`AMQP_URL`, default guest@127.0.0.1:5672) and over the in-memory broker.

Every test has its own exchange and queues. The outbox table is shared with the other tests of
the session (their orders leave pending entries too), so assertions are about this test's own
events: each published, each notice written exactly once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from storefront.events.__main__ import make_outbox
from storefront.events.notifications import Mailbox, NotificationConsumer
from storefront.events.outbox import Outbox
from storefront.events.relay import Relay
from storefront.events.topology import Topology, routing_key
from storefront.events.transport import AmqpTransport, MemoryBroker, Message, PublishFailed
from tests.conftest import free_port
from tests.helpers import missing_prerequisite, order_body, pick, scan_all

pytestmark = pytest.mark.stack

AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
DELIVERY_LIMIT = 3
REPO = Path(__file__).resolve().parent.parent


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def amqp_url() -> str:
    import pika

    try:
        pika.BlockingConnection(pika.URLParameters(AMQP_URL + "?connection_attempts=1&socket_timeout=3")).close()
    except Exception as exc:
        where = pika.URLParameters(AMQP_URL)
        missing_prerequisite(f"RabbitMQ is not reachable at {where.host}:{where.port} (AMQP_URL): {exc!r}")
    return AMQP_URL


def _settings_for(settings, tmp_path: Path, amqp_url: str | None):  # type: ignore[no-untyped-def]
    tag = uuid.uuid4().hex[:10]
    return settings.model_copy(
        update={
            "amqp_url": amqp_url,
            "events_exchange": f"test.orders.{tag}",
            "notifications_queue": f"test.notifications.{tag}",
            "notifications_delivery_limit": DELIVERY_LIMIT,
            "mailbox_dir": tmp_path / "mailbox",
        }
    )


@pytest.fixture()
def bus(settings, tmp_path, amqp_url, catalog_data):  # type: ignore[no-untyped-def]
    """Settings with this test's own exchange, queues and mailbox; removed afterwards."""
    import pika

    s = _settings_for(settings, tmp_path, amqp_url)
    yield s
    topo = Topology.from_settings(s)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    for queue in (topo.queue, topo.dead_letter_queue):
        channel.queue_delete(queue)
    for exchange in (topo.exchange, topo.dead_letter_exchange):
        channel.exchange_delete(exchange)
    connection.close()


@pytest.fixture()
def memory_bus(settings, tmp_path, catalog_data):  # type: ignore[no-untyped-def]
    return _settings_for(settings, tmp_path, None)


# -- helpers ------------------------------------------------------------------------------------
def place_orders(s, orders_app, catalog_data, n: int, ship: int = 0) -> list[str]:  # type: ignore[no-untyped-def]
    """`n` orders through the order service; the first `ship` are paid and shipped."""
    client = orders_app.test_client()
    rng = random.Random(uuid.uuid4().int)
    ids = []
    for i in range(n):
        resp = client.post(
            "/orders", json=order_body(pick(catalog_data, rng=rng), n=i), headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        assert resp.status_code == 201, resp.json
        ids.append(resp.json["order_id"])
    for order_id in ids[:ship]:
        for change in ("payment_captured", "order_shipped"):
            resp = client.post(
                f"/internal/orders/{order_id}/events",
                json={"type": change},
                headers={"X-Internal-Token": s.internal_token},
            )
            assert resp.status_code == 200, resp.json
    return ids


def events_of(settings, order_ids: list[str]) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """event id -> event type, for the events of these orders, as stored."""
    wanted = set(order_ids)
    return {
        i["event_id"]["S"]: i["event_type"]["S"]
        for i in scan_all(settings, "order_events")
        if i.get("order_id", {}).get("S") in wanted
    }


def notified(events: dict[str, str]) -> set[str]:
    return {e for e, t in events.items() if t in ("order_placed", "order_shipped")}


def pending_ids(outbox: Outbox) -> set[str]:
    found: set[str] = set()
    for shard in range(outbox.shards):
        found |= {p.event_id for p in outbox.pending(shard, 10_000)}
    return found


class CountingTransport:
    """Wraps a transport and records each confirmed publish."""

    def __init__(self, inner):  # type: ignore[no-untyped-def]
        self.inner = inner
        self.published: Counter[str] = Counter()

    def publish(self, routing_key, body, message_id, event_type):  # type: ignore[no-untyped-def]
        self.inner.publish(routing_key, body, message_id, event_type)
        self.published[message_id] += 1

    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)


class RecordingConsumer(NotificationConsumer):
    """Records the outcome of every delivery by event id (from the message id)."""

    def __init__(self, mailbox: Mailbox):
        super().__init__(mailbox)
        self.outcomes: dict[str, list[str]] = {}

    def __call__(self, delivery):  # type: ignore[no-untyped-def]
        before = Counter(self.stats)
        super().__call__(delivery)
        (outcome,) = (Counter(self.stats) - before).keys()
        self.outcomes.setdefault(delivery.message.message_id, []).append(outcome)


def consume_until_idle(s, idle: float = 1.5) -> RecordingConsumer:  # type: ignore[no-untyped-def]
    consumer = RecordingConsumer(Mailbox(s.mailbox_dir))
    AmqpTransport(s.amqp_url, Topology.from_settings(s)).consume(consumer, threading.Event(), idle_timeout=idle)
    return consumer


def notice_files(s) -> list[str]:  # type: ignore[no-untyped-def]
    return [p.stem for p in Mailbox(s.mailbox_dir).notices()]


def assert_each_once(s, events: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    files = notice_files(s)
    mine = [f for f in files if f in events]
    assert sorted(mine) == sorted(notified(events))  # one file per notified event, no more
    for event_id in notified(events):
        notice = json.loads((s.mailbox_dir / f"{event_id}.json").read_text())
        assert notice["notice_id"] == event_id
        assert set(notice["to"]) == {"customer"}  # the pseudonym only, no PII
        assert "@" not in json.dumps(notice)


def spawn(code: str, s, *args: str) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    env = {**os.environ, "TEST_SETTINGS": s.model_dump_json(), "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, cwd=REPO)


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"subprocess exited early ({proc.returncode})"
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


# The subprocess side of the kill tests: settings from the parent, a hook that parks the process
# at the chosen point (marker file written) until the test kills it with SIGKILL.
SUBPROCESS_PRELUDE = """
import json, os, sys, threading, time
from pathlib import Path
from gitgoods.settings import Settings
s = Settings(**json.loads(os.environ["TEST_SETTINGS"]))
marker = Path(sys.argv[1])
def park(*_):
    marker.write_text("parked")
    time.sleep(3600)
"""

RELAY_KILLED_AFTER_CONFIRM = (
    SUBPROCESS_PRELUDE
    + """
from storefront.events.__main__ import amqp_transport, make_outbox
from storefront.events.relay import Relay
published = []
def after_publish(event_id):
    published.append(event_id)
    if len(published) == int(sys.argv[2]):
        park()
Relay(make_outbox(s), amqp_transport(s), batch=5, after_publish=after_publish).drain()
"""
)

CONSUMER_KILLED = (
    SUBPROCESS_PRELUDE
    + """
from storefront.events.__main__ import amqp_transport
from storefront.events.notifications import Mailbox, NotificationConsumer
consumer = NotificationConsumer(Mailbox(s.mailbox_dir), before_ack=park)
def handler(delivery):
    if sys.argv[2] == "before_write":
        (marker.parent / "received").write_text(delivery.message.message_id)
        park()
    (marker.parent / "received").write_text(delivery.message.message_id)
    consumer(delivery)
amqp_transport(s).consume(handler, threading.Event())
"""
)


# -- over RabbitMQ ------------------------------------------------------------------------------
def test_every_event_published_once_and_handled_once(bus, orders_app, catalog_data):
    order_ids = place_orders(bus, orders_app, catalog_data, 6, ship=3)
    events = events_of(bus, order_ids)
    assert Counter(events.values()) == {"order_placed": 6, "payment_captured": 3, "order_shipped": 3}
    outbox = make_outbox(bus)
    assert set(events) <= pending_ids(outbox)  # written with the order, pending until confirmed

    transport = CountingTransport(AmqpTransport(bus.amqp_url, Topology.from_settings(bus)))
    Relay(outbox, transport, batch=4).drain()
    assert {e: transport.published[e] for e in events} == dict.fromkeys(events, 1)
    assert not set(events) & pending_ids(outbox)

    consumer = consume_until_idle(bus)
    assert {e: consumer.outcomes.get(e) for e in notified(events)} == dict.fromkeys(notified(events), ["written"])
    assert not set(events) - notified(events) & set(consumer.outcomes)  # payments are not bound to the queue
    assert_each_once(bus, events)


def test_broker_unreachable_then_back_loses_nothing(bus, orders_app, catalog_data):
    order_ids = place_orders(bus, orders_app, catalog_data, 4, ship=1)
    events = events_of(bus, order_ids)
    outbox = make_outbox(bus)

    closed = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"
    down_transport = AmqpTransport(closed, Topology.from_settings(bus), connect_timeout=1)
    down = Relay(outbox, down_transport, max_attempts=3, max_backoff_s=0.05)
    with pytest.raises(PublishFailed):
        down.drain()
    assert set(events) <= pending_ids(outbox)  # nothing cleared, nothing lost

    transport = CountingTransport(AmqpTransport(bus.amqp_url, Topology.from_settings(bus)))
    Relay(outbox, transport).drain()
    assert {e: transport.published[e] for e in events} == dict.fromkeys(events, 1)
    consumer = consume_until_idle(bus)
    assert {e: consumer.outcomes.get(e) for e in notified(events)} == dict.fromkeys(notified(events), ["written"])
    assert_each_once(bus, events)


def test_relay_killed_between_confirm_and_clear(bus, orders_app, catalog_data, tmp_path):
    # nothing pending from earlier tests may reach the relay that is to be killed
    Relay(make_outbox(bus), AmqpTransport(bus.amqp_url, Topology.from_settings(bus))).drain()
    order_ids = place_orders(bus, orders_app, catalog_data, 5)
    events = events_of(bus, order_ids)

    marker = tmp_path / "relay-parked"
    proc = spawn(RELAY_KILLED_AFTER_CONFIRM, bus, str(marker), "3")
    try:
        wait_for(marker, proc)
    finally:
        kill(proc)
    outbox = make_outbox(bus)
    still = set(events) & pending_ids(outbox)
    assert len(still) == 3  # two confirmed and cleared; the third confirmed but never cleared

    Relay(outbox, AmqpTransport(bus.amqp_url, Topology.from_settings(bus))).drain()
    assert not set(events) & pending_ids(outbox)
    consumer = consume_until_idle(bus)
    outcomes = Counter(o for e in events for o in consumer.outcomes.get(e, []))
    assert outcomes == {"written": 5, "duplicate": 1}  # the third event was published twice
    assert_each_once(bus, events)


@pytest.mark.parametrize("stage", ["before_write", "after_write"])
def test_consumer_killed_before_ack_gets_redelivery(bus, orders_app, catalog_data, tmp_path, stage):
    order_ids = place_orders(bus, orders_app, catalog_data, 3)
    events = events_of(bus, order_ids)
    Relay(make_outbox(bus), AmqpTransport(bus.amqp_url, Topology.from_settings(bus))).drain()

    marker = tmp_path / "consumer-parked"
    proc = spawn(CONSUMER_KILLED, bus, str(marker), stage)
    try:
        wait_for(marker, proc)
    finally:
        kill(proc)
    victim = (tmp_path / "received").read_text()
    assert (bus.mailbox_dir / f"{victim}.json").exists() == (stage == "after_write")

    consumer = consume_until_idle(bus)
    # redelivered (the queue counted the lost delivery), handled once from the consumer's view
    assert consumer.outcomes[victim] == (["duplicate"] if stage == "after_write" else ["written"])
    assert_each_once(bus, {e: t for e, t in events.items()})


def test_poison_messages_go_to_the_dead_letter_queue(bus):
    import pika

    topo = Topology.from_settings(bus)
    transport = AmqpTransport(bus.amqp_url, topo)
    transport.publish(routing_key("order_placed"), b"\xff not json", "poison-1", "order_placed")
    transport.publish(
        routing_key("order_placed"), json.dumps({"event_id": "evt_x"}).encode(), "poison-2", "order_placed"
    )
    good = {
        "event_id": "evt_01JDQ0000000000000000000AA",
        "event_type": "order_placed",
        "schema_version": 1,
        "occurred_at": "2026-01-02T03:04:05Z",
        "day_shard": "2026-01-02#1",
        "order_id": "ord_01JDQ0000000000000000000AA",
        "customer": "0123456789abcdef0123456789abcdef",
        "country": "DE",
        "currency": "EUR",
        "amount_cents": 1999,
        "lines": [],
    }
    transport.publish(routing_key("order_placed"), json.dumps(good).encode(), good["event_id"], "order_placed")
    transport.close()

    consumer = consume_until_idle(bus)
    # each poison message tried 1 + DELIVERY_LIMIT times, then dead-lettered; the good one unharmed
    assert consumer.outcomes["poison-1"] == ["rejected"] * (DELIVERY_LIMIT + 1)
    assert consumer.outcomes["poison-2"] == ["rejected"] * (DELIVERY_LIMIT + 1)
    assert consumer.outcomes[good["event_id"]] == ["written"]

    connection = pika.BlockingConnection(pika.URLParameters(bus.amqp_url))
    channel = connection.channel()
    dead = {}
    deadline = time.monotonic() + 10
    while len(dead) < 2 and time.monotonic() < deadline:
        method, props, body = channel.basic_get(topo.dead_letter_queue, auto_ack=True)
        if method is None:
            time.sleep(0.1)
            continue
        dead[props.message_id] = props.headers.get("x-first-death-reason")
    connection.close()
    assert dead == {"poison-1": "delivery_limit", "poison-2": "delivery_limit"}


# -- in memory ----------------------------------------------------------------------------------
def test_in_memory_transport_gives_the_same_results(memory_bus, orders_app, catalog_data):
    s = memory_bus
    order_ids = place_orders(s, orders_app, catalog_data, 5, ship=2)
    events = events_of(s, order_ids)
    broker = MemoryBroker(Topology.from_settings(s))
    consumer = RecordingConsumer(Mailbox(s.mailbox_dir))
    crashed: list[str] = []

    def crash_once(delivery, outcome):  # type: ignore[no-untyped-def]
        if not crashed:  # the first notice is written, then the consumer dies before the ack
            crashed.append(delivery.message.message_id)
            consumer.outcomes.setdefault(delivery.message.message_id, []).append(outcome)
            raise RuntimeError("consumer died before ack")

    consumer.before_ack = crash_once
    broker.transport().attach(consumer)

    broker.fail_publishes = 2  # the broker is "down" for the first two publishes
    transport = CountingTransport(broker.transport())
    Relay(make_outbox(s), transport, max_attempts=5, max_backoff_s=0.01).drain()
    assert {e: transport.published[e] for e in events} == dict.fromkeys(events, 1)
    assert not set(events) & pending_ids(make_outbox(s))
    assert_each_once(s, events)
    victim = crashed[0]
    assert consumer.outcomes[victim] == ["written", "duplicate"] or victim not in events

    # poison: tried 1 + limit times, then dead-lettered
    broker.publish(Message(b"\x00", "poison", routing_key("order_placed")))
    assert consumer.outcomes["poison"] == ["rejected"] * (DELIVERY_LIMIT + 1)
    assert [m.message_id for m in broker.dead] == ["poison"]


def test_runner_relays_and_notifies_in_one_process(memory_bus, orders_app, catalog_data):
    """`python -m storefront.events both` without AMQP_URL: the embedded default."""
    s = memory_bus
    events = events_of(s, place_orders(s, orders_app, catalog_data, 2, ship=1))
    env = {k: v for k, v in os.environ.items() if k not in ("AMQP_URL", "GITGOODS_AMQP_URL")}
    env |= {
        "GITGOODS_HOME": str(s.home),
        "GITGOODS_DYNAMODB_PORT": str(s.dynamodb_port),
        "GITGOODS_MOTO_PORT": str(s.moto_port),
        "GITGOODS_TABLE_PREFIX": s.table_prefix,
        "GITGOODS_MAILBOX_DIR": str(s.mailbox_dir),
        "PYTHONPATH": str(REPO),
    }
    run = subprocess.run(
        [sys.executable, "-m", "storefront.events", "both", "--until-idle", "1"],
        env=env,
        cwd=REPO,
        timeout=120,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert not set(events) & pending_ids(make_outbox(s))
    assert_each_once(s, events)
    refused = subprocess.run(
        [sys.executable, "-m", "storefront.events", "relay"], env=env, cwd=REPO, timeout=60, capture_output=True
    )
    assert refused.returncode != 0  # a relay alone would hand messages to a broker that dies with it
