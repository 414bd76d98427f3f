"""When the ingest runs: each day's partition once the day is over, and the nightly audit of the
recent days against DynamoDB.

Changes reach the lake within seconds through the tables' streams (`pipelines.stream`, a process
that `make up` starts), today's partition included: no schedule reloads today (a batch load of
today would race the stream's micro-batches for the partition and fail its switch). The nightly
audit is the exact check behind the stream: it compares, for each of the `LOOKBACK_DAYS` days up to
yesterday already in the lake, DynamoDB's fingerprint of the day (item count, sum of amounts and,
for sales, the lines per status) with the lake's (`pipelines.ingest.day_totals.changed_partitions`,
the one count) and asks for a reload of exactly the partitions that differ. The run key carries the
DynamoDB fingerprint, so the same difference is never reloaded twice.
"""

from datetime import timedelta

import dagster as dg

from pipelines.defs.ingest.assets import ASSETS
from pipelines.defs.partitions import daily
from pipelines.defs.schedules import pipeline_schedule
from pipelines.ingest.day_totals import LOOKBACK_DAYS, changed_partitions
from pipelines.resources import DynamoResource, LakeResource

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.assets(*ASSETS),
    description="Load one day of sales and order events into the lake, with their checks.",
)

@pipeline_schedule(
    job=ingest_job,
    cron_schedule="30 0 * * *",
    name="daily_ingest",
    description="Load the day just ended, once it is over.",
)
def daily_ingest(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    # The day before the tick: with end_offset=1 the last partition is today's, so Dagster's
    # schedule of a partitioned job (`build_schedule_from_partitioned_job`) would load today.
    day = (context.scheduled_execution_time.date() - timedelta(days=1)).isoformat()
    if day < daily.get_first_partition_key():
        return dg.SkipReason(f"{day} is before the first partition")
    return dg.RunRequest(run_key=day, partition_key=day)


@pipeline_schedule(
    job=ingest_job,
    cron_schedule="45 0 * * *",
    name="nightly_audit",
    description=f"Compare the last {LOOKBACK_DAYS} days with DynamoDB; reload the partitions that differ.",
)
def nightly_audit(
    context: dg.ScheduleEvaluationContext, dynamo: DynamoResource, lake: LakeResource
) -> dg.SkipReason | list[dg.RunRequest]:
    yesterday = context.scheduled_execution_time.date() - timedelta(days=1)  # today is the stream's
    changed = changed_partitions(dynamo.settings(), lake.open(), yesterday, LOOKBACK_DAYS - 1)
    if not changed:
        return dg.SkipReason("every recent partition matches DynamoDB")
    context.log.info("reloading " + ", ".join(f"{t}/{d}" for t, d, _ in changed))
    return [
        dg.RunRequest(
            run_key=f"{table}:{day}:{fingerprint}",
            partition_key=day,
            asset_selection=[dg.AssetKey(table)],
            tags={"gitgoods/reason": "nightly-audit"},
        )
        for table, day, fingerprint in changed
    ]


JOBS = [ingest_job]
SCHEDULES = [daily_ingest, nightly_audit]
