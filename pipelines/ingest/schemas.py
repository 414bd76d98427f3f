"""Arrow schemas of the raw lake tables: the typed form of the contract's DynamoDB items.

Money is int64 minor units, times are UTC timestamps (ms), nested event lines a typed list of
structs. The partition column `dt` (string `YYYY-MM-DD`, as Athena keeps it) is not stored in
the files: it is the folder name and the catalog's partition key.
"""

from __future__ import annotations

import pyarrow as pa

UTC_MS = pa.timestamp("ms", tz="UTC")

EVENT_LINE = pa.struct(
    [
        pa.field("line", pa.int32(), nullable=False),
        pa.field("seller_id", pa.string(), nullable=False),
        pa.field("product_id", pa.string(), nullable=False),
        pa.field("qty", pa.int32(), nullable=False),
        pa.field("unit_cents", pa.int64(), nullable=False),
        pa.field("amount_cents", pa.int64(), nullable=False),
        pa.field("kind", pa.string()),
        pa.field("platform", pa.string()),
    ]
)

RAW_SALES = pa.schema(
    [
        pa.field("seller_id", pa.string(), nullable=False),
        pa.field("sk", pa.string(), nullable=False),
        pa.field("order_id", pa.string(), nullable=False),
        pa.field("line", pa.int32(), nullable=False),
        pa.field("sold_at", UTC_MS, nullable=False),
        pa.field("product_id", pa.string(), nullable=False),
        pa.field("kind", pa.string()),
        pa.field("platform", pa.string()),
        pa.field("genre", pa.string()),
        pa.field("qty", pa.int32(), nullable=False),
        pa.field("unit_cents", pa.int64(), nullable=False),
        pa.field("amount_cents", pa.int64(), nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("country", pa.string()),
        pa.field("customer", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("updated_at", UTC_MS),
        pa.field("day_shard", pa.string(), nullable=False),
    ]
)

RAW_ORDER_EVENTS = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("event_type", pa.string(), nullable=False),
        pa.field("schema_version", pa.int32(), nullable=False),
        pa.field("occurred_at", UTC_MS, nullable=False),
        pa.field("order_id", pa.string()),
        pa.field("session_id", pa.string()),
        pa.field("customer", pa.string(), nullable=False),
        pa.field("country", pa.string()),
        pa.field("currency", pa.string()),
        pa.field("amount_cents", pa.int64()),
        pa.field("lines", pa.list_(EVENT_LINE)),
        pa.field("day_shard", pa.string(), nullable=False),
    ]
)

# Items that break the contract: kept, never dropped, with the reason.
QUARANTINE = pa.schema(
    [
        pa.field("source_table", pa.string(), nullable=False),
        pa.field("item_key", pa.string()),
        pa.field("reasons", pa.list_(pa.string()), nullable=False),
        pa.field("amount_cents", pa.int64()),  # when readable: reconciliation sums clean + quarantined
        pa.field("item_json", pa.string(), nullable=False),  # the DynamoDB JSON item as received
    ]
)

# lake table name -> (DynamoDB contract table, schema, the amount column reconciled)
RAW_TABLES = {
    "raw_sales": ("sales", RAW_SALES, "amount_cents"),
    "raw_order_events": ("order_events", RAW_ORDER_EVENTS, "amount_cents"),
}


def quarantine_table(source: str) -> str:
    """The quarantine table of a contract table: `quarantine/<contract table>/dt=...`."""
    return source
