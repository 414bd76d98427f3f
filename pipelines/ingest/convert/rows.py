"""The converter's entry points and its row assembly: DynamoDB JSON items (dicts), a Query
response body or a wire array -> the table's rules -> clean batch + quarantine rows as a
`PageResult` (one per page, or one per day with `convert_wire_by_day`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.dynamodb_wire import read_body, read_int64
from pipelines.ingest.convert.arrays import _child
from pipelines.ingest.convert.integers import readable_amount
from pipelines.ingest.convert.results import PageResult, _empty
from pipelines.ingest.convert.table_rules import _TABLE_RULES
from pipelines.ingest.convert.unknown import _unknown_in_items, _unknown_in_wire
from pipelines.ingest.convert.validation import _Attrs, _Days, _Failures
from pipelines.ingest.convert.wire import AMOUNT_ATTRIBUTE, OUTPUT, TIME_ATTRIBUTE, WIRE, _day, contract_table


# -- entry points ------------------------------------------------------------------------------
def convert_page(
    items: list[dict[str, Any]], table: str, day: dt.date | str | None
) -> tuple[pa.RecordBatch, list[dict[str, Any]]]:
    """DynamoDB JSON items of one day partition -> (clean batch, quarantine rows)."""
    result = convert_items(items, table, day)
    return result.batch, result.quarantine


def convert_items(items: Sequence[dict[str, Any]], table: str, day: dt.date | str | None) -> PageResult:
    """Like `convert_page`, with the counts reconciliation needs."""
    table = contract_table(table)
    wire_type = WIRE[table]
    try:
        wire = pa.array(items, type=wire_type)
        malformed: dict[int, str] = {}
    except (pa.ArrowException, TypeError, ValueError, AttributeError):
        # Not DynamoDB JSON somewhere (a tag holding a number, a list where a map belongs...):
        # find the culprits one by one, convert the rest.
        malformed = {}
        for i, item in enumerate(items):
            try:
                if not isinstance(item, dict):
                    raise TypeError(f"an item is an object, not {type(item).__name__}")
                pa.array([item], type=wire_type)
            except (pa.ArrowException, TypeError, ValueError, AttributeError) as exc:
                malformed[i] = f"malformed DynamoDB JSON: {exc}"
        wire = pa.array([None if i in malformed else it for i, it in enumerate(items)], type=wire_type)
    unknown = _unknown_in_items(items, table, malformed)
    return _convert(wire, table, _day(day), unknown, malformed, lambda i: items[i])


def convert_body(body: bytes, table: str, day: dt.date | str | None) -> tuple[PageResult, dict[str, Any] | None]:
    """The raw body of a Query (or Scan) response -> (result, LastEvaluatedKey or None).

    The body is parsed by `pipelines.dynamodb_wire.read_body` straight into the wire columns: no
    Python object per item.
    """
    table = contract_table(table)
    try:
        wire, lek = read_body(body, WIRE[table])
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # Something pyarrow cannot type (malformed DynamoDB JSON): take the slow, exact path.
        doc = orjson.loads(body)
        return convert_items(doc.get("Items", []), table, day), doc.get("LastEvaluatedKey")
    if wire is None:
        wire = pa.array([], WIRE[table])
    items_cache: list[Any] = []

    def raw_item(i: int) -> dict[str, Any]:
        if not items_cache:
            items_cache.append(orjson.loads(body)["Items"])
        return items_cache[0][i]

    return _convert(wire, table, _day(day), _unknown_in_wire(wire, table), {}, raw_item), lek


def convert_wire(
    wire: pa.StructArray,
    table: str,
    day: dt.date | str | None,
    raw_item: Callable[[int], Any],
) -> PageResult:
    """Convert a wire array parsed elsewhere (e.g. from an export file with `pyarrow.json`)."""
    table = contract_table(table)
    return _convert(wire, table, _day(day), _unknown_in_wire(wire, table), {}, raw_item)


def _item_keys(a: _Attrs, table: str, rows: np.ndarray) -> list[str | None]:
    def s(name: str) -> list[Any]:
        wrapper = a.children.get(name)
        if wrapper is None or not pa.types.is_struct(wrapper.type) or "S" not in wrapper.type.names:
            return [None] * len(rows)
        return _child(wrapper, "S").take(pa.array(rows, pa.int64())).to_pylist()

    if table == "sales":
        return [None if x is None and y is None else f"{x}|{y}" for x, y in zip(s("seller_id"), s("sk"), strict=True)]
    return s("event_id")


@dataclass
class _Converted:
    """A converted wire array, still row-aligned: enough to split it by day."""

    batch: pa.RecordBatch  # the clean rows, in order
    good: np.ndarray  # row -> clean?
    quarantine: dict[int, dict[str, Any]]  # row -> quarantine row
    amounts: np.ndarray  # row -> readable amount (0 where none), as Python ints
    unknown: frozenset[str]


def _convert_rows(
    wire: pa.StructArray,
    table: str,
    days: _Days,
    unknown: dict[int, list[str]],
    malformed: dict[int, str],
    raw_item: Callable[[int], Any],
) -> _Converted:
    n = len(wire)
    failures = _Failures(n)
    attrs = _Attrs(wire, failures)
    columns, amount_raw = _TABLE_RULES[table](attrs, days)
    failures.fail(days.missing, f"no partition day: neither day_shard nor {TIME_ATTRIBUTE[table]} has one")
    unknown_names: set[str] = set()
    for i, names in unknown.items():
        unknown_names.update(names)
        if table == "order_events":  # additionalProperties: false
            for name in names:
                failures.fail_row(i, f"{name}: unknown attribute")
    for i in malformed:
        failures.bad[i] = True
    readable = read_int64(amount_raw)
    amounts = readable.fill_null(0).to_numpy().astype(object)
    for i in malformed:  # a null row of the wire array: its amount comes from the raw item
        amounts[i] = _malformed_amount(raw_item(i)) or 0

    good = ~failures.bad
    schema_ = OUTPUT[table]
    quarantine: dict[int, dict[str, Any]] = {}
    if good.all():
        batch = pa.RecordBatch.from_arrays(columns, schema=schema_)
    else:
        mask = pa.array(good)
        batch = pa.RecordBatch.from_arrays([c.filter(mask) for c in columns], schema=schema_)
        bad_rows = np.flatnonzero(failures.bad)
        reasons = failures.reasons(bad_rows)
        # a malformed item's one reason is being malformed (its wire row is all null)
        reasons.update({i: [reason] for i, reason in malformed.items()})
        keys = _item_keys(attrs, table, bad_rows)
        readable_bad = readable.take(pa.array(bad_rows, pa.int64())).to_pylist()
        for i, key, amount in zip(bad_rows.tolist(), keys, readable_bad, strict=True):
            quarantine[i] = {
                "source_table": table,
                "item_key": None if i in malformed else key,
                "reasons": reasons[i],
                "amount_cents": _malformed_amount(raw_item(i)) if i in malformed else amount,
                "item_json": orjson.dumps(raw_item(i), default=str).decode(),
            }
    return _Converted(batch, good, quarantine, amounts, frozenset(unknown_names))


def _convert(
    wire: pa.StructArray,
    table: str,
    day: dt.date | None,
    unknown: dict[int, list[str]],
    malformed: dict[int, str],
    raw_item: Callable[[int], Any],
) -> PageResult:
    out = _convert_rows(wire, table, _Days.single(day, len(wire)), unknown, malformed, raw_item)
    return PageResult(
        table, day, out.batch, list(out.quarantine.values()), len(wire), int(out.amounts.sum()), out.unknown
    )


def convert_wire_by_day(
    wire: pa.StructArray,
    table: str,
    days: pa.Array,
    raw_item: Callable[[int], Any],
) -> list[tuple[dt.date | None, PageResult]]:
    """Convert rows that belong to different days (`days`: `YYYY-MM-DD` per row, null for none)
    in one pass, then split the result by day: one `(day, PageResult)` per distinct day."""
    table = contract_table(table)
    encoded = pc.dictionary_encode(days)
    labels: list[str | None] = encoded.dictionary.to_pylist()
    parsed = [_parse_day(label) for label in labels]
    # an impossible day label counts as no day at all
    clean_text = pc.if_else(
        pc.is_in(days, pa.array([t for t, d in zip(labels, parsed, strict=True) if d], pa.string())),
        days,
        pa.scalar(None, pa.string()),
    )
    out = _convert_rows(wire, table, _Days(clean_text), _unknown_in_wire(wire, table), {}, raw_item)
    # group code per row: the index of its (valid) day label, -1 for no day
    label_code = np.array([i if d else -1 for i, d in enumerate(parsed)] + [-1], dtype=np.int64)
    codes = label_code[pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)]
    clean_pos = np.cumsum(out.good) - 1  # row -> its position in the clean batch
    order = np.argsort(codes, kind="stable")
    results = []
    for group in np.split(order, np.flatnonzero(np.diff(codes[order])) + 1):
        if not len(group):
            continue
        code = int(codes[group[0]])
        day = parsed[code] if code >= 0 else None
        clean_rows = group[out.good[group]]
        batch = out.batch.take(pa.array(clean_pos[clean_rows], pa.int64())) if len(clean_rows) else _empty(table)
        quarantine = [out.quarantine[int(i)] for i in group if not out.good[i]]
        results.append(
            (day, PageResult(table, day, batch, quarantine, len(group), int(out.amounts[group].sum()), out.unknown))
        )
    return results


def _parse_day(label: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(label) if label and len(label) == 10 else None
    except ValueError:
        return None


def _malformed_amount(item: Any) -> int | None:
    return readable_amount(item.get(AMOUNT_ATTRIBUTE)) if isinstance(item, dict) else None
