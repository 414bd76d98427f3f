"""Dimension snapshots: a copy of a DynamoDB dimension table per day, taken until it is final.

A dimension model (`sql/dimensions/`, zone `dim`) copies the live table through the federated
`dynamodb` catalog into every day partition of the range it is built for. The marts join the copy
of the day they describe, so rebuilding an old day must not copy today's names into it: a day's
partition is **final** once it was taken after the day ended (its current version completed at or
after the next midnight UTC; `completed_at` in its manifest, which is later than the rows'
`taken_at`). Building a range takes again only the days that are missing or not final - the open
day, refreshed like the marts of today, and days a build reached before they ended - and keeps
the final ones, each with the values of the end of its day. `retake=True` on the build (the run
tag `RETAKE_TAG` in Dagster) takes every day of the range again, on purpose.

Days before the first snapshot (the history loaded at the first start) are taken when they are
first built, with the values of that moment; `taken_at` says when.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.current import CurrentFiles
from pipelines.lake.partitions.manifest import PartitionInfo
from pipelines.marts.models import Model
from pipelines.marts.runner import AuditFailed, BuildResult, partition_keys

log = logging.getLogger(__name__)

# The Dagster run tag that takes the snapshots of the run's range again (value "true").
RETAKE_TAG = "gitgoods/retake_snapshots"


@dataclass
class SnapshotBuild(BuildResult):
    """A build of a snapshot model: `partitions` holds every partition of the range in key order,
    taken now or `kept` (final ones, left as they were)."""

    kept: list[str] = field(default_factory=list)


def is_final(day: str, completed_at: str) -> bool:
    """Whether a snapshot of `day` completed at `completed_at` (ISO, UTC) was taken after the day."""
    day_end = datetime.combine(date.fromisoformat(day) + timedelta(days=1), time(), UTC)
    return datetime.fromisoformat(completed_at) >= day_end


def final_partitions(lake: LakeFS, model: Model, keys: list[str]) -> dict[str, PartitionInfo]:
    """The partitions among `keys` whose current version is final, by day (their manifests only:
    on S3 one LIST and the table's digest)."""
    current = CurrentFiles(lake)
    existing = set(current.days(model.zone, model.name))
    manifests: list[dict[str, Any]] = current.manifests(model.zone, model.name, [k for k in keys if k in existing])
    return {m["dt"]: PartitionInfo.from_manifest(lake, m) for m in manifests if is_final(m["dt"], m["completed_at"])}


def day_runs(keys: list[str]) -> list[tuple[str, str]]:
    """Sorted days as (first, last) runs of consecutive days."""
    runs: list[tuple[str, str]] = []
    for key in keys:
        if runs and date.fromisoformat(key) - date.fromisoformat(runs[-1][1]) == timedelta(days=1):
            runs[-1] = (runs[-1][0], key)
        else:
            runs.append((key, key))
    return runs


def build_missing(
    model: Model, start: str, end: str, lake: LakeFS, build_range: Callable[[str, str], BuildResult]
) -> SnapshotBuild:
    """Take the snapshots of `start`..`end` that are not final, one `build_range(first, last)` per
    run of consecutive days, and keep the final ones. A run failing its audit stops the build
    (`AuditFailed`, listing the partitions the runs before it published)."""
    keys = partition_keys(model, start, end)
    kept = final_partitions(lake, model, keys)
    runs = day_runs([k for k in keys if k not in kept])
    log.info("%s %s..%s: %d final partitions kept, taking %s", model.name, start, end, len(kept),
             ", ".join(f"{a}..{b}" for a, b in runs) or "nothing")  # fmt: skip
    results: list[BuildResult] = []
    for first, last in runs:
        try:
            results.append(build_range(first, last))
        except AuditFailed as failed:  # the runs of days before it were published: say so
            failed.published[:0] = [p for r in results for p in r.partitions]
            raise
    taken = {p.dt: p for r in results for p in r.partitions}
    return SnapshotBuild(
        model.name,
        [kept[k] if k in kept else taken[k] for k in keys],
        query_s=sum(r.query_s for r in results),
        write_s=sum(r.write_s for r in results),
        digest=results[-1].digest if results else None,
        audits=[a for r in results for a in r.audits],
        kept=sorted(kept),
    )
