"""Write-audit-publish of the models (`build(..., audit=...)`): each chunk's partitions are staged,
audited by the model's suite on the new runs, and switched in only if it passed; a failing chunk
leaves the previous versions visible to every reader and keeps its runs."""

from __future__ import annotations

import uuid
from pathlib import Path

import pyarrow as pa
import pytest

from gitgoods.settings import Settings, get_settings, reset_settings
from pipelines.ingest.schemas import RAW_SALES
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.manifest import current_run_id
from pipelines.lake.partitions.reading import read_partition
from pipelines.lake.partitions.writer import PartitionWriter
from pipelines.marts.models import discover
from pipelines.marts.runner import AuditFailed, build
from pipelines.marts.suite import validate_staged
from pipelines.sql.duckdb_engine import DuckDBEngine
from tests.marts_data import D1, D2, D3, S2, put_dimensions, sale_rows, write_raw

MODELS = discover()
STG = MODELS["stg_sales"]


@pytest.fixture()
def lake_engine(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    prefix = f"w{uuid.uuid4().hex[:8]}-"
    for name, value in {  # the audit reads the live dimensions through the settings
        "GITGOODS_HOME": str(settings.home),
        "GITGOODS_DYNAMODB_PORT": str(settings.dynamodb_port),
        "GITGOODS_MOTO_PORT": str(settings.moto_port),
        "GITGOODS_TABLE_PREFIX": prefix,
        "GITGOODS_LAKE_URI": f"file://{tmp_path}/lake",
    }.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    s = get_settings()
    put_dimensions(s)
    lake = LakeFS.from_uri(f"file://{tmp_path}/lake", s)
    write_raw(lake)
    engine = DuckDBEngine(s, lake=lake)
    yield lake, engine
    engine.close()
    reset_settings()


def audited(lake: LakeFS):  # type: ignore[no-untyped-def]
    return lambda staged: validate_staged(STG, lake, staged)


def negative_amounts(engine: DuckDBEngine) -> list[str]:
    rows = engine.query("SELECT dt FROM stg_sales WHERE amount_cents < 0 ORDER BY dt")
    return rows["dt"].to_pylist()


@pytest.mark.stack
def test_a_chunk_that_fails_its_audit_is_not_published(lake_engine) -> None:
    lake, engine = lake_engine
    first = build(STG, D1, D3, engine=engine, lake=lake, audit=audited(lake))
    assert first.audits and all(a.passed for a in first.audits) and len(first.partitions) > 2
    before = {d: current_run_id(lake, "stg_sales", d, zone="stg") for d in (D1, D2, D3)}
    d2_rows = read_partition(lake, "stg_sales", D2, zone="stg").num_rows
    # a bug upstream lets a negative line through to the raw table of D2
    rows = sale_rows()[D2]
    rows[0] = dict(rows[0], amount_cents=-500)
    PartitionWriter(lake, "raw_sales", RAW_SALES).write(D2, [pa.Table.from_pylist(rows, schema=RAW_SALES)])

    with pytest.raises(AuditFailed) as failed:  # one day per chunk: D1 passes, D2 fails, D3 is not reached
        build(STG, D1, D3, engine=engine, lake=lake, chunk=1, audit=audited(lake))
    error = failed.value
    assert [p.dt for p in error.published] == [D1] and [s.info.dt for s in error.staged] == [D2]
    assert not error.outcome.passed
    assert any(f["column"] == "amount_cents" for f in error.outcome.failures)
    assert current_run_id(lake, "stg_sales", D1, zone="stg") != before[D1]  # passed and published
    assert current_run_id(lake, "stg_sales", D2, zone="stg") == before[D2]  # the previous version stays
    assert current_run_id(lake, "stg_sales", D3, zone="stg") == before[D3]  # never built
    # every reader sees the previous figures: the lake's reader and the SQL engine
    assert read_partition(lake, "stg_sales", D2, zone="stg").num_rows == d2_rows
    assert negative_amounts(DuckDBEngine(engine.settings, lake=lake)) == []
    # the failed run is kept for inspection, complete
    kept = read_partition(lake, "stg_sales", D2, zone="stg", run_id=error.staged[0].info.run_id)
    assert -500 in kept["amount_cents"].to_pylist() and kept.num_rows == d2_rows

    # without an audit the same build publishes the bad day (the path tests and benchmarks use)
    build(STG, D2, D2, engine=engine, lake=lake)
    assert negative_amounts(DuckDBEngine(engine.settings, lake=lake)) == [D2]


@pytest.mark.stack
def test_a_mart_that_fails_its_audit_on_s3_leaves_glue_and_readers_on_the_previous_run(lake_engine) -> None:
    """On S3 (moto) with Glue: a seller removed from DynamoDB makes the mart's `known_sellers`
    expectation fail; the partitions keep their previous run in the lake and in Glue."""
    from gitgoods import aws
    from pipelines.lake.catalog import GlueCatalog

    del lake_engine  # used for its settings and dimension tables
    s = get_settings()
    bucket = f"wap-{uuid.uuid4().hex[:8]}"
    aws.client("s3", s).create_bucket(Bucket=bucket)
    lake = LakeFS.from_uri(f"s3://{bucket}/lake", s)
    catalog = GlueCatalog(aws.client("glue", s), database=f"wap_{uuid.uuid4().hex[:8]}")
    write_raw(lake)
    mart = MODELS["seller_daily_sales"]

    def audit(staged):  # type: ignore[no-untyped-def]
        return validate_staged(mart, lake, staged)

    def figures(engine: DuckDBEngine) -> list[tuple]:
        rows = engine.query(f"SELECT seller_id, net_cents FROM marts_seller_daily_sales WHERE dt = '{D1}' "
                            "ORDER BY seller_id")  # fmt: skip
        return list(zip(rows["seller_id"].to_pylist(), rows["net_cents"].to_pylist(), strict=True))

    with DuckDBEngine(s, lake=lake) as engine:
        for name in ("stg_sales", "stg_event_lines", "state_first_purchase"):
            build(MODELS[name], D1, D3, engine=engine, lake=lake, catalog=catalog)
        build(mart, D1, D1, engine=engine, lake=lake, catalog=catalog, audit=audit)
        before = (current_run_id(lake, mart.name, D1, zone="marts"),
                  catalog.get_partition_location(mart.lake_name, D1), figures(engine))  # fmt: skip
        assert (S2, 6000) in before[2]  # S2 sold 6000 on D1 (tests/marts_data.py)
        aws.client("dynamodb", s).delete_item(TableName=s.table("sellers"), Key={"seller_id": {"S": S2}})
        with pytest.raises(AuditFailed) as failed:
            build(mart, D1, D1, engine=engine, lake=lake, catalog=catalog, audit=audit)
        assert any(f["expectation"] == "expect_column_values_to_be_in_set" and f["column"] == "seller_id"
                   for f in failed.value.outcome.failures)
        after = (current_run_id(lake, mart.name, D1, zone="marts"),
                 catalog.get_partition_location(mart.lake_name, D1))  # fmt: skip
        assert after == before[:2]  # the pointer and Glue still name the previous run
        staged = failed.value.staged[0].info
        assert staged.run_id != before[0] and not before[1].rstrip("/").endswith(staged.run_id)
    with DuckDBEngine(s, lake=lake) as fresh:  # a new reader sees the previous figures
        assert figures(fresh) == before[2]
