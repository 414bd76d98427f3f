"""Order lifecycle: the state machine, and the one transaction per change.

Each change writes, in one `TransactWriteItems`: the order's new status (conditional on the status
read, so two concurrent changes cannot both apply), the affected sales lines' status, stock
returned on cancellation, the event with its outbox entry, the removal of the order's unpaid
marker when it leaves `placed`, and, when the caller sent an Idempotency-Key, a record of the
answer. A retry with the same key (the first answer was lost) finds that record and gets the same
answer, and nothing is written twice; the same key with another change is a 409. Without a key a
repeated change is judged by the state machine, as any other (409 `invalid_transition`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from gitgoods.contract.ids import parse_utc, utc_iso
from storefront.common.errors import ApiError, Unavailable
from storefront.orders.items import order_event, order_view
from storefront.orders.repo import THROTTLED, Conflict, OrdersRepo, TransactionCancelled, conflict_retries
from storefront.orders.schemas import LifecycleIn

IDEMPOTENCY_TTL_S = 7 * 24 * 3600

# status -> {event: new status}
TRANSITIONS: dict[str, dict[str, str]] = {
    "placed": {"payment_captured": "paid", "order_cancelled": "cancelled"},
    "paid": {"order_shipped": "shipped", "order_cancelled": "cancelled"},
    "shipped": {"order_delivered": "delivered", "order_refunded": "refunded"},
    "delivered": {"order_refunded": "refunded"},
    "partially_refunded": {"order_refunded": "refunded"},
}
STATUS_STAMP = {
    "paid": "paid_at",
    "shipped": "shipped_at",
    "delivered": "delivered_at",
    "cancelled": "cancelled_at",
    "refunded": "refunded_at",
    "partially_refunded": "refunded_at",
}


def _key_hash(order_id: str, idempotency_key: str) -> str:
    # Scoped to the order: a key means "this change of this order".
    return hashlib.sha256(f"lifecycle:{order_id}:{idempotency_key}".encode()).hexdigest()


def _fingerprint(change: LifecycleIn) -> str:
    # Lifecycle bodies hold no PII (an event type and line numbers): a plain digest will do.
    canonical = json.dumps(change.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class Lifecycle:
    def __init__(self, repo: OrdersRepo, on_stock_change: Callable[[list[str]], None]):
        self.repo = repo
        self.on_stock_change = on_stock_change

    def apply(
        self, order_id: str, change: LifecycleIn, now: datetime, idempotency_key: str | None = None
    ) -> tuple[dict[str, Any], bool]:
        """(the order after the change with the event's id, whether this answers an earlier request)."""
        result = self._apply(order_id, change, now, idempotency_key, only_from=None)
        assert result is not None
        return result

    def cancel_unpaid(self, order_id: str, now: datetime) -> dict[str, Any] | None:
        """Cancel the order if it is still `placed` (not paid); None when it is not (any more)."""
        result = self._apply(order_id, LifecycleIn(type="order_cancelled"), now, None, only_from="placed")
        return result[0] if result else None

    def _apply(
        self, order_id: str, change: LifecycleIn, now: datetime, key: str | None, only_from: str | None
    ) -> tuple[dict[str, Any], bool] | None:
        key_hash = _key_hash(order_id, key) if key is not None else None
        try:
            for attempt in conflict_retries():
                with attempt:
                    return self._attempt(order_id, change, now, key_hash, only_from)
        except Conflict:
            pass
        raise ApiError(409, "conflict", "the order changed concurrently, try again")

    def _attempt(
        self, order_id: str, change: LifecycleIn, now: datetime, key_hash: str | None, only_from: str | None
    ) -> tuple[dict[str, Any], bool] | None:
        # The order first, then the key's record: a change committed after the order was read is
        # then either seen in the record or makes this attempt's transaction fail (and retry).
        order = self.repo.order(order_id)
        if order is None:
            raise ApiError(404, "not_found", "no such order", "order_id")
        if key_hash is not None:
            record = self.repo.idempotency_record(key_hash)
            if record is not None:
                return self._replay(record, change), True
        status = order["status"]
        if only_from is not None and status != only_from:
            return None
        new_status = TRANSITIONS.get(status, {}).get(change.type)
        if new_status is None:
            raise ApiError(409, "invalid_transition", f"an order that is {status} cannot take {change.type}", "type")
        lines = [dict(line) for line in order["lines"]]
        # A refund without lines refunds what is not refunded yet.
        affected = [line for line in lines if line["status"] != "refunded"]
        if change.lines is not None:
            if change.type != "order_refunded":
                raise ApiError(400, "invalid_field", "lines can only be given for a refund", "lines")
            wanted = set(change.lines)
            affected = [line for line in lines if line["line"] in wanted and line["status"] != "refunded"]
            if len(affected) != len(wanted):
                raise ApiError(400, "invalid_field", "unknown or already refunded line", "lines")
        line_status = {"order_cancelled": "cancelled", "order_refunded": "refunded"}.get(change.type)
        if line_status:
            for line in affected:
                line["status"] = line_status
            if change.type == "order_refunded" and any(line["status"] != "refunded" for line in lines):
                new_status = "partially_refunded"
        else:
            for line in lines:
                line["status"] = new_status
        amount = sum(line["amount_cents"] for line in affected) if line_status else order["total_cents"]
        now = max(now, parse_utc(order["updated_at"]))  # an order's history never goes back in time
        at = utc_iso(now)
        repo = self.repo
        actions = [
            repo.set_order_status(order_id, status, new_status, lines, at, STATUS_STAMP.get(new_status, "updated_at"))
        ]
        if line_status:
            sold_at = order["placed_at"]
            for line in affected:
                sk = f"{sold_at}#{order_id}#{line['line']:02d}"
                actions.append(repo.set_sale_status(line["seller_id"], sk, line_status, at))
        if change.type == "order_cancelled":
            actions += [repo.return_stock(line["product_id"], line["qty"]) for line in affected]
        if status == "placed" and order.get("pay_by"):
            actions.append(repo.clear_unpaid(order_id, order["pay_by"]))  # paid or cancelled: not unpaid
        event = order_event(change.type, order, affected, amount, now)
        actions += repo.event(event)
        order.update(status=new_status, lines=lines, updated_at=at)
        result = {**order_view(order), "event_id": event["event_id"]}
        if key_hash is not None:
            answer = {
                "key_hash": key_hash,
                "kind": "lifecycle",
                "order_id": order_id,
                "request_fp": _fingerprint(change),
                "result": json.dumps(result, separators=(",", ":")),
                "created_at": at,
                "expires_at": int(time.time() + IDEMPOTENCY_TTL_S),
            }
            actions.append(repo.put("idempotency", answer, must_be_new="key_hash"))
        try:
            repo.transact(actions)
        except TransactionCancelled as cancelled:
            if (
                "TransactionConflict" in cancelled.reasons
                or cancelled.conditions_failed("orders")  # the status moved since it was read
                or cancelled.conditions_failed("idempotency")  # a retry with the same key got there first
            ):
                raise Conflict() from cancelled  # re-read and re-decide
            if THROTTLED & set(cancelled.reasons):
                raise Unavailable() from cancelled
            raise
        if change.type == "order_cancelled":
            self.on_stock_change([line["product_id"] for line in affected])
        return result, False

    @staticmethod
    def _replay(record: dict[str, Any], change: LifecycleIn) -> dict[str, Any]:
        """The first answer, if this is the same change; the key used for another is a 409."""
        if not hmac.compare_digest(record["request_fp"], _fingerprint(change)):
            raise ApiError(
                409, "idempotency_key_reused", "this Idempotency-Key was used with another change", "Idempotency-Key"
            )
        return json.loads(record["result"])
