"""The model assets in Dagster: found from `sql/`, run for a range in one run, checked by their
great-expectations suites on the new runs before they are published (write-audit-publish), blocked
below a failing check in the same run, and gated on their upstream's latest checks across runs."""

from __future__ import annotations

import datetime as dt
import uuid

import dagster as dg
import pyarrow as pa
import pytest

from gitgoods.settings import reset_settings
from pipelines.defs.marts.assets import ASSETS, DAILY_ASSETS, MODELS, MONTHLY_ASSETS, PACK_ASSETS
from pipelines.ingest.schemas import RAW_SALES
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.manifest import current_run_id
from pipelines.lake.partitions.reading import read_partition
from pipelines.lake.partitions.writer import PartitionWriter
from pipelines.marts.expectations import Dimensions, band, validate
from pipelines.resources import LakeResource
from tests.marts_data import (
    S1,
    S2,
    days_between,
    ingest_run,
    put_dimensions,
    record_raw_checks,
    sale_rows,
    story_days,
    write_raw,
)

# the story of marts_data, a month and a bit ago (inside the daily partitions of the definitions)
_this_month = dt.date.today().replace(day=1)
DAYS = story_days((_this_month - dt.timedelta(days=1)).replace(day=1))
D1, D2, D3 = DAYS


@pytest.fixture()
def env(settings, monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    prefix = f"a{uuid.uuid4().hex[:8]}-"
    for name, value in {
        "GITGOODS_HOME": str(settings.home),
        "GITGOODS_DYNAMODB_PORT": str(settings.dynamodb_port),
        "GITGOODS_MOTO_PORT": str(settings.moto_port),
        "GITGOODS_TABLE_PREFIX": prefix,
        "GITGOODS_LAKE_URI": f"file://{tmp_path / 'lake'}",
    }.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    put_dimensions(settings.model_copy(update={"table_prefix": prefix}))
    lake = LakeFS.from_uri(f"file://{tmp_path / 'lake'}", settings)
    write_raw(lake, DAYS)
    resource = LakeResource(uri=f"file://{tmp_path / 'lake'}", glue_database="unused", register_in_glue=False)
    with dg.instance_for_test() as instance:
        # the raw partitions passed their reconciliation (days after D3 are empty: the story ends there)
        record_raw_checks(instance, days_between(D1, dt.date.today().isoformat()))
        yield {"lake": resource, "instance": instance}, lake
    reset_settings()


def run(resources, start: str, end: str, assets=DAILY_ASSETS):  # type: ignore[no-untyped-def]
    """One run of `assets` (each with its blocking check inside) over `start`..`end`, in the test's instance."""
    return dg.materialize(
        assets,
        resources={"lake": resources["lake"]},
        instance=resources["instance"],
        tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end},
        raise_on_error=False,
    )


def test_every_sql_file_is_an_asset_with_a_blocking_check():
    from pipelines.definitions import defs

    dg.Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert set(MODELS) <= keys
    assert {"stg_sales", "seller_daily_sales", "product_performance", "seller_kpis", "buyer_cohorts",
            "fulfilment", "funnel"} <= keys
    checks = {k.to_user_string() for k in repo.asset_graph.asset_check_keys}
    assert {f"{m}:expectations" for m in MODELS} <= checks
    specs = [spec for a in ASSETS for spec in a.check_specs]
    assert len(specs) == len(MODELS) and all(spec.blocking for spec in specs)
    graph = repo.asset_graph
    assert dg.AssetKey("raw_sales") in graph.get(dg.AssetKey("stg_sales")).parent_keys
    assert dg.AssetKey("seller_daily_sales") in graph.get(dg.AssetKey("seller_kpis")).parent_keys
    assert [a.key.to_user_string() for a in MONTHLY_ASSETS] == ["buyer_cohorts"]
    # the packs of the state: after it, beside the marts (not above them), in the nightly job
    assert [a.key.to_user_string() for a in PACK_ASSETS] == ["state_first_purchase_packs"]
    assert graph.get(dg.AssetKey("state_first_purchase_packs")).parent_keys == {dg.AssetKey("state_first_purchase")}
    assert not graph.get(dg.AssetKey("state_first_purchase_packs")).child_keys
    assert PACK_ASSETS[0] in DAILY_ASSETS


