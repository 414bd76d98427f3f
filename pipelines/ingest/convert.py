"""DynamoDB JSON items -> typed Arrow batches of the raw lake, with the contract's validation.

Items arrive as DynamoDB JSON (`{"qty": {"N": "2"}}`), either as Python dicts (`convert_page`,
`convert_items`) or as the raw bytes of a Query response (`convert_body`). Both are turned into a
*wire* `StructArray` in C++ (`pa.array` on the dicts, `pyarrow.json` on the bytes: no per-item
Python objects at all), whose columns are the attributes and whose leaves are the DynamoDB type
tags (`event_id.S`, `qty.N`, `lines.L[].M.qty.N`). Every rule then runs vectorised on those
columns (RE2 patterns, integer and timestamp casts, ranges), and the clean rows are cast to the
schemas of `pipelines.ingest.schemas`.

An item that breaks any rule goes to quarantine, with *all* the reasons found and the item as it
was received (`item_json`), never into the clean batch and never dropped. For `order_events` the
rules are those of `gitgoods/contract/events.schema.json` (patterns, enums and bounds are read from
it), plus a few that are stricter than the schema and specific to ingesting a day partition:

- the timestamp must be a real instant inside the partition's UTC day (the schema only has a
  pattern), and `day_shard` must be one of that day's shards;
- integers are DynamoDB's normal form of a non-negative integer of at most 18 digits (the schema
  would also take `1.0`, `1e2` or a 20-digit number, which DynamoDB never sends as such for an
  integer and int64 cannot hold);
- patterns are matched with RE2, where `\\d` is ASCII and `$` is the end of the text (Python's `re`,
  which the JSON-schema validator uses, also takes other digits and a trailing newline).

Sales have no JSON schema; their rules are in `_sales`. Attributes a sale has beyond the contract
are not an error (they are reported in `PageResult.unknown_attributes` for a schema-change check);
an event with an unknown attribute breaks `additionalProperties: false` and is quarantined.
"""

from __future__ import annotations

import datetime as dt
import io
import operator
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from gitgoods.contract.events import FUNNEL_EVENT_TYPES, ORDER_EVENT_TYPES, SCHEMA_VERSION, schema
from gitgoods.contract.tables import DAY_SHARDS, TABLES
from pipelines.ingest.schemas import EVENT_LINE, QUARANTINE, RAW_ORDER_EVENTS, RAW_SALES, UTC_MS

# -- the contract's rules, read from the one schema file ----------------------------------------
_PROPS = schema()["properties"]
_LINE_PROPS = _PROPS["lines"]["items"]["properties"]

EVENT_ID_RE = _PROPS["event_id"]["pattern"]
ORDER_ID_RE = _PROPS["order_id"]["pattern"]
SELLER_ID_RE = _LINE_PROPS["seller_id"]["pattern"]
PRODUCT_ID_RE = _LINE_PROPS["product_id"]["pattern"]
CUSTOMER_RE = _PROPS["customer"]["pattern"]
COUNTRY_RE = _PROPS["country"]["pattern"]
CURRENCY_RE = _PROPS["currency"]["pattern"]
TIMESTAMP_RE = _PROPS["occurred_at"]["pattern"]
DAY_SHARD_RE = _PROPS["day_shard"]["pattern"]
EVENT_TYPES = tuple(_PROPS["event_type"]["enum"])
KINDS = tuple(_LINE_PROPS["kind"]["enum"])
MAX_LINES = _PROPS["lines"]["maxItems"]
SESSION_ID_LEN = (_PROPS["session_id"]["minLength"], _PROPS["session_id"]["maxLength"])
LINE_RANGE = (_LINE_PROPS["line"]["minimum"], _LINE_PROPS["line"]["maximum"])
EVENT_QTY_RANGE = (_LINE_PROPS["qty"]["minimum"], _LINE_PROPS["qty"]["maximum"])
PLATFORM_MIN_LEN = _LINE_PROPS["platform"]["minLength"]
EVENT_REQUIRED = tuple(schema()["required"])
LINE_REQUIRED = tuple(schema()["properties"]["lines"]["items"]["required"])
_BRANCH = schema()["allOf"][0]
FUNNEL_REQUIRED = tuple(_BRANCH["then"]["required"])
ORDER_REQUIRED = tuple(_BRANCH["else"]["required"])
assert set(EVENT_TYPES) == set(ORDER_EVENT_TYPES + FUNNEL_EVENT_TYPES), "event types differ from the schema"
assert set(_BRANCH["if"]["properties"]["event_type"]["enum"]) == set(FUNNEL_EVENT_TYPES)
assert _PROPS["schema_version"]["const"] == SCHEMA_VERSION

