"""The partitions definitions of the pipeline: days (the ingest and the daily models) and months
(the monthly models), both from the pipeline's first day (`pipelines.pipeline_start.first_day`)
to the current, still open, day or month."""

import dagster as dg

from pipelines.pipeline_start import first_day

# The start is a setting (GITGOODS_PIPELINE_START), read once so both definitions begin on the same day.
_START = first_day()

# end_offset=1: today's partition exists too (it is refreshed during the day).
daily = dg.DailyPartitionsDefinition(start_date=_START.isoformat(), end_offset=1, timezone="UTC")
monthly = dg.MonthlyPartitionsDefinition(start_date=_START.replace(day=1).isoformat(), end_offset=1, timezone="UTC")
