"""Every mart on the embedded engine over the hand-made lake of tests/marts_data.py.

The expected figures are worked out by hand from the story in marts_data's docstring, not computed
by the code under test.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlglot

from gitgoods.settings import Settings
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.manifest import list_partitions
from pipelines.lake.partitions.reading import read_partition
from pipelines.marts.models import SQL_DIR, discover, upstream
from pipelines.marts.runner import build
from pipelines.sql.duckdb_engine import DuckDBEngine
from tests.marts_data import (
    B1,
    B2,
    B3,
    D1,
    D2,
    D3,
    P1,
    P2,
    P3,
    P4,
    S1,
    S2,
    S3,
    order_id,
    put_dimensions,
    write_raw,
)

MODELS = discover()


@pytest.fixture(scope="module")
def mart_settings(settings: Settings) -> Settings:
    s = settings.model_copy(update={"table_prefix": f"m{uuid.uuid4().hex[:8]}-"})
    put_dimensions(s)
    return s


@pytest.fixture(scope="module")
def built(mart_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> tuple[LakeFS, DuckDBEngine]:
    lake = LakeFS.from_uri(f"file://{tmp_path_factory.mktemp('marts')}/lake", mart_settings)
    write_raw(lake)
    engine = DuckDBEngine(mart_settings, lake=lake)
    for model in MODELS.values():
        if model.partitioned_by == "month":
            build(model, "2030-01-01", "2030-02-01", engine=engine, lake=lake)
        else:
            build(model, D1, D3, engine=engine, lake=lake, chunk=10)  # several chunks
    yield lake, engine
    engine.close()


def rows(lake: LakeFS, model: str, dt: str, key: tuple[str, ...]) -> dict[Any, dict[str, Any]]:
    m = MODELS[model]
    table = read_partition(lake, m.name, dt, zone=m.zone)
    return {tuple(r[k] for k in key) if len(key) > 1 else r[key[0]]: r for r in table.to_pylist()}


def pick(row: dict[str, Any], *names: str) -> tuple[Any, ...]:
    return tuple(row[n] for n in names)


# -- the models themselves ----------------------------------------------------------------------------


def test_every_sql_file_parses_in_athenas_dialect() -> None:
    files = sorted(SQL_DIR.glob("*/*.sql"))
    assert len(files) >= 10
    for path in files:
        sqlglot.parse_one(path.read_text(), read="athena")  # raises on a syntax error


def test_every_model_and_column_is_documented() -> None:
    for model in MODELS.values():
        assert model.documented, f"{model.name} has no entry in its models.yml"
        assert model.description
        assert model.columns[-1].name == "dt"
        assert all(c.description for c in model.columns)


def test_models_are_ordered_after_what_they_read() -> None:
    names = list(MODELS)
    for model in MODELS.values():
        deps, raw = upstream(model, MODELS)
        assert deps or raw or model.federated, f"{model.name} reads nothing"
        assert all(names.index(d) < names.index(model.name) for d in deps)
    # the marts read the day's dimension snapshots; only the snapshots read DynamoDB
    assert upstream(MODELS["seller_kpis"], MODELS) == (["dim_sellers", "seller_daily_sales"], [])
    assert upstream(MODELS["product_performance"], MODELS) == (["dim_catalog", "stg_sales"], [])
    assert {m.name: m.federated for m in MODELS.values() if m.federated} == {
        "dim_catalog": ("catalog",), "dim_sellers": ("sellers",)}


@pytest.mark.stack
def test_every_day_of_the_range_is_a_partition(built) -> None:
    lake, _ = built
    days = list_partitions(lake, "seller_daily_sales", zone="marts")
    assert days[0] == D1 and days[-1] == D3 and len(days) == 32
    assert read_partition(lake, "seller_daily_sales", "2030-01-15", zone="marts").num_rows == 0
    assert list_partitions(lake, "buyer_cohorts", zone="marts") == ["2030-01-01", "2030-02-01"]


# -- staging -------------------------------------------------------------------------------------------


@pytest.mark.stack
def test_staging_deduplicates(built) -> None:
    lake, _ = built
    sales = read_partition(lake, "stg_sales", D2, zone="stg")
    assert sales.num_rows == 3  # four raw rows, one of them an older copy of O4's line
    o4 = [r for r in sales.to_pylist() if r["order_id"] == order_id(4)]
    assert len(o4) == 1
    refunds = [r for r in read_partition(lake, "stg_event_lines", D2, zone="stg").to_pylist()
               if r["event_type"] == "order_refunded"]
    assert [(r["order_id"], r["line"], r["product_id"], r["amount_cents"]) for r in refunds] == [
        (order_id(1), 2, P2, 500)
    ]
    d1 = rows(lake, "stg_sales", D1, ("order_id", "line"))
    assert pick(d1[(order_id(2), 1)], "status", "returned_qty", "returned_cents") == ("cancelled", 1, 1000)
    assert pick(d1[(order_id(1), 2)], "status", "returned_qty", "returned_cents") == ("refunded", 1, 500)
    assert pick(d1[(order_id(1), 1)], "status", "returned_qty", "returned_cents") == ("placed", 0, 0)


# -- seller_daily_sales ---------------------------------------------------------------------------------

DAILY = ("orders", "units", "gross_cents", "refunded_units", "refund_cents", "cancelled_units", "net_cents",
         "avg_order_value_cents", "buyers", "new_buyers", "returning_buyers", "currency")


@pytest.mark.stack
def test_seller_daily_sales_by_hand(built) -> None:
    lake, _ = built
    d1 = rows(lake, "seller_daily_sales", D1, ("seller_id",))
    assert set(d1) == {S1, S2}
    # S1: O1 (2x1000 + 500) and O2 (1000, cancelled the same day) from B1 and B2, both new
    assert pick(d1[S1], *DAILY) == (2, 4, 3500, 1, 1000, 1, 2500, 1750, 2, 2, 0, "EUR")
    assert pick(d1[S2], *DAILY) == (1, 3, 6000, 0, 0, 0, 6000, 6000, 1, 1, 0, "USD")
    d2 = rows(lake, "seller_daily_sales", D2, ("seller_id",))
    # S1: O4 (B1, back again) and O5 (B3, new to S1); O1's line 2 refunded (500) once, not twice
    assert pick(d2[S1], *DAILY) == (2, 2, 2000, 1, 500, 0, 1500, 1000, 2, 1, 1, "EUR")
    assert pick(d2[S3], *DAILY) == (1, 2, 3000, 0, 0, 0, 3000, 3000, 1, 1, 0, "GBP")
    assert S2 not in d2
    d3 = rows(lake, "seller_daily_sales", D3, ("seller_id",))
    # B2 bought from S1 on D1 (that order was cancelled, but it was a purchase): returning
    assert pick(d3[S1], *DAILY) == (1, 1, 1000, 0, 0, 0, 1000, 1000, 1, 0, 1, "EUR")


@pytest.mark.stack
def test_seller_daily_segments_sum_to_the_day(built) -> None:
    lake, _ = built
    seg = rows(lake, "seller_daily_segments", D1, ("seller_id", "country", "platform"))
    assert pick(seg[(S1, "DE", "PC")], "orders", "units", "gross_cents", "refund_cents", "net_cents") == (
        1, 3, 2500, 0, 2500)
    assert pick(seg[(S1, "FR", "PC")], "orders", "units", "gross_cents", "refund_cents", "net_cents") == (
        1, 1, 1000, 1000, 0)
    assert pick(seg[(S2, "US", "PS5")], "units", "gross_cents") == (3, 6000)
    d2 = rows(lake, "seller_daily_segments", D2, ("seller_id", "country", "platform"))
    assert pick(d2[(S3, "FR", "none")], "units", "gross_cents") == (2, 3000)  # merch has no platform
    assert pick(d2[(S1, "DE", "PC")], "gross_cents", "refund_cents", "net_cents") == (1000, 500, 500)


# -- product_performance --------------------------------------------------------------------------------


@pytest.mark.stack
def test_product_performance_by_hand(built) -> None:
    lake, _ = built
    d1 = rows(lake, "product_performance", D1, ("product_id",))
    cols = ("title", "units", "gross_cents", "returned_units", "refund_rate", "rank_in_genre", "rank_in_platform")
    # RPG on D1: P1 3 units, P3 3 units (tied first), P2 1 unit (third); PC: P1 then P2; PS5: P3
    assert pick(d1[P1], *cols) == ("Dragon Path", 3, 3000, 1, pytest.approx(1 / 3), 1, 1)
    assert pick(d1[P2], *cols) == ("Dragon Path: Isles", 1, 500, 1, 1.0, 3, 2)
    assert pick(d1[P3], *cols) == ("Star Forge", 3, 6000, 0, 0.0, 1, 1)
    d2 = rows(lake, "product_performance", D2, ("product_id",))
    assert pick(d2[P1], "units", "gross_cents", "refund_rate", "rank_in_genre") == (2, 2000, 0.0, 1)
    assert pick(d2[P4], "title", "genre", "rank_in_genre", "rank_in_platform") == ("Controller Tee", None, 1, 1)


# -- seller_kpis ---------------------------------------------------------------------------------------

KPI = ("orders_7d", "orders_28d", "net_7d_cents", "net_prev_7d_cents", "net_28d_cents", "net_prev_28d_cents",
       "wow_growth", "mom_growth", "category_sellers", "category_median_orders_28d",
       "orders_28d_vs_category_median", "category_percentile")


@pytest.mark.stack
def test_seller_kpis_by_hand(built) -> None:
    lake, _ = built
    d2 = rows(lake, "seller_kpis", D2, ("seller_id",))
    assert set(d2) == {S1, S2, S3}  # every seller of the day's snapshot, with or without sales
    # games: S1 has 4 orders in 28 days, S2 1 -> median 2.5
    assert pick(d2[S1], *KPI) == (4, 4, 4000, 0, 4000, 0, None, None, 2, 2.5, 1.6, 1.0)
    assert pick(d2[S2], *KPI) == (1, 1, 6000, 0, 6000, 0, None, None, 2, 2.5, 0.4, 0.5)
    assert pick(d2[S3], "category", "orders_28d", "category_median_orders_28d", "category_percentile") == (
        "merch", 1, 1.0, 1.0)
    d3 = rows(lake, "seller_kpis", D3, ("seller_id",))
    # Feb 1: the 28 days before (Jan 4 back to Dec 8) hold no sale; the 28 before those end Jan 4:
    # net 4000 (D1 2500 + D2 1500) -> -75 % month over month
    assert pick(d3[S1], "orders_7d", "net_7d_cents", "net_28d_cents", "net_prev_28d_cents", "mom_growth") == (
        1, 1000, 1000, 4000, -0.75)
    # the week D2 ends: for Jan 9 the 7 days before hold D1 and D2
    jan9 = rows(lake, "seller_kpis", "2030-01-09", ("seller_id",))
    assert pick(jan9[S1], "net_7d_cents", "net_prev_7d_cents", "wow_growth") == (0, 4000, -1.0)


# -- buyer_cohorts -------------------------------------------------------------------------------------

COHORT = ("cohort_size", "active_buyers", "repeat_buyers", "retention_rate", "orders", "gross_cents")


@pytest.mark.stack
def test_buyer_cohorts_by_hand(built) -> None:
    lake, _ = built
    jan = rows(lake, "buyer_cohorts", "2030-01-01", ("seller_id", "cohort_month"))
    # S1's January cohort: B1 (O1, O4: a repeat), B2 (O2), B3 (O5)
    assert pick(jan[(S1, "2030-01-01")], "months_since_first", *COHORT) == (0, 3, 3, 1, 1.0, 4, 5500)
    assert pick(jan[(S2, "2030-01-01")], *COHORT) == (1, 1, 0, 1.0, 1, 6000)
    assert pick(jan[(S3, "2030-01-01")], *COHORT) == (1, 1, 0, 1.0, 1, 3000)
    feb = rows(lake, "buyer_cohorts", "2030-02-01", ("seller_id", "cohort_month"))
    assert set(feb) == {(S1, "2030-01-01")}  # only B2 came back, to S1
    assert pick(feb[(S1, "2030-01-01")], "months_since_first", *COHORT) == (
        1, 3, 1, 1, pytest.approx(1 / 3), 1, 1000)


# -- fulfilment and funnel ------------------------------------------------------------------------------


@pytest.mark.stack
def test_fulfilment_by_hand(built) -> None:
    lake, _ = built
    d1 = rows(lake, "fulfilment", D1, ("seller_id",))
    cols = ("orders", "shipped_orders", "delivered_orders", "cancelled_orders", "shipped_rate",
            "cancellation_rate", "avg_hours_to_ship", "avg_hours_to_deliver")
    # O1 placed 10:00, shipped 18:00 (8 h), delivered the next day 10:00 (24 h); O2 cancelled
    assert pick(d1[S1], *cols) == (2, 1, 1, 1, 0.5, 0.5, 8.0, 24.0)
    assert pick(d1[S2], *cols) == (1, 0, 0, 0, 0.0, 0.0, None, None)


@pytest.mark.stack
def test_funnel_by_hand(built) -> None:
    lake, _ = built
    d3 = rows(lake, "funnel", D3, ("product_id",))
    assert set(d3) == {P1}  # only P1 has views
    cols = ("views", "view_sessions", "cart_sessions", "viewed_cart_sessions", "cart_units", "orders",
            "view_to_cart_rate", "orders_per_view_session")
    # views s1 s1 s2 s3; carts s1 (had viewed) and s4 (had not); O7
    assert pick(d3[P1], *cols) == (4, 3, 2, 1, 2, 1, pytest.approx(1 / 3), pytest.approx(1 / 3))
    assert read_partition(lake, "funnel", D1, zone="marts").num_rows == 0  # orders but no views


@pytest.mark.stack
def test_funnel_counts_checkout_sessions(built) -> None:
    lake, _ = built
    d3 = rows(lake, "funnel", D3, ("product_id",))
    # checkouts with P1: s1 twice (one session) and s4; P2 was in s4's checkout but never viewed,
    # so it has no funnel row
    assert d3[P1]["checkout_sessions"] == 2
    assert set(d3) == {P1}


@pytest.mark.stack
def test_buyers_are_pseudonyms_only(built) -> None:
    lake, _ = built
    table = read_partition(lake, "stg_sales", D1, zone="stg")
    assert set(table["buyer"].to_pylist()) == {B1, B2, B3}


def test_model_without_yaml_becomes_a_model(tmp_path: Path) -> None:
    (tmp_path / "marts").mkdir()
    (tmp_path / "marts" / "daily_units.sql").write_text(
        "-- Units per day.\nSELECT sum(qty) AS units, dt FROM stg_sales WHERE dt BETWEEN :start AND :end GROUP BY dt")
    (tmp_path / "staging").mkdir()
    (tmp_path / "staging" / "stg_sales.sql").write_text((SQL_DIR / "staging" / "stg_sales.sql").read_text())
    found = discover(tmp_path)
    assert list(found) == ["stg_sales", "daily_units"]
    assert found["daily_units"].description == "Units per day."
    assert upstream(found["daily_units"], found) == (["stg_sales"], [])


@pytest.mark.stack
def test_conform_refuses_undocumented_columns(built) -> None:
    from pipelines.marts.models import ModelError
    from pipelines.marts.runner import conform

    model = MODELS["funnel"]
    with pytest.raises(ModelError, match="undocumented"):
        conform(model, pa.table({**{c.name: pa.array([], pa.string()) for c in model.columns}, "extra": []}))


def test_partition_keys_of_days_and_months() -> None:
    from pipelines.marts.runner import partition_keys

    assert partition_keys(MODELS["seller_daily_sales"], "2030-02-27", "2030-03-02") == [
        "2030-02-27", "2030-02-28", "2030-03-01", "2030-03-02"]
    assert partition_keys(MODELS["buyer_cohorts"], "2029-11-01", "2030-02-01") == [
        "2029-11-01", "2029-12-01", "2030-01-01", "2030-02-01"]
    with pytest.raises(ValueError, match="first days of months"):
        partition_keys(MODELS["buyer_cohorts"], "2030-01-15", "2030-02-01")
    with pytest.raises(ValueError, match="empty range"):
        partition_keys(MODELS["seller_daily_sales"], "2030-01-02", "2030-01-01")


@pytest.mark.stack
def test_a_model_writing_outside_its_range_is_refused(built, tmp_path: Path) -> None:
    from dataclasses import replace

    from pipelines.marts.models import ModelError

    lake, engine = built
    bad = replace(MODELS["stg_sales"], sql=MODELS["stg_sales"].sql.replace("BETWEEN :start AND :end", "<= :end"))
    with pytest.raises(ModelError, match="outside"):
        build(bad, D2, D2, engine=engine, lake=lake)
    assert read_partition(lake, "stg_sales", D2, zone="stg").num_rows == 3  # nothing was switched


def test_models_reading_their_history_run_in_one_chunk(tmp_path: Path) -> None:
    from pipelines.marts.models import ModelError

    assert MODELS["seller_kpis"].chunk == 366 and MODELS["stg_sales"].chunk is None
    (tmp_path / "marts").mkdir()
    (tmp_path / "marts" / "x.sql").write_text("SELECT 1 AS n, dt FROM stg_sales")
    (tmp_path / "marts" / "models.yml").write_text(
        "models:\n  - name: x\n    chunk: 0\n    columns:\n      - {name: dt, type: varchar, description: d}\n")
    with pytest.raises(ModelError, match="chunk"):
        discover(tmp_path)


@pytest.mark.parametrize("entry, error", [
    ("pack_keys: [n]", "pack_keys needs packs"),
    ("packs: month\n    pack_keys: [m]", "pack_keys must list documented columns"),
    ("packs: month\n    pack_keys: [dt]", "pack_keys must list documented columns"),
])  # fmt: skip
def test_pack_keys_name_documented_columns_of_a_packed_model(tmp_path: Path, entry: str, error: str) -> None:
    from pipelines.marts.models import ModelError

    assert MODELS["state_first_purchase"].pack_keys == ("pair_key",)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "x.sql").write_text("SELECT 1 AS n, dt FROM stg_sales")
    (tmp_path / "state" / "models.yml").write_text(
        f"models:\n  - name: x\n    {entry}\n    columns:\n      - {{name: n, type: bigint, description: n}}\n"
        "      - {name: dt, type: varchar, description: d}\n")  # fmt: skip
    with pytest.raises(ModelError, match=error):
        discover(tmp_path)


# -- the runner: streaming, threads, failures ------------------------------------------------------


class _Cut:
    """An engine whose streams yield one row per batch in the query's order, reordered by `order`
    and cut short by `fail_after` (rows) with an error, as a query dying mid-stream does."""

    def __init__(self, engine: DuckDBEngine, *, fail_after: int | None = None, reverse: bool = False) -> None:
        self.engine = engine
        self.fail_after = fail_after
        self.reverse = reverse

    def stream(self, sql: str, params: dict[str, Any]) -> pa.RecordBatchReader:
        reader = self.engine.stream(sql, params, batch_rows=1)
        batches = [b for b in reader if b.num_rows]
        if self.reverse:
            batches.reverse()

        def gen():
            for i, batch in enumerate(batches):
                if self.fail_after is not None and i == self.fail_after:
                    raise RuntimeError("the query died")
                yield batch

        return pa.RecordBatchReader.from_batches(reader.schema, gen())


@pytest.fixture
def own_lake(mart_settings: Settings, tmp_path: Path) -> tuple[LakeFS, DuckDBEngine]:
    lake = LakeFS.from_uri(f"file://{tmp_path}/lake", mart_settings)
    write_raw(lake)
    engine = DuckDBEngine(mart_settings, lake=lake)
    for name in ("stg_sales", "stg_event_lines", "state_first_purchase"):
        build(MODELS[name], D1, D3, engine=engine, lake=lake)
    yield lake, engine
    engine.close()


@pytest.mark.stack
def test_a_query_dying_mid_stream_leaves_every_partition_whole(own_lake) -> None:
    from pipelines.lake.partitions.manifest import current_run_id

    lake, engine = own_lake
    model = MODELS["stg_sales"]
    before = {d: current_run_id(lake, "stg_sales", d, zone="stg") for d in (D1, D2, D3)}
    sizes = {d: read_partition(lake, "stg_sales", d, zone="stg").num_rows for d in (D1, D2, D3)}
    assert sizes[D1] >= 1 and sizes[D2] >= 2  # so the cut falls inside D2
    with pytest.raises(RuntimeError, match="died"):
        build(model, D1, D3, engine=_Cut(engine, fail_after=sizes[D1] + 1), lake=lake, write_threads=4)
    after = {d: current_run_id(lake, "stg_sales", d, zone="stg") for d in (D1, D2, D3)}
    assert after[D1] != before[D1]  # complete before the failure: written, whole
    assert read_partition(lake, "stg_sales", D1, zone="stg").num_rows == sizes[D1]
    assert after[D2] == before[D2] and after[D3] == before[D3]  # cut or not reached: as they were
    assert read_partition(lake, "stg_sales", D2, zone="stg").num_rows == sizes[D2]


@pytest.mark.stack
def test_rows_out_of_dt_order_are_refused(own_lake) -> None:
    from pipelines.marts.models import ModelError

    lake, engine = own_lake
    with pytest.raises(ModelError, match="out of dt order"):
        build(MODELS["stg_sales"], D1, D3, engine=_Cut(engine, reverse=True), lake=lake)


@pytest.mark.stack
def test_threads_write_what_one_thread_writes_and_report_in_order(own_lake) -> None:
    from pipelines.marts.runner import partition_keys

    lake, engine = own_lake
    model = MODELS["seller_daily_sales"]
    keys = partition_keys(model, D1, D3)
    seen: dict[int, list[str]] = {}
    tables = {}
    for threads in (1, 8):
        seen[threads] = []
        result = build(model, D1, D3, engine=engine, lake=lake, write_threads=threads,
                       progress=lambda key, n, total, t=threads: seen[t].append(f"{key} {n}/{total}"))  # fmt: skip
        assert [p.dt for p in result.partitions] == keys
        tables[threads] = {d: read_partition(lake, model.name, d, zone=model.zone) for d in keys}
    assert seen[1] == seen[8] == [f"{key} {i}/{len(keys)}" for i, key in enumerate(keys, 1)]
    for d in keys:
        assert tables[8][d].sort_by("seller_id").equals(tables[1][d].sort_by("seller_id"))
    assert {d for d in keys if tables[8][d].num_rows} == {D1, D2, D3}  # the story's days; the rest empty


@pytest.mark.stack
def test_a_build_on_s3_registers_every_partition_in_glue_and_the_digest(built, mart_settings: Settings) -> None:
    """On S3 (moto) with a Glue catalog, 8 writer threads: every partition is in Glue at its run,
    the table's digest names every pointer, and the rows are those of the disk build."""
    from gitgoods import aws
    from pipelines.lake.catalog import GlueCatalog
    from pipelines.lake.digest import list_pointers, read_digest
    from pipelines.lake.partitions.manifest import current_manifest
    from pipelines.marts.runner import partition_keys

    disk_lake, _ = built
    bucket = f"marts-{uuid.uuid4().hex[:8]}"
    aws.client("s3", mart_settings).create_bucket(Bucket=bucket)
    lake = LakeFS.from_uri(f"s3://{bucket}/lake", mart_settings)
    catalog = GlueCatalog(aws.client("glue", mart_settings), database=f"marts_{uuid.uuid4().hex[:8]}")
    write_raw(lake)
    model = MODELS["seller_daily_sales"]
    keys = partition_keys(model, D1, D3)
    with DuckDBEngine(mart_settings, lake=lake) as engine:
        for name in ("stg_sales", "stg_event_lines", "state_first_purchase", "seller_daily_sales"):
            result = build(MODELS[name], D1, D3, engine=engine, lake=lake, catalog=catalog, write_threads=8)
    # the build's own pointers are taken by their MD5 ETags (moto, like S3 without KMS): no GET
    assert result.digest is not None and (result.digest.partitions, result.digest.fetched) == (len(keys), 0)
    glue = catalog.list_partitions("marts_seller_daily_sales")
    assert sorted(glue) == keys
    for key in keys:
        manifest = current_manifest(lake, model.name, key, zone="marts")
        assert glue[key].rstrip("/").endswith(f"run={manifest['run_id']}")
    digest = read_digest(lake, "marts", model.name)
    assert {k: e[0] for k, e in digest.items()} == list_pointers(lake, "marts", model.name)
    for key in (D1, D2, D3):
        ours = read_partition(lake, model.name, key, zone="marts").sort_by("seller_id")
        assert ours.equals(read_partition(disk_lake, model.name, key, zone="marts").sort_by("seller_id"))


