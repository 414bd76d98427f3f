"""What a data set reads, and whether it may be refreshed: the marts' versions and their checks.

A SPICE ingestion starts only when the marts a data set reads have changed since its last
ingestion and every blocking check of those marts passed on their newest build.

- A table's **version** is a hash of its current partitions and the run each points at (symlink
  targets on disk; the pointers' ETags from one LIST on S3), so any partition rebuilt, added or
  removed changes it and nothing else does.
- A mart is **checked** when the newest evaluation of its blocking `expectations` check passed and
  is not older than the mart's newest materialisation (a build whose check has not run yet, or
  failed, is not published).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import dagster as dg

from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.manifest import current_run_id, list_partitions

CHECK_NAME = "expectations"


def table_version(lake: LakeFS, zone: str, table: str) -> str:
    """A hash of the table's current partitions and their versions ("" for a table without any)."""
    if lake.is_local:
        days = list_partitions(lake, table, zone=zone)
        entries = [f"{dt}={current_run_id(lake, table, dt, zone=zone)}" for dt in days]
    else:
        from pipelines.lake.digest import list_pointers

        entries = [f"{dt}={etag}" for dt, etag in sorted(list_pointers(lake, zone, table).items())]
    if not entries:
        return ""
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class CheckState:
    asset: str
    passed: bool
    reason: str


def check_state(instance: dg.DagsterInstance, asset: str) -> CheckState:
    """Whether the newest build of `asset` passed its blocking check."""
    key = dg.AssetKey(asset)
    record = instance.get_latest_asset_check_evaluation_record(dg.AssetCheckKey(key, CHECK_NAME))
    if record is None:
        return CheckState(asset, False, "its blocking check has never run")
    status = record.status.value
    if status != "SUCCEEDED":
        return CheckState(asset, False, f"its blocking check {status.lower()} in run {record.run_id}")
    materialization = instance.get_latest_materialization_event(key)
    if (
        materialization is not None
        and materialization.run_id != record.run_id
        and materialization.timestamp > record.create_timestamp
    ):
        return CheckState(asset, False, f"its newest build (run {materialization.run_id}) has not been checked")
    return CheckState(asset, True, f"check passed in run {record.run_id}")
