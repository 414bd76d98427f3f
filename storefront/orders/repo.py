"""Data access for orders: the order transaction, idempotency records and lifecycle writes.

Everything an order changes is written by one `TransactWriteItems`, so either all of it is
visible or none of it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from gitgoods.settings import Settings
from storefront.common.ddb import from_item, to_attr, to_item
from storefront.events.outbox import outbox_entry


@dataclass
class TransactionCancelled(Exception):
    reasons: list[str]

    def __str__(self) -> str:
        return f"transaction cancelled: {self.reasons}"


class OrdersRepo:
    def __init__(self, ddb: Any, settings: Settings):
        self.ddb = ddb
        # DynamoDB Local acknowledges a TransactWriteItems before it is on disk: measured, a kill -9
        # right after loses the last transaction, while any later request (even ListTables) first
        # makes it durable. So on the emulator a transaction is followed by such a request before
        # the order is acknowledged. DynamoDB itself needs none of this.
        self.commit_barrier = settings.env == "local"
        self.t = {
            n: settings.table(n)
            for n in ("catalog", "customers", "orders", "idempotency", "sales", "order_events", "order_outbox")
        }

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
                reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
                raise TransactionCancelled(reasons) from exc
            raise

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
        """Decrement stock only if enough is left and the price is still the one charged."""
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

    def upsert_customer(self, customer_id: str, fields: dict[str, Any], at: str) -> dict[str, Any]:
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": to_attr(v) for i, v in enumerate(fields.values())}
        sets = [f"#f{i} = :v{i}" for i in range(len(fields))]
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
