"""Value conversions of the local SPICE: an Arrow column as a QuickSight column type (an input
column's `Type`, a CastColumnTypeOperation's `NewColumnType` and `Format`), with the rows whose
value does not convert marked (SPICE drops them and counts them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from gitgoods.local.quicksight.errors import IngestionError

ARROW_TYPES = {
    "STRING": pa.string(),
    "INTEGER": pa.int64(),
    "DECIMAL": pa.float64(),
    "DATETIME": pa.timestamp("ms"),
    "BOOLEAN": pa.bool_(),
    "BIT": pa.int64(),
    "JSON": pa.string(),
}
_INT = r"^[+-]?\d+$"
_DEC = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_JAVA = {
    "yyyy": "%Y",
    "yy": "%y",
    "MMM": "%b",
    "MM": "%m",
    "dd": "%d",
    "HH": "%H",
    "hh": "%I",
    "mm": "%M",
    "ss": "%S",
    "a": "%p",
}


def strptime_format(fmt: str) -> str:
    """A QuickSight (Java) date format such as `yyyy-MM-dd` as a strptime format."""
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == "'":
            end = fmt.index("'", i + 1) if "'" in fmt[i + 1 :] else len(fmt)
            out.append(fmt[i + 1 : end].replace("%", "%%"))
            i = end + 1
            continue
        token = next((t for t in _JAVA if fmt.startswith(t, i)), None)
        if token:
            out.append(_JAVA[token])
            i += len(token)
        elif fmt[i].isalpha():
            raise IngestionError("INVALID_DATE_FORMAT", f"date format {fmt!r}: {fmt[i]!r} is not supported locally")
        else:
            out.append(fmt[i].replace("%", "%%"))
            i += 1
    return "".join(out)


def _python_fallback(arr: pa.Array, qs_type: str) -> pa.Array:
    """Value by value, for what the vectorised casts refuse (overflow, ISO times with offsets)."""

    def one(v: Any) -> Any:
        try:
            if qs_type in ("INTEGER", "BIT"):
                n = int(str(v).strip())
                return n if -(2**63) <= n < 2**63 else None
            if qs_type == "DATETIME":
                parsed = datetime.fromisoformat(str(v).strip().replace("Z", "+00:00"))
                return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
            return float(v)
        except (ValueError, OverflowError, TypeError):
            return None

    return pa.array([None if v is None else one(v) for v in arr.to_pylist()], ARROW_TYPES[qs_type])


def _from_strings(arr: pa.Array, qs_type: str, fmt: str | None) -> pa.Array:
    if qs_type in ("STRING", "JSON"):
        return arr.cast(pa.string())
    text = pc.utf8_trim_whitespace(arr.cast(pa.string()))
    if qs_type == "BOOLEAN":
        low = pc.utf8_lower(text)
        valid = pc.is_in(low, pa.array(["true", "false", "1", "0"]))
        return pc.if_else(valid, pc.is_in(low, pa.array(["true", "1"])), None)
    if qs_type == "DATETIME" and fmt:
        return pc.strptime(text, format=strptime_format(fmt), unit="ms", error_is_null=True)
    if qs_type == "DATETIME":
        try:
            return text.cast(pa.timestamp("ms"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return _python_fallback(text, qs_type)
    pattern = _INT if qs_type in ("INTEGER", "BIT") else _DEC
    kept = pc.if_else(pc.match_substring_regex(text, pattern), text, None)
    try:
        return kept.cast(ARROW_TYPES[qs_type])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _python_fallback(kept, qs_type)


def convert(arr: pa.Array | pa.ChunkedArray, qs_type: str, fmt: str | None = None) -> tuple[pa.Array, pa.Array | None]:
    """`arr` as the Arrow type of `qs_type`, and a mask of the rows whose value did not convert
    (non-null in, null out), or None when every value did."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    target = ARROW_TYPES[qs_type]
    kind = arr.type
    if pa.types.is_timestamp(kind) and kind.tz is not None:
        arr = arr.cast(pa.timestamp(kind.unit))
        kind = arr.type
    if kind == target:
        return arr, None
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        out = _from_strings(arr, qs_type, fmt)
    elif qs_type in ("STRING", "JSON"):
        out = arr.cast(pa.string())
    elif pa.types.is_null(kind):
        out = pa.nulls(len(arr), target)
    elif qs_type == "DATETIME" and (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        out = pc.multiply(arr.cast(pa.float64()), 1000.0).cast(pa.int64(), safe=False).cast(target)  # epoch s
    elif qs_type in ("INTEGER", "BIT") and (pa.types.is_floating(kind) or pa.types.is_decimal(kind)):
        as_float = arr.cast(pa.float64(), safe=False)
        finite = pc.and_(pc.is_finite(as_float), pc.less(pc.abs(as_float), 9.2e18))
        out = pc.if_else(finite, pc.trunc(as_float), None).cast(pa.int64())
    else:
        try:
            out = arr.cast(target, safe=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise IngestionError("SQL_SCHEMA_MISMATCH_ERROR", f"cannot convert {kind} to {qs_type}: {exc}") from exc
    bad = pc.and_(arr.is_valid(), out.is_null())
    return out, (bad if pc.any(bad).as_py() else None)


def drop_unconverted(data: pa.Table, bad: pa.Array | None) -> tuple[pa.Table, int]:
    """`data` without the rows `bad` marks (a mask from `convert`), and how many those were."""
    if bad is None:
        return data, 0
    return data.filter(pc.invert(bad)), int(pc.sum(bad).as_py())
