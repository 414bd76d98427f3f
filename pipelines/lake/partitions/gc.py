"""Garbage collection of a partition's run folders: what nobody should read any more is deleted."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.layout import check_dt, run_rel, run_started_at, runs_rel, table_rel
from pipelines.lake.partitions.manifest import current_run_id, read_manifest

DEFAULT_KEEP_PREVIOUS = 1
DEFAULT_GRACE_S = 15 * 60.0
DEFAULT_STALE_S = 6 * 3600.0


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


__all__ = ["collect_garbage"]