@pytest.mark.stack
def test_a_backfill_is_one_run_that_writes_checks_and_reports(env):
    resources, lake = env
    result = run(resources, D1, D3)
    assert result.success
    evaluations = {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {a.key.to_user_string() for a in DAILY_ASSETS if a not in PACK_ASSETS}
    failed = {k: e.metadata["failures"].value for k, e in evaluations.items() if not e.passed}
    assert not failed
    e = evaluations["seller_daily_sales"]
    assert e.metadata["expectations"].value >= 20 and e.metadata["partitions_validated"].value == len(
        read_dates(D1, D3))
    mats = {m.asset_key.to_user_string(): m for m in result.get_asset_materialization_events()}
    meta = mats["seller_daily_sales"].materialization.metadata
    assert meta["dagster/row_count"].value == 5  # S1 on D1, D2, D3; S2 on D1; S3 on D2
    assert [c.name for c in meta["dagster/column_schema"].schema.columns][:3] == ["seller_id", "currency", "orders"]
    assert "seller_id" in meta["preview"].value
    # the state's months packed by its packs asset in the same run: last month, and this month's D3
    # once it has ended (D3, the first of the month, is the open day on the first)
    packed = mats["state_first_purchase_packs"].materialization.metadata
    ended = [D1[:7], *([D3[:7]] if dt.datetime.now(dt.UTC).date().isoformat() > D3 else [])]
    assert packed["months_packed"].value == ended and packed["rows"].value == 5  # the story's five pairs
    day1 = {r["seller_id"]: r for r in read_partition(lake, "seller_daily_sales", D1, zone="marts").to_pylist()}
    assert (day1[S1]["gross_cents"], day1[S1]["net_cents"], day1[S2]["gross_cents"]) == (3500, 2500, 6000)
    # a month reads every day of its month: staging and the first purchases up to today, then the months
    staging = [a for a in DAILY_ASSETS if a.key.to_user_string() in ("stg_sales", "state_first_purchase")]
    assert run(resources, D3, dt.date.today().isoformat(), assets=staging).success
    months = run(resources, D1, D3, assets=MONTHLY_ASSETS)
    assert months.success and all(e.passed for e in months.get_asset_check_evaluations())


def read_dates(start: str, end: str) -> list[str]:
    a, b = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    return [(a + dt.timedelta(days=i)).isoformat() for i in range((b - a).days + 1)]


@pytest.mark.stack
def test_a_corrupt_staging_row_stops_the_marts_below_it(env):
    resources, lake = env
    assert run(resources, D1, D2).success
    before = current_run_id(lake, "seller_daily_sales", D2, zone="marts")
    # a bug upstream lets a negative line through to the raw table of D2 (the ingest would
    # quarantine it; here it is written behind its back)
    rows = sale_rows(DAYS)[D2]
    rows[0] = dict(rows[0], amount_cents=-500)
    PartitionWriter(lake, "raw_sales", RAW_SALES).write(D2, [pa.Table.from_pylist(rows, schema=RAW_SALES)])

    stg_before = current_run_id(lake, "stg_sales", D2, zone="stg")
    stg_rows = read_partition(lake, "stg_sales", D2, zone="stg").num_rows

    result = run(resources, D2, D2)
    assert not result.success  # a blocking check failed
    evaluations = {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}
    stg = evaluations["stg_sales"]
    assert not stg.passed
    failures = stg.metadata["failures"].value
    assert any(f["expectation"] == "expect_column_values_to_be_between" and f["column"] == "amount_cents"
               and f["unexpected_count"] == 1 for f in failures)
    # write-audit-publish: the bad run was written and audited, not published
    materialized = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    assert "stg_sales" not in materialized
    assert current_run_id(lake, "stg_sales", D2, zone="stg") == stg_before  # readers keep the previous version
    assert read_partition(lake, "stg_sales", D2, zone="stg").num_rows == stg_rows
    kept = stg.metadata["unpublished_runs"].value[D2]  # the failed run is kept and named
    bad_run = kept.rstrip("/").rsplit("/run=", 1)[1]
    bad = read_partition(lake, "stg_sales", D2, zone="stg", run_id=bad_run)
    assert -500 in bad["amount_cents"].to_pylist()
    assert stg.metadata["failed_partitions"].value == [D2, D2]
    below = {"seller_daily_sales", "seller_daily_segments", "product_performance", "seller_kpis"}
    assert not materialized & below  # nothing below the failing check ran
    assert current_run_id(lake, "seller_daily_sales", D2, zone="marts") == before  # the mart is untouched
    assert "stg_event_lines" in materialized  # a sibling that does not read stg_sales still ran

    # gates across runs: a later run of the marts alone refuses to build on the failed staging day
    marts_only = [a for a in DAILY_ASSETS if a.key.to_user_string() == "seller_daily_sales"]
    later = run(resources, D2, D2, assets=marts_only)
    assert not later.success
    failure = next(e for e in later.all_events if e.is_step_failure).step_failure_data.error
    assert "stg_sales " + D2 in failure.message and "expectations failed in run " + result.run_id in failure.message
    assert current_run_id(lake, "seller_daily_sales", D2, zone="marts") == before
    # the raw day fixed and staging rebuilt and passed: the marts build again
    fixed = pa.Table.from_pylist(sale_rows(DAYS)[D2], schema=RAW_SALES)
    PartitionWriter(lake, "raw_sales", RAW_SALES).write(D2, [fixed])
    staging = [a for a in DAILY_ASSETS if a.key.to_user_string() == "stg_sales"]
    assert run(resources, D2, D2, assets=staging).success
    assert run(resources, D2, D2, assets=marts_only).success
    assert current_run_id(lake, "seller_daily_sales", D2, zone="marts") != before


@pytest.mark.stack
def test_a_model_is_not_built_on_raw_days_whose_check_failed_or_never_ran(env):
    resources, lake = env
    staging = [a for a in DAILY_ASSETS if a.key.to_user_string() == "stg_sales"]
    assert run(resources, D1, D3, assets=staging).success
    versions = {d: current_run_id(lake, "stg_sales", d, zone="stg") for d in (D1, D2, D3)}
    # an earlier run's ingest of D2 failed its reconciliation (the previous raw version stayed current)
    failed_run = ingest_run(resources["instance"], "raw_sales", D2, passed=False)
    result = run(resources, D1, D3, assets=staging)
    assert not result.success
    message = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error.message
    assert f"raw_sales {D2}: reconciles_with_dynamodb failed in run {failed_run}" in message
    assert {d: current_run_id(lake, "stg_sales", d, zone="stg") for d in (D1, D2, D3)} == versions  # nothing built
    assert not result.get_asset_materialization_events() and not result.get_asset_check_evaluations()
    # a day the ingest never checked (the day before D1) blocks as well
    before = (dt.date.fromisoformat(D1) - dt.timedelta(days=1)).isoformat()
    ingest_run(resources["instance"], "raw_sales", D2, passed=True)  # D2 reloaded and reconciled
    missing = run(resources, before, D1, assets=staging)
    message = next(e for e in missing.all_events if e.is_step_failure).step_failure_data.error.message
    assert f"raw_sales {before}: reconciles_with_dynamodb has never run" in message
    assert run(resources, D1, D3, assets=staging).success  # every day it reads passed: built


def test_the_band_and_unknown_ids_fail_the_suite():
    model = MODELS["seller_daily_sales"]
    columns = {c.name: pa.array([], c.arrow_type) for c in model.columns if c.name != "dt"}
    row = {"seller_id": "sel_unknown", "currency": "XXX", "orders": 1, "units": 1, "gross_cents": 100,
           "refunded_units": 0, "refund_cents": 0, "cancelled_units": 0, "cancelled_cents": 0, "net_cents": 90,
           "avg_order_value_cents": 100, "buyers": 1, "new_buyers": 1, "returning_buyers": 0, "dt": "2030-01-09"}
    table = pa.Table.from_pylist([row], schema=pa.schema([*((n, a.type) for n, a in columns.items()),
                                                           ("dt", pa.string())]))
    outcome = validate(model, table, dims=Dimensions(sellers=frozenset({S1})),
                       history={"2030-01-09": [40] * 8})
    failed = {(f["expectation"], f.get("column") or f.get("column_A")) for f in outcome.failures}
    assert ("expect_column_values_to_be_in_set", "seller_id") in failed
    assert ("expect_column_values_to_be_in_set", "currency") in failed
    assert ("expect_column_pair_values_to_be_equal", "net_cents") in failed
    assert ("expect_table_row_count_to_be_between", None) in failed  # 1 row against 10..160
    assert not outcome.passed
    assert band([10] * 6 + [0] * 9, 0.25, 4) is None and band([8, 12] * 4, 0.25, 4.0) == (2, 48)


def test_the_nightly_schedule_rebuilds_the_recent_days_in_one_run():
    from pipelines.defs.marts.schedules import REBUILD_DAYS, nightly_marts

    when = dt.datetime(2026, 3, 10, 1, 30, tzinfo=dt.UTC)
    request = nightly_marts(dg.build_schedule_context(scheduled_execution_time=when))
    assert request.tags["dagster/asset_partition_range_end"] == "2026-03-09"
    start = dt.date(2026, 3, 10) - dt.timedelta(days=REBUILD_DAYS)
    assert request.tags["dagster/asset_partition_range_start"] == start.isoformat()


def test_the_band_does_not_judge_a_day_that_has_not_ended(tmp_path):
    # the stream rebuilds today's seller_daily_sales all day: at 00:05 it holds a few sellers' rows,
    # which the band (0.25 x the smallest earlier day) would fail; a closed day is still judged
    from pipelines.marts.suite import history

    model = MODELS["seller_daily_sales"]
    lake = LakeFS.from_uri(f"file://{tmp_path / 'lake'}")
    schema = pa.schema([(c.name, c.arrow_type) for c in model.columns if c.name != "dt"])
    writer = PartitionWriter(lake, model.name, schema, zone=model.zone)
    today = dt.date(2030, 1, 12)
    for n in range(10):  # 2030-01-01 .. 01-10, 40 rows each
        rows = [{name: None for name in schema.names} | {"seller_id": f"s{i}"} for i in range(40)]
        writer.write(dt.date(2030, 1, 1) + dt.timedelta(days=n), [pa.Table.from_pylist(rows, schema=schema)])
    counts = history(model, lake, ["2030-01-11", "2030-01-12"], rows={"2030-01-11": 1, "2030-01-12": 1}, today=today)
    assert counts["2030-01-11"] == [40] * 10 and band(counts["2030-01-11"], 0.25, 4.0) == (10, 160)
    assert counts["2030-01-12"] == [] and band(counts["2030-01-12"], 0.25, 4.0) is None
    later = history(model, lake, ["2030-01-12"], rows={"2030-01-12": 1}, today=dt.date(2030, 1, 13))
    assert band(later["2030-01-12"], 0.25, 4.0) == (10, 160)  # once the day is over, judged
