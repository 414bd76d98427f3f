"""Order rules, free of HTTP: placing an order exactly once, reading it back, and its lifecycle.

Prices and totals come from the catalog, never from the request. An order, its stock
decrements, its sales lines, the customer record and its `order_placed` event (with the event's
outbox entry, see `storefront.events`) are one transaction; the idempotency record is part of it,
so a retry finds either the whole first order or nothing.

A replay is answered without KMS when the service has a replay key (`storefront.common.replay`):
the body is checked against a fingerprint and the receipt token opened with keys derived from the
Idempotency-Key and that server key, and the answer is built from the order's non-PII fields.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from gitgoods.contract.ids import new_id, parse_utc, utc_iso
from storefront.common.errors import ApiError, Unavailable
from storefront.common.pii import PiiProtector
from storefront.common.replay import ReplaySeal
from storefront.orders.items import order_event, sale_line
from storefront.orders.repo import OrdersRepo, TransactionCancelled
from storefront.orders.schemas import LifecycleIn, OrderIn

log = logging.getLogger(__name__)

IDEMPOTENCY_TTL = timedelta(days=7)
MAX_CONFLICT_RETRIES = 8
# Cancellation reasons that mean DynamoDB is throttling, not that the order is wrong.
THROTTLED = {"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
CUSTOMER_PII = ("email", "name", "address", "phone")

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


def _receipt_hash(token: str) -> str:
    return hashlib.sha256(("receipt:" + token).encode()).hexdigest()


def _key_hash(idempotency_key: str) -> str:
    return hashlib.sha256(("idem:" + idempotency_key).encode()).hexdigest()


def _canonical(order: OrderIn) -> str:
    return json.dumps(order.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


class OrderService:
    def __init__(
        self,
        repo: OrdersRepo,
        pii: PiiProtector,
        on_stock_change: Callable[[list[str]], None] = lambda ids: None,
        replay: ReplaySeal | None = None,
    ):
        self.repo = repo
        self.pii = pii
        self.on_stock_change = on_stock_change
        # Without it (batch users) replays take the KMS path; the HTTP service sets it.
        self.replay = replay

    def use_request_clients(self, bound: Callable[[Any], Any]) -> None:
        """Serve requests: DynamoDB and KMS through clients bounded by `bound` (the deadline)."""
        self.repo.ddb = bound(self.repo.ddb)
        self.pii.use_kms(bound(self.pii.kms))

    # -- placing -----------------------------------------------------------------------------
    def _body_mac(self, canonical: str) -> str:
        # Keyed (KMS HMAC) so that the stored fingerprint of a body full of PII reveals nothing.
        return self.pii.email_lookup("body:" + hashlib.sha256(canonical.encode()).hexdigest())

    def _replay(
        self, record: dict[str, Any], canonical: str, idempotency_key: str, body_mac: str | None = None
    ) -> dict[str, Any]:
        token = self._replay_token(record, canonical, idempotency_key, body_mac)
        if token is None:
            raise ApiError(
                409,
                "idempotency_key_reused",
                "this Idempotency-Key was used with another body",
                "Idempotency-Key",
            )
        order = self.repo.order(record["order_id"])
        if order is None:  # cannot happen: both were written in one transaction
            raise RuntimeError("idempotency record without its order")
        # The answer is the order's non-PII fields: nothing to decrypt.
        return {**self.view(order), "receipt_token": token}

    def _replay_token(
        self, record: dict[str, Any], canonical: str, idempotency_key: str, body_mac: str | None
    ) -> str | None:
        """The first answer's receipt token if the body is the first one's, else None."""
        seal = self.replay
        if seal is not None and record.get("replay_kid") == seal.kid:
            # No KMS: fingerprint and token are keyed by the Idempotency-Key and the replay key.
            if not hmac.compare_digest(record["replay_fp"], seal.fingerprint(idempotency_key, canonical)):
                return None
            return seal.open_token(idempotency_key, record["key_hash"], bytes(record["replay_token"]))
        # Written before replay keys existed, or under another one: the KMS way.
        if not hmac.compare_digest(record["body_mac"], body_mac or self._body_mac(canonical)):
            return None
        return self.pii.open("idempotency", record["key_hash"], record, ["receipt_token"])["receipt_token"]

    def place(self, order: OrderIn, idempotency_key: str, now: datetime) -> tuple[dict[str, Any], bool]:
        """Returns (the order as created, whether this was a replay of an earlier request)."""
        key_hash = _key_hash(idempotency_key)
        canonical = _canonical(order)
        existing = self.repo.idempotency_record(key_hash)
        if existing:
            return self._replay(existing, canonical, idempotency_key), True

        ids = [line.product_id for line in order.lines]
        if len(set(ids)) != len(ids):
            index = next(i for i, pid in enumerate(ids) if ids.index(pid) != i)
            raise ApiError(
                400, "duplicate_line", "each product may appear on one line only", f"lines.{index}.product_id"
            )

        body_mac = self._body_mac(canonical)
        for attempt in range(MAX_CONFLICT_RETRIES):
            products = self.repo.products(ids)
            lines = self._priced_lines(order, products)
            try:
                created = self._write_order(order, lines, idempotency_key, key_hash, canonical, body_mac, now)
                self.on_stock_change(ids)
                return created, False
            except TransactionCancelled as cancelled:
                reasons = cancelled.reasons
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    # Another request with the same key won the race: answer as it did.
                    record = self.repo.idempotency_record(key_hash)
                    if record:
                        return self._replay(record, canonical, idempotency_key, body_mac), True
                stock_fail = [i for i, r in enumerate(reasons[3 : 3 + len(lines)]) if r == "ConditionalCheckFailed"]
                if stock_fail:
                    # Stock, price or availability moved since the read: re-read and re-check,
                    # which raises the precise error (or succeeds if it was the price).
                    continue
                if "TransactionConflict" in reasons or not reasons:
                    time.sleep(min(0.01 * 2**attempt, 0.3) * (0.5 + secrets.randbelow(100) / 100))
                    continue
                if THROTTLED & set(reasons):
                    raise Unavailable() from cancelled
                raise
        raise ApiError(409, "conflict", "the order could not be placed now, try again")

    def _priced_lines(self, order: OrderIn, products: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        lines = []
        for i, line in enumerate(order.lines, start=1):
            field = f"lines.{i - 1}.product_id"
            product = products.get(line.product_id)
            if product is None or not product.get("active", False):
                raise ApiError(400, "unknown_product", "no such product on sale", field)
            if product["currency"] != order.currency:
                raise ApiError(
                    400,
                    "currency_mismatch",
                    f"this product is sold in {product['currency']}, not {order.currency}",
                    "currency",
                )
            if product["stock"] < line.qty:
                raise ApiError(409, "insufficient_stock", "not enough stock left", f"lines.{i - 1}.qty")
            lines.append(
                {
                    "line": i,
                    "product_id": line.product_id,
                    "seller_id": product["seller_id"],
                    "title": product["title"],
                    "kind": product["kind"],
                    "platform": product["platform"],
                    "genre": product["genre"],
                    "qty": line.qty,
                    "unit_cents": product["price_cents"],
                    "amount_cents": product["price_cents"] * line.qty,
                    "status": "placed",
                }
            )
        return lines

    def _write_order(
        self,
        order: OrderIn,
        lines: list[dict[str, Any]],
        idempotency_key: str,
        key_hash: str,
        canonical: str,
        body_mac: str,
        now: datetime,
    ) -> dict[str, Any]:
        at = utc_iso(now)
        order_id = new_id("ord", now)
        customer = order.customer
        email_hmac = self.pii.email_lookup(str(customer.email))
        customer_id = self.pii.customer_id_for_lookup(email_hmac)
        pseudonym = self.pii.pseudonym(customer_id)
        receipt_token = secrets.token_urlsafe(24)
        total = sum(line["amount_cents"] for line in lines)

        customer_fields = self.pii.seal("customers", customer_id, {f: str(getattr(customer, f)) for f in CUSTOMER_PII})
        order_pii = self.pii.seal(
            "orders", order_id, {"shipping_address": customer.address, "shipping_name": customer.name}
        )
        idem_pii = self.pii.seal("idempotency", key_hash, {"receipt_token": receipt_token})
        replay_fields: dict[str, Any] = {}
        if self.replay is not None:
            replay_fields = {
                "replay_kid": self.replay.kid,
                "replay_fp": self.replay.fingerprint(idempotency_key, canonical),
                "replay_token": self.replay.seal_token(idempotency_key, key_hash, receipt_token),
            }

        order_item = {
            "order_id": order_id,
            "customer_id": customer_id,
            "customer": pseudonym,
            "status": "placed",
            "currency": order.currency,
            "country": customer.country,
            "total_cents": total,
            "lines": lines,
            "idempotency_key_hash": key_hash,
            "receipt_hash": _receipt_hash(receipt_token),
            "created_at": at,
            "updated_at": at,
            "placed_at": at,
            **order_pii,
        }
        event = order_event("order_placed", order_item, lines, total, now)
        actions = [
            self.repo.put(
                "idempotency",
                {
                    "key_hash": key_hash,
                    "body_mac": body_mac,
                    "order_id": order_id,
                    "created_at": at,
                    "expires_at": int(time.time() + IDEMPOTENCY_TTL.total_seconds()),
                    **idem_pii,
                    **replay_fields,
                },
                must_be_new="key_hash",
            ),
            self.repo.put("orders", order_item, must_be_new="order_id"),
            self.repo.upsert_customer(
                customer_id,
                {
                    **{f: customer_fields[f] for f in CUSTOMER_PII},
                    "pii_key": customer_fields["pii_key"],
                    "email_hmac": email_hmac,
                    "country": customer.country,
                    "customer": pseudonym,
                },
                at,
            ),
            *[self.repo.take_stock(line["product_id"], line["qty"], line["unit_cents"]) for line in lines],
            *[self.repo.put("sales", sale_line(order_item, line, now)) for line in lines],
            *self.repo.event(event),
        ]
        self.repo.transact(actions)
        return {**self.view(order_item), "receipt_token": receipt_token}

    # -- reading -----------------------------------------------------------------------------
    @staticmethod
    def view(order: dict[str, Any]) -> dict[str, Any]:
        return {
            "order_id": order["order_id"],
            "status": order["status"],
            "currency": order["currency"],
            "total_cents": order["total_cents"],
            "lines": [
                {
                    k: line[k]
                    for k in ("line", "product_id", "seller_id", "title", "qty", "unit_cents", "amount_cents", "status")
                }
                for line in order["lines"]
            ],
            "created_at": order["created_at"],
            "updated_at": order["updated_at"],
        }

    def get(self, order_id: str, receipt_token: str | None) -> dict[str, Any]:
        order = self.repo.order(order_id, consistent=False) if receipt_token else None
        # Anyone without the order's receipt token gets the same 404 as for a missing order.
        if order is None or not hmac.compare_digest(order["receipt_hash"], _receipt_hash(receipt_token or "")):
            raise ApiError(404, "not_found", "no such order", "order_id")
        return self.view(order)

    # -- lifecycle ---------------------------------------------------------------------------
    def apply(self, order_id: str, change: LifecycleIn, now: datetime) -> dict[str, Any]:
        """The one internal path for order lifecycle changes and the events they write."""
        for attempt in range(MAX_CONFLICT_RETRIES):
            order = self.repo.order(order_id)
            if order is None:
                raise ApiError(404, "not_found", "no such order", "order_id")
            status = order["status"]
            new_status = TRANSITIONS.get(status, {}).get(change.type)
            if new_status is None:
                raise ApiError(
                    409, "invalid_transition", f"an order that is {status} cannot take {change.type}", "type"
                )
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
            actions = [
                self.repo.set_order_status(
                    order_id, status, new_status, lines, at, STATUS_STAMP.get(new_status, "updated_at")
                )
            ]
            if line_status:
                sold_at = order["placed_at"]
                for line in affected:
                    sk = f"{sold_at}#{order_id}#{line['line']:02d}"
                    actions.append(self.repo.set_sale_status(line["seller_id"], sk, line_status, at))
            if change.type == "order_cancelled":
                actions += [self.repo.return_stock(line["product_id"], line["qty"]) for line in affected]
            event = order_event(change.type, order, affected, amount, now)
            actions += self.repo.event(event)
            try:
                self.repo.transact(actions)
            except TransactionCancelled as cancelled:
                if "TransactionConflict" in cancelled.reasons or cancelled.reasons[:1] == ["ConditionalCheckFailed"]:
                    time.sleep(min(0.01 * 2**attempt, 0.3))
                    continue  # someone else changed the order: re-read and re-decide
                if THROTTLED & set(cancelled.reasons):
                    raise Unavailable() from cancelled
                raise
            if change.type == "order_cancelled":
                self.on_stock_change([line["product_id"] for line in affected])
            order.update(status=new_status, lines=lines, updated_at=at)
            return {**self.view(order), "event_id": event["event_id"]}
        raise ApiError(409, "conflict", "the order changed concurrently, try again")