KILLED_BUILD = """
import sys, time
from dataclasses import replace
from gitgoods.settings import Settings
from pipelines.lake.fs import LakeFS
from pipelines.marts.models import discover
from pipelines.marts.runner import build
from pipelines.sql.duckdb_engine import DuckDBEngine

uri, home, start, end = sys.argv[1:5]
lake = LakeFS.from_uri(uri)
model = discover()["seller_daily_sales"]
model = replace(model, sql=model.sql.replace("sum(qty) AS units", "sum(qty) + 1000 AS units"))  # version 2
with DuckDBEngine(Settings(env="local", home=home), lake=lake, dynamodb=False) as engine:
    def progress(key, n, total):
        print(n, flush=True)
        time.sleep(0.3)  # the writer threads go on meanwhile: the kill lands with writes in flight
    build(model, start, end, engine=engine, lake=lake, write_threads=8, progress=progress)
"""


@pytest.mark.stack
def test_kill_9_mid_build_leaves_every_partition_whole(own_lake, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    from gitgoods.settings import REPO_ROOT
    from pipelines.marts.runner import partition_keys

    lake, engine = own_lake
    model = MODELS["seller_daily_sales"]
    keys = partition_keys(model, D1, D3)
    build(model, D1, D3, engine=engine, lake=lake)  # version 1
    v1 = {k: read_partition(lake, model.name, k, zone="marts").sort_by("seller_id") for k in keys}
    script = tmp_path / "killed_build.py"
    script.write_text(KILLED_BUILD)
    child = subprocess.Popen([sys.executable, str(script), lake.uri, str(tmp_path / "home"), D1, D3],
                             stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT,
                             env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})  # fmt: skip
    try:
        for line in child.stdout:
            if int(line) >= 5:
                os.kill(child.pid, signal.SIGKILL)
                break
        assert child.wait(30) == -signal.SIGKILL, "the build ended before it could be killed"
    finally:
        if child.poll() is None:
            child.kill()

    versions = {}
    for k in keys:
        table = read_partition(lake, model.name, k, zone="marts").sort_by("seller_id")  # readable, whole
        if table.equals(v1[k]):
            versions[k] = 1
        else:  # every row of version 2, none of version 1
            assert table.drop_columns(["units"]).equals(v1[k].drop_columns(["units"]))
            assert table["units"].to_pylist() == [u + 1000 for u in v1[k]["units"].to_pylist()]
            versions[k] = 2
    assert versions[keys[0]] == 2 and versions[keys[-1]] == 1  # killed part-way
    build(model, D1, D3, engine=engine, lake=lake)  # the next build runs over the dead one's leftovers
    for k in keys:
        assert read_partition(lake, model.name, k, zone="marts").sort_by("seller_id").equals(v1[k])
