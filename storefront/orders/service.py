"""Order rules, free of HTTP: placing an order exactly once, reading it back, and its lifecycle
(`storefront.orders.lifecycle`).

Prices and totals come from the catalog, never from the request. An order, its stock
decrements, its sales lines, the customer record and its `order_placed` event (with the event's
outbox entry, see `storefront.events`) are one transaction; the idempotency record is part of it,
so a retry finds either the whole first order or nothing. So is the order's unpaid marker, by which
the sweep (`storefront.orders.sweep`) finds it if it is not paid in time.

The customer record is created by the first order of an e-mail address and never changed by a
later one: orders are guest orders, and whoever knows an address must not be able to overwrite its
owner's name, address or phone. Each order keeps its own sealed shipping name, address and phone.

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
from datetime import UTC, datetime, timedelta
from typing import Any

from gitgoods.contract.ids import new_id, utc_iso
from storefront.common.errors import ApiError, Unavailable
from storefront.common.pii import PiiProtector
from storefront.common.replay import ReplaySeal
from storefront.orders.items import order_event, order_view, sale_line
from storefront.orders.lifecycle import STATUS_STAMP, TRANSITIONS, Lifecycle
from storefront.orders.repo import THROTTLED, Conflict, Failed, OrdersRepo, TransactionCancelled, conflict_retries
from storefront.orders.schemas import LifecycleIn, OrderIn

log = logging.getLogger(__name__)

__all__ = ["STATUS_STAMP", "TRANSITIONS", "OrderService"]  # the state machine, as before the move

IDEMPOTENCY_TTL = timedelta(days=7)
CUSTOMER_PII = ("email", "name", "address", "phone")


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
        self.lifecycle = Lifecycle(repo, on_stock_change)
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
        try:
            for attempt in conflict_retries():
                with attempt:
                    return self._place_once(order, ids, idempotency_key, key_hash, canonical, body_mac, now)
        except Conflict:
            pass
        raise ApiError(409, "conflict", "the order could not be placed now, try again")

    def _place_once(
        self,
        order: OrderIn,
        ids: list[str],
        idempotency_key: str,
        key_hash: str,
        canonical: str,
        body_mac: str,
        now: datetime,
    ) -> tuple[dict[str, Any], bool]:
        lines = self._priced_lines(order, self.repo.products(ids))
        try:
            created = self._write_order(order, lines, idempotency_key, key_hash, canonical, body_mac, now)
        except TransactionCancelled as cancelled:
            # What failed is told by the failed actions themselves (table and key), not by where
            # they happen to stand in the transaction.
            if cancelled.conditions_failed("idempotency"):
                # Another request with the same key won the race: answer as it did.
                record = self.repo.idempotency_record(key_hash)
                if record:
                    return self._replay(record, canonical, idempotency_key, body_mac), True
            stock = cancelled.conditions_failed("catalog")
            short = self._short_line(lines, stock)
            if short is not None:
                raise ApiError(409, "insufficient_stock", "not enough stock left", f"lines.{short}.qty") from None
            if stock or "TransactionConflict" in cancelled.reasons or not cancelled.reasons:
                # Price or availability moved since the read, or another transaction was in the way:
                # read again and check again, which raises the precise error (or succeeds).
                raise Conflict() from cancelled
            if THROTTLED & set(cancelled.reasons):
                raise Unavailable() from cancelled
            raise
        self.on_stock_change(ids)
        return created, False

    @staticmethod
    def _short_line(lines: list[dict[str, Any]], failed: list[Failed]) -> int | None:
        """Index of the first order line whose failed stock decrement found too little stock (as
        DynamoDB returned the product), or None when no failure says so."""
        wanted = {line["product_id"]: line["qty"] for line in lines}
        short = {
            f.key["product_id"]
            for f in failed
            if f.item is not None and f.item.get("stock", 0) < wanted.get(f.key["product_id"], 0)
        }
        return next((i for i, line in enumerate(lines) if line["product_id"] in short), None)

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
            "orders",
            order_id,
            {"shipping_address": customer.address, "shipping_name": customer.name, "shipping_phone": customer.phone},
        )
        # Unpaid orders are cancelled after the TTL by the service's own clock: a backdated order
        # (the simulator's) gets the same time to be paid as any other, from when it was placed.
        pay_by = utc_iso(max(now, datetime.now(UTC)) + self.repo.unpaid_ttl)
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
            "pay_by": pay_by,
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
            self.repo.record_customer(
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
            self.repo.mark_unpaid(order_id, pay_by),
        ]
        self.repo.transact(actions)
        return {**self.view(order_item), "receipt_token": receipt_token}

    # -- reading -----------------------------------------------------------------------------
    view = staticmethod(order_view)

    def get(self, order_id: str, receipt_token: str | None) -> dict[str, Any]:
        order = self.repo.order(order_id, consistent=False) if receipt_token else None
        # Anyone without the order's receipt token gets the same 404 as for a missing order.
        if order is None or not hmac.compare_digest(order["receipt_hash"], _receipt_hash(receipt_token or "")):
            raise ApiError(404, "not_found", "no such order", "order_id")
        return self.view(order)

    # -- lifecycle ---------------------------------------------------------------------------
    def apply(
        self, order_id: str, change: LifecycleIn, now: datetime, idempotency_key: str | None = None
    ) -> tuple[dict[str, Any], bool]:
        """The one internal path for order lifecycle changes and the events they write:
        (the order after the change with the event's id, whether this replays an earlier request)."""
        return self.lifecycle.apply(order_id, change, now, idempotency_key)
