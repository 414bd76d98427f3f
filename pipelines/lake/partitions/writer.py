"""The partition writer: streams record batches into a run's Parquet files (`run_files`), writes its manifest,
switches the partition to it (`switch`) and collects the old runs (`gc`).

Write-audit-publish: `stage` stops after the manifest (the run is complete, not current), an
audit reads that run, and `publish` switches to it only if it passed; `write` does both at once."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.gc import DEFAULT_GRACE_S, DEFAULT_KEEP_PREVIOUS, DEFAULT_STALE_S, collect_garbage
from pipelines.lake.partitions.layout import (
    _RUN_ID,
    MANIFEST,
    check_dt,
    check_name,
    glue_table_name,
    new_run_id,
    run_rel,
    runs_rel,
    table_rel,
)
from pipelines.lake.partitions.manifest import MANIFEST_FORMAT, PartitionInfo, schema_to_b64
from pipelines.lake.partitions.run_files import RunFiles, dictionary_columns
from pipelines.lake.partitions.switch import PartitionSwitch, StartVersion, switch_for

if TYPE_CHECKING:
    from pipelines.lake.catalog import GlueCatalog

DEFAULT_ROW_GROUP_ROWS = 128 * 1024
DEFAULT_MAX_FILE_ROWS = 16 * DEFAULT_ROW_GROUP_ROWS  # 2,097,152 rows


@contextlib.contextmanager
def _partition_lock(lake: LakeFS, zone: str, table: str, dt: str) -> Iterator[bool]:
    """On disk, an exclusive flock per partition for the whole write (released by the kernel if
    the writer dies). S3 has no locks: the orchestrator runs one writer per table at a time (its
    concurrency pool), and the switch's conditional PUT catches any other."""
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


@dataclass(frozen=True)
class StagedRun:
    """A run written by `PartitionWriter.stage`: complete, not current. `info` describes it (its id,
    location, files, rows); `PartitionWriter.publish` switches to it if the partition is still at
    the version the write started from (`start`)."""

    info: PartitionInfo
    manifest: dict[str, Any]
    start: StartVersion


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
        self._switch: PartitionSwitch = switch_for(lake)  # a symlink on disk, a pointer on S3

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
        """Write the whole partition `dt` from `batches` and make it the current version (`stage`
        and `publish` in one step, under one lock)."""
        dt, run_id, start = self._begin(dt, run_id)
        with _partition_lock(self.lake, self.zone, self.table, dt) as exclusive:
            return self._publish(self._stage(dt, batches, run_id, start), exclusive)

    def stage(
        self,
        dt: str | date,
        batches: Iterable[pa.RecordBatch | pa.Table],
        *,
        run_id: str | None = None,
        start: StartVersion | None = None,
        reuse: Sequence[dict[str, Any]] = (),
        extra: dict[str, Any] | None = None,
    ) -> StagedRun:
        """Write the whole partition `dt` from `batches` as a run that is complete but not current:
        invisible to readers and to Glue, for an audit to read (`read_partition(..., run_id=...)`)
        before `publish` switches to it. A run never published is kept like an old run (see `gc`),
        so a failed audit leaves it for inspection.

        An append (`pipelines.lake.partitions.upsert`) passes the version it read (`start`, from
        `version`), the files of that version's run it keeps (`reuse`: manifest file entries, linked
        into the new run on disk and copied server-side on S3, never rewritten) and values the
        manifest records beside the files (`extra`, e.g. a stream position)."""
        dt, run_id, start = self._begin(dt, run_id, start)
        with _partition_lock(self.lake, self.zone, self.table, dt):
            return self._stage(dt, batches, run_id, start, reuse=reuse, base=start.run_id, extra=extra)

    def version(self, dt: str | date) -> StartVersion:
        """The partition's current version (its run id; on S3 its pointer's ETag): what a write
        that builds on it passes to `stage` as `start`, so that its publish fails if it changed."""
        return self._switch.start(self, check_dt(dt))

    def publish(self, staged: StagedRun) -> PartitionInfo:
        """Make a staged run the partition's current version (the switch, if the partition is still
        at the version the write started from, then the garbage collection of old runs)."""
        info = staged.info
        if (info.zone, info.table) != (self.zone, self.table):
            raise ValueError(f"{info.zone}/{info.table} is not this writer's table {self.zone}/{self.table}")
        with _partition_lock(self.lake, self.zone, self.table, info.dt) as exclusive:
            return self._publish(staged, exclusive)

    def _begin(
        self, dt: str | date, run_id: str | None, start: StartVersion | None = None
    ) -> tuple[str, str, StartVersion]:
        dt = check_dt(dt)
        run_id = run_id or new_run_id()
        if not _RUN_ID.match(run_id):
            raise ValueError(f"bad run id {run_id!r}")
        self._ensure_catalog()  # before any data: a schema Glue cannot take fails the write early
        # The version this write replaces: the switch fails (PartitionRaceLost) if another writer
        # switched the partition meanwhile, also one that held the lock while this one waited.
        return dt, run_id, start or self._switch.start(self, dt)

    def _stage(
        self,
        dt: str,
        batches: Iterable[pa.RecordBatch | pa.Table],
        run_id: str,
        start: StartVersion,
        *,
        reuse: Sequence[dict[str, Any]] = (),
        base: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> StagedRun:
        rel = run_rel(self.zone, self.table, dt, run_id)
        self.lake.makedirs(rel)
        files = RunFiles(self, rel, run_id)
        try:
            if reuse:
                if base is None:
                    raise ValueError("files to reuse need the run they belong to")
                files.reuse(run_rel(self.zone, self.table, dt, base), reuse)
            self._stream(batches, files)
            files.finish()
        except BaseException:
            files.abandon()
            with contextlib.suppress(Exception):
                self.lake.delete_prefix(rel)
            raise
        manifest = {**self._manifest(dt, run_id, files.files), **(extra or {})}
        self.lake.write_bytes(json.dumps(manifest, indent=1).encode(), rel, MANIFEST)  # the run is complete
        return StagedRun(PartitionInfo.from_manifest(self.lake, manifest), manifest, start)

    def _publish(self, staged: StagedRun, exclusive: bool) -> PartitionInfo:
        info, manifest = staged.info, staged.manifest
        dt, run_id = info.dt, info.run_id
        pointer_etag = self._switch.switch(self, manifest, info, staged.start)
        if pointer_etag:
            info = replace(info, pointer_etag=pointer_etag, manifest=manifest)
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

    def _stream(self, data: Iterable[pa.RecordBatch | pa.Table], files: RunFiles) -> None:
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

    def _flush(self, buffer: list[pa.RecordBatch], n: int, files: RunFiles) -> list[pa.RecordBatch]:
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
    "PartitionWriter",
    "StagedRun",
    "write_partition",
]
