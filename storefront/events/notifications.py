"""The notification consumer: order confirmations and shipping notices, into a mailbox folder.

One notice per event, written as `<mailbox>/<event_id>.json`. The file is written beside the
mailbox, fsynced, then hard-linked into place: `link` fails if the name exists, so it is both the
atomic publish of a complete file and the exclusive create (O_EXCL) that makes the mailbox its own
record of processed event ids, one that survives restarts. A message is acked only after its
notice is on disk; a redelivered message whose notice exists is acked without writing again.

A message that cannot be decoded or breaks the event schema is nacked; the queue counts the
deliveries and dead-letters it past its delivery limit (`topology`), so a poison message is tried
a bounded number of times, never dropped silently and never blocks the queue.

What a notice says about the shopper: only the customer pseudonym the event carries and the order
id. The consumer never decrypts PII: the pseudonym is a one-way HMAC with no reverse look-up, and
a mailbox folder in plain text is no place for an e-mail address. A mailer that sends real mail
would resolve the address at the moment of sending, in a service that holds the PII key.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gitgoods.contract import events as contract
from storefront.events.transport import Delivery

log = logging.getLogger(__name__)

SUBJECTS = {
    "order_placed": ("order_confirmation", "Your Git Goods order {order_id} is confirmed"),
    "order_shipped": ("shipping_notice", "Your Git Goods order {order_id} is on its way"),
}


class Poison(ValueError):
    """A message no retry can help: not JSON, not an object, or not a valid event."""


def decode(body: bytes) -> dict[str, Any]:
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Poison(f"not JSON: {exc}") from exc
    if not isinstance(event, dict):
        raise Poison("not a JSON object")
    problems = contract.errors(event)
    if problems:
        raise Poison("; ".join(problems[:5]))
    return event


def notice_for(event: dict[str, Any]) -> dict[str, Any] | None:
    """The notice an event calls for (None: this event type sends none)."""
    if event["event_type"] not in SUBJECTS:
        return None
    kind, subject = SUBJECTS[event["event_type"]]
    return {
        "notice_id": event["event_id"],
        "kind": kind,
        "to": {"customer": event["customer"]},  # the pseudonym: see the module's docstring
        "subject": subject.format(order_id=event["order_id"]),
        "order_id": event["order_id"],
        "occurred_at": event["occurred_at"],
        "currency": event["currency"],
        "amount_cents": event["amount_cents"],
        "lines": [
            {k: line[k] for k in ("line", "product_id", "qty", "unit_cents", "amount_cents")} for line in event["lines"]
        ],
    }


class Mailbox:
    def __init__(self, folder: Path):
        self.folder = folder
        self.incoming = folder / ".incoming"
        self.incoming.mkdir(parents=True, exist_ok=True)

    def path(self, notice_id: str) -> Path:
        return self.folder / f"{notice_id}.json"

    def notices(self) -> list[Path]:
        return sorted(self.folder.glob("*.json"))

    def deliver(self, notice_id: str, notice: dict[str, Any]) -> bool:
        """Write the notice once. False when it was already there (a redelivery)."""
        final = self.path(notice_id)
        if final.exists():
            return False
        tmp = self.incoming / f"{notice_id}.{uuid.uuid4().hex}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(json.dumps(notice, indent=2, sort_keys=True).encode() + b"\n")
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, final)
            except FileExistsError:
                return False
        finally:
            tmp.unlink(missing_ok=True)
        dir_fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the new name itself must survive a crash before the ack
        finally:
            os.close(dir_fd)
        return True


class NotificationConsumer:
    def __init__(self, mailbox: Mailbox, before_ack: Callable[[Delivery, str], None] | None = None):
        """`before_ack(delivery, outcome)` runs after the notice is written, before the ack."""
        self.mailbox = mailbox
        self.before_ack = before_ack
        self.stats: Counter[str] = Counter()

    def __call__(self, delivery: Delivery) -> None:
        message = delivery.message
        try:
            event = decode(message.body)
        except Poison as exc:
            self.stats["rejected"] += 1
            log.warning("poison message %r (delivery %d): %s", message.message_id, message.delivery_count + 1, exc)
            delivery.nack()
            return
        notice = notice_for(event)
        if notice is None:
            outcome = "ignored"
        else:
            try:
                outcome = "written" if self.mailbox.deliver(event["event_id"], notice) else "duplicate"
            except OSError as exc:
                self.stats["failed"] += 1
                log.error("could not write notice %s: %s", event["event_id"], exc)
                delivery.nack()
                return
        if self.before_ack:
            self.before_ack(delivery, outcome)
        delivery.ack()
        self.stats[outcome] += 1
