"""Checks beside the ingest assets.

`reconciles_with_dynamodb` (blocking): DynamoDB's item count and sum of amounts for the day,
read again independently, must equal the lake's clean plus quarantined rows exactly. Nothing
downstream of a raw partition runs while it fails.
"""

import warnings
from datetime import UTC, date, datetime

import dagster as dg

from pipelines.defs.ingest.assets import ASSETS
from pipelines.defs.partitions import daily
from pipelines.ingest.day_totals import count_and_sum_day, lake_day_totals
from pipelines.ingest.schemas import RAW_TABLES
from pipelines.lake.partitions.reading import PartitionNotFound
from pipelines.resources import DynamoResource, LakeResource


def reconcile(lake_table: str, day: date, dynamo: DynamoResource, lake: LakeResource) -> dg.AssetCheckResult:
    source = RAW_TABLES[lake_table][0]
    items, amount = count_and_sum_day(source, day, dynamo.settings())
    try:
        in_lake = lake_day_totals(lake.open(), lake_table, day)
    except PartitionNotFound:
        return dg.AssetCheckResult(passed=False, metadata={"reason": "the partition is not in the lake"})
    clean, bad, lake_amount = in_lake.clean, in_lake.quarantined, in_lake.total().amount
    passed = items == clean + bad and amount == lake_amount
    # Today is still being written to: a difference there means new data, not a loss.
    open_day = day >= datetime.now(UTC).date()
    severity = dg.AssetCheckSeverity.WARN if open_day and not passed else dg.AssetCheckSeverity.ERROR
    return dg.AssetCheckResult(
        passed=passed,
        severity=severity,
        metadata={
            "dynamodb_items": items,
            "dynamodb_amount_cents": amount,
            "lake_clean_rows": clean,
            "lake_quarantined_rows": bad,
            "lake_amount_cents": lake_amount,
            "difference_items": items - clean - bad,
            "difference_amount_cents": amount - lake_amount,
        },
    )


def build_reconciliation_check(asset: dg.AssetsDefinition) -> dg.AssetChecksDefinition:
    lake_table = asset.key.to_user_string()

    @dg.asset_check(
        asset=asset,
        name="reconciles_with_dynamodb",
        blocking=True,
        partitions_def=daily,
        description="DynamoDB count and sum of amounts for the day == lake clean + quarantined rows, exactly.",
    )
    def check(
        context: dg.AssetCheckExecutionContext, dynamo: DynamoResource, lake: LakeResource
    ) -> dg.AssetCheckResult:
        return reconcile(lake_table, date.fromisoformat(context.partition_key), dynamo, lake)

    return check


# Partitioned asset checks are a preview feature of this Dagster release; the pin keeps it stable.
with warnings.catch_warnings(action="ignore", category=dg.PreviewWarning):
    CHECKS = [build_reconciliation_check(asset) for asset in ASSETS]
