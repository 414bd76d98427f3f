"""When the ingest runs: each day's partition once the day is over, and today's every hour."""

from datetime import timedelta

import dagster as dg

from pipelines.defs.ingest.assets import ASSETS
from pipelines.defs.partitions import daily
from pipelines.defs.schedules import pipeline_schedule

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
    cron_schedule="15 * * * *",
    name="intraday_ingest",
    description="Refresh today's partition every hour.",
)
def intraday_ingest(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = context.scheduled_execution_time.date().isoformat()
    return dg.RunRequest(run_key=f"intraday-{context.scheduled_execution_time.isoformat()}", partition_key=day)


JOBS = [ingest_job]
SCHEDULES = [daily_ingest, intraday_ingest]