SALE_QTY_RANGE = (1, 10)
SALE_STATUSES = ("placed", "cancelled", "refunded")

UINT_RE = r"^[0-9]{1,18}$"  # a non-negative integer in DynamoDB's normal form that int64 holds
INT_RE = r"^-?[0-9]{1,18}$"  # an amount readable for reconciliation, whatever its sign
_INT_RE_PY = re.compile(INT_RE.strip("^$"), re.ASCII)


# -- wire types: what the DynamoDB JSON of each table looks like --------------------------------
def _tag(tag: str) -> pa.DataType:
    return pa.struct([(tag, pa.string())])


_S, _N = _tag("S"), _tag("N")

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


# -- results ---------------------------------------------------------------------------------------
@dataclass
class PageResult:
    """One converted page: the clean rows, the quarantined ones, and what reconciliation needs.

    `raw_count == batch.num_rows + len(quarantine)` always; `raw_amount` is the sum of every
    readable (integer) `amount_cents` of the raw items, i.e. of the clean batch's column plus the
    quarantine rows' `amount_cents`.
    """

    table: str
    day: dt.date | None
    batch: pa.RecordBatch
    quarantine: list[dict[str, Any]]
    raw_count: int
    raw_amount: int
    unknown_attributes: frozenset[str] = frozenset()
    shard: int | None = None

    @property
    def clean_count(self) -> int:
        return self.batch.num_rows

    @property
    def clean_amount(self) -> int:
        return _int_sum(self.batch.column(AMOUNT_ATTRIBUTE))

    def quarantine_batch(self) -> pa.RecordBatch:
        return quarantine_batch(self.quarantine)


