"""When publishing runs: every night after the marts (01:30) and cohorts (02:00), and every hour
in the day, so a seller added or disabled in Cognito reaches the RLS rules within the hour. A run
that finds nothing changed makes no write call and no SPICE ingestion (see assets.py)."""

import dagster as dg

from pipelines.defs.publish.assets import publish_job
from pipelines.defs.schedules import pipeline_schedule


@pipeline_schedule(
    job=publish_job,
    cron_schedule="15 * * * *",
    name="hourly_publish",
    description="Publish to QuickSight: definitions in step, RLS rules from Cognito, SPICE refreshed "
    "for the marts that changed and passed their checks.",
)
def hourly_publish(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    tick = context.scheduled_execution_time
    return dg.RunRequest(run_key=f"publish-{tick.strftime('%Y-%m-%dT%H')}")


SCHEDULES = [hourly_publish]
