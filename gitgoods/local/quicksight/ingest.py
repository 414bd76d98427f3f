"""The local SPICE ingestion: a data set's physical table, read through moto's Glue catalog in this
process, with the data set's input column types and transforms applied.

A RelationalTable names a Glue database (`Schema`) and table (`Name`). A partitioned table is read
partition by partition (each `StorageDescriptor.Location`, its partition values as columns), an
unpartitioned one from the table's `Location`. Locations are `file://` folders or `s3://` prefixes
of this same moto (read from its S3 backend in process); the `*.parquet` files directly in them are
read (names starting with `_` or `.` are skipped), and the `completed_at` of a `_manifest.json`
next to them gives the snapshot's `built_at`. Values that do not convert to a column's type drop
their row (counted, as SPICE does). Supported transforms: docs/seller-insights.md; any other fails
the ingestion naming it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ARROW_TYPES = {
    "STRING": pa.string(),
    "INTEGER": pa.int64(),
    "DECIMAL": pa.float64(),
    "DATETIME": pa.timestamp("ms"),
    "BOOLEAN": pa.bool_(),
    "BIT": pa.int64(),
    "JSON": pa.string(),
}
# OutputColumn.Type has no BOOLEAN: such columns are reported as STRING (their snapshot column is bool).
OUTPUT_TYPES = {"BIT": "INTEGER", "BOOLEAN": "STRING", "JSON": "STRING"}
SUPPORTED = ("ProjectOperation", "CastColumnTypeOperation", "RenameColumnOperation", "TagColumnOperation")


class IngestionError(Exception):
    """Fails an ingestion with ErrorInfo {Type, Message}."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass
class Result:
    data: pa.Table
    dropped: int
    table: str
    partitions: int
    last_partition: str | None
    built_at: datetime | None


# -- the data set's shape ----------------------------------------------------------------------


