"""When the dimension snapshots are taken: just after midnight UTC, the day that has just ended
(its final copy: the names, categories and prices at the end of the day) and the new day (its
first copy, taken again by every build until the day ends). The snapshots are model assets
(`sql/dimensions/`, group `dimensions`); the marts' jobs include them too, so a mart never misses
its day's copy (pipelines/marts/snapshots.py)."""

from datetime import timedelta

import dagster as dg

from pipelines.defs.marts.assets import ASSETS, MODELS
from pipelines.defs.partitions import daily
from pipelines.defs.schedules import pipeline_schedule

SNAPSHOT_ASSETS = [a for a, m in zip(ASSETS, MODELS.values(), strict=True) if m.snapshot]

dimensions_job = dg.define_asset_job(
    "dimensions_job",
    selection=dg.AssetSelection.assets(*SNAPSHOT_ASSETS),
    description="Copy the DynamoDB dimension tables (catalog, sellers) into the day partitions of the lake.",
)


@pipeline_schedule(
    job=dimensions_job,
    cron_schedule="0 0 * * *",
    name="daily_dimensions",
    description="At midnight UTC: the final snapshot of the day just ended and the first one of the new day.",
)
def daily_dimensions(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    today = context.scheduled_execution_time.date()
    first = daily.get_first_partition_key()
    if today.isoformat() < first:
        return dg.SkipReason(f"{today} is before the first partition")
    start = max((today - timedelta(days=1)).isoformat(), first)
    return dg.RunRequest(
        run_key=f"dimensions-{today.isoformat()}",
        tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": today.isoformat()},
    )


JOBS = [dimensions_job]
SCHEDULES = [daily_dimensions]
