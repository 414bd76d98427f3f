"""When the models run: every night after the ingest, the last days again (late refunds,
shipments and deliveries change recent partitions), in one run per partitions definition."""

from datetime import timedelta

import dagster as dg

from pipelines.defs.marts.assets import DAILY_ASSETS, MONTHLY_ASSETS
from pipelines.defs.schedules import pipeline_schedule
from pipelines.ingest.day_totals import LOOKBACK_DAYS

REBUILD_DAYS = LOOKBACK_DAYS  # the late-data sensor's look-back: older partitions do not change any more

marts_job = dg.define_asset_job(
    "marts_job",
    selection=dg.AssetSelection.assets(*DAILY_ASSETS),
    description="Staging models and daily marts, with their great-expectations checks.",
)
cohorts_job = dg.define_asset_job(
    "cohorts_job",
    selection=dg.AssetSelection.assets(*MONTHLY_ASSETS),
    description="Monthly marts (buyer cohorts), with their checks.",
)


def _range_tags(start: str, end: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}


@pipeline_schedule(
    job=marts_job,
    cron_schedule="30 1 * * *",
    name="nightly_marts",
    description=f"Rebuild the daily models for the last {REBUILD_DAYS} days, after the nightly ingest.",
)
def nightly_marts(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    today = context.scheduled_execution_time.date()
    start = (today - timedelta(days=REBUILD_DAYS)).isoformat()
    end = (today - timedelta(days=1)).isoformat()
    return dg.RunRequest(run_key=f"marts-{end}", tags=_range_tags(start, end))


@pipeline_schedule(
    job=cohorts_job,
    cron_schedule="0 2 * * *",
    name="nightly_cohorts",
    description="Rebuild the current and previous month of the monthly models.",
)
def nightly_cohorts(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    this_month = context.scheduled_execution_time.date().replace(day=1)
    previous = (this_month - timedelta(days=1)).replace(day=1)
    return dg.RunRequest(run_key=f"cohorts-{this_month}", tags=_range_tags(previous.isoformat(),
                                                                           this_month.isoformat()))


JOBS = [marts_job, cohorts_job]
SCHEDULES = [nightly_marts, nightly_cohorts]
