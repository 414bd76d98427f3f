"""Executing a shopper plan: every planned order placed and its due lifecycle events applied.

`execute` runs the orders on a pool of threads through `OrderClient`, skips the lifecycle events
an order's current status already reflects (`pending_events`, so a replay sends only what is
missing), and counts what happened in an `Outcome`; it stops on a `Fatal` refusal or after
`MAX_CONSECUTIVE_FAILURES` orders in a row failed.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from storefront.orders.service import TRANSITIONS
from storefront.simulate.order_client import Fatal, OrderClient, OutOfStock
from storefront.simulate.plan import Plan, PlannedEvent, PlannedOrder
from storefront.simulate.pool import run_all

DEFAULT_WORKERS = 12
# Give up on the whole run after this many orders in a row failed for good (service down).
MAX_CONSECUTIVE_FAILURES = 20


def _statuses(events: tuple[PlannedEvent, ...]) -> list[str]:
    """The order's status after 0, 1, ... of its planned events (for skipping done ones)."""
    statuses, status = ["placed"], "placed"
    for event in events:
        status = TRANSITIONS.get(status, {}).get(event.type, status)
        if event.type == "order_refunded" and event.lines:
            status = "partially_refunded"
        statuses.append(status)
    return statuses


def pending_events(order: PlannedOrder, current_status: str) -> tuple[PlannedEvent, ...]:
    """The planned events not yet reflected in the order's current status."""
    statuses = _statuses(order.events)
    if current_status in statuses:
        return order.events[statuses.index(current_status):]
    return order.events  # unexpected: send all, the state machine answers for the done ones


@dataclass
class Outcome:
    placed_new: int = 0
    replayed: int = 0
    out_of_stock: int = 0
    failed: int = 0
    events: Counter[str] = field(default_factory=Counter)  # in the store, by type
    events_written: Counter[str] = field(default_factory=Counter)  # by this run
    errors: list[str] = field(default_factory=list)
    aborted: str | None = None

    @property
    def orders(self) -> int:
        return self.placed_new + self.replayed


def execute(plan: Plan, orders_url: str, internal_token: str, clock_key: str,
            workers: int = DEFAULT_WORKERS, progress: bool = True) -> Outcome:
    """Place every planned order and apply its due lifecycle events, `workers` at a time."""
    client = OrderClient(orders_url, internal_token, clock_key)
    outcome = Outcome()
    lock = threading.Lock()
    stop = threading.Event()
    consecutive_failures = 0

    def run_one(order: PlannedOrder) -> None:
        nonlocal consecutive_failures
        if stop.is_set():
            return
        try:
            created, replayed = client.place(order)
            written: list[str] = []
            for event in pending_events(order, created["status"]):
                if client.event(created["order_id"], event):
                    written.append(event.type)
        except OutOfStock:
            with lock:
                outcome.out_of_stock += 1
            return
        except Fatal as exc:
            with lock:
                outcome.aborted = str(exc)
            stop.set()
            return
        except Exception as exc:  # retries exhausted or a refusal: record, go on
            with lock:
                outcome.failed += 1
                consecutive_failures += 1
                if len(outcome.errors) < 20:
                    outcome.errors.append(f"order #{order.index}: {type(exc).__name__}: {exc}")
                if consecutive_failures >= MAX_CONSECUTIVE_FAILURES and not stop.is_set():
                    outcome.aborted = f"{consecutive_failures} orders in a row failed"
                    stop.set()
            return
        with lock:
            consecutive_failures = 0
            if replayed:
                outcome.replayed += 1
            else:
                outcome.placed_new += 1
                outcome.events_written["order_placed"] += 1
            outcome.events["order_placed"] += 1
            outcome.events.update(e.type for e in order.events)
            outcome.events_written.update(written)

    run_all(plan.orders, run_one, workers=workers, stop=stop, desc="shoppers", unit="order", progress=progress,
            on_done=lambda order, future: future.result())
    return outcome
