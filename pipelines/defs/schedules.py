"""What every schedule of the pipeline shares: its ticks are in UTC, like the day partitions, and
it runs from the start (no one has to switch it on in the UI)."""

from functools import partial

import dagster as dg

pipeline_schedule = partial(
    dg.schedule, execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING
)
