"""Reading a RelationalTable's rows through moto's Glue catalog, in this process.

A RelationalTable names a Glue database (`Schema`) and table (`Name`). A partitioned table is read
partition by partition (each `StorageDescriptor.Location`, its partition values as columns), an
unpartitioned one from the table's `Location`. Locations are `file://` folders or `s3://` prefixes
of this same moto (read from its S3 backend in process); the `*.parquet` files directly in them are
read (names starting with `_` or `.` are skipped), and the `completed_at` of a `_manifest.json`
next to them gives the snapshot's `built_at`. Each file's input columns are converted to their
types (`casts.py`); a row with a value that does not convert is dropped (and counted).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gitgoods.local.quicksight.casts import ARROW_TYPES, convert, drop_unconverted
from gitgoods.local.quicksight.errors import IngestionError
from gitgoods.local.quicksight.spice import parse_iso

MANIFEST = "_manifest.json"


def glue_locations(account: str, region: str, database: str, name: str) -> tuple[list[str], list[tuple[dict, str]]]:
    """(the table's column names, [(partition values, location)] in partition order)."""
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


def _is_data_file(name: str) -> bool:
    return name.endswith(".parquet") and not name.startswith(("_", "."))


def list_location(account: str, location: str) -> tuple[list[tuple[str, Any]], bytes | None]:
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
            if base == MANIFEST:
                manifest = obj.value
            elif _is_data_file(base):
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
        if path.name == MANIFEST:
            manifest = path.read_bytes()
        elif _is_data_file(path.name):
            files.append((str(path), str(path)))
    return files, manifest


def completed_at(manifest: bytes | None) -> datetime | None:
    """The `completed_at` of a _manifest.json, or None (no manifest, or none readable in it)."""
    try:
        return parse_iso(json.loads(manifest)["completed_at"] if manifest else None)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def read_file(uri: str, source: Any, inputs: list[dict], values: dict[str, str]) -> tuple[pa.Table, int]:
    """One Parquet file's input columns (a partition's values fill the columns it lacks), typed,
    without the rows that did not convert; and how many those were."""
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
    return drop_unconverted(pa.table(columns, names=[c["Name"] for c in inputs]), bad)
