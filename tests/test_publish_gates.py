"""When SPICE may be refreshed: the marts' versions and their blocking checks, evaluated through
Dagster's own records; and the RLS rules file."""

from __future__ import annotations

import dagster as dg
import pyarrow as pa
import pytest

from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.writer import write_partition
from pipelines.publish import rls
from pipelines.publish.sources import check_state, table_version

OUTCOME = {"passed": True}


@dg.asset(name="mart_a")
def mart_a() -> None:
    return None


@dg.asset_check(asset=mart_a, name="expectations", blocking=True)
def mart_a_check() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=OUTCOME["passed"])


def _run(instance: dg.DagsterInstance, *, check: bool, passed: bool = True) -> None:
    OUTCOME["passed"] = passed
    selection = [mart_a, mart_a_check] if check else [mart_a]
    dg.materialize(selection, instance=instance, raise_on_error=False)


def test_check_state_follows_the_newest_build():
    with dg.instance_for_test() as instance:
        state = check_state(instance, "mart_a")
        assert not state.passed and "never run" in state.reason
        _run(instance, check=True, passed=True)
        assert check_state(instance, "mart_a").passed
        _run(instance, check=False)  # rebuilt in a run that did not check it
        state = check_state(instance, "mart_a")
        assert not state.passed and "has not been checked" in state.reason
        _run(instance, check=True, passed=False)
        state = check_state(instance, "mart_a")
        assert not state.passed and "failed" in state.reason
        _run(instance, check=True, passed=True)
        assert check_state(instance, "mart_a").passed


def test_table_version_changes_with_any_partition(tmp_path):
    lake = LakeFS.from_uri(f"file://{tmp_path}")
    schema = pa.schema([("seller_id", pa.string()), ("orders", pa.int64())])
    assert table_version(lake, "marts", "m") == ""
    write_partition(lake, "m", schema, "2026-11-01", [pa.table({"seller_id": ["s1"], "orders": [1]}, schema=schema)],
                    zone="marts")
    first = table_version(lake, "marts", "m")
    assert first and table_version(lake, "marts", "m") == first  # reading changes nothing
    write_partition(lake, "m", schema, "2026-11-02", [pa.table({"seller_id": ["s1"], "orders": [2]}, schema=schema)],
                    zone="marts")
    second = table_version(lake, "marts", "m")
    write_partition(lake, "m", schema, "2026-11-01", [pa.table({"seller_id": ["s1"], "orders": [1]}, schema=schema)],
                    zone="marts")  # the same rows again: a new run, so a new version
    third = table_version(lake, "marts", "m")
    assert len({first, second, third}) == 3


def test_rls_rules_one_per_enabled_seller_and_analysts_see_all(tmp_path):
    rows = rls.rules(
        [("sel_b", "sel_b", True), ("sel_a", "sel_a", True), ("sel_c", "sel_c", False), ("sel_a", "sel_a", True)],
        "analysts",
    )
    assert rows == [
        rls.Rule("sel_a", None, "sel_a"),
        rls.Rule("sel_b", None, "sel_b"),
        rls.Rule(None, "analysts", None),
    ]
    lake = LakeFS.from_uri(f"file://{tmp_path}")
    assert rls.read_rules(lake) is None
    assert rls.write_rules(lake, rows) is True
    assert rls.write_rules(lake, rows) is False  # the same rules: nothing written
    assert rls.read_rules(lake) == rows
    fewer = rls.rules([("sel_a", "sel_a", True)], "analysts")
    assert rls.write_rules(lake, fewer) is True and rls.read_rules(lake) == fewer
    assert [p.name for p in (tmp_path / "publish" / "seller_rls").iterdir()] == ["seller_rls.parquet"]


@pytest.mark.parametrize("bad", ["", None])
def test_rls_rule_without_seller_is_not_a_seller_rule(bad):
    assert rls.rules([("u", bad, True)], "analysts") == [rls.Rule(None, "analysts", None)]


def test_publishing_is_scheduled_every_hour_with_one_run_key_per_hour():
    import datetime as dt

    from pipelines.definitions import defs

    schedule = defs.get_schedule_def("hourly_publish")
    assert schedule.cron_schedule == "15 * * * *" and schedule.job_name == "publish_job"
    keys = []
    for tick in (dt.datetime(2026, 12, 31, 23, 15, tzinfo=dt.UTC), dt.datetime(2027, 1, 1, 0, 15, tzinfo=dt.UTC)):
        with dg.build_schedule_context(scheduled_execution_time=tick) as context:
            request = schedule.evaluate_tick(context).run_requests[0]
        keys.append(request.run_key)
    assert keys == ["publish-2026-12-31T23", "publish-2027-01-01T00"]
    job = defs.resolve_job_def("publish_job")
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} >= {
        "seller_rls", "quicksight_seller_rls", "quicksight_seller_daily_sales", "seller_insights_dashboard"}
