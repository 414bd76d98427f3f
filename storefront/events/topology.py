"""Names and shapes of the broker side, declared identically by the relay and the consumers.

- a durable topic exchange (`gitgoods.orders`), routing key `order.<what>` per event type;
- the notification queue: a quorum queue (replicated, durable) bound to the two event types it
  acts on, with a delivery limit: a message delivered that many times without an ack (nacked or
  its consumer gone) is dead-lettered, at least once, to `<queue>.dlx` -> `<queue>.dead`.

The relay declares it too, so the queue exists before the first publish and no event is routed
to nowhere because its consumer had not started yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitgoods.settings import Settings

NOTIFIED_EVENTS = ("order_placed", "order_shipped")


def routing_key(event_type: str) -> str:
    """`order_placed` -> `order.placed`, `payment_captured` -> `order.payment_captured`."""
    return "order." + event_type.removeprefix("order_")


@dataclass(frozen=True)
class Topology:
    exchange: str
    queue: str
    delivery_limit: int
    bindings: tuple[str, ...] = tuple(routing_key(t) for t in NOTIFIED_EVENTS)

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.queue}.dlx"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue}.dead"

    def queue_arguments(self) -> dict[str, Any]:
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": self.delivery_limit,
            "x-dead-letter-exchange": self.dead_letter_exchange,
            # at-least-once dead-lettering (RabbitMQ >= 3.10) needs reject-publish overflow
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }

    @classmethod
    def from_settings(cls, settings: Settings) -> Topology:
        return cls(settings.events_exchange, settings.notifications_queue, settings.notifications_delivery_limit)
