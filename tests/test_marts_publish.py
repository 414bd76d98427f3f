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
from tests.marts_data import D1, D2, D3, put_dimensions, sale_rows, write_raw

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
