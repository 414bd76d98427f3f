"""TPC-H smoke test: the 22 queries in Trino's dialect run through the embedded engine, over lake
tables of a small generated data set, against the same queries in DuckDB's dialect on plain DuckDB
over the same files (both texts are this project's, tests/sql_conformance/tpch/README.md).

Values are compared row by row: doubles within a relative 1e-9; a decimal against a double (DuckDB's
`avg`, DuckDB's decimal division) within half a unit of the decimal's last digit, Trino rounding
where DuckDB does not; types too where both sides are decimals. q1, q6 and q14 are also checked,
value and type, against answers computed from the generated files with pyarrow and Python decimals.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from gitgoods.settings import Settings
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.writer import PartitionWriter
from pipelines.sql.duckdb_engine import DuckDBEngine
from tests.helpers import missing_prerequisite

HERE = Path(__file__).parent / "tpch"
TABLES = ("customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier")
SCALE = "0.01"  # 60,175 lineitems: the 22 queries take a few seconds on each engine
DAY = dt.date(2030, 1, 1)  # the one partition each lake table has
QUERIES = [f"q{i:02d}" for i in range(1, 23)]


def _generator() -> str:
    found = shutil.which("tpchgen-cli") or str(Path(sys.executable).parent / "tpchgen-cli")
    if not Path(found).exists():
        missing_prerequisite("tpchgen-cli is not installed (the dev extra of pyproject.toml)")
    return found


@pytest.fixture(scope="session")
def tpch_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated Parquet files, one per table (cached for the session)."""
    folder = tmp_path_factory.mktemp(f"tpch-sf{SCALE}")
    subprocess.run([_generator(), "parquet", "--scale-factor", SCALE, "--output-dir", str(folder)],
                   check=True, capture_output=True, timeout=300)  # fmt: skip
    return folder


def _plain(table: pa.Table) -> pa.Table:
    """The generator's string views as plain strings (what the lake writer stores)."""
    fields = [pa.field(f.name, pa.string() if pa.types.is_string_view(f.type) else f.type) for f in table.schema]
    return table.cast(pa.schema(fields))


@pytest.fixture(scope="session")
def tpch_engine(tpch_files: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBEngine]:
    """The embedded engine over lake tables `tpch_<table>`, named by views `<table>` as in TPC-H."""
    home, root = tmp_path_factory.mktemp("tpch-home"), tmp_path_factory.mktemp("tpch-lake")
    settings = Settings(env="local", home=home, table_prefix="ttpch-")
    lake = LakeFS.from_uri(f"file://{root}", settings=settings)
    for name in TABLES:
        table = _plain(pq.read_table(tpch_files / f"{name}.parquet"))
        PartitionWriter(lake, name, table.schema, zone="tpch").write(DAY, [table])
    with DuckDBEngine(settings, lake=f"file://{root}", dynamodb=False) as engine:
        for name in TABLES:
            columns = ", ".join(pq.read_schema(tpch_files / f"{name}.parquet").names)
            engine.execute(f"CREATE VIEW {name} AS SELECT {columns} FROM tpch_{name}")  # noqa: S608 - fixed names
        yield engine


@pytest.fixture(scope="session")
def reference(tpch_files: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Plain DuckDB over the same files, for DuckDB's own query texts."""
    with duckdb.connect() as connection:
        for name in TABLES:
            path = str(tpch_files / f"{name}.parquet").replace("'", "''")
            connection.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")  # noqa: S608
        yield connection


def query_text(dialect: str, name: str) -> str:
    """One query file's statement, without its comment lines."""
    lines = (HERE / dialect / f"{name}.sql").read_text().splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("--")).strip().rstrip(";")


def run_trino(engine: DuckDBEngine, name: str) -> pa.Table:
    return engine.query(query_text("trino", name))


def run_duckdb(connection: duckdb.DuckDBPyConnection, name: str) -> pa.Table:
    return connection.sql(query_text("duckdb", name)).to_arrow_table()


def close(ours: Any, theirs: Any) -> bool:
    if isinstance(ours, decimal.Decimal) and isinstance(theirs, float):
        half_unit = 0.5 * 10.0 ** ours.as_tuple().exponent
        return abs(float(ours) - theirs) <= half_unit + 1e-9 * abs(theirs)
    if isinstance(ours, float) and isinstance(theirs, decimal.Decimal):
        return close(theirs, ours)
    if isinstance(ours, float) and isinstance(theirs, float):
        return math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-12)
    return ours == theirs


@pytest.mark.parametrize("name", QUERIES)
def test_tpch_query(name: str, tpch_engine: DuckDBEngine, reference: duckdb.DuckDBPyConnection) -> None:
    ours, theirs = run_trino(tpch_engine, name), run_duckdb(reference, name)
    assert ours.num_columns == theirs.num_columns, f"{name}: columns {ours.column_names} / {theirs.column_names}"
    assert ours.num_rows == theirs.num_rows > 0, f"{name}: {ours.num_rows} rows, DuckDB {theirs.num_rows}"
    for ours_field, theirs_field in zip(ours.schema, theirs.schema, strict=True):
        if pa.types.is_decimal(ours_field.type) and pa.types.is_decimal(theirs_field.type):
            assert ours_field.type == theirs_field.type, f"{name}: {ours_field} / DuckDB {theirs_field}"
    for i, (a, b) in enumerate(zip(ours.to_pylist(), theirs.to_pylist(), strict=True)):
        for (column, x), y in zip(a.items(), b.values(), strict=True):
            assert close(x, y), f"{name} row {i} {column}: {x!r}, DuckDB {y!r}"


