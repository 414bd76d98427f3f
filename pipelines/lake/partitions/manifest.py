"""Manifests and the current version of a partition: the manifest format, `PartitionInfo`, and
resolving a partition (symlink or pointer -> run -> manifest); listing partitions and tables.

On S3 a partition's pointer (`<zone>/<table>/_current/dt=....json`) *is* its current manifest:
`fetch_pointer` GETs one (with its ETag), `list_pointers` lists them all (with theirs)."""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.layout import (
    _DT,
    _NAME,
    CURRENT_DIR,
    MANIFEST,
    RUNS_DIR,
    check_dt,
    check_name,
    pointer_rel,
    run_rel,
    table_rel,
)

MANIFEST_FORMAT = 1
POINTER_NAME = re.compile(r"dt=(\d{4}-\d{2}-\d{2})\.json$")


# -- schema (de)serialisation ------------------------------------------------------------------


def schema_to_b64(schema: pa.Schema) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode()


def schema_from_b64(text: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


# -- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartitionInfo:
    """One written (or current) partition version."""

    table: str
    dt: str
    location: str  # URI of the run prefix, ending in "/"
    files: tuple[str, ...]  # URIs of the Parquet files, in order
    rows: int
    bytes: int
    row_groups: int
    schema: pa.Schema = field(compare=False)
    run_id: str = ""
    zone: str = "raw"
    completed_at: str = ""
    # S3: the ETag of the pointer this write PUT (as S3 answered the PUT), and the manifest it holds:
    # the entry a table's digest records for the partition (pipelines/lake/digest.py). Empty on disk.
    pointer_etag: str = field(default="", compare=False)
    manifest: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_manifest(cls, lake: LakeFS, manifest: dict[str, Any]) -> PartitionInfo:
        zone, table, dt, run_id = manifest["zone"], manifest["table"], manifest["dt"], manifest["run_id"]
        rel = run_rel(zone, table, dt, run_id)
        return cls(
            table=table,
            dt=dt,
            location=lake.uri_of(rel) + "/",
            files=tuple(lake.uri_of(rel, f["name"]) for f in manifest["files"]),
            rows=manifest["rows"],
            bytes=manifest["bytes"],
            row_groups=manifest["row_groups"],
            schema=schema_from_b64(manifest["schema"]),
            run_id=run_id,
            zone=zone,
            completed_at=manifest["completed_at"],
        )

    def metadata(self) -> dict[str, Any]:
        """Plain values for a Dagster `MaterializeResult`."""
        return {
            "table": f"{self.zone}/{self.table}",
            "dt": self.dt,
            "location": self.location,
            "run_id": self.run_id,
            "files": len(self.files),
            "rows": self.rows,
            "bytes": self.bytes,
            "row_groups": self.row_groups,
            "columns": {f.name: str(f.type) for f in self.schema},
        }


# -- pointers on S3 ----------------------------------------------------------------------------


def list_pointers(lake: LakeFS, zone: str, table: str, first: str | None = None, last: str | None = None,
                  limit: int | None = None) -> dict[str, str]:  # fmt: skip
    """The current partitions of a table on S3 and their pointers' ETags (one LIST per 1,000).

    With `first` and/or `last` (days, inclusive) only those in between: the listing starts at
    `first` and under the days' common prefix, and stops past `last` (a day's or a month's reader
    lists a few keys, not the year: parsing a LIST of 365 keys costs ~0.1 s). `limit`: the first
    `limit` days only."""
    bucket, prefix = lake.bucket_key(table_rel(zone, table), CURRENT_DIR)
    prefix += "/"
    listed = prefix + "dt="
    if first is not None and last is not None:
        listed += os.path.commonprefix([first, last])
    # from `first`'s key on (and a few before it: filtered below)
    start_after = f"{prefix}dt={first}"[:-1] if first is not None else None
    out = {}
    for key, etag in lake.objects.list(bucket, listed, start_after=start_after, max_keys=limit):
        match = POINTER_NAME.fullmatch(key[len(prefix) :])
        if not match or (first is not None and match.group(1) < first):
            continue
        if last is not None and match.group(1) > last:
            return out
        out[match.group(1)] = etag
    return out


def fetch_pointer(lake: LakeFS, zone: str, table: str, dt: str) -> tuple[str, dict[str, Any]] | None:
    """One pointer: (its ETag, the manifest it holds), from the same GET; None if it is gone.

    One GET without a range: a pointer can be replaced at any time, and pyarrow's ranged reads could
    mix two versions of it."""
    return fetch_json(lake, *lake.bucket_key(pointer_rel(zone, table, dt)))


def fetch_json(lake: LakeFS, bucket: str, key: str) -> tuple[str, dict[str, Any]] | None:
    """A replaceable JSON object on S3 (a pointer): its ETag and content from one GET; None if gone."""
    found = lake.objects.get(bucket, key)
    if found is None:
        return None
    return found[0], json.loads(found[1])


# -- resolving the current version -------------------------------------------------------------


def _run_id_from_target(target: str) -> str:
    # "_runs/dt=YYYY-MM-DD/run=<run_id>"
    parts = target.strip("/").split("/")
    if len(parts) != 3 or parts[0] != RUNS_DIR or not parts[2].startswith("run="):
        raise RuntimeError(f"partition symlink points outside the run folders: {target!r}")
    return parts[2][len("run=") :]


def current_run_id(lake: LakeFS, table: str, dt: str, *, zone: str = "raw") -> str | None:
    """The run the partition points at now (symlink on disk, pointer on S3), or None."""
    dt = check_dt(dt)
    if lake.is_local:
        link = lake.local_path(table_rel(zone, table), f"dt={dt}")
        try:
            return _run_id_from_target(os.readlink(link))
        except FileNotFoundError:
            return None
        except OSError as exc:  # EINVAL: a real folder, not written by this module
            raise RuntimeError(f"{link} is not a partition symlink") from exc
    manifest = current_manifest(lake, table, dt, zone=zone)
    return str(manifest["run_id"]) if manifest is not None else None


def read_manifest(lake: LakeFS, table: str, dt: str, run_id: str, *, zone: str = "raw") -> dict[str, Any] | None:
    try:
        # a run's manifest is written once and never replaced
        return json.loads(lake.read_bytes(run_rel(zone, table, dt, run_id), MANIFEST, immutable=True))
    except FileNotFoundError:
        return None


def current_manifest(lake: LakeFS, table: str, dt: str, *, zone: str = "raw") -> dict[str, Any] | None:
    """The manifest of the partition's current version (None if the partition does not exist).

    On S3 the pointer object *is* that manifest (one GET); on disk the symlink is read once and the
    manifest of the run it names is loaded. If garbage collection removes that run between the two
    steps (a reader paused across two switches), the symlink is read again.
    """
    dt = check_dt(dt)
    if not lake.is_local:
        found = fetch_pointer(lake, zone, table, dt)
        return found[1] if found is not None else None
    for _ in range(5):
        run_id = current_run_id(lake, table, dt, zone=zone)
        if run_id is None:
            return None
        manifest = read_manifest(lake, table, dt, run_id, zone=zone)
        if manifest is not None:
            return manifest
    raise RuntimeError(f"partition {zone}/{table}/dt={dt} points at a run without a manifest")


def partition_info(lake: LakeFS, table: str, dt: str, *, zone: str = "raw") -> PartitionInfo | None:
    manifest = current_manifest(lake, table, dt, zone=zone)
    return PartitionInfo.from_manifest(lake, manifest) if manifest else None


def current_location(lake: LakeFS, table: str, dt: str, *, zone: str = "raw") -> str | None:
    """URI (ending in "/") of the run folder the partition currently points at, or None."""
    run_id = current_run_id(lake, table, check_dt(dt), zone=zone)
    return lake.uri_of(run_rel(zone, table, dt, run_id)) + "/" if run_id else None


def list_partitions(lake: LakeFS, table: str, *, zone: str = "raw", limit: int | None = None) -> list[str]:
    """The days that have a current version, sorted (`limit`: the first ones only)."""
    if not lake.is_local:
        return sorted(list_pointers(lake, zone, table, limit=limit))[:limit]
    folder = lake.local_path(table_rel(zone, table))
    if not folder.is_dir():
        return []
    with os.scandir(folder) as entries:
        out = [e.name[3:] for e in entries if e.name.startswith("dt=") and e.is_symlink()]
    return sorted(d for d in out if _DT.match(d))[:limit]


def list_tables(lake: LakeFS, zone: str = "raw") -> list[str]:
    """Tables of a zone (folders under `<zone>/` with a valid table name)."""
    from pyarrow.fs import FileType

    return [n for n in lake.list_names(check_name(zone, "zone"), kind=FileType.Directory) if _NAME.match(n)]


__all__ = [
    "PartitionInfo",
    "current_location",
    "current_manifest",
    "current_run_id",
    "fetch_pointer",
    "list_partitions",
    "list_pointers",
    "list_tables",
    "partition_info",
]
