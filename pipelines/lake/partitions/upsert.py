"""Changing part of a partition as a new run: rows added or replaced by key (`stage_upsert`), and a
partition's files rewritten into few (`stage_compaction`). Both go through the writer's staged run,
so an audit reads the run before `PartitionWriter.publish` switches to it (write-audit-publish).

An upsert builds on the partition's current run: the files holding none of the replaced keys are
reused as they are (linked on disk, copied server-side on S3: no Parquet is rewritten), the few
holding a replaced key are rewritten without those rows, and the new rows go to one new file. The
run's manifest lists the reused files, the rewritten ones and the new one, plus whatever the caller
records in it (`extra`: the change stream's positions, `pipelines.stream`). The publish fails with
`PartitionRaceLost` if the partition changed since the run it built on.

A key is the string made of the key columns joined by `|` (a sale: `seller_id|sk`, as the quarantine's
`item_key` names it); rows with a null key are never replaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.lake.partitions.layout import check_dt, run_rel
from pipelines.lake.partitions.manifest import read_manifest
from pipelines.lake.partitions.switch import StartVersion
from pipelines.lake.partitions.writer import PartitionWriter, StagedRun

# Carried from run to run by upserts and compactions (a batch reload writes a run without them).
CARRIED = ("stream",)


def row_keys(table: pa.Table | pa.RecordBatch, columns: Sequence[str]) -> pa.Array:
    """Each row's key: its key columns (as strings) joined by `|`."""
    parts = [pc.cast(table.column(c), pa.string()) for c in columns]
    key = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "|")
    return key.combine_chunks() if isinstance(key, pa.ChunkedArray) else key


@dataclass(frozen=True)
class StagedChange:
    """A staged upsert or compaction and the arithmetic its audit checks."""

    staged: StagedRun
    base: dict[str, Any] | None  # the manifest of the run it built on (None: no partition yet)
    previous_rows: int
    added: int
    replaced: int
    reused_files: int
    rewritten_files: int

    @property
    def expected_rows(self) -> int:
        return self.previous_rows + self.added - self.replaced


def current_base(writer: PartitionWriter, dt: str | date) -> tuple[StartVersion, dict[str, Any] | None]:
    """The partition's current version and its run's manifest (None: no partition yet): what an
    upsert or a compaction builds on."""
    dt = check_dt(dt)
    start = writer.version(dt)
    base = read_manifest(writer.lake, writer.table, dt, start.run_id, zone=writer.zone) if start.run_id else None
    if start.run_id and base is None:
        raise RuntimeError(f"{writer.zone}/{writer.table} dt={dt}: the current run {start.run_id} has no manifest")
    return start, base


def carried(base: dict[str, Any] | None) -> dict[str, Any]:
    """What a new run keeps from the manifest it builds on (`CARRIED`)."""
    return {k: base[k] for k in CARRIED if base and k in base}


def stage_upsert(
    writer: PartitionWriter,
    dt: str | date,
    rows: pa.Table | pa.RecordBatch,
    keys: pa.Array | Sequence[str],
    key_columns: Sequence[str],
    *,
    extra: dict[str, Any] | None = None,
    base: tuple[StartVersion, dict[str, Any] | None] | None = None,
) -> StagedChange | None:
    """Stage the partition's current rows minus those whose key is in `keys`, plus `rows` (each of
    which should have its key in `keys`: an item's new version replaces its old one); None when
    the partition exists and nothing in it would change (no row to add or replace).

    `extra` goes into the manifest over what the base run's manifest carried (`CARRIED`). `base`:
    the `current_base` the caller already read (read here otherwise)."""
    dt = check_dt(dt)
    start, base = base if base is not None else current_base(writer, dt)
    value_set = pa.array(list(keys) if not isinstance(keys, pa.Array) else keys, pa.string())
    reuse: list[dict[str, Any]] = []
    rewritten: list[pa.Table] = []
    replaced = 0
    if base is not None:
        rel = run_rel(writer.zone, writer.table, dt, base["run_id"])
        for entry in base["files"]:
            path = writer.lake.path(rel, entry["name"])
            hit = pc.is_in(
                row_keys(pq.read_table(path, columns=list(key_columns), filesystem=writer.lake.fs), key_columns),
                value_set=value_set,
            )
            hits = pc.sum(hit).as_py() or 0
            if not hits:
                reuse.append(entry)
                continue
            whole = pq.read_table(path, filesystem=writer.lake.fs, schema=writer.schema)
            rewritten.append(whole.filter(pc.invert(pc.fill_null(hit, False))))
            replaced += hits
    if isinstance(rows, pa.RecordBatch):
        rows = pa.Table.from_batches([rows])
    if base is not None and not rows.num_rows and not replaced:
        return None  # nothing changes: no new run
    staged = writer.stage(
        dt,
        [*rewritten, rows],
        start=start,
        reuse=reuse,
        extra={**carried(base), **(extra or {})},
    )
    return StagedChange(
        staged,
        base,
        previous_rows=base["rows"] if base else 0,
        added=rows.num_rows,
        replaced=replaced,
        reused_files=len(reuse),
        rewritten_files=len(rewritten),
    )


def stage_compaction(writer: PartitionWriter, dt: str | date) -> StagedChange | None:
    """Stage the partition's current rows, unchanged, rewritten into as few files as the writer's
    `max_file_rows` allows; None if it is already one file (or missing). The manifest keeps what
    the base run carried (its stream positions)."""
    dt = check_dt(dt)
    start, base = current_base(writer, dt)
    if base is None or len(base["files"]) <= 1:
        return None
    rel = run_rel(writer.zone, writer.table, dt, base["run_id"])

    def batches():  # type: ignore[no-untyped-def]
        for entry in base["files"]:
            parquet = pq.ParquetFile(writer.lake.path(rel, entry["name"]), filesystem=writer.lake.fs)
            yield from parquet.iter_batches(batch_size=writer.row_group_rows)

    staged = writer.stage(dt, batches(), start=start, extra={**carried(base), "compacted_from": len(base["files"])})
    return StagedChange(staged, base, base["rows"], 0, 0, 0, len(base["files"]))


__all__ = ["CARRIED", "StagedChange", "carried", "current_base", "row_keys", "stage_compaction", "stage_upsert"]
