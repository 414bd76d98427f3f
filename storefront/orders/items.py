"""The contract items an order writes besides itself: one sales line per order line (the `sales`
table, keyed by seller for the federated per-seller reads) and its events (`order_events`, with the
sharded day key the ingest reads by). Pure functions of the order: no I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gitgoods.contract.events import SCHEMA_VERSION
from gitgoods.contract.ids import day_shard, new_id, utc_iso


def sale_line(order: dict[str, Any], line: dict[str, Any], sold_at: datetime) -> dict[str, Any]:
    at = utc_iso(sold_at)
    return {
        "seller_id": line["seller_id"],
        "sk": f"{at}#{order['order_id']}#{line['line']:02d}",
        "day_shard": day_shard(sold_at, order["order_id"]),
        "sold_at": at,
        "order_id": order["order_id"],
        "line": line["line"],
        "product_id": line["product_id"],
        "kind": line["kind"],
        "platform": line["platform"],
        "genre": line["genre"],
        "qty": line["qty"],
        "unit_cents": line["unit_cents"],
        "amount_cents": line["amount_cents"],
        "currency": order["currency"],
        "country": order["country"],
        "customer": order["customer"],
        "status": "placed",
        "updated_at": at,
    }


LINE_FIELDS = ("line", "product_id", "seller_id", "title", "qty", "unit_cents", "amount_cents", "status")


def order_view(order: dict[str, Any]) -> dict[str, Any]:
    """The order as the API answers it: its non-PII fields only (`OrderOut`)."""
    return {
        "order_id": order["order_id"],
        "status": order["status"],
        "currency": order["currency"],
        "total_cents": order["total_cents"],
        "lines": [{k: line[k] for k in LINE_FIELDS} for line in order["lines"]],
        "created_at": order["created_at"],
        "updated_at": order["updated_at"],
    }


def order_event(
    event_type: str, order: dict[str, Any], lines: list[dict[str, Any]], amount: int, at: datetime
) -> dict[str, Any]:
    event_id = new_id("evt", at)
    return {
        "event_id": event_id,
        "event_type": event_type,
        "schema_version": SCHEMA_VERSION,
        "occurred_at": utc_iso(at),
        "day_shard": day_shard(at, event_id),
        "order_id": order["order_id"],
        "customer": order["customer"],
        "country": order["country"],
        "currency": order["currency"],
        "amount_cents": amount,
        "lines": [
            {
                "line": line["line"],
                "seller_id": line["seller_id"],
                "product_id": line["product_id"],
                "qty": line["qty"],
                "unit_cents": line["unit_cents"],
                "amount_cents": line["amount_cents"],
                "kind": line["kind"],
                "platform": line["platform"],
            }
            for line in lines
        ],
    }