def quarantine_batch(rows: Sequence[dict[str, Any]]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(list(rows), schema=QUARANTINE)


def merge_results(results: Sequence[PageResult]) -> PageResult:
    """Several results of one table and day as one (one batch, all quarantine rows)."""
    if not results:
        raise ValueError("nothing to merge")
    first = results[0]
    batches = [r.batch for r in results if r.batch.num_rows] or [first.batch]
    return PageResult(
        table=first.table,
        day=first.day,
        batch=pa.concat_batches(batches) if len(batches) > 1 else batches[0],
        quarantine=[row for r in results for row in r.quarantine],
        raw_count=sum(r.raw_count for r in results),
        raw_amount=sum(r.raw_amount for r in results),
        unknown_attributes=frozenset().union(*(r.unknown_attributes for r in results)),
        shard=first.shard if all(r.shard == first.shard for r in results) else None,
    )


def empty_result(table: str, day: dt.date | None) -> PageResult:
    table = contract_table(table)
    return PageResult(table, _day(day), _empty(table), [], 0, 0)


def _empty(table: str) -> pa.RecordBatch:
    schema_ = OUTPUT[table]
    return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema_], schema=schema_)


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

    The body is parsed by `pyarrow.json` straight into the wire columns: no Python object per item.
    """
    table = contract_table(table)
    key_names = sorted(TABLES[table].key_attributes())
    lek_type = pa.struct([(k, _S) for k in key_names])
    try:
        parsed = pj.read_json(
            pa.BufferReader(body),  # zero-copy: the body is not copied into a Python stream
            read_options=pj.ReadOptions(use_threads=False, block_size=len(body) + 64),
            parse_options=pj.ParseOptions(
                explicit_schema=pa.schema([("Items", pa.list_(WIRE[table])), ("LastEvaluatedKey", lek_type)]),
                unexpected_field_behavior="infer",
                newlines_in_values=b"\n" in body,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # Something pyarrow cannot type (malformed DynamoDB JSON): take the slow, exact path.
        doc = orjson.loads(body)
        return convert_items(doc.get("Items", []), table, day), doc.get("LastEvaluatedKey")
    if parsed.num_rows != 1:
        raise ValueError(f"a Query response is one JSON object, got {parsed.num_rows}")
    items_col = parsed.column("Items").chunk(0)
    wire = items_col.flatten() if items_col.null_count == 0 else pa.array([], WIRE[table])
    lek = _lek(parsed.column("LastEvaluatedKey").chunk(0)[0].as_py())
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


def read_wire_json(data: bytes, table: str, root: str | None = None) -> pa.StructArray:
    """Newline-delimited JSON (one object per line, the item under `root` if given) -> wire rows.

    Raises `pa.ArrowInvalid` / `pa.ArrowTypeError` on what pyarrow cannot type.
    """
    table = contract_table(table)
    row_type = WIRE[table]
    parsed = pj.read_json(
        io.BytesIO(data),
        # 1 MB blocks parse in parallel (an item is far smaller than a block)
        read_options=pj.ReadOptions(use_threads=True, block_size=1 << 20),
        parse_options=pj.ParseOptions(
            explicit_schema=pa.schema([(root, row_type)] if root else list(zip(row_type.names, row_type, strict=True))),
            unexpected_field_behavior="infer",
        ),
    )
    if root:
        col = parsed.column(root).combine_chunks()
        if col.null_count:
            raise pa.ArrowInvalid(f"a line has no {root!r}")
        return col
    return pa.StructArray.from_arrays([c.combine_chunks() for c in parsed.columns], fields=list(parsed.schema))


def _lek(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if not value:
        return None
    return {k: {t: v for t, v in w.items() if v is not None} for k, w in value.items() if w is not None}


# -- unknown attributes ---------------------------------------------------------------------------
def _unknown_in_items(items: Sequence[Any], table: str, malformed: dict[int, str]) -> dict[int, list[str]]:
    """Attribute names beyond the contract, per item (`"foo"`, `"lines[1].bar"`).

    The common case (nothing unknown) costs two C-level subset checks per item; the exact listing
    runs only for the items that fail them.
    """
    known = _KNOWN[table]
    known_all = known.issuperset
    line_ok = _LINE_KEYS.issuperset
    get_m = operator.itemgetter("M")
    lines = table == "order_events"
    suspects = []
    for i, item in enumerate(items):
        if i in malformed:
            continue
        if not known_all(item):
            suspects.append(i)
        elif lines:
            try:
                if not all(map(line_ok, map(get_m, item["lines"]["L"]))):
                    suspects.append(i)
            except (KeyError, TypeError, AttributeError):
                suspects.append(i)  # no list of maps here: look closer (the rules report the shape)
    unknown: dict[int, list[str]] = {}
    for i in suspects:
        item = items[i]
        names = sorted(item.keys() - known)
        wrapper = item.get("lines") if lines else None
        seq = wrapper.get("L") if isinstance(wrapper, dict) else None
        if isinstance(seq, list):
            for k, element in enumerate(seq):
                m = element.get("M") if isinstance(element, dict) else None
                if isinstance(m, dict):
                    names += [f"lines[{k}].{n}" for n in sorted(m.keys() - _LINE_KEYS)]
        if names:
            unknown[i] = sorted(names)
    return unknown


def _unknown_in_wire(wire: pa.StructArray, table: str) -> dict[int, list[str]]:
    """Attributes `pyarrow.json` found beyond the wire type (it adds them as inferred fields)."""
    unknown: dict[int, list[str]] = defaultdict(list)
    known = _KNOWN[table]
    children = dict(zip(wire.type.names, wire.flatten(), strict=True)) if len(wire.type) else {}
    for name, child in children.items():
        if name not in known:
            for i in np.flatnonzero(_np(child.is_valid())):
                unknown[int(i)].append(name)
    if table == "order_events" and "lines" in children:
        wrapper = children["lines"]
        if "L" in wrapper.type.names:
            seq = wrapper.field("L")
            if pa.types.is_list(seq.type) and pa.types.is_struct(seq.type.value_type):
                elements = seq.flatten()
                if "M" in elements.type.names and pa.types.is_struct(elements.type.field("M").type):
                    m = _child(elements, "M")
                    extra = [f for f in m.type.names if f not in _LINE_KEYS]
                    if extra:
                        parent, pos = _parent_positions(seq)
                        for f in extra:
                            for j in np.flatnonzero(_np(_child(m, f).is_valid())):
                                unknown[int(parent[j])].append(f"lines[{pos[j]}].{f}")
    return {i: sorted(v) for i, v in unknown.items()}


# -- vectorised helpers -------------------------------------------------------------------------
def _np(mask: pa.Array | np.ndarray) -> np.ndarray:
    if isinstance(mask, np.ndarray):
        return mask
    if isinstance(mask, pa.ChunkedArray):
        mask = mask.combine_chunks()
    if mask.null_count:
        mask = pc.fill_null(mask, False)
    return mask.to_numpy(zero_copy_only=False)


def _child(struct: pa.StructArray, name: str) -> pa.Array:
    """A struct field with the parent's nulls merged in."""
    idx = struct.type.get_field_index(name)
    child = struct.field(idx)
    if struct.null_count:
        child = pc.if_else(struct.is_valid(), child, pa.scalar(None, child.type))
    return child


