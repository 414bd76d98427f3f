"""Schema-less DynamoDB JSON -> Arrow, for the federated catalog's reads (`pipelines.sql.federated`).

A Query/Scan response body (or a list of items) becomes an Arrow table whose columns and types are
inferred from the items themselves: there is no schema to read them against.

Types, inferred from the items as Athena's connector does (names lower-case): S -> string,
N -> int64 when every value of the column is an integer, else decimal(38, 9) (float64 past that;
the connector itself makes every N a decimal(38, 9) unless a Glue table says otherwise - models
cast numbers explicitly, see docs/sql-engines.md), BOOL -> bool,
B -> binary (e.g. encrypted PII stays ciphertext), SS -> list<string>, NS -> list of numbers,
BS -> list<binary>, L -> list (of the common element type, else JSON text), M -> struct, NULL ->
null; an attribute with different types in different items becomes a string column.

The body is parsed by `pipelines.dynamodb_wire` (the ingest's decoder too) into DynamoDB's typed wire
form (`struct<S, N, BOOL, ...>` per attribute), then decoded column by column; `unify`
concatenates pages whose inferred types differ. Numbers are read by the platform's one rule
(`gitgoods.dynamodb.read_number`: integers exact, others float), a column of them as int64 by
`pipelines.dynamodb_wire.read_int64`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from gitgoods.dynamodb import read_number
from pipelines.dynamodb_wire import present_tags, read_body, read_int64

_DECIMAL_38_9 = r"^-?[0-9]{1,29}(\.[0-9]{1,9})?$"
DECIMAL = pa.decimal128(38, 9)


def _plain(value: Any) -> Any:
    """A DynamoDB-typed value (`{"N": "1"}`, as a dict or a wire row's) as a JSON-able Python value
    (B as base64 text); a wire row's absent tags and attributes (nulls) are left out."""
    if not isinstance(value, dict):
        return value
    tags = present_tags(value)
    if len(tags) != 1:
        return value
    ((tag, inner),) = tags.items()
    if tag == "N":
        return read_number(inner)
    if tag == "NS":
        return [_plain({"N": v}) for v in inner]
    if tag == "L":
        return [_plain(v) for v in inner]
    if tag == "M":
        return {k: _plain(v) for k, v in inner.items() if v is not None}
    if tag == "NULL":
        return None
    return inner  # S, B (base64 text), BOOL, SS, BS


def _json_text(values: Iterable[Any]) -> pa.Array:
    out = []
    for v in values:
        if v is None:
            out.append(None)
        else:
            plain = _plain(v)
            out.append(plain if isinstance(plain, str) else orjson.dumps(plain).decode())
    return pa.array(out, pa.string())


def _numbers(strings: pa.Array) -> pa.Array:
    valid = strings.drop_null() if strings.null_count else strings
    if len(valid) == 0:
        return pa.nulls(len(strings), pa.int64())
    integers = read_int64(strings)
    if integers.null_count == strings.null_count:
        return integers
    if pc.all(pc.match_substring_regex(valid, _DECIMAL_38_9)).as_py():
        return pc.cast(strings, DECIMAL)
    return pc.cast(strings, pa.float64())


def _binary(strings: pa.Array) -> pa.Array:
    return pa.array([None if s is None else base64.b64decode(s) for s in strings.to_pylist()], pa.binary())


def _relist(lists: pa.ListArray, values: pa.Array) -> pa.Array:
    return pa.ListArray.from_arrays(lists.offsets, values, mask=pc.is_null(lists))


def _decode(arr: pa.Array) -> pa.Array:
    """One attribute's column of DynamoDB-typed structs (`struct<S, N, BOOL, ...>`) -> typed values."""
    if pa.types.is_null(arr.type):
        return arr
    if not pa.types.is_struct(arr.type):
        return _json_text(arr.to_pylist())
    tags: dict[str, pa.Array] = {}
    for f in arr.type:
        if f.name == "NULL":
            continue
        child = pc.struct_field(arr, [arr.type.get_field_index(f.name)])
        if child.null_count < len(child):
            tags[f.name] = child
    if not tags:
        return pa.nulls(len(arr))
    if len(tags) > 1:  # the attribute has several types: text, as Athena's connector falls back to
        if set(tags) <= {"S", "N"}:
            return pc.coalesce(tags.get("S", pa.nulls(len(arr), pa.string())), tags.get("N"))
        return _json_text(arr.to_pylist())
    ((tag, child),) = tags.items()
    if tag in ("S", "BOOL"):
        return child
    if tag == "N":
        return _numbers(child)
    if tag == "B":
        return _binary(child)
    if tag == "SS":
        return child
    if tag == "NS":
        return _relist(child, _numbers(child.values))
    if tag == "BS":
        return _relist(child, _binary(child.values))
    if tag == "L":
        values = child.values
        if pa.types.is_null(values.type) or len(values) == 0:
            return _relist(child, pa.nulls(len(values), pa.string()))
        return _relist(child, _decode(values))
    if tag == "M":
        if child.type.num_fields == 0:
            return pc.if_else(pc.is_null(child), pa.scalar(None, pa.string()), pa.scalar("{}"))
        fields = [_decode(pc.struct_field(child, [i])) for i in range(child.type.num_fields)]
        return pa.StructArray.from_arrays(fields, names=[f.name for f in child.type], mask=pc.is_null(child))
    return _json_text(arr.to_pylist())


def _columns(wire: pa.StructArray, key_order: list[str]) -> pa.Table:
    columns: dict[str, pa.Array] = {}
    names = [f.name for f in wire.type]
    order = [n for n in key_order if n in names] + sorted(n for n in names if n not in key_order)
    for name in order:
        lower = name.lower()
        if lower in columns:  # `Price` and `price`: Athena sees one column; keep the first
            continue
        index = wire.type.get_field_index(name)
        columns[lower] = _decode(pc.struct_field(wire, [index]))
    if not columns:
        return pa.table({"_empty": pa.nulls(len(wire))}).drop(["_empty"])
    return pa.table(columns)


def items_to_arrow(items: list[dict[str, Any]], key_order: list[str] | None = None) -> pa.Table:
    """DynamoDB items (typed JSON, as dicts) -> an Arrow table (see the module's type rules)."""
    table, _ = body_to_arrow(orjson.dumps({"Items": items}), key_order)
    return table


def body_to_arrow(
    body: bytes, key_order: list[str] | None = None, items_key: str = "Items"
) -> tuple[pa.Table, dict[str, Any] | None]:
    """A Query/Scan response body -> (Arrow table of its items, LastEvaluatedKey or None).

    The body is parsed by `pipelines.dynamodb_wire.read_body` (in C++, no Python object per item)
    into the typed wire form; what pyarrow cannot type falls back to orjson and per-item Python
    values.
    """
    key_order = key_order or []
    try:
        wire, last_key = read_body(body, items_key=items_key)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        doc = orjson.loads(body)
        return _python_items(doc.get(items_key) or [], key_order), doc.get("LastEvaluatedKey")
    if wire is None:
        return pa.table({}), last_key
    return _columns(wire, key_order), last_key


def _python_items(items: list[dict[str, Any]], key_order: list[str]) -> pa.Table:
    try:
        wire = pa.array(items)
        if pa.types.is_struct(wire.type):
            return _columns(wire, key_order)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    names: list[str] = []
    for item in items:
        names.extend(n for n in item if n not in names)
    order = [n for n in key_order if n in names] + sorted(n for n in names if n not in key_order)
    return pa.table({n.lower(): _json_text([it.get(n) for it in items]) for n in order})


def unify(tables: list[pa.Table]) -> pa.Table:
    """Concatenate pages whose inferred types may differ (int64 + decimal -> decimal, new struct
    fields merged, null columns typed); columns whose types cannot be merged become text."""
    tables = [t for t in tables if t.num_columns] or tables[:1]
    if not tables:
        return pa.table({})
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    names: list[str] = []
    for t in tables:
        names.extend(n for n in t.column_names if n not in names)
    targets: dict[str, pa.DataType | None] = {}
    for n in names:
        fields = [t.schema.field(n) for t in tables if n in t.column_names]
        try:
            targets[n] = pa.unify_schemas([pa.schema([f]) for f in fields], promote_options="permissive").field(n).type
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            targets[n] = None  # no common type: text
    fixed = []
    for t in tables:
        cols = {}
        for n in names:
            if n not in t.column_names:
                continue
            col, target = t.column(n), targets[n]
            if target is None:
                col = pc.cast(col, pa.string()) if _castable_to_string(col.type) else _text(col.to_pylist())
            elif col.type != target:
                col = pc.cast(col, target)
            cols[n] = col
        fixed.append(pa.table(cols))
    return pa.concat_tables(fixed, promote_options="permissive")


def _text(values: Iterable[Any]) -> pa.Array:
    """Decoded values (dicts, lists, bytes...) as JSON text; strings stay as they are."""

    def default(v: Any) -> Any:
        if isinstance(v, bytes):
            return base64.b64encode(v).decode()
        return str(v)

    return pa.array(
        [v if v is None or isinstance(v, str) else orjson.dumps(v, default=default).decode() for v in values],
        pa.string(),
    )


def _castable_to_string(kind: pa.DataType) -> bool:
    return not (pa.types.is_nested(kind) or pa.types.is_binary(kind))


__all__ = ["body_to_arrow", "items_to_arrow", "unify"]
