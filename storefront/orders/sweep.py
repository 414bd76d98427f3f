"""Cancels orders that were not paid in time, returning their stock, so stock cannot be hoarded.

`python -m storefront.orders.sweep [--once]`: every `unpaid_sweep_interval_s` (60 s), at most
`unpaid_sweep_batch` (100) orders whose pay-by time has passed are cancelled.

**Finding them.** Every order is written with a marker in `unpaid_orders`
(`shard = unpaid#<crc32(order_id) % 8>`, `due = <pay-by time>#<order_id>`), and the transaction
that moves the order out of `placed` (payment or cancellation) deletes it. The sweep reads the
markers already due with one strongly consistent key Query per shard (`due < now`, earliest
first, `Limit` = the batch): the table holds only unpaid orders, so a run costs a few small reads
however many orders exist, where a Scan of `orders` would grow with every order ever placed.

**Cancelling.** Through the ordinary lifecycle change (`order_cancelled`: status, sales lines,
stock returned, the event and its outbox entry, the marker removed, one transaction), made
conditional on the order being `placed` still. So a payment that commits between the sweep's read
and its cancellation wins (the cancellation's condition fails; re-read, the order is paid, it is
left alone), and two sweeps running at once cancel an order once: the second one's condition
fails the same way.

**Time.** The pay-by time is the service's clock when the order was placed plus
`unpaid_order_ttl_s`, never the order's own `created_at`: the simulator backdates orders by months
and pays them a moment later, and they must not be overdue on arrival.
"""

from __future__ import annotations

import argparse
import heapq
import logging
import signal
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from gitgoods.contract.ids import utc_iso
from gitgoods.contract.tables import UNPAID_SHARDS
from gitgoods.settings import Settings, get_settings
from storefront.common.errors import ApiError
from storefront.orders.lifecycle import Lifecycle

log = logging.getLogger("storefront.orders.sweep")


@dataclass
class SweepStats:
    cancelled: int = 0
    skipped: int = 0  # paid (or cancelled) by someone else meanwhile, or gone


@dataclass(frozen=True, order=True)
class Overdue:
    pay_by: str
    order_id: str


class UnpaidSweep:
    def __init__(self, lifecycle: Lifecycle, batch: int = 100, shards: int = UNPAID_SHARDS):
        self.lifecycle = lifecycle
        self.repo = lifecycle.repo
        self.batch = batch
        self.shards = shards

    def overdue(self, now: datetime) -> list[Overdue]:
        """The earliest-due unpaid orders whose pay-by time is before `now`, at most `batch`."""
        before = utc_iso(now)
        found = [Overdue(*m) for shard in range(self.shards) for m in self.repo.overdue(shard, before, self.batch)]
        return heapq.nsmallest(self.batch, found)

    def cancel(self, overdue: Overdue, now: datetime) -> bool:
        """Cancel one overdue order if it is still unpaid; True if this call cancelled it."""
        try:
            done = self.lifecycle.cancel_unpaid(overdue.order_id, now)
        except ApiError as exc:
            if exc.status != 404:
                raise
            done = None
        if done is None:
            # Paid or cancelled since (that transaction removed the marker), or a marker without
            # its order: make sure the marker is gone.
            self.repo.transact([self.repo.clear_unpaid(overdue.order_id, overdue.pay_by)])
            return False
        log.info("cancelled unpaid order %s (pay by %s)", overdue.order_id, overdue.pay_by)
        return True

    def run_once(self, now: datetime | None = None) -> SweepStats:
        now = now or datetime.now(UTC)
        stats = SweepStats()
        for overdue in self.overdue(now):
            try:
                cancelled = self.cancel(overdue, now)
            except ApiError as exc:  # kept changing under us: the next run tries again
                log.warning("order %s not swept now: %s", overdue.order_id, exc.code)
                continue
            if cancelled:
                stats.cancelled += 1
            else:
                stats.skipped += 1
        return stats

    def run(self, stop: threading.Event, interval_s: float) -> None:
        while not stop.is_set():
            try:
                stats = self.run_once()
                if stats.cancelled or stats.skipped:
                    log.info("sweep: %d cancelled, %d already paid or cancelled", stats.cancelled, stats.skipped)
            except Exception:
                log.exception("sweep failed; next run in %.0f s", interval_s)
            stop.wait(interval_s)


def make_sweep(settings: Settings) -> UnpaidSweep:
    from gitgoods import aws
    from storefront.orders.notify import StockNotifier
    from storefront.orders.repo import OrdersRepo

    notifier = StockNotifier(settings.catalog_url, settings.resolved_internal_token())
    lifecycle = Lifecycle(OrdersRepo(aws.client("dynamodb", settings), settings), notifier)
    return UnpaidSweep(lifecycle, batch=settings.unpaid_sweep_batch)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m storefront.orders.sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("--once", action="store_true", help="one run, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = get_settings()
    sweep = make_sweep(settings)
    if args.once:
        stats = sweep.run_once()
        log.info("sweep: %d cancelled, %d already paid or cancelled", stats.cancelled, stats.skipped)
        return 0
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log.info("cancelling orders unpaid after %.0f s, every %.0f s", settings.unpaid_order_ttl_s,
             settings.unpaid_sweep_interval_s)
    sweep.run(stop, settings.unpaid_sweep_interval_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
