"""The validation toolkit: per-row failures collected as masks (`_Failures`), typed access to a
wire struct's attributes with the generic rules (type tag, missing, pattern, enum, length,
integer range, timestamp, day shard: `_Attrs`), the partition day of every row (`_Days`), and
the vectorised timestamp parser."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gitgoods.contract.tables import DAY_SHARDS
from pipelines.dynamodb_wire import is_int64_digits
from pipelines.ingest.convert.arrays import _NULL_S, _child, _np
from pipelines.ingest.convert.contract import DAY_SHARD_RE, TIMESTAMP_RE
from pipelines.ingest.schemas import UTC_MS


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
        ok = is_int64_digits(values)
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
