"""TABLESAMPLE on a lake table (https://trino.io/docs/current/sql/select.html#tablesample): a sample
of 100,000 rows is not all of them (the chance that BERNOULLI (50) keeps every row is 2^-100000),
BERNOULLI keeps about p% of them, and 0 / 100 percent keep none / all, exactly."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pyarrow as pa
import pytest

from gitgoods.settings import Settings
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.writer import PartitionWriter
from pipelines.sql.duckdb_engine import DuckDBEngine
from pipelines.sql.engine import SqlError
from tests.sql_conformance.harness import make_engine

ROWS = 100_000


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBEngine]:
    home, lake_root = tmp_path_factory.mktemp("ts-home"), tmp_path_factory.mktemp("ts-lake")
    settings = Settings(env="local", home=home, table_prefix="tconf-")
    schema = pa.schema([("n", pa.int64())])
    writer = PartitionWriter(LakeFS.from_uri(f"file://{lake_root}", settings=settings), "big", schema, zone="marts")
    writer.write(dt.date(2026, 1, 30), [pa.table({"n": pa.array(range(ROWS), pa.int64())})])
    with make_engine(home, lake_root) as engine:
        yield engine


def count(engine: DuckDBEngine, sql: str) -> int:
    return engine.query(sql).column(0).to_pylist()[0]


@pytest.mark.parametrize("method", ["BERNOULLI", "SYSTEM"])
def test_a_sample_is_not_every_row(big: DuckDBEngine, method: str) -> None:
    n = count(big, f"SELECT count(*) FROM marts_big TABLESAMPLE {method} (50)")
    assert 0 < n < ROWS  # SYSTEM keeps whole chunks of 2,048 rows: all of them with a chance of 2^-49
    if method == "BERNOULLI":
        assert abs(n - ROWS / 2) <= 2_000, n  # 12 standard deviations (158 rows)


@pytest.mark.parametrize("method", ["BERNOULLI", "SYSTEM"])
def test_zero_and_a_hundred_percent_are_exact(big: DuckDBEngine, method: str) -> None:
    assert count(big, f"SELECT count(*) FROM marts_big TABLESAMPLE {method} (0)") == 0
    assert count(big, f"SELECT count(*) FROM marts_big TABLESAMPLE {method} (100)") == ROWS


def test_the_sample_is_of_the_table_its_alias_names(big: DuckDBEngine) -> None:
    sql = "SELECT count(*) FROM marts_big AS a TABLESAMPLE BERNOULLI (10) JOIN marts_big AS b ON a.n = b.n"
    n = count(big, sql)
    assert 0 < n < ROWS / 5, n
    assert count(big, "SELECT count(*) FROM marts_big AS a JOIN marts_big AS b ON a.n = b.n") == ROWS


def test_a_percentage_over_a_hundred_is_refused(big: DuckDBEngine) -> None:
    with pytest.raises(SqlError, match="TABLESAMPLE BERNOULLI"):
        big.query("SELECT count(*) FROM marts_big TABLESAMPLE BERNOULLI (150)")
