"""The relay: pending order events from the outbox to the broker, at least once.

For each shard of the outbox, a batch of pending entries (oldest first) is read, their events
loaded, and each event published (persistent, `message_id` = event id, routing key by event
type). Only once the broker has confirmed a message is its outbox entry deleted, conditionally,
so two relays never both clear one entry. A failed publish (broker down, nack, timeout) is
retried with jittered exponential backoff; the entry stays until a publish succeeds, so nothing
is lost. A relay that dies between the confirm and the delete publishes that event again on its
next pass: consumers deduplicate by event id.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_never,
    stop_when_event_set,
    wait_random_exponential,
)

from storefront.events.outbox import Outbox, Pending
from storefront.events.topology import routing_key
from storefront.events.transport import PublishFailed, Transport

log = logging.getLogger(__name__)


def encode(event: dict[str, Any]) -> bytes:
    """The message body: the event exactly as stored (the contract's JSON), canonical form."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class RelayStats:
    published: int = 0
    cleared: int = 0
    already_cleared: int = 0  # confirmed, but another relay had cleared the entry first
    missing: int = 0  # entry without its event (cannot happen: written in one transaction)

    def __iadd__(self, other: RelayStats) -> RelayStats:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


class Relay:
    def __init__(
        self,
        outbox: Outbox,
        transport: Transport,
        batch: int = 100,
        max_attempts: int | None = None,
        max_backoff_s: float = 30.0,
        stop: threading.Event | None = None,
        after_publish: Callable[[str], None] | None = None,
    ):
        """`max_attempts` bounds the tries of one publish (None: until it succeeds or `stop`
        is set); after the last failure `PublishFailed` is raised and the entry stays pending.
        `after_publish(event_id)` runs between the broker's confirm and the entry's delete."""
        self.outbox = outbox
        self.transport = transport
        self.batch = batch
        self.stop = stop or threading.Event()
        self.after_publish = after_publish
        self.retrying = Retrying(
            retry=retry_if_exception_type(PublishFailed),
            wait=wait_random_exponential(multiplier=0.1, max=max_backoff_s),
            stop=(stop_after_attempt(max_attempts) if max_attempts else stop_never) | stop_when_event_set(self.stop),
            reraise=True,
            before_sleep=lambda s: log.warning(
                "publish failed (try %d), backing off: %s", s.attempt_number, s.outcome.exception()
            ),
        )

    def _publish(self, event: dict[str, Any]) -> None:
        for attempt in self.retrying:
            with attempt:
                self.transport.publish(
                    routing_key(event["event_type"]), encode(event), event["event_id"], event["event_type"]
                )

    def run_once(self) -> RelayStats:
        """One batch from every shard. Raises `PublishFailed` once a publish has used its tries."""
        stats = RelayStats()
        for shard in range(self.outbox.shards):
            entries = self.outbox.pending(shard, self.batch)
            if not entries:
                continue
            events = self.outbox.events([e.event_id for e in entries])
            for entry in entries:
                if self.stop.is_set():
                    return stats
                stats += self._relay(entry, events.get(entry.event_id))
        return stats

    def _relay(self, entry: Pending, event: dict[str, Any] | None) -> RelayStats:
        if event is None:
            log.error("outbox entry %s has no event; left pending", entry.event_id)
            return RelayStats(missing=1)
        self._publish(event)
        if self.after_publish:
            self.after_publish(entry.event_id)
        cleared = self.outbox.clear(entry)
        return RelayStats(published=1, cleared=int(cleared), already_cleared=int(not cleared))

    def drain(self) -> RelayStats:
        """Relay until nothing is pending (or `stop` is set)."""
        total = RelayStats()
        while not self.stop.is_set():
            stats = self.run_once()
            total += stats
            if stats.published == 0:
                return total
        return total

    def run(self, idle_s: float = 0.5, until_idle_s: float | None = None) -> RelayStats:
        """Relay until `stop` is set (or nothing was pending for `until_idle_s` seconds)."""
        total, idle = RelayStats(), 0.0
        while not self.stop.is_set():
            try:
                stats = self.drain()
            except PublishFailed as exc:  # only with max_attempts: the entries are still there
                log.warning("publish gave up, will try again: %s", exc)
                stats = RelayStats()
            except Exception:
                log.exception("relay pass failed; retrying")
                stats = RelayStats()
            total += stats
            idle = 0.0 if stats.published else idle + idle_s
            if until_idle_s is not None and idle >= until_idle_s:
                break
            self.transport.pause(idle_s)
        return total
