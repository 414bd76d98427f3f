"""The switch: how a complete run becomes the partition's current version, one strategy per lake
kind behind one interface - `DiskSwitch` (a symlink replaced by a rename) and `S3Switch` (the
pointer object in one conditional PUT, then the Glue partition's location).

The switch is conditional. A writer notes the version it starts from (`start`: the run the
partition names, and on S3 the pointer's ETag) and the switch replaces the partition only if it
still names that version; otherwise another writer switched it meanwhile and `PartitionRaceLost`
is raised before the Glue catalog is touched, so the catalog and the pointer never disagree. The
losing run's files stay, complete but not current, until garbage collection removes them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pipelines.aws_http import AwsError
from pipelines.lake.fs import LakeFS, fsync_dir
from pipelines.lake.partitions.layout import RUNS_DIR, pointer_rel, table_rel
from pipelines.lake.partitions.manifest import current_run_id

if TYPE_CHECKING:
    from pipelines.lake.partitions.manifest import PartitionInfo
    from pipelines.lake.partitions.writer import PartitionWriter

# S3's answers to a conditional PUT whose condition no longer holds: another PUT changed the ETag
# (412), raced this one (409), or the pointer is gone (If-Match on a missing key).
_LOST_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey"}
_LOST_STATUS = {412, 409}

Manifest = dict[str, Any]  # a run's manifest (pipelines/lake/partitions/manifest.py)


@dataclass(frozen=True)
class StartVersion:
    """The partition's current version when a write started: the run it named (None: no version)
    and, on S3, the pointer's ETag."""

    run_id: str | None
    etag: str | None = None


class PartitionRaceLost(RuntimeError):
    """Another writer switched the partition after this write started: this run is not current."""

    def __init__(self, writer: PartitionWriter, dt: str, run_id: str, expected: str | None, found: str | None):
        self.table = f"{writer.zone}/{writer.table}"
        self.dt = dt
        self.run_id = run_id
        self.expected = expected
        self.found = found
        super().__init__(
            f"{self.table} dt={dt}: run {run_id} lost the race to switch the partition - it started from "
            f"{_name(expected)}, but the partition now names {_name(found)}; the run's files are left "
            "for garbage collection and the Glue catalog is unchanged"
        )


def _name(run_id: str | None) -> str:
    return f"run {run_id}" if run_id else "no run"


class PartitionSwitch(Protocol):
    """Makes a complete run (its manifest written) the partition's current version, for readers and
    for Glue, if the partition is still at the version the write started from. The writer holds
    one, chosen by the lake's kind (`switch_for`)."""

    def start(self, writer: PartitionWriter, dt: str) -> StartVersion:
        """The partition's current version, noted when a write starts."""
        ...

    def switch(self, writer: PartitionWriter, manifest: Manifest, info: PartitionInfo, start: StartVersion) -> str:
        """Make the run current or raise `PartitionRaceLost`; on S3, return the ETag of the pointer
        it PUT ("" on disk)."""
        ...


class DiskSwitch:
    """On disk: `dt=...` is a symlink to the run folder, replaced atomically with `os.replace`.

    The writer holds the partition's lock around the switch, so comparing the symlink with the
    start version and renaming over it is one step for every other writer."""

    def start(self, writer: PartitionWriter, dt: str) -> StartVersion:
        return StartVersion(current_run_id(writer.lake, writer.table, dt, zone=writer.zone))

    def switch(self, writer: PartitionWriter, manifest: Manifest, info: PartitionInfo, start: StartVersion) -> str:
        dt, run_id = info.dt, info.run_id
        folder = writer.lake.local_path(table_rel(writer.zone, writer.table))
        link = folder / f"dt={dt}"
        if link.exists() and not link.is_symlink():
            raise RuntimeError(f"{link} is a real folder, not a partition symlink: move it away first")
        found = current_run_id(writer.lake, writer.table, dt, zone=writer.zone)
        if found != start.run_id:
            raise PartitionRaceLost(writer, dt, run_id, start.run_id, found)
        tmp = folder / f".dt={dt}.tmp-{run_id}"
        tmp.unlink(missing_ok=True)
        os.symlink(f"{RUNS_DIR}/dt={dt}/run={run_id}", tmp)
        os.replace(tmp, link)  # rename(2): readers see the old link or the new one
        fsync_dir(folder)
        if writer.catalog is not None:
            writer.catalog.set_partition(writer.glue_table, dt, info.location, schema=writer.schema)
        return ""


class S3Switch:
    """On S3: the pointer (the manifest) is PUT on condition of the start version's ETag (or of
    there being no pointer), then the Glue partition's location is set."""

    def start(self, writer: PartitionWriter, dt: str) -> StartVersion:
        found = writer.lake.objects.get(*writer.lake.bucket_key(pointer_rel(writer.zone, writer.table, dt)))
        return StartVersion(json.loads(found[1])["run_id"], found[0]) if found else StartVersion(None)

    def switch(self, writer: PartitionWriter, manifest: Manifest, info: PartitionInfo, start: StartVersion) -> str:
        dt, run_id = info.dt, info.run_id
        # S3 has no rename: lake readers follow the pointer, Athena the Glue partition's location.
        # The pointer decides who won, so it goes first; only the winner then moves Glue.
        objects = writer.lake.objects
        bucket, key = writer.lake.bucket_key(pointer_rel(writer.zone, writer.table, dt))
        pointer = json.dumps(manifest).encode()
        try:
            etag = objects.put(
                bucket, key, pointer, content_type="application/json",
                if_match=start.etag, if_none_match=start.etag is None,
            )
        except AwsError as exc:
            if exc.code not in _LOST_CODES and exc.status not in _LOST_STATUS:
                raise
            found = objects.get(bucket, key)
            now = json.loads(found[1])["run_id"] if found else None
            if now != run_id:  # else a retried PUT whose first attempt had landed: this run is current
                raise PartitionRaceLost(writer, dt, run_id, start.run_id, now) from exc
            etag = found[0]
        if writer.catalog is not None:
            writer.catalog.set_partition(writer.glue_table, dt, info.location, schema=writer.schema)
        return etag


def switch_for(lake: LakeFS) -> PartitionSwitch:
    """The switch of the lake's kind: a symlink on disk, a pointer on S3."""
    return DiskSwitch() if lake.is_local else S3Switch()


__all__ = [
    "DiskSwitch",
    "PartitionRaceLost",
    "PartitionSwitch",
    "S3Switch",
    "StartVersion",
    "switch_for",
]
