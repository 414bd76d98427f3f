"""Late and changed data: a refund for last week's order changes last week's partition.

The sensor compares, for each recent day already in the lake, DynamoDB's fingerprint of the day
(item count, sum of amounts and, for sales, the number of lines per status) with the lake's
(`pipelines.ingest.day_totals.changed_partitions`), and asks for a run of exactly the partitions
that differ. The run key carries the DynamoDB fingerprint, so the same change is never loaded twice.
"""

from datetime import UTC, datetime

import dagster as dg

from pipelines.defs.ingest.assets import ASSETS
from pipelines.ingest.day_totals import changed_partitions
from pipelines.resources import DynamoResource, LakeResource


@dg.sensor(
    name="late_data",
    description="Reloads recent partitions whose DynamoDB items changed after they were loaded.",
    asset_selection=ASSETS,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def late_data(context: dg.SensorEvaluationContext, dynamo: DynamoResource, lake: LakeResource) -> dg.SensorResult:
    changed = changed_partitions(dynamo.settings(), lake.open(), datetime.now(UTC).date())
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
