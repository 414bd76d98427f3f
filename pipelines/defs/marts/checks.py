"""A blocking great-expectations check per model, `expectations`: the model's suite (from its
models.yml, `pipelines.marts.suite`) over the partitions a build wrote.

It runs inside the model asset's step, on the new runs before they are published
(write-audit-publish, `pipelines.marts.runner.build(audit=...)`): the asset declares it
(`check_spec`) and yields its result. A failure leaves the previous versions current, keeps the new
runs for inspection (named in the metadata) and fails the step, so nothing below the model runs in
that run, and the gate (`pipelines.defs.marts.gates`) keeps later runs from building on them.

The metadata says which partitions passed (`passed_partitions`: published) and which failed
(`failed_partitions`: not published), as [first, last]; the gate reads them.
"""

from typing import Any

import dagster as dg

from pipelines.defs.marts.gates import FAILED, MODEL_CHECK, PASSED
from pipelines.marts.expectations import Outcome
from pipelines.marts.models import Model
from pipelines.marts.runner import AuditFailed, BuildResult


def check_spec(model: Model) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        MODEL_CHECK,
        asset=model.name,
        blocking=True,
        description=(
            f"great-expectations suite of `{model.name}` (from its models.yml) over the build's new runs, "
            "before they are published (a failing run is not published)."
        ),
    )


def _totals(outcomes: list[Outcome]) -> dict[str, Any]:
    return {
        "expectations": sum(o.evaluated for o in outcomes),
        "failed_expectations": sum(len(o.failures) for o in outcomes),
        "rows_validated": sum(o.rows for o in outcomes),
        "partitions_validated": sum(o.partitions for o in outcomes),
        "failures": dg.MetadataValue.json([f for o in outcomes for f in o.failures][:50]),
    }


def passed_metadata(result: BuildResult, start: str, end: str) -> dict[str, Any]:
    keys = [p.dt for p in result.partitions]
    return {
        **_totals(result.audits),
        "first_partition": start,
        "last_partition": end,
        PASSED: dg.MetadataValue.json([min(keys), max(keys)]),
    }


def passed_result(result: BuildResult, start: str, end: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=MODEL_CHECK, passed=True, severity=dg.AssetCheckSeverity.ERROR,
        metadata=passed_metadata(result, start, end),
    )  # fmt: skip


def failed_metadata(failed: AuditFailed, start: str, end: str) -> dict[str, Any]:
    outcome = failed.outcome
    staged = [s.info for s in failed.staged]
    published = [p.dt for p in failed.published]
    metadata: dict[str, Any] = {
        **_totals([outcome]),
        "first_partition": start,
        "last_partition": end,
        FAILED: dg.MetadataValue.json([staged[0].dt, staged[-1].dt]),
        "unpublished_runs": dg.MetadataValue.json({s.dt: s.location for s in staged}),
    }
    if published:
        metadata[PASSED] = dg.MetadataValue.json([min(published), max(published)])
    return metadata


def failed_result(failed: AuditFailed, start: str, end: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=MODEL_CHECK,
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=failed_metadata(failed, start, end),
        description=(
            f"{len(failed.outcome.failures)} expectation(s) failed; {len(failed.staged)} new run(s) not published"
        ),
    )
