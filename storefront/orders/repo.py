"""Data access for orders: the order transaction, idempotency records and lifecycle writes.

Everything an order changes is written by one `TransactWriteItems`, so either all of it is
visible or none of it is.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from gitgoods.contract.tables import TABLES, UNPAID_SHARDS
from gitgoods.settings import Settings
from storefront.common.ddb import from_item, to_attr, to_item
from storefront.events.outbox import outbox_entry

MAX_CONFLICT_RETRIES = 8
# Cancellation reasons that mean DynamoDB is throttling, not that the order is wrong.
THROTTLED = {"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}


class Conflict(Exception):
    """A transaction lost a race (or a condition moved under it): read again and decide again."""


def conflict_retries() -> Retrying:
    """Attempts for a read-decide-write cycle that raises `Conflict` when it lost a race: up to
    MAX_CONFLICT_RETRIES, with jittered exponential backoff (10 ms growing to 300 ms); the last
    `Conflict` is raised again."""
    return Retrying(
        stop=stop_after_attempt(MAX_CONFLICT_RETRIES),
        wait=wait_random_exponential(multiplier=0.01, max=0.3),
        retry=retry_if_exception_type(Conflict),
        reraise=True,
    )


@dataclass(frozen=True)
class Failed:
    """One action of a cancelled transaction that DynamoDB named as a cause, identified by the
    action itself (its table and key), never by where it happened to be in the list."""

    table: str  # the contract's name (`catalog`), not the physical one
    key: dict[str, Any]
    code: str  # ConditionalCheckFailed, TransactionConflict, ...
    item: dict[str, Any] | None = None  # the item as it was, when the action asked for it


@dataclass
class TransactionCancelled(Exception):
    reasons: list[str]
    failed: list[Failed] = field(default_factory=list)

    def __str__(self) -> str:
        return f"transaction cancelled: {self.reasons}"

    def conditions_failed(self, table: str) -> list[Failed]:
        """The actions on `table` whose condition did not hold."""
        return [f for f in self.failed if f.table == table and f.code == "ConditionalCheckFailed"]


class OrdersRepo:
    def __init__(self, ddb: Any, settings: Settings):
        self.ddb = ddb
        # DynamoDB Local acknowledges a TransactWriteItems before it is on disk: measured, a kill -9
        # right after loses the last transaction, while any later request (even ListTables) first
        # makes it durable. So on the emulator a transaction is followed by such a request before
        # the order is acknowledged. DynamoDB itself needs none of this.
        self.commit_barrier = settings.env == "local"
        # How long an order may stay unpaid before the sweep cancels it.
        self.unpaid_ttl = timedelta(seconds=settings.unpaid_order_ttl_s)
        self.t = {
            n: settings.table(n)
            for n in (
                "catalog",
                "customers",
                "orders",
                "idempotency",
                "sales",
                "order_events",
                "order_outbox",
                "unpaid_orders",
            )
        }
        self.contract_name = {physical: name for name, physical in self.t.items()}

    # -- reads -----------------------------------------------------------------------------
    def products(self, product_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Current products, read strongly consistent (prices and stock must be exact)."""
        keys = [{"product_id": {"S": pid}} for pid in dict.fromkeys(product_ids)]
        found: dict[str, dict[str, Any]] = {}
        request = {self.t["catalog"]: {"Keys": keys, "ConsistentRead": True}}
        while request:
            resp = self.ddb.batch_get_item(RequestItems=request)
            for raw in resp["Responses"].get(self.t["catalog"], []):
                item = from_item(raw)
                found[item["product_id"]] = item
            request = resp.get("UnprocessedKeys") or {}
        return found

    def idempotency_record(self, key_hash: str) -> dict[str, Any] | None:
        resp = self.ddb.get_item(
            TableName=self.t["idempotency"], Key={"key_hash": {"S": key_hash}}, ConsistentRead=True
        )
        return from_item(resp["Item"]) if "Item" in resp else None

    def order(self, order_id: str, consistent: bool = True) -> dict[str, Any] | None:
        resp = self.ddb.get_item(
            TableName=self.t["orders"], Key={"order_id": {"S": order_id}}, ConsistentRead=consistent
        )
        return from_item(resp["Item"]) if "Item" in resp else None

    # -- writes ----------------------------------------------------------------------------
    def transact(self, actions: list[dict[str, Any]], token: str | None = None) -> None:
        kwargs: dict[str, Any] = {"TransactItems": actions}
        if token:
            kwargs["ClientRequestToken"] = token
        try:
            self.ddb.transact_write_items(**kwargs)
            if self.commit_barrier:
                self.ddb.list_tables(Limit=1)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                raw = exc.response.get("CancellationReasons", [])
                reasons = [r.get("Code", "None") for r in raw]
                # DynamoDB answers one reason per action, in the order they were sent: pair each
                # with the action it belongs to, whose table and key then say what failed.
                failed = [
                    self._failed(action, reason)
                    for action, reason in zip(actions, raw, strict=False)
                    if reason.get("Code", "None") != "None"
                ]
                raise TransactionCancelled(reasons, failed) from exc
            raise

    def _failed(self, action: dict[str, Any], reason: dict[str, Any]) -> Failed:
        ((_, request),) = action.items()
        table = self.contract_name.get(request["TableName"], request["TableName"])
        key = request.get("Key")
        if key is None:  # a Put: its key is in the item
            definition = TABLES[table]
            key = {k: request["Item"][k] for k in (definition.hash_key, definition.range_key) if k}
        old = reason.get("Item")
        return Failed(table, from_item(key), reason.get("Code", "None"), from_item(old) if old else None)

    def put(self, table: str, values: dict[str, Any], must_be_new: str | None = None) -> dict[str, Any]:
        action: dict[str, Any] = {"TableName": self.t[table], "Item": to_item(values)}
        if must_be_new:
            action["ConditionExpression"] = "attribute_not_exists(#k)"
            action["ExpressionAttributeNames"] = {"#k": must_be_new}
        return {"Put": action}

    def event(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """An order event and its outbox entry: in the same transaction, so an event is never
        written without being queued for the broker, nor queued without being written."""
        return [
            self.put("order_events", event, must_be_new="event_id"),
            self.put("order_outbox", outbox_entry(event), must_be_new="event_id"),
        ]

    def take_stock(self, product_id: str, qty: int, price_cents: int) -> dict[str, Any]:
        """Decrement stock only if enough is left and the price is still the one charged. When the
        condition fails, DynamoDB returns the product as it was, so the caller sees why."""
        return {
            "Update": {
                "TableName": self.t["catalog"],
                "Key": {"product_id": {"S": product_id}},
                "UpdateExpression": "SET stock = stock - :q",
                "ConditionExpression": "stock >= :q AND active = :true AND price_cents = :p",
                "ExpressionAttributeValues": {
                    ":q": to_attr(qty),
                    ":p": to_attr(price_cents),
                    ":true": {"BOOL": True},
                },
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def return_stock(self, product_id: str, qty: int) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.t["catalog"],
                "Key": {"product_id": {"S": product_id}},
                "UpdateExpression": "SET stock = stock + :q",
                "ConditionExpression": "attribute_exists(product_id)",
                "ExpressionAttributeValues": {":q": to_attr(qty)},
            }
        }

    def record_customer(self, customer_id: str, fields: dict[str, Any], at: str) -> dict[str, Any]:
        """Count an order for the customer, creating the record with `fields` if it is new.

        Orders are guest orders (whoever knows an e-mail address can order under it), so an
        existing customer's fields (the sealed e-mail, name, address and phone, the data key that
        opens them, the country) are never replaced by a later order: `if_not_exists` on each. The
        order keeps its own sealed shipping details."""
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": to_attr(v) for i, v in enumerate(fields.values())}
        sets = [f"#f{i} = if_not_exists(#f{i}, :v{i})" for i in range(len(fields))]
        sets += [
            "first_order_at = if_not_exists(first_order_at, :at)",
            "last_order_at = :at",
            "order_count = if_not_exists(order_count, :zero) + :one",
        ]
        return {
            "Update": {
                "TableName": self.t["customers"],
                "Key": {"customer_id": {"S": customer_id}},
                "UpdateExpression": "SET " + ", ".join(sets),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {
                    **values,
                    ":at": to_attr(at),
                    ":zero": to_attr(0),
                    ":one": to_attr(1),
                },
            }
        }

    def set_order_status(
        self, order_id: str, expected: str, status: str, lines: list[dict[str, Any]], at: str, stamp: str
    ) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.t["orders"],
                "Key": {"order_id": {"S": order_id}},
                "UpdateExpression": "SET #s = :s, #l = :l, updated_at = :at, #stamp = :at",
                "ConditionExpression": "#s = :expected",
                "ExpressionAttributeNames": {"#s": "status", "#l": "lines", "#stamp": stamp},
                "ExpressionAttributeValues": {
                    ":s": to_attr(status),
                    ":l": to_attr(lines),
                    ":at": to_attr(at),
                    ":expected": to_attr(expected),
                },
            }
        }

    def set_sale_status(self, seller_id: str, sk: str, status: str, at: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.t["sales"],
                "Key": {"seller_id": {"S": seller_id}, "sk": {"S": sk}},
                "UpdateExpression": "SET #s = :s, updated_at = :at",
                "ConditionExpression": "attribute_exists(sk)",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":s": to_attr(status), ":at": to_attr(at)},
            }
        }

    # -- unpaid orders ---------------------------------------------------------------------
    @staticmethod
    def unpaid_key(order_id: str, pay_by: str) -> dict[str, Any]:
        # crc32, not hash(): the same shard in every process.
        shard = f"unpaid#{zlib.crc32(order_id.encode()) % UNPAID_SHARDS}"
        return {"shard": {"S": shard}, "due": {"S": f"{pay_by}#{order_id}"}}

    def mark_unpaid(self, order_id: str, pay_by: str) -> dict[str, Any]:
        """The order's marker in `unpaid_orders`, written with the order."""
        item = {**self.unpaid_key(order_id, pay_by), "order_id": {"S": order_id}}
        return {"Put": {"TableName": self.t["unpaid_orders"], "Item": item}}

    def clear_unpaid(self, order_id: str, pay_by: str) -> dict[str, Any]:
        """Removes the marker, in the transaction that pays or cancels the order."""
        return {"Delete": {"TableName": self.t["unpaid_orders"], "Key": self.unpaid_key(order_id, pay_by)}}

    def overdue(self, shard: int, before: str, limit: int) -> list[tuple[str, str]]:
        """(pay-by time, order id) of up to `limit` markers of one shard due before `before`,
        earliest first: one strongly consistent key Query."""
        resp = self.ddb.query(
            TableName=self.t["unpaid_orders"],
            KeyConditionExpression="#s = :s AND #d < :before",
            ExpressionAttributeNames={"#s": "shard", "#d": "due"},
            ExpressionAttributeValues={":s": {"S": f"unpaid#{shard}"}, ":before": {"S": before}},
            ConsistentRead=True,
            Limit=limit,
        )
        found = []
        for item in resp["Items"]:
            pay_by, _, order_id = item["due"]["S"].partition("#")
            found.append((pay_by, order_id))
        return found