def _parent_positions(seq: pa.ListArray) -> tuple[np.ndarray, np.ndarray]:
    """For each element of `seq.flatten()`: its row and its position in that row's list."""
    parent = pc.list_parent_indices(seq).to_numpy()
    lengths = _np(pc.fill_null(pc.list_value_length(seq), 0)).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else np.zeros(0, np.int64)
    pos = np.arange(len(parent), dtype=np.int64) - starts[parent] if len(parent) else np.zeros(0, np.int64)
    return parent, pos


def _int_sum(values: pa.Array | pa.ChunkedArray) -> int:
    """Exact sum of an int64 column (Python ints: no int64 wrap-around on absurd values)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if values.null_count:
        values = values.drop_null()
    return int(values.to_numpy().sum(dtype=object)) if len(values) else 0


_NULL_S = pa.scalar(None, pa.string())


def _parse_timestamps(values: pa.Array) -> pa.Array:
    """Contract timestamps -> timestamp[ms, UTC]; null where a value is not one (pattern or date).

    Vectorised: an RE2 match for the contract's format, then Arrow's ISO-8601 cast. Only when that
    cast meets an impossible date or time (a well-formed `2026-02-30T...`) are the values retried
    one by one. Fractions finer than a millisecond are truncated.
    """
    ok = pc.match_substring_regex(values, TIMESTAMP_RE)
    candidates = pc.if_else(ok, values, _NULL_S)
    target = pa.timestamp("us", tz="UTC")
    try:
        parsed = candidates.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        single = []
        for value in candidates.to_pylist():
            try:
                single.append(None if value is None else pa.array([value]).cast(target)[0].value)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                single.append(None)
        parsed = pa.array(single, type=pa.int64()).cast(target)
    return parsed.cast(UTC_MS, safe=False)


class _Failures:
    """Per-row failures of one page, collected as masks and folded into reasons at the end."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.bad = np.zeros(n, dtype=bool)
        self.rules: list[tuple[np.ndarray, str]] = []
        self.extra: dict[int, list[str]] = defaultdict(list)

    def fail(self, mask: pa.Array | np.ndarray, reason: str) -> None:
        mask = _np(mask)
        if mask.any():
            self.bad |= mask
            self.rules.append((mask, reason))

    def fail_row(self, row: int, reason: str) -> None:
        self.bad[row] = True
        self.extra[row].append(reason)

    def reasons(self, rows: Iterable[int]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {int(i): [] for i in rows}
        for mask, reason in self.rules:
            for i in np.flatnonzero(mask):
                if int(i) in out:
                    out[int(i)].append(reason)
        for i, reasons in self.extra.items():
            if i in out:
                out[i].extend(reasons)
        return out


class _Attrs:
    """Typed access to the attributes of a wire struct array, recording type failures."""

    def __init__(self, wire: pa.StructArray, failures: _Failures, prefix: str = "") -> None:
        self.n = len(wire)
        self.failures = failures
        self.prefix = prefix
        self.children = dict(zip(wire.type.names, wire.flatten(), strict=True)) if len(wire.type) else {}
        self.present: dict[str, np.ndarray] = {}

    def get(self, name: str, tag: str, required: bool | np.ndarray, *, enforce: bool | np.ndarray = True) -> pa.Array:
        """The values under `tag` (nulls where missing or another type) and their failures.

        `required` may be a row mask (required only on some rows); `enforce` masks the rows where
        type failures count (e.g. line attributes only where the line is a map at all).
        """
        wrapper = self.children.get(name)
        label = f"{self.prefix}{name}"
        if wrapper is None or not pa.types.is_struct(wrapper.type):
            present = np.zeros(self.n, dtype=bool) if wrapper is None else _np(wrapper.is_valid())
            values = pa.nulls(self.n, pa.list_(pa.null()) if tag == "L" else pa.string())
            if wrapper is not None:
                self.failures.fail(present & enforce, f"{label}: wrong DynamoDB type, expected {tag}")
        else:
            present = _np(wrapper.is_valid())
            if tag in wrapper.type.names:
                values = _child(wrapper, tag)
                wrong = present & _np(values.is_null())
            else:
                values = pa.nulls(self.n, pa.list_(pa.null()) if tag == "L" else pa.string())
                wrong = present
            self.failures.fail(wrong & enforce, f"{label}: wrong DynamoDB type, expected {tag}")
        self.present[name] = present
        self.failures.fail(~present & required & enforce, f"{label}: missing")
        return values

    # rules on the values of one attribute (nulls pass: missing is the `get` rule's business)
    def match(self, name: str, values: pa.Array, pattern: str) -> None:
        self.failures.fail(
            pc.invert(pc.match_substring_regex(values, pattern)), f"{self.prefix}{name}: does not match {pattern}"
        )

    def one_of(self, name: str, values: pa.Array, allowed: Sequence[str]) -> None:
        bad = pc.and_(values.is_valid(), pc.invert(pc.is_in(values, pa.array(list(allowed), pa.string()))))
        self.failures.fail(bad, f"{self.prefix}{name}: not one of {', '.join(allowed)}")

    def length(self, name: str, values: pa.Array, lo: int, hi: int | None = None) -> None:
        n = pc.utf8_length(values)
        bad = pc.less(n, lo) if hi is None else pc.or_(pc.less(n, lo), pc.greater(n, hi))
        what = f"at least {lo}" if hi is None else f"{lo}..{hi}"
        self.failures.fail(bad, f"{self.prefix}{name}: length not {what} characters")

    def uint(self, name: str, values: pa.Array, lo: int = 0, hi: int | None = None) -> pa.Array:
        """A non-negative integer (int64), optionally within [lo, hi]; null where it is not."""
        ok = _is_uint(values)
        self.failures.fail(pc.invert(ok), f"{self.prefix}{name}: not a non-negative integer")
        ints = pc.if_else(ok, values, _NULL_S).cast(pa.int64())
        if lo > 0 or hi is not None:
            out = pc.less(ints, lo) if hi is None else pc.or_(pc.less(ints, lo), pc.greater(ints, hi))
            self.failures.fail(out, f"{self.prefix}{name}: out of range {lo}..{'' if hi is None else hi}")
            ints = pc.if_else(out, pa.scalar(None, pa.int64()), ints)
        return ints

    def timestamp(self, name: str, values: pa.Array, days: _Days | None = None) -> pa.Array:
        """Parsed timestamps; with `days`, also inside each row's partition day."""
        ts = _parse_timestamps(values)
        self.failures.fail(
            pc.and_(values.is_valid(), ts.is_null()), f"{self.prefix}{name}: not a UTC ISO-8601 timestamp"
        )
        if days is not None:
            outside = pc.or_(pc.less(ts, days.start), pc.greater_equal(ts, days.end))
            self.failures.fail(outside, f"{self.prefix}{name}: outside the partition's UTC day")
        return ts

    def day_shard(self, values: pa.Array, days: _Days) -> None:
        self.match("day_shard", values, DAY_SHARD_RE)
        prefix_ok = pc.equal(pc.utf8_slice_codeunits(values, 0, 11), days.prefix)
        shard_ok = pc.is_in(pc.utf8_slice_codeunits(values, 11), _SHARD_NUMBERS)
        self.failures.fail(
            pc.invert(pc.and_(prefix_ok, shard_ok)),
            f"day_shard: not one of the {DAY_SHARDS} shards of the partition day",
        )


_SHARD_NUMBERS = pa.array([str(n) for n in range(DAY_SHARDS)], pa.string())


class _Days:
    """The partition day of every row (rows of an export chunk may belong to different days)."""

    def __init__(self, text: pa.Array) -> None:
        self.text = text  # "YYYY-MM-DD", null for no day
        self.start = pc.cast(pc.cast(text, pa.date32()), UTC_MS)
        self.end = pc.add(self.start, pa.scalar(86_400_000, pa.duration("ms")))
        self.prefix = pc.binary_join_element_wise(text, "", "#")
        self.missing = _np(text.is_null())

    @classmethod
    def single(cls, day: dt.date | None, n: int) -> _Days:
        if day is None:
            return cls(pa.nulls(n, pa.string()))
        return cls(pa.repeat(pa.scalar(day.isoformat(), pa.string()), n))


def _is_uint(values: pa.Array) -> pa.Array:
    """`UINT_RE` without a regex (two cheap kernels: this runs on every number of every item)."""
    return pc.and_(pc.ascii_is_decimal(values), pc.less_equal(pc.binary_length(values), 18))


def _readable_amounts(values: pa.Array) -> pa.Array:
    """amount_cents as int64 wherever it is an integer at all (negative too), else null."""
    negative = pc.and_(pc.starts_with(values, "-"), _is_uint(pc.utf8_slice_codeunits(values, 1)))
    ok = pc.or_(_is_uint(values), negative)
    return pc.if_else(ok, values, _NULL_S).cast(pa.int64())


def readable_amount(attr: Any) -> int | None:
    """The same reading for one DynamoDB attribute value (`{"N": "123"}`), used by reconciliation."""
    value = attr.get("N") if isinstance(attr, dict) else None
    return int(value) if isinstance(value, str) and _INT_RE_PY.fullmatch(value) else None


# -- the tables -------------------------------------------------------------------------------------
def _events(a: _Attrs, days: _Days) -> tuple[list[pa.Array], pa.Array]:
    f = a.failures
    event_type = a.get("event_type", "S", "event_type" in EVENT_REQUIRED)
    a.one_of("event_type", event_type, EVENT_TYPES)
    # The schema's if/then/else: `if` holds when event_type is absent or a funnel type.
    funnel = ~a.present["event_type"] | _np(pc.is_in(event_type, pa.array(list(FUNNEL_EVENT_TYPES))))

    def required(name: str) -> bool | np.ndarray:
        if name in EVENT_REQUIRED:
            return True
        return ((name in FUNNEL_REQUIRED) & funnel) | ((name in ORDER_REQUIRED) & ~funnel)

    event_id = a.get("event_id", "S", required("event_id"))
    a.match("event_id", event_id, EVENT_ID_RE)
    version = a.get("schema_version", "N", required("schema_version"))
    f.fail(pc.not_equal(version, str(SCHEMA_VERSION)), f"schema_version: not {SCHEMA_VERSION}")
    occurred_at = a.get("occurred_at", "S", required("occurred_at"))
    occurred = a.timestamp("occurred_at", occurred_at, days)
    day_shard = a.get("day_shard", "S", required("day_shard"))
    a.day_shard(day_shard, days)
    order_id = a.get("order_id", "S", required("order_id"))
    a.match("order_id", order_id, ORDER_ID_RE)
    session_id = a.get("session_id", "S", required("session_id"))
    a.length("session_id", session_id, *SESSION_ID_LEN)
    customer = a.get("customer", "S", required("customer"))
    a.match("customer", customer, CUSTOMER_RE)
    country = a.get("country", "S", required("country"))
    a.match("country", country, COUNTRY_RE)
    currency = a.get("currency", "S", required("currency"))
    a.match("currency", currency, CURRENCY_RE)
    amount_raw = a.get("amount_cents", "N", required("amount_cents"))
    amount = a.uint("amount_cents", amount_raw)
    lines = _event_lines(a, a.get("lines", "L", required("lines")))
    columns = [
        event_id,
        event_type,
        pc.if_else(
            pc.equal(version, str(SCHEMA_VERSION)), pa.scalar(SCHEMA_VERSION, pa.int32()), pa.scalar(None, pa.int32())
        ),
        occurred,
        order_id,
        session_id,
        customer,
        country,
        currency,
        amount,
        lines,
        day_shard,
    ]
    return columns, amount_raw


def _event_lines(a: _Attrs, seq: pa.Array) -> pa.Array:
    f = a.failures
    if not pa.types.is_list(seq.type) or not pa.types.is_struct(seq.type.value_type):
        # no row has a list of maps here (all missing, or another type): nothing to read
        return pa.nulls(a.n, pa.list_(EVENT_LINE))
    lengths = pc.list_value_length(seq)
    f.fail(pc.greater(lengths, MAX_LINES), f"lines: more than {MAX_LINES} lines")
    elements = seq.flatten()
    parent, pos = _parent_positions(seq)
    nl = len(elements)
    lf = _Failures(nl)
    if "M" in elements.type.names and pa.types.is_struct(elements.type.field("M").type):
        m = _child(elements, "M")
    else:
        m = pa.nulls(nl, pa.struct([]))
    is_map = _np(m.is_valid())
    lf.fail(~is_map, "not a map")
    la = _Attrs(m, lf)
    # (the `enforce` mask keeps a non-map line to its one reason)
    req = {name: name in LINE_REQUIRED for name in EVENT_LINE_WIRE.names}
    line_no = la.uint("line", la.get("line", "N", req["line"], enforce=is_map), *LINE_RANGE)
    seller_id = la.get("seller_id", "S", req["seller_id"], enforce=is_map)
    la.match("seller_id", seller_id, SELLER_ID_RE)
    product_id = la.get("product_id", "S", req["product_id"], enforce=is_map)
    la.match("product_id", product_id, PRODUCT_ID_RE)
    qty = la.uint("qty", la.get("qty", "N", req["qty"], enforce=is_map), *EVENT_QTY_RANGE)
    unit = la.uint("unit_cents", la.get("unit_cents", "N", req["unit_cents"], enforce=is_map))
    amount = la.uint("amount_cents", la.get("amount_cents", "N", req["amount_cents"], enforce=is_map))
    kind = la.get("kind", "S", req["kind"], enforce=is_map)
    la.one_of("kind", kind, KINDS)
    platform = la.get("platform", "S", req["platform"], enforce=is_map)
    la.length("platform", platform, PLATFORM_MIN_LEN)
    if lf.bad.any():
        bad_lines = np.flatnonzero(lf.bad)
        for j, reasons in lf.reasons(bad_lines).items():
            for reason in reasons:
                f.fail_row(
                    int(parent[j]),
                    f"lines[{pos[j]}]: {reason}" if reason == "not a map" else f"lines[{pos[j]}].{reason}",
                )
    values = pa.StructArray.from_arrays(
        [
            line_no.cast(pa.int32(), safe=False),
            seller_id,
            product_id,
            qty.cast(pa.int32(), safe=False),
            unit,
            amount,
            kind,
            platform,
        ],
        fields=list(EVENT_LINE),
    )
    offsets = np.zeros(a.n + 1, dtype=np.int32)
    np.cumsum(_np(pc.fill_null(lengths, 0)), out=offsets[1:])
    return pa.ListArray.from_arrays(
        pa.array(offsets), values, type=pa.list_(EVENT_LINE), mask=pc.invert(seq.is_valid())
    )


def _sales(a: _Attrs, days: _Days) -> tuple[list[pa.Array], pa.Array]:
    f = a.failures
    seller_id = a.get("seller_id", "S", True)
    a.match("seller_id", seller_id, SELLER_ID_RE)
    sk = a.get("sk", "S", True)
    day_shard = a.get("day_shard", "S", True)
    a.day_shard(day_shard, days)
    sold_at_raw = a.get("sold_at", "S", True)
    sold_at = a.timestamp("sold_at", sold_at_raw, days)
    order_id = a.get("order_id", "S", True)
    a.match("order_id", order_id, ORDER_ID_RE)
    line_raw = a.get("line", "N", True)
    line = a.uint("line", line_raw, *LINE_RANGE)
    expected_sk = pc.binary_join_element_wise(sold_at_raw, order_id, pc.utf8_lpad(line_raw, 2, "0"), "#")
    f.fail(pc.not_equal(sk, expected_sk), "sk: is not sold_at#order_id#line")
    product_id = a.get("product_id", "S", True)
    a.match("product_id", product_id, PRODUCT_ID_RE)
    kind = a.get("kind", "S", False)
    a.one_of("kind", kind, KINDS)
    platform = a.get("platform", "S", False)
    a.length("platform", platform, 1)
    genre = a.get("genre", "S", False)
    a.length("genre", genre, 1)
    qty = a.uint("qty", a.get("qty", "N", True), *SALE_QTY_RANGE)
    unit = a.uint("unit_cents", a.get("unit_cents", "N", True))
    amount_raw = a.get("amount_cents", "N", True)
    amount = a.uint("amount_cents", amount_raw)
    try:
        product = pc.multiply_checked(qty, unit)
    except pa.ArrowInvalid:  # an absurd unit price: compare exactly in Python
        product = pa.array(
            [
                None if q is None or u is None else min(q * u, 2**63 - 1)
                for q, u in zip(qty.to_pylist(), unit.to_pylist(), strict=True)
            ],
            pa.int64(),
        )
    f.fail(pc.not_equal(amount, product), "amount_cents: is not qty * unit_cents")
    currency = a.get("currency", "S", True)
    a.match("currency", currency, CURRENCY_RE)
    country = a.get("country", "S", False)
    a.match("country", country, COUNTRY_RE)
    customer = a.get("customer", "S", True)
    a.match("customer", customer, CUSTOMER_RE)
    status = a.get("status", "S", True)
    a.one_of("status", status, SALE_STATUSES)
    updated_at = a.timestamp("updated_at", a.get("updated_at", "S", False))
    columns = [
        seller_id,
        sk,
        order_id,
        line.cast(pa.int32(), safe=False),
        sold_at,
        product_id,
        kind,
        platform,
        genre,
        qty.cast(pa.int32(), safe=False),
        unit,
        amount,
        currency,
        country,
        customer,
        status,
        updated_at,
        day_shard,
    ]
    return columns, amount_raw


_TABLE_RULES = {"sales": _sales, "order_events": _events}


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
    readable = _readable_amounts(amount_raw)
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
