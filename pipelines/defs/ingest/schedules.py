"""When the ingest runs: each day's partition once the day is over, and today's every hour."""

import dagster as dg

from pipelines.defs.ingest.assets import ASSETS

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.assets(*ASSETS),
    description="Load one day of sales and order events into the lake, with their checks.",
)

# The day just ended (end_offset=1 makes today the last partition, so offset -1 is yesterday).
daily_ingest = dg.build_schedule_from_partitioned_job(
    ingest_job, hour_of_day=0, minute_of_hour=30, name="daily_ingest", default_status=dg.DefaultScheduleStatus.RUNNING
)


@dg.schedule(
    job=ingest_job,
    cron_schedule="15 * * * *",
    name="intraday_ingest",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Refresh today's partition every hour.",
)
def intraday_ingest(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = context.scheduled_execution_time.date().isoformat()
    return dg.RunRequest(run_key=f"intraday-{context.scheduled_execution_time.isoformat()}", partition_key=day)


JOBS = [ingest_job]
SCHEDULES = [daily_ingest, intraday_ingest]
