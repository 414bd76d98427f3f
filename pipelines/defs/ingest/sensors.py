"""Late and changed data: a refund for last week's order changes last week's partition.

The sensor compares, for each recent day already in the lake, DynamoDB's fingerprint of the day
(item count, sum of amounts and, for sales, how many lines have left the `placed` status and the
latest update) with the lake's, and asks for a run of exactly the partitions that differ. The
run key carries the DynamoDB fingerprint, so the same change is never loaded twice.
"""

from datetime import UTC, date, datetime, timedelta

import dagster as dg

from pipelines.defs.ingest.assets import ASSETS
from pipelines.defs.ingest.fingerprint import dynamodb_fingerprint, lake_fingerprint
from pipelines.ingest.schemas import RAW_TABLES
from pipelines.lake.partitions.reading import PartitionNotFound
from pipelines.resources import DynamoResource, LakeResource

LOOKBACK_DAYS = 35  # refunds come up to about a month after the sale


def changed_partitions(
    dynamo: DynamoResource, lake: LakeResource, today: date, lookback: int = LOOKBACK_DAYS
) -> list[tuple[str, str, str]]:
    """(lake table, day, DynamoDB fingerprint) for every recent partition that differs."""
    settings, fs = dynamo.settings(), lake.open()
    changed = []
    for lake_table in RAW_TABLES:
        for back in range(lookback, -1, -1):
            day = today - timedelta(days=back)
            try:
                in_lake = lake_fingerprint(fs, lake_table, day)
            except PartitionNotFound:
                continue  # never loaded: the schedule or a backfill loads it, not this sensor
            in_dynamodb = dynamodb_fingerprint(lake_table, day, settings)
            if in_dynamodb != in_lake:
                changed.append((lake_table, day.isoformat(), in_dynamodb.key()))
    return changed


@dg.sensor(
    name="late_data",
    description="Reloads recent partitions whose DynamoDB items changed after they were loaded.",
    asset_selection=ASSETS,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def late_data(context: dg.SensorEvaluationContext, dynamo: DynamoResource, lake: LakeResource) -> dg.SensorResult:
    changed = changed_partitions(dynamo, lake, datetime.now(UTC).date())
    requests = [
        dg.RunRequest(
            run_key=f"{table}:{day}:{fingerprint}",
            partition_key=day,
            asset_selection=[dg.AssetKey(table)],
            tags={"gitgoods/reason": "late-data"},
        )
        for table, day, fingerprint in changed
    ]
    if not requests:
        return dg.SensorResult(skip_reason="every recent partition matches DynamoDB")
    context.log.info("reloading " + ", ".join(f"{t}/{d}" for t, d, _ in changed))
    return dg.SensorResult(run_requests=requests)


SENSORS = [late_data]
