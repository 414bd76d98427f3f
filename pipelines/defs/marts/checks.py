"""A blocking great-expectations check per model: nothing below a model whose partitions fail
their suite runs in that run (the marts below a staging model, publishing below a mart).

The check validates the partitions the run wrote as the lake holds them
(`pipelines.marts.suite.validate_partitions`).
"""

import dagster as dg

from pipelines.defs.marts.assets import ASSETS, MODELS, run_keys
from pipelines.lake.fs import LakeFS
from pipelines.marts.models import Model
from pipelines.marts.suite import validate_partitions
from pipelines.resources import LakeResource


def run_suite(model: Model, lake: LakeFS, start: str, end: str) -> dg.AssetCheckResult:
    outcome = validate_partitions(model, lake, start, end)
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={**outcome.metadata(), "first_partition": start, "last_partition": end},
        description=None if outcome.passed else f"{len(outcome.failures)} expectation(s) failed",
    )


def build_expectations_check(asset: dg.AssetsDefinition, model: Model) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name="expectations",
        blocking=True,
        description=f"great-expectations suite of `{model.name}` (from its models.yml) over the run's partitions.",
    )
    def check(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> dg.AssetCheckResult:
        start, end = run_keys(context)
        return run_suite(model, lake.open(), start, end)

    return check


CHECKS = [build_expectations_check(a, m) for a, m in zip(ASSETS, MODELS.values(), strict=True)]
