"""The schedules of the code location, evaluated by Dagster at chosen tick times: which partition
(or range of partitions) each one asks for, with which run key."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from pipelines.definitions import defs
from pipelines.defs.partitions import daily

UTC = dt.UTC


def tick(name: str, when: dt.datetime) -> list[dg.RunRequest]:
    """The run requests of one tick of the schedule `name`, as Dagster evaluates it."""
    schedule = defs.get_schedule_def(name)
    with dg.build_schedule_context(scheduled_execution_time=when, repository_def=defs.get_repository_def()) as context:
        return list(schedule.evaluate_tick(context).run_requests or [])


def at(day: dt.date, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def days_of_the_partitions() -> list[dt.date]:
    """Tick days inside the daily partitions (first day .. today): today, the first of a month
    and the day after the first partition."""
    keys = [dt.date.fromisoformat(k) for k in daily.get_partition_keys()]
    first_of_month = next(d for d in keys[1:] if d.day == 1)
    return [keys[-1], first_of_month, keys[1]]


def test_the_daily_ingest_loads_the_day_just_ended():
    schedule = defs.get_schedule_def("daily_ingest")
    assert (schedule.cron_schedule, schedule.job_name) == ("30 0 * * *", "ingest_job")
    for day in days_of_the_partitions():
        requests = tick("daily_ingest", at(day, 0, 30))
        yesterday = (day - dt.timedelta(days=1)).isoformat()
        assert [(r.partition_key, r.run_key) for r in requests] == [(yesterday, yesterday)]
        assert requests[0].tags["dagster/schedule_name"] == "daily_ingest"


def test_the_daily_ingest_skips_the_day_before_the_first_partition():
    first = dt.date.fromisoformat(daily.get_first_partition_key())
    assert tick("daily_ingest", at(first, 0, 30)) == []


def test_the_nightly_audit_runs_after_the_daily_ingest_and_nothing_rescans_or_reloads_today():
    # The audit itself (DynamoDB against the lake) is tested on DynamoDB Local in test_ingest_assets.
    schedule = defs.get_schedule_def("nightly_audit")
    assert (schedule.cron_schedule, schedule.job_name) == ("45 0 * * *", "ingest_job")
    repo = defs.get_repository_def()
    assert list(repo.sensor_defs) == []  # the five-minute rescan is gone
    assert "intraday_ingest" not in {s.name for s in repo.schedule_defs}  # today is the stream's


def range_of(request: dg.RunRequest) -> tuple[str, str]:
    return request.tags["dagster/asset_partition_range_start"], request.tags["dagster/asset_partition_range_end"]


@pytest.mark.parametrize(
    ("when", "start", "end"),
    [
        # 35 days before the tick's day .. the day before it
        (dt.datetime(2026, 3, 10, 1, 30, tzinfo=UTC), "2026-02-03", "2026-03-09"),
        (dt.datetime(2026, 1, 1, 1, 30, tzinfo=UTC), "2025-11-27", "2025-12-31"),
        (dt.datetime(2028, 3, 1, 1, 30, tzinfo=UTC), "2028-01-26", "2028-02-29"),  # a leap year
    ],
)
def test_the_nightly_marts_rebuild_the_last_35_days_in_one_run(when, start, end):
    schedule = defs.get_schedule_def("nightly_marts")
    assert (schedule.cron_schedule, schedule.job_name) == ("30 1 * * *", "marts_job")
    (request,) = tick("nightly_marts", when)
    assert request.partition_key is None  # a range of partitions, in one run
    assert range_of(request) == (start, end)
    assert request.run_key == f"marts-{end}"


@pytest.mark.parametrize(
    ("when", "start", "end"),
    [
        # the previous month .. the current month
        (dt.datetime(2026, 3, 31, 2, 0, tzinfo=UTC), "2026-02-01", "2026-03-01"),
        (dt.datetime(2026, 3, 1, 2, 0, tzinfo=UTC), "2026-02-01", "2026-03-01"),
        (dt.datetime(2026, 1, 1, 2, 0, tzinfo=UTC), "2025-12-01", "2026-01-01"),
    ],
)
def test_the_nightly_cohorts_rebuild_the_current_and_previous_month(when, start, end):
    schedule = defs.get_schedule_def("nightly_cohorts")
    assert (schedule.cron_schedule, schedule.job_name) == ("0 2 * * *", "cohorts_job")
    (request,) = tick("nightly_cohorts", when)
    assert range_of(request) == (start, end)
    assert request.run_key == f"cohorts-{end}"


def test_every_schedule_ticks_in_utc_and_runs_from_the_start():
    schedules = list(defs.get_repository_def().schedule_defs)
    assert {s.name for s in schedules} == {
        "daily_ingest", "nightly_audit", "nightly_marts", "nightly_cohorts", "hourly_publish",
        "daily_dimensions"}
    for schedule in schedules:
        assert schedule.execution_timezone == "UTC", schedule.name
        assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING, schedule.name
