"""Checks beside the ingest assets.

`reconciles_with_dynamodb` (blocking): DynamoDB's item count and sum of amounts for the day,
read again independently, must equal the lake's clean plus quarantined rows exactly. Nothing
downstream of a raw partition runs while it fails.
"""

from datetime import UTC, date, datetime

import dagster as dg
import pyarrow.compute as pc

from pipelines.defs.ingest.assets import ASSETS, quarantine_table
from pipelines.defs.ingest.partitions import daily
from pipelines.ingest.reader import count_and_sum_day
from pipelines.ingest.schemas import RAW_TABLES
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.reading import PartitionNotFound, read_partition
from pipelines.resources import DynamoResource, LakeResource


def lake_count_and_sum(fs: LakeFS, lake_table: str, day: date) -> tuple[int, int, int, int]:
    """(clean rows, clean amount, quarantined rows, quarantined readable amount) of a partition."""
    source, _, amount = RAW_TABLES[lake_table]
    clean = read_partition(fs, lake_table, day.isoformat(), columns=[amount])
    try:
        bad = read_partition(fs, quarantine_table(source), day.isoformat(), zone="quarantine", columns=["amount_cents"])
        bad_rows, bad_sum = bad.num_rows, int(pc.sum(bad["amount_cents"]).as_py() or 0)
    except PartitionNotFound:
        bad_rows, bad_sum = 0, 0
    return clean.num_rows, int(pc.sum(clean[amount]).as_py() or 0), bad_rows, bad_sum


def reconcile(lake_table: str, day: date, dynamo: DynamoResource, lake: LakeResource) -> dg.AssetCheckResult:
    source = RAW_TABLES[lake_table][0]
    items, amount = count_and_sum_day(source, day, dynamo.settings())
    try:
        clean, clean_sum, bad, bad_sum = lake_count_and_sum(lake.open(), lake_table, day)
    except PartitionNotFound:
        return dg.AssetCheckResult(passed=False, metadata={"reason": "the partition is not in the lake"})
    passed = items == clean + bad and amount == clean_sum + bad_sum
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
            "lake_amount_cents": clean_sum + bad_sum,
            "difference_items": items - clean - bad,
            "difference_amount_cents": amount - clean_sum - bad_sum,
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


CHECKS = [build_reconciliation_check(asset) for asset in ASSETS]