# The oracle: q1, q6 and q14 computed straight from the generated files, rows chosen with
# pyarrow.compute, amounts summed in Python decimals. Result types are Trino's rules
# (https://trino.io/docs/current/functions/decimal.html#binary-arithmetic-decimal-operators): the integer
# literal 1 is decimal(10,0), so `1 - l_discount` is decimal(16,2), `l_extendedprice * (1 - l_discount)`
# decimal(31,4), times `1 + l_tax` decimal(38,6), `l_extendedprice * l_discount` decimal(30,4); a sum of
# decimal(p,s) is decimal(38,s) and an avg keeps decimal(p,s), rounded half up
# (functions/aggregate.html#sum, #avg; Trino's DecimalSumAggregation, DecimalAverageAggregation); `100.00`
# is decimal(5,2), times a decimal(38,4) sum decimal(38,6), divided by one decimal(38,6) rounded half up.
EXACT = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_UP)
ONE = decimal.Decimal(1)


def dec(precision: int, scale: int) -> pa.DataType:
    return pa.decimal128(precision, scale)


def rounded(value: decimal.Decimal, scale: int) -> decimal.Decimal:
    return value.quantize(ONE.scaleb(-scale), context=EXACT)


def between(column: str, first: dt.date, end: dt.date) -> pc.Expression:
    """first <= column < end."""
    return (pc.field(column) >= pa.scalar(first, pa.date32())) & (pc.field(column) < pa.scalar(end, pa.date32()))


def lineitems(files: Path, where: pc.Expression) -> list[dict[str, Any]]:
    return _plain(pq.read_table(files / "lineitem.parquet")).filter(where).to_pylist()


def oracle_q01(files: Path) -> list[list[Any]]:
    shipped = pc.field("l_shipdate") <= pa.scalar(dt.date(1998, 12, 1) - dt.timedelta(days=90), pa.date32())
    groups: dict[tuple[str, str], list[Any]] = {}
    for r in lineitems(files, shipped):
        price, discount, tax = r["l_extendedprice"], r["l_discount"], r["l_tax"]
        sums = groups.setdefault((r["l_returnflag"], r["l_linestatus"]), [0, 0, 0, 0, 0, 0])
        for i, amount in enumerate((r["l_quantity"], price, price * (1 - discount),
                                    price * (1 - discount) * (1 + tax), discount, 1)):  # fmt: skip
            sums[i] += amount
    return [[*key, qty, base, disc_price, charge, rounded(EXACT.divide(qty, n), 2),
             rounded(EXACT.divide(base, n), 2), rounded(EXACT.divide(disc, n), 2), n]
            for key, (qty, base, disc_price, charge, disc, n) in sorted(groups.items())]  # fmt: skip


def oracle_q06(files: Path) -> list[list[Any]]:
    low, high = pa.scalar(decimal.Decimal("0.05"), dec(15, 2)), pa.scalar(decimal.Decimal("0.07"), dec(15, 2))
    where = (between("l_shipdate", dt.date(1994, 1, 1), dt.date(1995, 1, 1))
             & (pc.field("l_discount") >= low) & (pc.field("l_discount") <= high)
             & (pc.field("l_quantity") < pa.scalar(decimal.Decimal(24), dec(15, 2))))  # fmt: skip
    return [[sum((r["l_extendedprice"] * r["l_discount"] for r in lineitems(files, where)), decimal.Decimal(0))]]


def oracle_q14(files: Path) -> list[list[Any]]:
    part = _plain(pq.read_table(files / "part.parquet", columns=["p_partkey", "p_type"]))
    promo = set(part.filter(pc.starts_with(pc.field("p_type"), "PROMO")).column("p_partkey").to_pylist())
    total = promo_total = decimal.Decimal(0)
    for r in lineitems(files, between("l_shipdate", dt.date(1995, 9, 1), dt.date(1995, 10, 1))):
        revenue = r["l_extendedprice"] * (1 - r["l_discount"])
        total += revenue
        promo_total += revenue if r["l_partkey"] in promo else 0
    return [[rounded(EXACT.divide(decimal.Decimal("100.00") * promo_total, total), 6)]]


ORACLES = {
    "q01": (
        oracle_q01,
        [pa.string()] * 2 + [dec(38, 2)] * 2 + [dec(38, 4), dec(38, 6)] + [dec(15, 2)] * 3 + [pa.int64()],
    ),
    "q06": (oracle_q06, [dec(38, 4)]),
    "q14": (oracle_q14, [dec(38, 6)]),
}


@pytest.mark.parametrize("name", sorted(ORACLES))
def test_tpch_against_pyarrow(name: str, tpch_files: Path, tpch_engine: DuckDBEngine) -> None:
    oracle, types = ORACLES[name]
    got = run_trino(tpch_engine, name)
    assert [field.type for field in got.schema] == types
    expected = oracle(tpch_files)
    assert expected and [list(row.values()) for row in got.to_pylist()] == expected
