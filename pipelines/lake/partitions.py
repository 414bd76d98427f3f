"""Daily partitions of the lake: streamed Parquet writes and an atomic switch.

Layout (relative to the lake root; `<zone>` is `raw` or `quarantine`, see docs/lake.md):

    <zone>/<table>/_runs/dt=YYYY-MM-DD/run=<run_id>/part-00000-<rand>.parquet  data, one folder a run
    <zone>/<table>/_runs/dt=YYYY-MM-DD/run=<run_id>/_manifest.json                written last: run complete
    <zone>/<table>/dt=YYYY-MM-DD -> _runs/dt=YYYY-MM-DD/run=<run_id>              disk: the switch (symlink)
    <zone>/<table>/_current/dt=YYYY-MM-DD.json                                     S3: the switch (pointer)

A write streams record batches into row groups of a fixed size (memory stays bounded whatever the
day's size), rolls to a new file past `max_file_rows`, writes the manifest, and only then switches
the partition to the new run: on disk by replacing the symlink with `os.replace` (a rename), on S3
by setting the Glue partition's location and then PUTting the pointer object. Before the switch
the old partition is untouched; after it, old runs are garbage-collected (the previous one is kept).

Readers resolve the partition once (symlink or pointer -> run -> manifest) and read exactly the
files that manifest names, so they see one whole version, never a mix and never a half-written run.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.lake.fs import LakeFS, fsync_dir

if TYPE_CHECKING:
    import pyarrow.dataset as ds

    from pipelines.lake.catalog import GlueCatalog

RUNS_DIR = "_runs"
CURRENT_DIR = "_current"
MANIFEST = "_manifest.json"
MANIFEST_FORMAT = 1
DEFAULT_ROW_GROUP_ROWS = 128 * 1024
DEFAULT_MAX_FILE_ROWS = 16 * DEFAULT_ROW_GROUP_ROWS  # 2,097,152 rows
DEFAULT_KEEP_PREVIOUS = 1
DEFAULT_GRACE_S = 15 * 60.0
DEFAULT_STALE_S = 6 * 3600.0

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_DT = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RUN_ID = re.compile(r"^(\d{8}T\d{12}Z)-[0-9a-f]{8,32}$")


class PartitionNotFound(LookupError):
    pass


# -- names -------------------------------------------------------------------------------------


def check_name(name: str, what: str = "table") -> str:
    if not _NAME.match(name):
        raise ValueError(f"bad {what} name {name!r}: lower-case letters, digits and _ (starting with a letter)")
    return name


def check_dt(dt: str | date) -> str:
    if isinstance(dt, date):
        return dt.isoformat()
    if not isinstance(dt, str) or not _DT.match(dt):
        raise ValueError(f"bad partition dt {dt!r}: expected YYYY-MM-DD")
    date.fromisoformat(dt)  # a real day
    return dt


def new_run_id(now: datetime | None = None) -> str:
    """A sortable run id: UTC time to the microsecond plus randomness (`20240501T120000123456Z-1a2b3c4d`)."""
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%S%f')}Z-{uuid.uuid4().hex[:8]}"


def run_started_at(run_id: str) -> float | None:
    m = _RUN_ID.match(run_id)
    if not m:
        return None
    return datetime.strptime(m.group(1), "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC).timestamp()


def glue_table_name(zone: str, table: str) -> str:
    """Glue name of a lake table: `<zone>_<table>`, unless the table name already starts so
    (`raw/raw_sales` -> `raw_sales`, `quarantine/sales` -> `quarantine_sales`)."""
    return table if table.startswith(f"{zone}_") else f"{zone}_{table}"


def table_rel(zone: str, table: str) -> str:
    return LakeFS.join(check_name(zone, "zone"), check_name(table))


def runs_rel(zone: str, table: str, dt: str) -> str:
    return LakeFS.join(table_rel(zone, table), RUNS_DIR, f"dt={dt}")


def run_rel(zone: str, table: str, dt: str, run_id: str) -> str:
    return LakeFS.join(runs_rel(zone, table, dt), f"run={run_id}")


def pointer_rel(zone: str, table: str, dt: str) -> str:
    return LakeFS.join(table_rel(zone, table), CURRENT_DIR, f"dt={dt}.json")


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
    # S3: the MD5 of the pointer this write PUT, and the manifest it holds; a table's digest trusts
    # them where the listed ETag is that MD5 (pipelines/lake/digest.py). Empty on disk.
    pointer_md5: str = field(default="", compare=False)
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
    try:
        pointer = json.loads(lake.read_bytes(pointer_rel(zone, table, dt)))
    except FileNotFoundError:
        return None
    return str(pointer["run_id"])


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
        try:
            return json.loads(lake.read_bytes(pointer_rel(zone, table, dt)))
        except FileNotFoundError:
            return None
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


def list_partitions(lake: LakeFS, table: str, *, zone: str = "raw") -> list[str]:
    """The days that have a current version, sorted."""
    out = []
    if lake.is_local:
        folder = lake.local_path(table_rel(zone, table))
        if not folder.is_dir():
            return []
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("dt=") and entry.is_symlink():
                    out.append(entry.name[3:])
    else:
        for name in lake.list_names(table_rel(zone, table), CURRENT_DIR):
            if name.startswith("dt=") and name.endswith(".json"):
                out.append(name[3:-5])
    return sorted(d for d in out if _DT.match(d))


def list_tables(lake: LakeFS, zone: str = "raw") -> list[str]:
    """Tables of a zone (folders under `<zone>/` with a valid table name)."""
    from pyarrow.fs import FileType

    return [n for n in lake.list_names(check_name(zone, "zone"), kind=FileType.Directory) if _NAME.match(n)]


# -- reading -----------------------------------------------------------------------------------


def _is_not_found(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, FileNotFoundError) or "NO_SUCH_KEY" in text or "Path does not exist" in text


def read_partition(
    lake: LakeFS,
    table: str,
    dt: str,
    *,
    zone: str = "raw",
    columns: Sequence[str] | None = None,
    filter: ds.Expression | None = None,  # noqa: A002
) -> pa.Table:
    """The partition's current version, whole (through the symlink or pointer, never a listing).

    If the version read is garbage-collected while it is being read (only possible when the
    partition was switched at least twice meanwhile), the read starts again on the new version.
    """
    import pyarrow.dataset as ds  # here, not at the top: it weighs ~40 MB and writers never read

    dt = check_dt(dt)
    last_exc: BaseException | None = None
    for _ in range(5):
        manifest = current_manifest(lake, table, dt, zone=zone)
        if manifest is None:
            raise PartitionNotFound(f"{zone}/{table}/dt={dt}")
        rel = run_rel(zone, table, dt, manifest["run_id"])
        paths = [lake.path(rel, f["name"]) for f in manifest["files"]]
        schema = schema_from_b64(manifest["schema"])
        try:
            dataset_ = ds.dataset(paths, schema=schema, format="parquet", filesystem=lake.fs)
            return dataset_.to_table(columns=list(columns) if columns is not None else None, filter=filter)
        except OSError as exc:
            if not _is_not_found(exc) or current_run_id(lake, table, dt, zone=zone) == manifest["run_id"]:
                raise
            last_exc = exc  # switched and collected under us: read the new version
    raise RuntimeError(f"{zone}/{table}/dt={dt} kept changing while being read") from last_exc


def dataset(
    lake: LakeFS,
    table: str,
    *,
    zone: str = "raw",
    schema: pa.Schema | None = None,
    dts: Iterable[str] | None = None,
) -> ds.Dataset:
    """A `pyarrow.dataset` over the current version of every partition (or of `dts`).

    `dt` is a string partition column (not stored in the files). Each partition is resolved once,
    when this is called: the dataset is a snapshot and never mixes two versions of a day. The
    schema is `schema` or the newest partition's, plus `dt`.
    """
    import pyarrow.dataset as ds

    days = sorted(check_dt(d) for d in dts) if dts is not None else list_partitions(lake, table, zone=zone)
    paths: list[str] = []
    partitions: list[ds.Expression] = []
    newest_schema: pa.Schema | None = None
    for day in days:
        manifest = current_manifest(lake, table, day, zone=zone)
        if manifest is None:
            continue
        rel = run_rel(zone, table, day, manifest["run_id"])
        for f in manifest["files"]:
            paths.append(lake.path(rel, f["name"]))
            partitions.append(ds.field("dt") == day)
        newest_schema = schema_from_b64(manifest["schema"])
    base = schema or newest_schema
    if base is None:
        raise PartitionNotFound(f"{zone}/{table}: no partitions and no schema given")
    if "dt" not in base.names:
        base = base.append(pa.field("dt", pa.string()))
    return ds.FileSystemDataset.from_paths(
        paths, schema=base, format=ds.ParquetFileFormat(), filesystem=lake.fs, partitions=partitions
    )


# -- garbage collection ------------------------------------------------------------------------


def collect_garbage(
    lake: LakeFS,
    table: str,
    dt: str,
    *,
    zone: str = "raw",
    keep_previous: int = DEFAULT_KEEP_PREVIOUS,
    grace_s: float = DEFAULT_GRACE_S,
    stale_s: float = DEFAULT_STALE_S,
    protect: Iterable[str] = (),
    exclusive: bool = False,
    now: float | None = None,
    current: str | None = None,
    manifests: dict[str, dict[str, Any]] | None = None,
) -> list[str]:
    """Delete the run folders of a partition nobody should read any more; returns their run ids.

    Kept: the current run, runs in `protect` (e.g. the one the Glue partition names), the
    `keep_previous` newest other complete runs, and complete runs superseded less than `grace_s`
    ago (a reader that resolved them just before a switch can finish). Incomplete runs (no
    manifest: a crashed or running writer) are deleted when `exclusive` (the caller holds the
    partition's lock, so no writer is running) or when they started more than `stale_s` ago.
    """
    dt = check_dt(dt)
    now = time.time() if now is None else now
    protected = {r for r in protect if r}
    current = current or current_run_id(lake, table, dt, zone=zone)
    if current:
        protected.add(current)
    run_ids = sorted(
        (n[4:] for n in lake.list_names(runs_rel(zone, table, dt)) if n.startswith("run=")),
        reverse=True,  # newest first
    )
    complete: list[tuple[str, float]] = []
    incomplete: list[str] = []
    for run_id in run_ids:
        manifest = (manifests or {}).get(run_id) or read_manifest(lake, table, dt, run_id, zone=zone)
        if manifest is None:
            incomplete.append(run_id)
        else:
            complete.append((run_id, datetime.fromisoformat(manifest["completed_at"]).timestamp()))
    deleted: list[str] = []
    kept_previous = 0
    for i, (run_id, _) in enumerate(complete):
        if run_id in protected:
            continue
        if kept_previous < keep_previous:
            kept_previous += 1
            continue
        superseded_at = complete[i - 1][1] if i > 0 else None  # when the next newer run was complete
        if superseded_at is None or now - superseded_at < grace_s:
            continue
        lake.delete_prefix(run_rel(zone, table, dt, run_id))
        deleted.append(run_id)
    for run_id in incomplete:
        if run_id in protected:
            continue
        started = run_started_at(run_id)
        if exclusive or (started is not None and now - started > stale_s):
            lake.delete_prefix(run_rel(zone, table, dt, run_id))
            deleted.append(run_id)
    if lake.is_local and exclusive:
        # temp symlinks of a switch that crashed between symlink() and replace()
        folder = lake.local_path(table_rel(zone, table))
        for stray in folder.glob(f".dt={dt}.tmp-*"):
            stray.unlink(missing_ok=True)
    return deleted


# -- writing -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _partition_lock(lake: LakeFS, zone: str, table: str, dt: str) -> Iterator[bool]:
    """On disk, an exclusive flock per partition for the whole write (released by the kernel if
    the writer dies). S3 has no locks: the orchestrator runs one writer per partition at a time."""
    if not lake.is_local:
        yield False
        return
    folder = lake.local_path(runs_rel(zone, table, dt))
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield True
    finally:
        os.close(fd)  # releases the lock


class _RunFiles:
    """Streams row groups into the Parquet files of one run, rolling files at `max_file_rows`."""

    def __init__(self, writer: PartitionWriter, rel: str, run_id: str) -> None:
        self.w = writer
        self.rel = rel
        self.run_id = run_id
        self.files: list[dict[str, Any]] = []
        self._sink: Any = None
        self._pq: pq.ParquetWriter | None = None
        self._name = ""
        self._rows = 0
        self._row_groups = 0

    @property
    def room(self) -> int:
        """Rows that still fit in the open (or next) file."""
        return self.w.max_file_rows - self._rows if self._pq is not None else self.w.max_file_rows

    def _open(self) -> None:
        self._name = f"part-{len(self.files):05d}-{self.run_id.rsplit('-', 1)[-1]}.parquet"
        self._sink = self.w.lake.fs.open_output_stream(self.w.lake.path(self.rel, self._name))
        self._pq = pq.ParquetWriter(
            self._sink,
            self.w.schema,
            compression=self.w.compression,
            compression_level=self.w.compression_level,
            write_statistics=True,
            use_dictionary=self.w.use_dictionary,
        )
        self._rows = 0
        self._row_groups = 0

    def write_row_group(self, table: pa.Table) -> None:
        if self._pq is None:
            self._open()
        assert self._pq is not None
        self._pq.write_table(table, row_group_size=max(table.num_rows, 1))
        self._rows += table.num_rows
        self._row_groups += 1
        if self._rows >= self.w.max_file_rows:
            self._close_file()

    def _close_file(self) -> None:
        assert self._pq is not None
        self._pq.close()
        size = self._sink.tell()
        self._sink.close()
        if self.w.lake.is_local:
            fd = os.open(self.w.lake.path(self.rel, self._name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self.files.append({"name": self._name, "rows": self._rows, "bytes": size, "row_groups": self._row_groups})
        self._pq = None
        self._sink = None

    def finish(self) -> None:
        if self._pq is None and not self.files:
            self._open()  # an empty day is an empty partition (one file, no rows), not a missing one
        if self._pq is not None:
            self._close_file()

    def abandon(self) -> None:
        # The run has no manifest and is never read; close the sink first so no footer follows.
        if self._sink is not None:
            with contextlib.suppress(Exception):
                self._sink.close()
            self._sink = None
        if self._pq is not None:
            self._pq.is_open = False
            self._pq = None


class PartitionWriter:
    """Writes whole daily partitions of one lake table and switches them atomically.

    `write(dt, batches)` consumes an iterable of `pa.RecordBatch` (or tables) with the writer's
    schema, holding at most one row group (`row_group_rows`) plus one input batch in memory.
    Different partitions may be written from different threads at once.
    """

    def __init__(
        self,
        lake: LakeFS,
        table: str,
        schema: pa.Schema,
        *,
        zone: str = "raw",
        row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
        max_file_rows: int = DEFAULT_MAX_FILE_ROWS,
        compression: str = "zstd",
        compression_level: int | None = None,
        use_dictionary: bool | list[str] | None = None,
        catalog: GlueCatalog | None = None,
        glue_table: str | None = None,
        keep_previous: int = DEFAULT_KEEP_PREVIOUS,
        grace_s: float = DEFAULT_GRACE_S,
        stale_s: float = DEFAULT_STALE_S,
    ) -> None:
        if "dt" in schema.names:
            raise ValueError("`dt` is the partition column: it is not stored in the files")
        if row_group_rows < 1 or max_file_rows < 1:
            raise ValueError("row_group_rows and max_file_rows must be positive")
        self.lake = lake
        self.zone = check_name(zone, "zone")
        self.table = check_name(table)
        self.schema = schema
        self.row_group_rows = row_group_rows
        self.max_file_rows = max_file_rows
        self.compression = compression
        self.compression_level = compression_level
        self.catalog = catalog
        self.glue_table = glue_table or glue_table_name(self.zone, self.table)
        self.keep_previous = keep_previous
        self.grace_s = grace_s
        self.stale_s = stale_s
        self._catalog_ready = False
        self._catalog_lock = threading.Lock()  # partitions may be written by several threads
        self._required = [i for i, f in enumerate(schema) if not f.nullable]
        self.use_dictionary = dictionary_columns(schema) if use_dictionary is None else use_dictionary

    # -- input -----------------------------------------------------------------------------------

    def _conform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if not batch.schema.equals(self.schema):
            if batch.schema.names != self.schema.names:
                raise ValueError(f"batch columns {batch.schema.names} differ from the schema's {self.schema.names}")
            columns = [
                col if col.type == f.type else col.cast(f.type, safe=True)
                for col, f in zip(batch.columns, self.schema, strict=True)
            ]
            batch = pa.RecordBatch.from_arrays(columns, schema=self.schema)
        for i in self._required:
            if batch.column(i).null_count:
                raise ValueError(f"column {self.schema.field(i).name!r} is required but has nulls")
        return batch

    def _batches(self, data: Iterable[pa.RecordBatch | pa.Table]) -> Iterator[pa.RecordBatch]:
        for item in data:
            for batch in item.to_batches() if isinstance(item, pa.Table) else (item,):
                if batch.num_rows:
                    yield self._conform(batch)

    # -- the write -------------------------------------------------------------------------------

    def write(
        self, dt: str | date, batches: Iterable[pa.RecordBatch | pa.Table], *, run_id: str | None = None
    ) -> PartitionInfo:
        """Write the whole partition `dt` from `batches` and make it the current version."""
        dt = check_dt(dt)
        run_id = run_id or new_run_id()
        if not _RUN_ID.match(run_id):
            raise ValueError(f"bad run id {run_id!r}")
        rel = run_rel(self.zone, self.table, dt, run_id)
        self._ensure_catalog()  # before any data: a schema Glue cannot take fails the write early
        with _partition_lock(self.lake, self.zone, self.table, dt) as exclusive:
            self.lake.makedirs(rel)
            files = _RunFiles(self, rel, run_id)
            try:
                self._stream(batches, files)
                files.finish()
            except BaseException:
                files.abandon()
                with contextlib.suppress(Exception):
                    self.lake.delete_prefix(rel)
                raise
            manifest = self._manifest(dt, run_id, files.files)
            self.lake.write_bytes(json.dumps(manifest, indent=1).encode(), rel, MANIFEST)  # the run is complete
            info = PartitionInfo.from_manifest(self.lake, manifest)
            pointer_md5 = self._switch(dt, run_id, manifest, info)
            if pointer_md5:
                info = replace(info, pointer_md5=pointer_md5, manifest=manifest)
            protect = []
            if self.catalog is not None:
                glue_location = self.catalog.get_partition_location(self.glue_table, dt)
                if glue_location:
                    protect.append(glue_location.rstrip("/").rsplit("/run=", 1)[-1])
            collect_garbage(
                self.lake,
                self.table,
                dt,
                zone=self.zone,
                keep_previous=self.keep_previous,
                grace_s=self.grace_s,
                stale_s=self.stale_s,
                protect=protect,
                exclusive=exclusive,
                current=run_id,  # just switched to it, under the lock (disk) / as the one writer (S3)
                manifests={run_id: manifest},
            )
        return info

    def _stream(self, data: Iterable[pa.RecordBatch | pa.Table], files: _RunFiles) -> None:
        # At most one row group plus one input batch is referenced at any time: each group is
        # handed to the Parquet writer and dropped before the next input batch is pulled.
        buffer: list[pa.RecordBatch] = []
        buffered = 0
        for batch in self._batches(data):
            buffer.append(batch)
            buffered += batch.num_rows
            del batch
            while buffered >= (target := min(self.row_group_rows, files.room)):
                buffer = self._flush(buffer, target, files)
                buffered -= target
        while buffered:
            target = min(self.row_group_rows, files.room, buffered)
            buffer = self._flush(buffer, target, files)
            buffered -= target

    def _flush(self, buffer: list[pa.RecordBatch], n: int, files: _RunFiles) -> list[pa.RecordBatch]:
        group, rest = _take(buffer, n)
        buffer.clear()
        files.write_row_group(pa.Table.from_batches(group, schema=self.schema))
        return rest

    def _manifest(self, dt: str, run_id: str, files: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "zone": self.zone,
            "table": self.table,
            "dt": dt,
            "run_id": run_id,
            "files": files,
            "rows": sum(f["rows"] for f in files),
            "bytes": sum(f["bytes"] for f in files),
            "row_groups": sum(f["row_groups"] for f in files),
            "columns": [[f.name, str(f.type)] for f in self.schema],
            "schema": schema_to_b64(self.schema),
            "completed_at": datetime.now(UTC).isoformat(),
        }

    def prepare(self) -> None:
        """Make sure the Glue database and table exist (once; `write` does it on first use)."""
        self._ensure_catalog()

    def _ensure_catalog(self) -> None:
        if self.catalog is None or self._catalog_ready:
            return
        with self._catalog_lock:
            if self._catalog_ready:
                return
            self.catalog.ensure_database()
            self.catalog.ensure_table(
                self.glue_table, self.schema, self.lake.uri_of(table_rel(self.zone, self.table)) + "/"
            )
            self._catalog_ready = True

    def _switch(self, dt: str, run_id: str, manifest: dict[str, Any], info: PartitionInfo) -> str:
        """Make the run current; on S3, return the MD5 (hex) of the pointer it PUT."""
        if self.lake.is_local:
            folder = self.lake.local_path(table_rel(self.zone, self.table))
            link = folder / f"dt={dt}"
            if link.exists() and not link.is_symlink():
                raise RuntimeError(f"{link} is a real folder, not a partition symlink: move it away first")
            tmp = folder / f".dt={dt}.tmp-{run_id}"
            tmp.unlink(missing_ok=True)
            os.symlink(f"{RUNS_DIR}/dt={dt}/run={run_id}", tmp)
            os.replace(tmp, link)  # rename(2): readers see the old link or the new one
            fsync_dir(folder)
            if self.catalog is not None:
                self.catalog.set_partition(self.glue_table, dt, info.location, schema=self.schema)
            return ""
        # S3 has no rename: Athena follows the Glue partition's location, lake readers the pointer,
        # which is written last in one PUT.
        if self.catalog is not None:
            self.catalog.set_partition(self.glue_table, dt, info.location, schema=self.schema)
        pointer = json.dumps(manifest).encode()
        self.lake.write_bytes(pointer, pointer_rel(self.zone, self.table, dt), content_type="application/json")
        return hashlib.md5(pointer, usedforsecurity=False).hexdigest()


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """Parquet leaf columns worth dictionary-encoding: all but timestamps, dates and floats.

    Those are nearly unique per row, so their dictionary only grows until the writer falls back to
    plain encoding at the 1 MiB dictionary page limit (131,072 int64 values) - and that fallback
    re-encodes the buffered pages, about doubling the writer's memory for the row group.
    """
    sink = pa.BufferOutputStream()
    pq.write_table(schema.empty_table(), sink)
    parquet_schema = pq.ParquetFile(pa.BufferReader(sink.getvalue())).schema
    out = []
    for i in range(len(parquet_schema)):
        column = parquet_schema.column(i)
        logical = str(column.logical_type)
        if column.physical_type in ("FLOAT", "DOUBLE") or logical.startswith(("Timestamp", "Date", "Time")):
            continue
        out.append(column.path)
    return out


def _take(buffer: list[pa.RecordBatch], n: int) -> tuple[list[pa.RecordBatch], list[pa.RecordBatch]]:
    """Split the first `n` rows off a list of batches (zero-copy slices)."""
    out: list[pa.RecordBatch] = []
    need = n
    i = 0
    while need:
        batch = buffer[i]
        if batch.num_rows <= need:
            out.append(batch)
            need -= batch.num_rows
            i += 1
        else:
            out.append(batch.slice(0, need))
            buffer = [batch.slice(need), *buffer[i + 1 :]]
            return out, buffer
    return out, buffer[i:]


def write_partition(
    lake: LakeFS,
    table: str,
    schema: pa.Schema,
    dt: str | date,
    batches: Iterable[pa.RecordBatch | pa.Table],
    **kwargs: Any,
) -> PartitionInfo:
    """One-shot `PartitionWriter(lake, table, schema, **kwargs).write(dt, batches)`."""
    return PartitionWriter(lake, table, schema, **kwargs).write(dt, batches)


__all__ = [
    "PartitionInfo",
    "PartitionNotFound",
    "PartitionWriter",
    "collect_garbage",
    "current_location",
    "current_manifest",
    "current_run_id",
    "dataset",
    "glue_table_name",
    "list_partitions",
    "list_tables",
    "new_run_id",
    "partition_info",
    "read_partition",
    "write_partition",
]
