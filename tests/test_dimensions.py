"""Dimensions as of a date: the daily snapshots of `catalog` and `sellers` (sql/dimensions/), kept
once final, and the marts that join the snapshot of their day.

The story is the one of tests/marts_data.py, moved to last month (so its days have ended). Between
the snapshot of D1 and the one of D2 the seller S1 is renamed, the product P1 gets a new title and
genre, and the seller S2 moves from `games` to `retro`. Expected figures by hand:

- product_performance: P1's title is "Dragon Path" on D1 and "Dragon Path Remastered" on D2 (its
  genre there is the one the sales lines recorded: RPG on both days);
- seller_kpis, orders over 28 days: S1 2 on D1 (O1, O2) and 4 on D2 (+ O4, O5); S2 1 (O3).
  D1: games = {S1 2, S2 1}: median 1.5, S1 2 / 1.5 = 4/3 at position 2 of 2 (1.0), S2 at 1 of 2.
  D2: games = {S1 4}: median 4.0, S1 at 1 of 1; retro = {S2 1}: median 1.0.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace
from types import SimpleNamespace

import dagster as dg
import pytest

from gitgoods import aws
from gitgoods.settings import Settings
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.manifest import current_run_id
from pipelines.lake.partitions.reading import read_partition
from pipelines.marts.models import discover
from pipelines.marts.runner import build
from pipelines.marts.snapshots import day_runs, is_final
from pipelines.sql.duckdb_engine import DuckDBEngine
from tests.marts_data import P1, P4, S1, S2, S3, put_dimensions, story_days, write_raw

MODELS = discover()
_this_month = dt.date.today().replace(day=1)
D1, D2, D3 = story_days((_this_month - dt.timedelta(days=1)).replace(day=1))
MARTS = ("stg_sales", "stg_event_lines", "state_first_purchase", "seller_daily_sales", "product_performance",
         "seller_kpis")


def by(lake: LakeFS, model: str, day: str, key: str) -> dict[str, dict]:
    m = MODELS[model]
    return {r[key]: r for r in read_partition(lake, m.name, day, zone=m.zone).to_pylist()}


def snapshot_runs(lake: LakeFS, *days: str) -> dict[tuple[str, str], str | None]:
    return {(t, d): current_run_id(lake, t, d, zone="dim") for t in ("dim_catalog", "dim_sellers") for d in days}


def take(engine: DuckDBEngine, lake: LakeFS, start: str, end: str, *, retake: bool = False) -> None:
    for name in ("dim_catalog", "dim_sellers"):
        build(MODELS[name], start, end, engine=engine, lake=lake, retake=retake)


def change_dimensions(settings: Settings) -> None:
    """S1 renamed, P1 retitled and moved to another genre, S2 moved to another category."""
    ddb = aws.client("dynamodb", settings)
    ddb.update_item(
        TableName=settings.table("catalog"),
        Key={"product_id": {"S": P1}},
        UpdateExpression="SET title = :t, genre = :g",
        ExpressionAttributeValues={":t": {"S": "Dragon Path Remastered"}, ":g": {"S": "Action"}},
    )
    ddb.update_item(
        TableName=settings.table("sellers"),
        Key={"seller_id": {"S": S1}},
        UpdateExpression="SET display_name = :n",
        ExpressionAttributeValues={":n": {"S": "One Games"}},
    )
    ddb.update_item(
        TableName=settings.table("sellers"),
        Key={"seller_id": {"S": S2}},
        UpdateExpression="SET category = :c",
        ExpressionAttributeValues={":c": {"S": "retro"}},
    )


@pytest.fixture()
def story(settings: Settings, tmp_path):  # type: ignore[no-untyped-def]
    s = settings.model_copy(update={"table_prefix": f"d{uuid.uuid4().hex[:8]}-"})
    put_dimensions(s)
    lake = LakeFS.from_uri(f"file://{tmp_path}/lake", s)
    write_raw(lake, (D1, D2, D3))
    with DuckDBEngine(s, lake=lake) as engine:
        yield s, lake, engine


def test_final_means_taken_after_the_day_ended() -> None:
    assert not is_final("2026-02-28", "2026-02-28T23:59:59.999000+00:00")
    assert is_final("2026-02-28", "2026-03-01T00:00:00+00:00")
    assert is_final("2025-12-31", "2026-01-01T00:00:00.001000+00:00")
    assert not is_final("2026-03-01", "2026-02-28T10:00:00+00:00")  # taken before its day: a future day
    assert day_runs(["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-03"]) == [
        ("2026-02-27", "2026-03-01"),
        ("2026-03-03", "2026-03-03"),
    ]
    assert day_runs([]) == []


def test_the_snapshot_models_read_only_the_dimension_tables() -> None:
    assert [m.name for m in MODELS.values() if m.snapshot] == ["dim_catalog", "dim_sellers"]
    assert MODELS["dim_catalog"].zone == "dim" and MODELS["dim_catalog"].lake_name == "dim_catalog"
    assert "contact_email" not in MODELS["dim_sellers"].sql and "pii_key" not in MODELS["dim_sellers"].sql


@pytest.mark.stack
def test_a_rebuilt_day_keeps_its_names(story) -> None:
    settings, lake, engine = story
    take(engine, lake, D1, D1)
    change_dimensions(settings)
    take(engine, lake, D2, D2)
    taken = snapshot_runs(lake, D1, D2)
    # what the marts job does every night: the snapshots of the range, then the marts, over D1..D2
    for name in ("dim_catalog", "dim_sellers", *MARTS):
        build(MODELS[name], D1, D2, engine=engine, lake=lake)
    assert snapshot_runs(lake, D1, D2) == taken  # final snapshots are kept, not taken again

    catalog = {d: by(lake, "dim_catalog", d, "product_id") for d in (D1, D2)}
    assert (catalog[D1][P1]["title"], catalog[D1][P1]["genre"]) == ("Dragon Path", "RPG")
    assert (catalog[D2][P1]["title"], catalog[D2][P1]["genre"]) == ("Dragon Path Remastered", "Action")
    assert (catalog[D1][P4]["price_cents"], catalog[D1][P4]["active"], catalog[D1][P4]["genre"]) == (1000, True, None)
    sellers = {d: by(lake, "dim_sellers", d, "seller_id") for d in (D1, D2)}
    assert [sellers[D1][s]["display_name"] for s in (S1, S2, S3)] == ["One", "Two", "Three"]
    assert (sellers[D2][S1]["display_name"], sellers[D2][S2]["category"]) == ("One Games", "retro")
    day_end = dt.datetime.fromisoformat(D1).replace(tzinfo=dt.UTC) + dt.timedelta(days=1)
    assert sellers[D1][S1]["taken_at"] >= day_end  # taken after the day: final

    pp = {d: by(lake, "product_performance", d, "product_id") for d in (D1, D2)}
    assert (pp[D1][P1]["title"], pp[D1][P1]["genre"]) == ("Dragon Path", "RPG")
    assert (pp[D2][P1]["title"], pp[D2][P1]["genre"]) == ("Dragon Path Remastered", "RPG")  # genre as sold
    kpis = {d: by(lake, "seller_kpis", d, "seller_id") for d in (D1, D2)}
    cols = (
        "category",
        "orders_28d",
        "category_sellers",
        "category_median_orders_28d",
        "orders_28d_vs_category_median",
        "category_percentile",
    )
    assert tuple(kpis[D1][S1][c] for c in cols) == ("games", 2, 2, 1.5, pytest.approx(4 / 3), 1.0)
    assert tuple(kpis[D1][S2][c] for c in cols) == ("games", 1, 2, 1.5, pytest.approx(2 / 3), 0.5)
    assert tuple(kpis[D2][S1][c] for c in cols) == ("games", 4, 1, 4.0, 1.0, 1.0)
    assert tuple(kpis[D2][S2][c] for c in cols) == ("retro", 1, 1, 1.0, 1.0, 1.0)

    # the live path (the portal's seller names, a federated query) shows the current values
    from portal.sellers import SellerNames

    assert SellerNames(settings)()[S1] == "One Games"
    live = engine.query("SELECT title FROM dynamodb.default.catalog WHERE product_id = ?", [P1])
    assert live["title"].to_pylist() == ["Dragon Path Remastered"]


@pytest.mark.stack
def test_a_retake_is_on_purpose_and_an_open_day_is_taken_again(story) -> None:
    settings, lake, engine = story
    today = dt.datetime.now(dt.UTC).date().isoformat()
    take(engine, lake, D1, D1)
    take(engine, lake, today, today)
    first = snapshot_runs(lake, D1, today)
    change_dimensions(settings)
    take(engine, lake, D1, D1)
    take(engine, lake, today, today)
    again = snapshot_runs(lake, D1, today)
    assert again[("dim_catalog", D1)] == first[("dim_catalog", D1)]  # final: kept
    assert again[("dim_catalog", today)] != first[("dim_catalog", today)]  # today is open: taken again
    assert by(lake, "dim_catalog", today, "product_id")[P1]["title"] == "Dragon Path Remastered"
    assert by(lake, "dim_catalog", D1, "product_id")[P1]["title"] == "Dragon Path"

    take(engine, lake, D1, D1, retake=True)  # forced: D1 now holds the current values
    assert snapshot_runs(lake, D1)[("dim_catalog", D1)] != first[("dim_catalog", D1)]
    build(MODELS["stg_sales"], D1, D1, engine=engine, lake=lake)
    build(MODELS["product_performance"], D1, D1, engine=engine, lake=lake)
    assert by(lake, "product_performance", D1, "product_id")[P1]["title"] == "Dragon Path Remastered"


@pytest.mark.stack
def test_a_build_takes_each_run_of_missing_days_and_reports_what_an_audit_failure_left_published(story) -> None:
    from pipelines.lake.partitions.manifest import partition_info
    from pipelines.marts.runner import AuditFailed, BuildResult
    from pipelines.marts.snapshots import build_missing

    _, lake, engine = story
    take(engine, lake, D2, D2)  # final: D1 and D3 around it are missing
    d2 = partition_info(lake, "dim_catalog", D2, zone="dim")
    calls = []

    def build_range(first: str, last: str) -> BuildResult:
        calls.append((first, last))
        if first == D1:
            return BuildResult("dim_catalog", [replace(d2, dt=D1)], 0.0, 0.0)
        raise AuditFailed("dim_catalog", SimpleNamespace(passed=False), [], [])

    day3 = (dt.date.fromisoformat(D2) + dt.timedelta(days=1)).isoformat()
    with pytest.raises(AuditFailed) as failed:
        build_missing(MODELS["dim_catalog"], D1, day3, lake, build_range)
    assert calls == [(D1, D1), (day3, day3)]
    assert [p.dt for p in failed.value.published] == [D1]


# -- Dagster ---------------------------------------------------------------------------------------


def test_the_snapshots_are_assets_of_the_group_dimensions_read_by_the_marts() -> None:
    from pipelines.definitions import defs

    graph = defs.get_repository_def().asset_graph
    for name in ("dim_catalog", "dim_sellers"):
        node = graph.get(dg.AssetKey(name))
        assert node.group_name == "dimensions" and not node.parent_keys
        assert node.partitions_def is not None
    assert dg.AssetKey("dim_catalog") in graph.get(dg.AssetKey("product_performance")).parent_keys
    assert dg.AssetKey("dim_sellers") in graph.get(dg.AssetKey("seller_kpis")).parent_keys
    marts_job = defs.resolve_job_def("marts_job")
    assert {"dim_catalog", "dim_sellers"} <= {k.to_user_string() for k in marts_job.asset_layer.executable_asset_keys}


def _tick(when: dt.datetime) -> list[dg.RunRequest]:
    from pipelines.definitions import defs

    schedule = defs.get_schedule_def("daily_dimensions")
    with dg.build_schedule_context(scheduled_execution_time=when, repository_def=defs.get_repository_def()) as context:
        return list(schedule.evaluate_tick(context).run_requests or [])


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def test_the_daily_schedule_finishes_yesterday_and_starts_today() -> None:
    from pipelines.definitions import defs
    from pipelines.defs.partitions import daily

    schedule = defs.get_schedule_def("daily_dimensions")
    assert (schedule.cron_schedule, schedule.job_name) == ("0 0 * * *", "dimensions_job")
    keys = daily.get_partition_keys()
    first_of_month = dt.date.fromisoformat(next(k for k in keys[1:] if k.endswith("-01")))
    cases = [
        (dt.date.fromisoformat(keys[-1]), (dt.date.fromisoformat(keys[-1]) - dt.timedelta(days=1)).isoformat()),
        (first_of_month, (first_of_month - dt.timedelta(days=1)).isoformat()),  # a month's end
        (dt.date(2027, 1, 1), "2026-12-31"),  # a year's end
        (dt.date(2028, 3, 1), "2028-02-29"),  # a leap year
    ]
    for day, yesterday in cases:
        (request,) = _tick(_midnight(day))
        assert request.partition_key is None  # a range: yesterday and today, in one run
        assert (
            request.tags["dagster/asset_partition_range_start"],
            request.tags["dagster/asset_partition_range_end"],
        ) == (yesterday, day.isoformat())
        assert request.run_key == f"dimensions-{day.isoformat()}"


def test_the_daily_schedule_starts_at_the_first_partition() -> None:
    from pipelines.definitions import defs
    from pipelines.defs.partitions import daily

    first = dt.date.fromisoformat(daily.get_first_partition_key())
    (request,) = _tick(_midnight(first))
    assert request.tags["dagster/asset_partition_range_start"] == first.isoformat()
    schedule = defs.get_schedule_def("daily_dimensions")
    before = _midnight(first - dt.timedelta(days=1))
    with dg.build_schedule_context(scheduled_execution_time=before, repository_def=defs.get_repository_def()) as ctx:
        assert schedule.evaluate_tick(ctx).skip_message


@pytest.fixture()
def dagster_run(story, monkeypatch):  # type: ignore[no-untyped-def]
    """`run(assets, start, end, **tags)`: one Dagster run over the story's lake and tables, in one
    instance for the test (the models' gate reads the checks of earlier runs there)."""
    from gitgoods.settings import reset_settings
    from pipelines.resources import LakeResource
    from tests.marts_data import record_raw_checks

    settings, lake, _ = story
    for name, value in {"GITGOODS_HOME": str(settings.home), "GITGOODS_DYNAMODB_PORT": str(settings.dynamodb_port),
                        "GITGOODS_MOTO_PORT": str(settings.moto_port), "GITGOODS_TABLE_PREFIX": settings.table_prefix,
                        "GITGOODS_LAKE_URI": lake.uri}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    reset_settings()
    resources = {"lake": LakeResource(uri=lake.uri, glue_database="unused", register_in_glue=False)}
    with dg.instance_for_test() as instance:
        record_raw_checks(instance, [D1, D2])

        def run(assets, start: str, end: str, **tags: str) -> dg.ExecuteInProcessResult:  # type: ignore[no-untyped-def]
            range_tags = {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}
            return dg.materialize(assets, resources=resources, instance=instance, raise_on_error=False,
                                  tags={**range_tags, **tags})  # fmt: skip

        yield run
    reset_settings()


def _assets(*names: str) -> list[dg.AssetsDefinition]:
    from pipelines.defs.marts.assets import ASSETS

    return [a for a in ASSETS if a.key.to_user_string() in names]


@pytest.mark.stack
def test_dagster_keeps_final_snapshots_unless_the_run_says_retake(story, dagster_run) -> None:
    from pipelines.defs.dimensions.schedules import SNAPSHOT_ASSETS
    from pipelines.marts.snapshots import RETAKE_TAG

    settings, lake, _ = story

    def run(**tags: str) -> dg.ExecuteInProcessResult:
        result = dagster_run(SNAPSHOT_ASSETS, D1, D2, **tags)
        assert result.success and all(e.passed for e in result.get_asset_check_evaluations())
        return result

    result = run()
    first = snapshot_runs(lake, D1, D2)
    meta = {m.asset_key.to_user_string(): m.materialization.metadata for m in result.get_asset_materialization_events()}
    assert meta["dim_sellers"]["dagster/row_count"].value == 6  # 3 sellers x 2 days
    assert meta["dim_catalog"]["dagster/row_count"].value == 8  # 4 products x 2 days
    change_dimensions(settings)
    run()
    assert snapshot_runs(lake, D1, D2) == first
    assert by(lake, "dim_sellers", D2, "seller_id")[S2]["category"] == "games"
    run(**{RETAKE_TAG: "true"})
    assert all(snapshot_runs(lake, D1, D2)[k] != run_id for k, run_id in first.items())
    assert by(lake, "dim_sellers", D2, "seller_id")[S2]["category"] == "retro"


@pytest.mark.stack
def test_a_snapshot_failing_its_check_stays_unpublished_and_gates_the_mart(story, dagster_run) -> None:
    from pipelines.marts.snapshots import RETAKE_TAG

    settings, lake, _ = story
    models = ("dim_catalog", "stg_sales", "product_performance")
    first = dagster_run(_assets(*models), D1, D2)
    assert first.success
    before = {d: current_run_id(lake, "dim_catalog", d, zone="dim") for d in (D1, D2)}
    mart_before = current_run_id(lake, "product_performance", D2, zone="marts")
    # a product in a currency the contract does not have reaches the catalog table
    aws.client("dynamodb", settings).put_item(TableName=settings.table("catalog"), Item={
        "product_id": {"S": "prd_0000000000000000000000000P9"}, "seller_id": {"S": S1}, "title": {"S": "Odd"},
        "kind": {"S": "game"}, "price_cents": {"N": "100"}, "currency": {"S": "XXX"}, "active": {"BOOL": True}})

    bad = dagster_run(_assets(*models), D2, D2, **{RETAKE_TAG: "true"})
    assert not bad.success
    (check,) = [e for e in bad.get_asset_check_evaluations() if e.asset_key == dg.AssetKey("dim_catalog")]
    assert not check.passed
    assert any(f["column"] == "currency" and f["unexpected_count"] == 1 for f in check.metadata["failures"].value)
    assert {d: current_run_id(lake, "dim_catalog", d, zone="dim") for d in (D1, D2)} == before  # not published
    assert "prd_0000000000000000000000000P9" not in by(lake, "dim_catalog", D2, "product_id")
    materialized = {m.asset_key.to_user_string() for m in bad.get_asset_materialization_events()}
    assert "product_performance" not in materialized
    # a later run of the mart alone is gated on the snapshot's failed check
    later = dagster_run(_assets("product_performance"), D2, D2)
    assert not later.success
    (failure,) = [e for e in later.all_events if e.is_step_failure]
    assert "dim_catalog" in str(failure.step_failure_data.user_failure_data.metadata["blocked"].value)
    assert current_run_id(lake, "product_performance", D2, zone="marts") == mart_before
