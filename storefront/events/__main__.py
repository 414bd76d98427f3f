"""`python -m storefront.events relay|consume|both [--until-idle SECONDS]`

With `AMQP_URL` set, `relay` publishes the outbox to RabbitMQ and `consume` writes notices from
its queue; they may run in separate processes, as many as wanted. Without it the broker is the
in-memory one, which lives in one process: only `both` is allowed there (a relay alone would
hand its messages to a broker that dies with it).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from gitgoods import aws
from gitgoods.settings import Settings, get_settings
from storefront.events.notifications import Mailbox, NotificationConsumer
from storefront.events.outbox import Outbox
from storefront.events.relay import Relay
from storefront.events.topology import Topology
from storefront.events.transport import AmqpTransport, MemoryBroker, Message, Transport

log = logging.getLogger("storefront.events")


def mailbox_dir(settings: Settings) -> Path:
    return settings.mailbox_dir or settings.state_dir / "mailbox"


def make_outbox(settings: Settings) -> Outbox:
    return Outbox(aws.client("dynamodb", settings), settings.table("order_outbox"), settings.table("order_events"))


def amqp_transport(settings: Settings) -> AmqpTransport:
    if not settings.amqp_url:
        raise ValueError("AMQP_URL is not set")
    return AmqpTransport(settings.amqp_url, Topology.from_settings(settings))


def memory_broker(settings: Settings) -> MemoryBroker:
    dead = mailbox_dir(settings) / "dead-letter"

    def keep(message: Message) -> None:
        # The in-memory dead-letter queue is a folder, so a poison message outlives the process.
        dead.mkdir(parents=True, exist_ok=True)
        name = "".join(c for c in message.message_id if c.isalnum() or c in "_-") or "message"
        (dead / f"{name}.bin").write_bytes(message.body)
        log.error("dead-lettered message %s after %d deliveries", message.message_id, message.delivery_count)

    return MemoryBroker(Topology.from_settings(settings), on_dead_letter=keep)


def run(role: str, settings: Settings, stop: threading.Event, until_idle_s: float | None = None) -> None:
    consumer = NotificationConsumer(Mailbox(mailbox_dir(settings)))
    broker = None if settings.amqp_url else memory_broker(settings)
    if broker is None:
        relay_transport: Transport = amqp_transport(settings)
        consume_transport: Transport = amqp_transport(settings)
    elif role != "both":
        raise SystemExit("without AMQP_URL the broker is in memory: run `both` in one process")
    else:
        relay_transport = consume_transport = broker.transport()

    threads = []
    if role in ("consume", "both"):
        if broker is not None:
            broker.transport().attach(consumer)  # delivery happens in the relay's publish
        else:
            threads.append(
                threading.Thread(
                    target=consume_transport.consume, args=(consumer, stop, until_idle_s), name="consume", daemon=True
                )
            )
    if role in ("relay", "both"):
        relay = Relay(make_outbox(settings), relay_transport, batch=settings.relay_batch, stop=stop)
        threads.append(
            threading.Thread(target=relay.run, kwargs={"until_idle_s": until_idle_s}, name="relay", daemon=True)
        )
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.5)
    stop.set()
    log.info("notices: %s", dict(consumer.stats))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m storefront.events", description=__doc__.split("\n\n")[0])
    parser.add_argument("role", choices=("relay", "consume", "both"))
    parser.add_argument("--until-idle", type=float, default=None, help="exit after this many idle seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    run(args.role, get_settings(), stop, args.until_idle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
