"""The ingest assets' check, `reconciles_with_dynamodb` (blocking): DynamoDB's item count and sum
of amounts for the day, read again independently, must equal the lake's clean plus quarantined
rows exactly.

It runs inside the asset's own step, on the runs the load has just staged and before they are
published (write-audit-publish, `pipelines.ingest.load`): the asset declares it (`check_spec`) and
yields its result. A failure leaves the previous version current, keeps the new run for
inspection (named in the check's metadata) and fails the step, so nothing downstream runs.
"""

import warnings
from datetime import date

import dagster as dg

from pipelines.defs.ingest.metadata import dagster_metadata
from pipelines.defs.partitions import daily
from pipelines.ingest.day_totals import Reconciliation, reconcile_day
from pipelines.ingest.load import RECONCILIATION_CHECK, reconciliation_metadata
from pipelines.resources import DynamoResource, LakeResource

DESCRIPTION = (
    "DynamoDB count and sum of amounts for the day == lake clean + quarantined rows, exactly; checked on "
    "the newly written run before it becomes current (a failing run is not published)."
)


def check_spec(lake_table: str) -> dg.AssetCheckSpec:
    """The blocking reconciliation check of a raw asset, per daily partition."""
    # Partitioned asset checks are a preview feature of this Dagster release; the pin keeps it stable.
    with warnings.catch_warnings(action="ignore", category=dg.PreviewWarning):
        return dg.AssetCheckSpec(
            RECONCILIATION_CHECK, asset=lake_table, blocking=True, partitions_def=daily, description=DESCRIPTION
        )


def check_result(audit: Reconciliation, metadata: dict[str, dict]) -> dg.AssetCheckResult:
    """The check's result, from an audit and its metadata in Pipes' format."""
    return dg.AssetCheckResult(
        check_name=RECONCILIATION_CHECK,
        passed=audit.passed,
        severity=dg.AssetCheckSeverity(audit.severity),
        metadata=dagster_metadata(metadata),
    )


def reconcile(lake_table: str, day: date, dynamo: DynamoResource, lake: LakeResource) -> dg.AssetCheckResult:
    """The check on the day's partitions as they are current now (not on a staged run)."""
    audit = reconcile_day(lake_table, day, dynamo.settings(), lake.open())
    return check_result(audit, reconciliation_metadata(audit))
