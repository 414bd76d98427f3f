"""A data set published and its SPICE refreshed, only with data that passed its checks.

Creating a SPICE data set, or updating its definition, makes QuickSight ingest it at once. So a
data set whose marts are held back (a blocking check failed, or has not run on the newest build)
is not created or updated at all in that run: SPICE keeps the data that passed, and the data set
is tagged `gitgoods:checks = held-back` so readers (the portal) can say so.

Otherwise the data set is brought in step with its definition and SPICE is refreshed when the
source version differs from the one recorded on the data set at its last ingestion (tag
`gitgoods:source-version`), or when the ingestion that the create/update started is there to be
waited for. The tags live on the data set itself, so the record survives a new Dagster instance
and is the same on AWS and locally.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipelines.publish.api import IngestionResult, PublishError, QuickSight, ingest, wait_ingestion
from pipelines.publish.plan import Change, Wanted, apply, plan_one

VERSION_TAG = "gitgoods:source-version"
CHECKS_TAG = "gitgoods:checks"
PASSED = "passed"
HELD_BACK = "held-back"


@dataclass
class Refresh:
    change: Change
    ingestion: IngestionResult | None = None
    note: str = ""
    done: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"action": self.change.action, "ingestion": self.note}
        if self.note.startswith("blocked"):
            meta["applied"] = False  # held back: creating or updating would ingest unchecked data
        if self.ingestion is not None:
            meta |= self.ingestion.metadata()
        return meta


def tags_of(qs: QuickSight, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in qs.call("list_tags_for_resource", ResourceArn=arn).get("Tags") or []}


def _tag(qs: QuickSight, arn: str, have: dict[str, str], want: dict[str, str]) -> None:
    changed = [{"Key": k, "Value": v} for k, v in want.items() if have.get(k) != v]
    if changed:
        qs.call("tag_resource", ResourceArn=arn, Tags=changed)


def refresh_dataset(
    qs: QuickSight, wanted: Wanted, *, region: str, version: str, blockers: list[str], timeout_s: float
) -> Refresh:
    """Publish one data set and refresh its SPICE data when its source changed (see the module)."""
    arn = qs.arn("dataset", wanted.id, region)
    change = plan_one(qs, wanted)
    tags = tags_of(qs, arn) if change.action != "create" else {}
    if blockers:
        if change.action != "create":
            _tag(qs, arn, tags, {CHECKS_TAG: HELD_BACK})
        return Refresh(change, note="blocked: " + "; ".join(blockers))
    done = apply(qs, change) if change.changes_anything else {}
    if done.get("ingestion_id"):
        result = wait_ingestion(qs, wanted.id, done["ingestion_id"], timeout_s=timeout_s)
    elif version != tags.get(VERSION_TAG) or tags.get(CHECKS_TAG) != PASSED:
        result = ingest(qs, wanted.id, timeout_s=timeout_s)
    else:
        return Refresh(change, note="skipped: the source has not changed since the last ingestion", done=done)
    if not result.ok:
        raise PublishError(f"SPICE ingestion {result.ingestion_id} of {wanted.id}: {result.status} ({result.error})")
    _tag(qs, arn, tags, {VERSION_TAG: version, CHECKS_TAG: PASSED})
    return Refresh(change, result, "completed", done)
