"""Gates across runs: a model's partitions are built only on upstream partitions whose latest
blocking check passed, also when the upstream was built in an earlier run.

Within one run Dagster already stops below a failing blocking check. Across runs the gate reads
the latest evaluations from the instance before the model's step builds anything:

- a raw table's `reconciles_with_dynamodb` is a partitioned check: its latest evaluation per day
  (`get_asset_check_partition_info`) must have passed (every path that writes a raw day audits it
  before publishing: the ingest asset, the history load, so the current version is the one checked);
- a model's `expectations` check runs once per build over the build's range: its evaluations carry
  the partitions they passed (`passed_partitions`) and failed (`failed_partitions`) in their metadata;
  each partition takes the newest evaluation that covers it.

The partitions a model's partition reads are those of the same time span (a day reads the
upstream's day; a month reads every day of the month, up to the upstream's last partition). A
partition with no evaluation, or whose newest one failed, blocks the build: nothing is written,
and the step fails naming each blocked partition and why.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus as Status

from pipelines.ingest.load import RECONCILIATION_CHECK
from pipelines.marts.models import Model

MODEL_CHECK = "expectations"
PASSED, FAILED = "passed_partitions", "failed_partitions"  # the model check's metadata: [first, last]
HISTORY_PAGE = 100


@dataclass(frozen=True)
class Blocked:
    asset: str
    partition: str
    reason: str

    def __str__(self) -> str:
        return f"{self.asset} {self.partition}: {self.reason}"


def span(model: Model, start: str, end: str) -> tuple[date, date]:
    """The days the run's partitions describe (a month model's `end` is the first day of its last month)."""
    last = date.fromisoformat(end)
    if model.partitioned_by == "month":
        last = (last.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return date.fromisoformat(start), last


def upstream_keys(partitions: dg.PartitionsDefinition, first: date, last: date) -> list[str]:
    """The upstream's existing partitions that overlap the days `first`..`last`."""
    keys = []
    for key in partitions.get_partition_keys():
        window = partitions.time_window_for_partition_key(key)
        if window.start.date() <= last and window.end.date() > first:
            keys.append(key)
    return keys


def _raw(instance: dg.DagsterInstance, asset: str, keys: Sequence[str]) -> list[Blocked]:
    check = dg.AssetCheckKey(dg.AssetKey(asset), RECONCILIATION_CHECK)
    storage = instance.event_log_storage
    infos = {i.partition_key: i for i in storage.get_asset_check_partition_info([check], partition_keys=keys)}
    blocked = []
    for key in keys:
        info = infos.get(key)
        if info is None:
            blocked.append(Blocked(asset, key, f"{RECONCILIATION_CHECK} has never run"))
        elif info.latest_execution_status != Status.SUCCEEDED:
            status = info.latest_execution_status.value.lower()
            blocked.append(Blocked(asset, key, f"{RECONCILIATION_CHECK} {status} in run {info.latest_planned_run_id}"))
    return blocked


def _covered(metadata: dict, name: str, keys: Iterable[str]) -> list[str]:
    value = metadata.get(name)
    bounds = getattr(value, "value", value)
    if not bounds:
        return []
    first, last = bounds
    return [k for k in keys if first <= k <= last]


def _model(instance: dg.DagsterInstance, asset: str, keys: Sequence[str]) -> list[Blocked]:
    check = dg.AssetCheckKey(dg.AssetKey(asset), MODEL_CHECK)
    verdict: dict[str, str | None] = {}  # key -> None (passed) or why it blocks
    cursor = None
    while len(verdict) < len(keys):
        page = instance.event_log_storage.get_asset_check_execution_history(
            check, limit=HISTORY_PAGE, cursor=cursor, status={Status.SUCCEEDED, Status.FAILED}
        )
        for record in page:  # newest first: the first evaluation covering a key decides
            evaluation = record.evaluation
            if evaluation is None:
                continue
            todo = [k for k in keys if k not in verdict]
            for key in _covered(evaluation.metadata, PASSED, todo):
                verdict[key] = None
            for key in _covered(evaluation.metadata, FAILED, todo):
                verdict[key] = f"{MODEL_CHECK} failed in run {record.run_id}"
        if len(page) < HISTORY_PAGE:
            break
        cursor = page[-1].id
    return [
        Blocked(asset, key, verdict.get(key) or f"{MODEL_CHECK} has never passed on it")
        for key in keys
        if verdict.get(key, "missing") is not None
    ]


def blocked_upstream(
    instance: dg.DagsterInstance,
    model: Model,
    start: str,
    end: str,
    upstream: dict[str, tuple[dg.PartitionsDefinition, bool]],
) -> list[Blocked]:
    """Upstream partitions the run's partitions read whose blocking check is failing or missing.

    `upstream` maps each upstream asset to its partitions and whether it is a model (else raw)."""
    first, last = span(model, start, end)
    blocked: list[Blocked] = []
    for asset, (partitions, is_model) in upstream.items():
        keys = upstream_keys(partitions, first, last)
        if keys:
            blocked += (_model if is_model else _raw)(instance, asset, keys)
    return blocked
