"""The conformance suite's machinery: a `Case` is one Athena query (or expression) with the value
and the Trino type the Trino documentation gives for it (its page cited in `doc`), or the error the
embedded engine must refuse it with. `check` runs it two ways:

- through the DuckDB engine, on a small lake whose table `marts_sample` is registered as the
  engine registers every lake table for the models (a Parquet partition per day, `dt` a string);
- through `pipelines.sql.transpile.transpile` alone (typed with an empty schema, as the engine types
  a query that reads no table), the DuckDB text run on a plain DuckDB connection with the
  families' macros (only for cases that read no table).

The result's value and its type are both checked: Arrow's type of the one output column is named
as Trino would name it (`trino_type`), so `avg` of a decimal coming back as a double fails.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from gitgoods.settings import Settings
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.writer import PartitionWriter
from pipelines.sql.dialects import TranspileError
from pipelines.sql.duckdb_engine import DuckDBEngine
from pipelines.sql.engine import SqlError
from pipelines.sql.functions import register_macros
from pipelines.sql.transpile import transpile

TRINO = "https://trino.io/docs/current/"


@dataclass(frozen=True)
class Case:
    """`sql`: a query, or an expression (run as `SELECT <sql>`). `value`: what Trino returns, as
    Python (`pyarrow`'s `to_pylist` of the one column's first row; a list for `rows=True`).
    `type`: Trino's type of the result, lower case as `typeof` prints it (`bigint`,
    `decimal(12,2)`, `varchar`, `array(varchar)`, `timestamp(3) with time zone`). `error`: instead of
    a value, a text the refusal must contain (the construct's name). `doc`: the page of Trino's
    documentation the expectation comes from (relative to `TRINO`)."""

    sql: str
    value: Any = None
    type: str | None = None
    doc: str = ""
    error: str | None = None
    rows: bool = False  # compare every row of the one column, in order

    @property
    def query(self) -> str:
        head = self.sql.lstrip().split(None, 1)[0].upper() if self.sql.strip() else ""
        return self.sql if head in ("SELECT", "WITH", "VALUES", "(") else f"SELECT {self.sql}"

    @property
    def id(self) -> str:
        return re.sub(r"\s+", " ", self.sql.strip())[:80]


def cases(*items: Case) -> Any:
    """`pytest.mark.parametrize` over cases, each named by its SQL."""
    for case in items:
        assert case.doc, f"case without its Trino documentation page: {case.sql}"
        assert (case.error is None) != (case.type is None), f"a case has a type or an error: {case.sql}"
    return pytest.mark.parametrize("case", items, ids=[c.id for c in items])


# -- the names Trino gives Arrow's types ----------------------------------------------------------

_SIMPLE = {
    pa.bool_(): "boolean",
    pa.int8(): "tinyint",
    pa.int16(): "smallint",
    pa.int32(): "integer",
    pa.int64(): "bigint",
    pa.float32(): "real",
    pa.float64(): "double",
    pa.string(): "varchar",
    pa.large_string(): "varchar",
    pa.binary(): "varbinary",
    pa.large_binary(): "varbinary",
    pa.date32(): "date",
    pa.null(): "unknown",
}


def trino_type(t: pa.DataType) -> str:
    """Arrow's type as Trino names it. Timestamps are named without their precision (DuckDB keeps
    microseconds, Athena milliseconds: the value's digits are what the cases compare)."""
    if t in _SIMPLE:
        return _SIMPLE[t]
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_timestamp(t):
        return "timestamp with time zone" if t.tz else "timestamp"
    if pa.types.is_time(t):
        return "time"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"array({trino_type(t.value_type)})"
    if pa.types.is_map(t):
        return f"map({trino_type(t.key_type)}, {trino_type(t.item_type)})"
    if pa.types.is_struct(t):
        return "row(" + ", ".join(f"{f.name} {trino_type(f.type)}" for f in t) + ")"
    if pa.types.is_interval(t) or pa.types.is_duration(t):
        return "interval"
    return str(t)


def normal_type(name: str) -> str:
    """A Trino type name compared without spaces after commas, without a timestamp's precision and
    without a string's length (Trino prints `timestamp(3) with time zone`, `varchar(3)` for a
    literal, `decimal(12,2)`, `map(varchar, bigint)`; DuckDB's strings have no length)."""
    name = re.sub(r"(timestamp|varchar|char)\(\d+\)", r"\1", re.sub(r",\s*", ",", name.strip().lower()))
    return "varchar" if name == "char" else name


def same(actual: Any, expected: Any) -> bool:
    """Equal values; doubles within 1e-12 relative; NaN equals NaN."""
    if isinstance(expected, float) and isinstance(actual, float):
        return (math.isnan(expected) and math.isnan(actual)) or math.isclose(actual, expected, rel_tol=1e-12)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(actual) == len(expected) and all(same(a, e) for a, e in zip(actual, expected, strict=True))
    if isinstance(expected, decimal.Decimal) and isinstance(actual, decimal.Decimal):
        return actual == expected and actual.as_tuple().exponent == expected.as_tuple().exponent
    return type(actual) is type(expected) and actual == expected if expected is not None else actual is None


def _assert_result(table: pa.Table, case: Case, how: str) -> None:
    assert table.num_columns == 1, f"{how}: {case.sql}: expected one column, got {table.column_names}"
    got_type = trino_type(table.schema.field(0).type)
    expected = normal_type(case.type or "")
    assert normal_type(got_type) == expected, f"{how}: {case.sql}: type {got_type}, Trino: {case.type}"
    values = table.column(0).to_pylist()
    got = values if case.rows else (values[0] if values else None)
    assert same(got, case.value), f"{how}: {case.sql}: {got!r}, Trino: {case.value!r}"


def check(engine: DuckDBEngine, case: Case) -> None:
    """Run `case` through the engine and (when it reads no table) through `transpile` alone."""
    if case.error is not None:
        with pytest.raises(SqlError) as caught:
            engine.query(case.query)
        assert case.error.lower() in str(caught.value).lower(), f"{case.sql}: refused with {caught.value}"
        return
    _assert_result(engine.query(case.query), case, "engine")
    if "marts_sample" in case.query:
        return
    try:
        duckdb_sql = transpile(case.query, {})
    except TranspileError as exc:
        raise AssertionError(f"transpile: {case.sql}: {exc}") from exc
    with duckdb.connect() as connection:
        connection.execute("SET TimeZone = 'UTC'")  # as the engine (Athena's session zone)
        register_macros(connection)
        _assert_result(connection.sql(duckdb_sql).to_arrow_table(), case, "transpile")


# -- the sample lake --------------------------------------------------------------------------------

SAMPLE = pa.schema(
    [
        ("id", pa.int64()),
        ("qty", pa.int32()),
        ("price", pa.decimal128(12, 2)),
        ("ratio", pa.float64()),
        ("name", pa.string()),
        ("sold_at", pa.timestamp("us")),
        ("day", pa.date32()),
        ("tags", pa.list_(pa.string())),
        ("attrs", pa.map_(pa.string(), pa.int64())),
        ("note", pa.string()),
    ]
)

# id, qty, price, ratio, name, sold_at (UTC), tags, attrs, note (NULL but for one row)
SAMPLE_ROWS = [
    (1, 2, "10.25", 0.5, "Zelda", dt.datetime(2026, 1, 30, 1, 30), ["rpg", "switch"], {"a": 1}, None),
    (2, 3, "3.10", 1.5, "Doom", dt.datetime(2026, 1, 30, 23, 15), ["fps"], {"a": 2, "b": 3}, "late"),
    (3, 1, "99.99", 2.5, "Tetris", dt.datetime(2026, 1, 31, 12, 0), [], {}, None),
    (4, 5, "0.01", -0.5, "Halo", dt.datetime(2026, 1, 31, 8, 0), ["fps", "xbox"], {"c": 4}, None),
]


def sample_table(day: dt.date) -> pa.Table:
    rows = [
        dict(id=i, qty=q, price=decimal.Decimal(p), ratio=r, name=n, sold_at=at, day=at.date(), tags=tags,
             attrs=list(attrs.items()), note=note)
        for i, q, p, r, n, at, tags, attrs, note in SAMPLE_ROWS
        if at.date() == day
    ]  # fmt: skip
    return pa.Table.from_pylist(rows, schema=SAMPLE)


def write_sample(lake: LakeFS) -> None:
    writer = PartitionWriter(lake, "sample", SAMPLE, zone="marts")
    for day in sorted({row[5].date() for row in SAMPLE_ROWS}):
        writer.write(day, [sample_table(day)])


def make_engine(home: Any, lake_root: Any) -> DuckDBEngine:
    settings = Settings(env="local", home=home, table_prefix="tconf-")
    write_sample(LakeFS.from_uri(f"file://{lake_root}", settings=settings))
    return DuckDBEngine(settings, lake=f"file://{lake_root}", dynamodb=False)