def source_table(definition: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(RelationalTable, DataTransforms) of the data set's single logical table."""
    physical = definition.get("PhysicalTableMap") or {}
    logical = definition.get("LogicalTableMap") or {}
    if logical:
        if len(logical) != 1:
            raise IngestionError("INVALID_DATAPREP_SYNTAX", "several logical tables (joins) are not supported locally")
        table = next(iter(logical.values()))
        source = table.get("Source", {})
        if "PhysicalTableId" not in source:
            kind = next(iter(source), "an empty Source")
            raise IngestionError("INVALID_DATAPREP_SYNTAX", f"logical table source {kind} is not supported locally")
        if source["PhysicalTableId"] not in physical:
            raise IngestionError("INVALID_DATAPREP_SYNTAX", f"unknown PhysicalTableId {source['PhysicalTableId']!r}")
        chosen, transforms = physical[source["PhysicalTableId"]], table.get("DataTransforms") or []
    elif len(physical) == 1:
        chosen, transforms = next(iter(physical.values())), []
    else:
        raise IngestionError("INVALID_DATAPREP_SYNTAX", "one physical table is needed when there is no LogicalTableMap")
    if "RelationalTable" not in chosen:
        kind = next(iter(chosen), "an empty physical table")
        raise IngestionError("INVALID_DATAPREP_SYNTAX", f"physical table {kind} is not supported locally")
    return chosen["RelationalTable"], transforms


def unsupported_transform(transforms: list[dict[str, Any]]) -> str | None:
    for op in transforms:
        for name in op:
            if name not in SUPPORTED:
                return name
    return None


def output_columns(definition: dict[str, Any]) -> list[dict[str, Any]] | None:
    """OutputColumns computed from the input columns and the supported transforms; None when the
    data set uses something else (joins, other transforms). Raises ValueError naming a column the
    transforms refer to but that does not exist at that point."""
    try:
        relational, transforms = source_table(definition)
    except IngestionError:
        return None
    if unsupported_transform(transforms):
        return None
    cols: dict[str, dict[str, Any]] = {}
    for c in relational.get("InputColumns", []):
        cols[c["Name"]] = {"Name": c["Name"], "Type": OUTPUT_TYPES.get(c["Type"], c["Type"])}
        if c.get("SubType"):
            cols[c["Name"]]["SubType"] = c["SubType"]

    def need(name: str, op: str) -> dict[str, Any]:
        if name not in cols:
            raise ValueError(f"{op}: column {name!r} does not exist at this point")
        return cols[name]

    for op in transforms:
        ((kind, body),) = op.items()
        if kind == "ProjectOperation":
            cols = {n: need(n, kind) for n in body["ProjectedColumns"]}
        elif kind == "RenameColumnOperation":
            col = need(body["ColumnName"], kind)
            if body["NewColumnName"] in cols and body["NewColumnName"] != body["ColumnName"]:
                raise ValueError(f"{kind}: column {body['NewColumnName']!r} exists already")
            cols = {(body["NewColumnName"] if n == body["ColumnName"] else n): c for n, c in cols.items()}
            col["Name"] = body["NewColumnName"]
        elif kind == "CastColumnTypeOperation":
            col = need(body["ColumnName"], kind)
            col["Type"] = body["NewColumnType"]
            col.pop("SubType", None)
            if body.get("SubType"):
                col["SubType"] = body["SubType"]
        elif kind == "TagColumnOperation":
            col = need(body["ColumnName"], kind)
            for tag in body.get("Tags", []):
                if "ColumnDescription" in tag and "Text" in tag["ColumnDescription"]:
                    col["Description"] = tag["ColumnDescription"]["Text"]
    return list(cols.values())


# -- conversions -------------------------------------------------------------------------------

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


# -- reading the Glue table --------------------------------------------------------------------


def _glue_locations(account: str, region: str, database: str, name: str) -> tuple[list[str], list[tuple[dict, str]]]:
    from moto.glue.models import glue_backends

    backend = glue_backends[account][region]
    try:
        table = backend.get_table(database, name)
    except Exception as exc:  # DatabaseNotFoundException, TableNotFoundException
        why = "no such database" if database not in backend.databases else "no such table"
        raise IngestionError("SQL_TABLE_NOT_FOUND", f"Glue table {database}.{name} not found ({why})") from exc
    info = table.as_dict()
    keys = [k["Name"] for k in info.get("PartitionKeys") or []]
    columns = [c["Name"] for c in info.get("StorageDescriptor", {}).get("Columns", [])] + keys
    if not keys:
        location = info.get("StorageDescriptor", {}).get("Location")
        if not location:
            raise IngestionError("SQL_TABLE_NOT_FOUND", f"Glue table {database}.{name} has no Location")
        return columns, [({}, location)]
    found = []
    for partition in list(table.partitions.values()):
        values = dict(zip(keys, partition.values, strict=False))
        found.append((values, partition.partition_input.get("StorageDescriptor", {}).get("Location", "")))
    return columns, sorted(found, key=lambda p: [p[0].get(k) or "" for k in keys])


def _list_location(account: str, location: str) -> tuple[list[tuple[str, Any]], bytes | None]:
    """([(uri, source for pyarrow)], the _manifest.json bytes or None) of one folder."""
    url = urlparse(location)
    files: list[tuple[str, Any]] = []
    manifest = None
    if url.scheme == "s3":
        from moto.s3.models import s3_backends

        prefix = url.path.lstrip("/")
        prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        try:
            bucket = s3_backends[account]["global"].get_bucket(url.netloc)
        except Exception as exc:
            raise IngestionError("S3_FILE_INACCESSIBLE", f"{location}: {exc}") from exc
        for key in sorted(k for k in list(bucket.keys.keys()) if k.startswith(prefix) and "/" not in k[len(prefix) :]):
            obj = bucket.keys.get(key)
            if not hasattr(obj, "value"):  # a delete marker
                continue
            base = key[len(prefix) :]
            if base == "_manifest.json":
                manifest = obj.value
            elif base.endswith(".parquet") and not base.startswith(("_", ".")):
                files.append((f"s3://{url.netloc}/{key}", pa.BufferReader(obj.value)))
        return files, manifest
    if url.scheme not in ("", "file"):
        raise IngestionError("S3_FILE_INACCESSIBLE", f"{location}: only file:// and s3:// locations are read locally")
    folder = Path(unquote(url.path) if url.scheme else location)
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise IngestionError("S3_FILE_INACCESSIBLE", f"{location}: {exc}") from exc
    for path in entries:
        if path.name == "_manifest.json":
            manifest = path.read_bytes()
        elif path.name.endswith(".parquet") and not path.name.startswith(("_", ".")):
            files.append((str(path), str(path)))
    return files, manifest


def _completed_at(manifest: bytes | None) -> datetime | None:
    try:
        value = json.loads(manifest)["completed_at"] if manifest else None
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _read_file(uri: str, source: Any, inputs: list[dict], values: dict[str, str]) -> tuple[pa.Table, int]:
    try:
        handle = pq.ParquetFile(source)
        names = {n.lower(): n for n in handle.schema_arrow.names}
        wanted = sorted({names[c["Name"].lower()] for c in inputs if c["Name"].lower() in names})
        raw = handle.read(columns=wanted)
    except (OSError, pa.ArrowException) as exc:
        raise IngestionError("S3_FILE_INACCESSIBLE", f"cannot read {uri}: {exc}") from exc
    part = {k.lower(): v for k, v in values.items()}
    columns, bad = [], None
    for col in inputs:
        low = col["Name"].lower()
        if low in names:
            arr = raw.column(names[low])
        elif low in part:
            arr = pa.array([part[low]] * raw.num_rows, pa.string())
        else:
            arr = pa.nulls(raw.num_rows, ARROW_TYPES[col["Type"]])
        out, mask = convert(arr, col["Type"])
        columns.append(out)
        if mask is not None:
            bad = mask if bad is None else pc.or_(bad, mask)
    data = pa.table(columns, names=[c["Name"] for c in inputs])
    if bad is None:
        return data, 0
    return data.filter(pc.invert(bad)), int(pc.sum(bad).as_py())


def apply_transforms(data: pa.Table, transforms: list[dict[str, Any]]) -> tuple[pa.Table, int]:
    dropped = 0
    for op in transforms:
        ((kind, body),) = op.items()
        names = data.column_names
        if kind == "ProjectOperation":
            missing = [c for c in body["ProjectedColumns"] if c not in names]
            if missing:
                raise IngestionError("INVALID_DATAPREP_SYNTAX", f"{kind}: no column {missing[0]!r}")
            data = data.select(body["ProjectedColumns"])
        elif kind in ("RenameColumnOperation", "CastColumnTypeOperation", "TagColumnOperation"):
            if body["ColumnName"] not in names:
                raise IngestionError("INVALID_DATAPREP_SYNTAX", f"{kind}: no column {body['ColumnName']!r}")
            i = names.index(body["ColumnName"])
            if kind == "RenameColumnOperation":
                if body["NewColumnName"] in names and body["NewColumnName"] != body["ColumnName"]:
                    raise IngestionError("DUPLICATE_COLUMN_NAMES_FOUND", f"{kind}: {body['NewColumnName']!r} exists")
                data = data.rename_columns([body["NewColumnName"] if j == i else n for j, n in enumerate(names)])
            elif kind == "CastColumnTypeOperation":
                out, bad = convert(data.column(i), body["NewColumnType"], body.get("Format"))
                data = data.set_column(i, names[i], out)
                if bad is not None:
                    dropped += int(pc.sum(bad).as_py())
                    data = data.filter(pc.invert(bad))
        else:
            raise IngestionError("INVALID_DATAPREP_SYNTAX", f"transform {kind} is not supported by the local SPICE")
    return data, dropped


def run(definition: dict[str, Any], account: str, region: str) -> Result:
    """Read and transform a SPICE data set's source: the snapshot to write."""
    relational, transforms = source_table(definition)
    bad_op = unsupported_transform(transforms)
    if bad_op:
        raise IngestionError(
            "INVALID_DATAPREP_SYNTAX",
            f"transform {bad_op} is not supported by the local SPICE (only {', '.join(SUPPORTED)})",
        )
    database, name = relational.get("Schema"), relational["Name"]
    if not database:
        raise IngestionError("SQL_TABLE_NOT_FOUND", f"RelationalTable {name!r} names no Schema (Glue database)")
    inputs = relational["InputColumns"]
    columns, locations = _glue_locations(account, region, database, name)
    known = {c.lower() for c in columns}
    missing = [c["Name"] for c in inputs if c["Name"].lower() not in known]
    if missing:
        raise IngestionError("SQL_SCHEMA_MISMATCH_ERROR", f"Glue table {database}.{name} has no column {missing[0]!r}")
    parts, dropped, built = [], 0, []
    for values, location in locations:
        files, manifest = _list_location(account, location)
        if (stamp := _completed_at(manifest)) is not None:
            built.append(stamp)
        for uri, source in files:
            table, lost = _read_file(uri, source, inputs, values)
            parts.append(table)
            dropped += lost
    schema = pa.schema([(c["Name"], ARROW_TYPES[c["Type"]]) for c in inputs])
    data = pa.concat_tables(parts) if parts else schema.empty_table()
    data, lost = apply_transforms(data.combine_chunks(), transforms)
    partitioned = bool(locations and locations[0][0])
    key = "dt" if partitioned and "dt" in locations[0][0] else (next(iter(locations[0][0])) if partitioned else None)
    last = max((v[key] for v, _ in locations if v.get(key) is not None), default=None) if key else None
    return Result(
        data=data,
        dropped=dropped + lost,
        table=name,
        partitions=len(locations) if partitioned else 0,
        last_partition=last,
        built_at=max(built) if built else None,
    )


def problem(definition: dict[str, Any]) -> str | None:
    """Why the definition is invalid (a transform naming a missing column...), or None."""
    try:
        output_columns(definition)
    except ValueError as exc:
        return str(exc)
    return None
