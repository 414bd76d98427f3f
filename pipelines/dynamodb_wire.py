"""DynamoDB's JSON wire format -> Arrow: the one decoder behind the ingest and the federated reads.

A Query/Scan response body (`read_body`) or the lines of an export file (`read_lines`) are parsed
by `pyarrow.json`, in C++ and with no Python object per item, into *wire rows*: a `StructArray`
with one field per attribute, each a struct of DynamoDB's type tags. `{"qty": {"N": "2"}}` becomes
`qty: struct<N: string>`; an `M` is a struct of such attributes, an `L` a list of them, `SS`, `NS`
and `BS` lists of text, `BOOL` a bool, `B` its base64 text. Numbers stay text.

The item type is either given (the ingest's contract wire types, `pipelines.ingest.convert.wire`:
attributes beyond it are added as inferred fields) or inferred from the items (the federated
catalog has no schema). What each does on top of the wire rows is its own business: the ingest
checks every tag column against the contract and types it (`pipelines.ingest.convert`), the
federated reads infer column types as Athena's connector does (`pipelines.sql.federated_arrow`).

`read_int64` reads a column of number texts by the rule of `gitgoods.dynamodb.read_number` with
`only_int64`: an integer of at most `INT64_DIGITS` digits as int64, anything else null.

Both parsers raise `pa.ArrowInvalid` / `pa.ArrowTypeError` / `pa.ArrowNotImplementedError` on what
pyarrow cannot type (a tag holding a number, a list where a map belongs...): callers fall back to
`orjson` and read those items one by one.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from gitgoods.dynamodb import INT64_DIGITS


def tagged(tag: str) -> pa.DataType:
    """The wire type of an attribute that always has one scalar type (`tagged("S")`)."""
    return pa.struct([(tag, pa.string())])


def read_body(
    body: bytes, item_type: pa.DataType | None = None, items_key: str = "Items"
) -> tuple[pa.StructArray | None, dict[str, Any] | None]:
    """A Query/Scan response body -> (its items as wire rows, LastEvaluatedKey or None).

    The items are None when the body has no list of items (no `items_key`, or a list of no
    objects); with `item_type`, an empty list gives empty wire rows of that type.
    """
    parsed = pj.read_json(
        pa.BufferReader(body),  # zero-copy: the body is not copied into a Python stream
        read_options=pj.ReadOptions(use_threads=False, block_size=len(body) + 64),  # one block
        parse_options=pj.ParseOptions(
            explicit_schema=None if item_type is None else pa.schema([(items_key, pa.list_(item_type))]),
            unexpected_field_behavior="infer",
            newlines_in_values=b"\n" in body,
        ),
    )
    if parsed.num_rows != 1:
        raise ValueError(f"a Query response is one JSON object, got {parsed.num_rows}")
    last_key = None
    if "LastEvaluatedKey" in parsed.column_names:
        last_key = _last_key(parsed.column("LastEvaluatedKey").chunk(0)[0].as_py())
    if items_key not in parsed.column_names:
        return None, last_key
    items = parsed.column(items_key).chunk(0)
    if items.null_count or not pa.types.is_list(items.type) or not pa.types.is_struct(items.type.value_type):
        return None, last_key
    return items.flatten(), last_key


def _last_key(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if not value:
        return None
    return {k: present_tags(tags) for k, tags in value.items() if tags is not None}


def present_tags(value: dict[str, Any]) -> dict[str, Any]:
    """A wire value as Python (`{"S": "a", "N": None}`) as DynamoDB sent it (`{"S": "a"}`): without
    the tags pyarrow filled with nulls because another item has them."""
    return {t: v for t, v in value.items() if v is not None}


def read_lines(data: bytes, item_type: pa.DataType, root: str | None = None) -> pa.StructArray:
    """Newline-delimited JSON (one object per line, the item under `root` if given) -> wire rows."""
    columns = [(root, item_type)] if root else list(zip(item_type.names, item_type, strict=True))
    parsed = pj.read_json(
        pa.BufferReader(data),
        # 1 MB blocks parse in parallel (an item is far smaller than a block)
        read_options=pj.ReadOptions(use_threads=True, block_size=1 << 20),
        parse_options=pj.ParseOptions(explicit_schema=pa.schema(columns), unexpected_field_behavior="infer"),
    )
    if root:
        col = parsed.column(root).combine_chunks()
        if col.null_count:
            raise pa.ArrowInvalid(f"a line has no {root!r}")
        return col
    return pa.StructArray.from_arrays([c.combine_chunks() for c in parsed.columns], fields=list(parsed.schema))


def is_int64_digits(values: pa.Array) -> pa.Array:
    """Whether each text is 1 to `INT64_DIGITS` ASCII digits (no sign): two cheap kernels, no
    regex (this runs on every number of every item the ingest reads)."""
    return pc.and_(pc.ascii_is_decimal(values), pc.less_equal(pc.binary_length(values), INT64_DIGITS))


def read_int64(values: pa.Array) -> pa.Array:
    """Number texts -> int64 where each is an integer of at most `INT64_DIGITS` digits (negative
    too), else null: `gitgoods.dynamodb.read_number(text, only_int64=True)` on a whole column."""
    negative = pc.and_(pc.starts_with(values, "-"), is_int64_digits(pc.utf8_slice_codeunits(values, 1)))
    ok = pc.or_(is_int64_digits(values), negative)
    return pc.if_else(ok, values, pa.scalar(None, pa.string())).cast(pa.int64())


__all__ = ["INT64_DIGITS", "is_int64_digits", "present_tags", "read_body", "read_int64", "read_lines", "tagged"]
