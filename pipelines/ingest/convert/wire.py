"""Wire types: what the DynamoDB JSON of each contract table looks like as an Arrow struct (one
field per attribute, the DynamoDB type tags as leaves), the tables' output schemas and key
attributes, the table and day arguments' normalisation, and `read_wire_json` (newline-delimited
DynamoDB JSON -> wire rows, by `pipelines.dynamodb_wire`)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from pipelines.dynamodb_wire import read_lines, tagged
from pipelines.ingest.schemas import RAW_ORDER_EVENTS, RAW_SALES

# -- wire types: what the DynamoDB JSON of each table looks like --------------------------------
_S, _N = tagged("S"), tagged("N")

EVENT_LINE_WIRE = pa.struct(
    [
        ("line", _N),
        ("seller_id", _S),
        ("product_id", _S),
        ("qty", _N),
        ("unit_cents", _N),
        ("amount_cents", _N),
        ("kind", _S),
        ("platform", _S),
    ]
)
EVENTS_WIRE = pa.struct(
    [
        ("event_id", _S),
        ("event_type", _S),
        ("schema_version", _N),
        ("occurred_at", _S),
        ("day_shard", _S),
        ("order_id", _S),
        ("session_id", _S),
        ("customer", _S),
        ("country", _S),
        ("currency", _S),
        ("amount_cents", _N),
        ("lines", pa.struct([("L", pa.list_(pa.struct([("M", EVENT_LINE_WIRE)])))])),
    ]
)
SALES_WIRE = pa.struct(
    [
        ("seller_id", _S),
        ("sk", _S),
        ("day_shard", _S),
        ("sold_at", _S),
        ("order_id", _S),
        ("line", _N),
        ("product_id", _S),
        ("kind", _S),
        ("platform", _S),
        ("genre", _S),
        ("qty", _N),
        ("unit_cents", _N),
        ("amount_cents", _N),
        ("currency", _S),
        ("country", _S),
        ("customer", _S),
        ("status", _S),
        ("updated_at", _S),
    ]
)
WIRE = {"sales": SALES_WIRE, "order_events": EVENTS_WIRE}
OUTPUT = {"sales": RAW_SALES, "order_events": RAW_ORDER_EVENTS}
TIME_ATTRIBUTE = {"sales": "sold_at", "order_events": "occurred_at"}
AMOUNT_ATTRIBUTE = "amount_cents"
_LINE_KEYS = frozenset(EVENT_LINE_WIRE.names)
_KNOWN = {table: frozenset(wire.names) for table, wire in WIRE.items()}


def contract_table(table: str) -> str:
    """The contract table of `table` (`sales`, `order_events`; the lake names `raw_*` work too)."""
    table = table.removeprefix("raw_")
    if table not in WIRE:
        raise ValueError(f"no converter for table {table!r} (known: {sorted(WIRE)})")
    return table


def _day(day: dt.date | str | None) -> dt.date | None:
    if day is None or isinstance(day, dt.date):
        return day
    return dt.date.fromisoformat(day)


def read_wire_json(data: bytes, table: str, root: str | None = None) -> pa.StructArray:
    """Newline-delimited JSON (one object per line, the item under `root` if given) -> wire rows.

    Raises `pa.ArrowInvalid` / `pa.ArrowTypeError` on what pyarrow cannot type.
    """
    return read_lines(data, WIRE[contract_table(table)], root)
