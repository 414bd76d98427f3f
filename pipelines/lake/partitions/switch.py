"""The switch: how a complete run becomes the partition's current version, one strategy per lake
kind behind one interface - `DiskSwitch` (a symlink replaced by a rename) and `S3Switch` (the Glue
partition's location, then the pointer object in one PUT)."""

from __future__ import annotations

import hashlib
import json
import os
from typing import TYPE_CHECKING, Any, Protocol

from pipelines.lake.fs import LakeFS, fsync_dir
from pipelines.lake.partitions.layout import RUNS_DIR, pointer_rel, table_rel

if TYPE_CHECKING:
    from pipelines.lake.partitions.manifest import PartitionInfo
    from pipelines.lake.partitions.writer import PartitionWriter


class PartitionSwitch(Protocol):
    """Makes a complete run (its manifest written) the partition's current version, for readers and
    for Glue. The writer holds one, chosen by the lake's kind (`switch_for`)."""

    def switch(
        self, writer: PartitionWriter, dt: str, run_id: str, manifest: dict[str, Any], info: PartitionInfo
    ) -> str:
        """Make the run current; on S3, return the MD5 (hex) of the pointer it PUT ("" on disk)."""
        ...


class DiskSwitch:
    """On disk: `dt=...` is a symlink to the run folder, replaced atomically with `os.replace`."""

    def switch(
        self, writer: PartitionWriter, dt: str, run_id: str, manifest: dict[str, Any], info: PartitionInfo
    ) -> str:
        folder = writer.lake.local_path(table_rel(writer.zone, writer.table))
        link = folder / f"dt={dt}"
        if link.exists() and not link.is_symlink():
            raise RuntimeError(f"{link} is a real folder, not a partition symlink: move it away first")
        tmp = folder / f".dt={dt}.tmp-{run_id}"
        tmp.unlink(missing_ok=True)
        os.symlink(f"{RUNS_DIR}/dt={dt}/run={run_id}", tmp)
        os.replace(tmp, link)  # rename(2): readers see the old link or the new one
        fsync_dir(folder)
        if writer.catalog is not None:
            writer.catalog.set_partition(writer.glue_table, dt, info.location, schema=writer.schema)
        return ""


class S3Switch:
    """On S3: the Glue partition's location is set, then the pointer (the manifest) is PUT."""

    def switch(
        self, writer: PartitionWriter, dt: str, run_id: str, manifest: dict[str, Any], info: PartitionInfo
    ) -> str:
        # S3 has no rename: Athena follows the Glue partition's location, lake readers the pointer,
        # which is written last in one PUT.
        if writer.catalog is not None:
            writer.catalog.set_partition(writer.glue_table, dt, info.location, schema=writer.schema)
        pointer = json.dumps(manifest).encode()
        writer.lake.write_bytes(pointer, pointer_rel(writer.zone, writer.table, dt), content_type="application/json")
        return hashlib.md5(pointer, usedforsecurity=False).hexdigest()


def switch_for(lake: LakeFS) -> PartitionSwitch:
    """The switch of the lake's kind: a symlink on disk, a pointer on S3."""
    return DiskSwitch() if lake.is_local else S3Switch()


__all__ = [
    "DiskSwitch",
    "PartitionSwitch",
    "S3Switch",
    "switch_for",
]
