"""The SQL engine layer: Athena SQL transpiled for DuckDB (table-driven, evaluated on a tiny lake),
the DuckDB engine over the lake (Glue names, `dt` kept a string and pruning partitions, CTAS,
UNLOAD, views, threads), and the Athena engine against botocore's Stubber and moto's Athena."""

from __future__ import annotations

import datetime as dt
import decimal
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
import requests
from botocore.stub import Stubber

from gitgoods.settings import Settings
from pipelines.ingest.schemas import RAW_ORDER_EVENTS, RAW_SALES
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.writer import PartitionWriter
from pipelines.sql import SqlError, engine_for
from pipelines.sql.athena_engine import AthenaEngine
from pipelines.sql.dialects import TranspileError
from pipelines.sql.duckdb_engine import DuckDBEngine
from pipelines.sql.joda import joda_to_strftime
from pipelines.sql.params import bind_params_text
from pipelines.sql.statements import parse_statement
from pipelines.sql.transpile import to_duckdb

UTC = dt.UTC

# order_id, seller, sold_at (UTC), qty, unit_cents, status
SALES = [
    ("o1", "sel_a", dt.datetime(2026, 1, 30, 1, 30, 0, 250000, tzinfo=UTC), 1, 1000, "placed"),
    ("o2", "sel_a", dt.datetime(2026, 1, 30, 23, 15, tzinfo=UTC), 2, 1000, "placed"),
    ("o3", "sel_b", dt.datetime(2026, 1, 31, 12, 0, tzinfo=UTC), 3, 500, "refunded"),
    ("o4", "sel_b", dt.datetime(2026, 2, 1, 8, 0, tzinfo=UTC), 4, 250, "placed"),
    ("o5", "sel_c", dt.datetime(2026, 2, 1, 20, 45, tzinfo=UTC), 5, 100, "cancelled"),
]


def _line(n: int, seller: str, product: str, qty: int, unit: int, kind: str, platform: str | None) -> dict[str, Any]:
    return dict(line=n, seller_id=seller, product_id=product, qty=qty, unit_cents=unit, amount_cents=qty * unit,
                kind=kind, platform=platform)  # fmt: skip


EVENTS = [
    ("e1", dt.datetime(2026, 1, 30, 1, 30, tzinfo=UTC),
     [_line(1, "sel_a", "prd_1", 1, 1000, "game", "PC"), _line(2, "sel_b", "prd_2", 2, 500, "merch", None)]),
    ("e2", dt.datetime(2026, 1, 31, 9, 0, tzinfo=UTC), [_line(1, "sel_c", "prd_3", 5, 100, "dlc", "Switch")]),
]  # fmt: skip


def sales_rows(day: dt.date) -> pa.Table:
    rows = [
        dict(seller_id=seller, sk=f"{at.isoformat()}#{order}#01", order_id=order, line=1, sold_at=at,
             product_id=f"prd_{order}", kind="game", platform="PC", genre="rpg", qty=qty, unit_cents=unit,
             amount_cents=qty * unit, currency="USD", country="US", customer="c" * 32, status=status,
             updated_at=at, day_shard=f"{day}#0")
        for order, seller, at, qty, unit, status in SALES
        if at.date() == day
    ]  # fmt: skip
    return pa.Table.from_pylist(rows, schema=RAW_SALES)


def event_rows(day: dt.date) -> pa.Table:
    rows = [
        dict(event_id=eid, event_type="order_placed", schema_version=1, occurred_at=at, order_id=f"o_{eid}",
             session_id=None, customer="c" * 32, country="US", currency="USD",
             amount_cents=sum(li["amount_cents"] for li in lines), lines=lines, day_shard=f"{day}#0")
        for eid, at, lines in EVENTS
        if at.date() == day
    ]  # fmt: skip
    return pa.Table.from_pylist(rows, schema=RAW_ORDER_EVENTS)


DAYS = [dt.date(2026, 1, 30), dt.date(2026, 1, 31), dt.date(2026, 2, 1)]


def write_lake(lake: LakeFS) -> None:
    sales = PartitionWriter(lake, "raw_sales", RAW_SALES, zone="raw")
    events = PartitionWriter(lake, "raw_order_events", RAW_ORDER_EVENTS, zone="raw")
    for day in DAYS:
        sales.write(day, [sales_rows(day)])
        events.write(day, [event_rows(day)])


@pytest.fixture(scope="module")
def local_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(env="local", home=tmp_path_factory.mktemp("sql-home"), table_prefix="tsql-")


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory: pytest.TempPathFactory, local_settings: Settings) -> Path:
    root = tmp_path_factory.mktemp("sql-lake")
    write_lake(LakeFS.from_uri(f"file://{root}", settings=local_settings))
    return root


@pytest.fixture(scope="module")
def engine(lake_root: Path, local_settings: Settings) -> Iterator[DuckDBEngine]:
    with DuckDBEngine(local_settings, lake=f"file://{lake_root}", dynamodb=False) as eng:
        yield eng


# -- transpile: each Athena snippet evaluated by DuckDB on the tiny lake ----------------------------

D = dt.date
T = dt.datetime
ONE = "FROM raw_sales WHERE order_id = "

CASES: list[tuple[str, Any]] = [
    # format_datetime: Joda patterns -> strftime
    (f"SELECT format_datetime(sold_at, 'yyyy-MM-dd HH:mm:ss.SSS') {ONE}'o1'", "2026-01-30 01:30:00.250"),
    (f"SELECT format_datetime(sold_at, 'EEE d MMM yy, h:mm a') {ONE}'o2'", "Fri 30 Jan 26, 11:15 PM"),
    (f"SELECT format_datetime(sold_at, '''day'' D') {ONE}'o3'", "day 31"),
    # AT TIME ZONE / at_timezone: fields read in the zone
    (f"SELECT format_datetime(sold_at AT TIME ZONE 'America/New_York', 'yyyy-MM-dd HH:mm') {ONE}'o1'",
     "2026-01-29 20:30"),
    (f"SELECT format_datetime(at_timezone(sold_at, 'America/New_York'), 'yyyy-MM-dd') {ONE}'o1'", "2026-01-29"),
    (f"SELECT CAST(sold_at AT TIME ZONE 'Asia/Tokyo' AS date) {ONE}'o2'", D(2026, 1, 31)),
    (f"SELECT hour(sold_at AT TIME ZONE 'Asia/Kolkata') {ONE}'o1'", 7),
    # date_trunc, date_add, date_diff and DATE arithmetic keep Trino's types and units
    (f"SELECT date_trunc('week', sold_at) {ONE}'o3'", T(2026, 1, 26)),
    (f"SELECT date_trunc('hour', sold_at) {ONE}'o1'", T(2026, 1, 30, 1)),
    ("SELECT date_trunc('month', DATE '2026-02-15')", D(2026, 2, 1)),
    # ... also through a CTE column, and a sequence of dates is an array of DATE
    ("WITH m AS (SELECT date_trunc('month', DATE '2026-02-15') AS month) SELECT CAST(month AS varchar) FROM m",
     "2026-02-01"),
    ("SELECT max(CAST(d AS varchar)) FROM UNNEST(sequence(date('2026-02-27'), date('2026-03-01'), "
     "INTERVAL '1' DAY)) AS t (d)", "2026-03-01"),
    ("SELECT cardinality(sequence(DATE '2026-02-27', DATE '2026-03-01'))", 3),
    ("SELECT date_add('day', 3, DATE '2026-01-30')", D(2026, 2, 2)),
    ("SELECT date_add('month', -1, DATE '2026-03-31')", D(2026, 2, 28)),
    (f"SELECT date_add('hour', 5, sold_at) {ONE}'o2'", T(2026, 1, 31, 4, 15)),
    ("SELECT DATE '2026-03-01' - INTERVAL '1' DAY", D(2026, 2, 28)),
    ("SELECT count(*) FROM raw_sales WHERE dt >= CAST(DATE '2026-02-01' - INTERVAL '1' DAY AS varchar)", 3),
    ("SELECT date_diff('day', TIMESTAMP '2026-01-01 23:00:00', TIMESTAMP '2026-01-02 01:00:00')", 0),
    ("SELECT date_diff('day', DATE '2026-01-30', DATE '2026-02-01')", 2),
    ("SELECT date_diff('hour', min(sold_at), max(sold_at)) FROM raw_sales", 67),
    ("SELECT date_diff('month', DATE '2026-01-15', DATE '2026-03-14')", 1),
    # approximate aggregates (exact on this little data)
    ("SELECT approx_percentile(qty, 0.5) FROM raw_sales", 3),
    ("SELECT approx_distinct(seller_id) FROM raw_sales", 3),
    # ISO-8601 parsing, casts
    ("SELECT from_iso8601_timestamp('2026-01-30T03:30:00+02:00') = TIMESTAMP '2026-01-30 01:30:00'", True),
    ("SELECT count(*) FROM raw_sales WHERE sold_at >= from_iso8601_timestamp('2026-01-31T00:00:00Z')", 3),
    ("SELECT from_iso8601_date('2026-02-01')", D(2026, 2, 1)),
    (f"SELECT CAST(qty AS varchar) {ONE}'o3'", "3"),
    (f"SELECT CAST(sold_at AS varchar) {ONE}'o2'", "2026-01-30 23:15:00.000"),
    ("SELECT try_cast('x' AS bigint), try_cast('42' AS integer)", [(None, 42)]),
    # a timestamp with time zone (https://trino.io/docs/current/functions/datetime.html#parse_datetime)
    ("SELECT parse_datetime('2026-01-30 10:15', 'yyyy-MM-dd HH:mm')", T(2026, 1, 30, 10, 15, tzinfo=dt.UTC)),
    (f"SELECT date_format(sold_at, '%Y-%m-%d %H:%i') {ONE}'o1'", "2026-01-30 01:30"),
    # integer arithmetic as Trino does it
    ("SELECT sum(qty) / count(*), 7 / 2, 7 / 2.0, -7 / 2 FROM raw_sales", [(3, 3, 3.5, -3)]),
    ("SELECT sum(amount_cents), avg(qty) FROM raw_sales", [(6000, 3.0)]),
    ("SELECT sum(qty) FILTER (WHERE status = 'placed') FROM raw_sales", 7),
    # window functions
    ("SELECT order_id, row_number() OVER (PARTITION BY seller_id ORDER BY sold_at DESC) FROM raw_sales ORDER BY 1",
     [("o1", 2), ("o2", 1), ("o3", 2), ("o4", 1), ("o5", 1)]),
    ("SELECT sum(amount_cents) OVER (ORDER BY sold_at ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM raw_sales "
     "ORDER BY sold_at", [(1000,), (3000,), (3500,), (2500,), (1500,)]),
    ("SELECT order_id, lag(qty) OVER (ORDER BY sold_at) FROM raw_sales ORDER BY sold_at LIMIT 2",
     [("o1", None), ("o2", 1)]),
    # arrays
    ("SELECT array_agg(qty ORDER BY qty DESC) FROM raw_sales", [5, 4, 3, 2, 1]),
    ("SELECT cardinality(lines), element_at(lines, 1).product_id, element_at(lines, -1).qty "
     "FROM raw_order_events WHERE event_id = 'e1'", [(2, "prd_1", 2)]),
    ("SELECT element_at(ARRAY['a', 'b'], 5)", None),
    # UNNEST over the events' list<struct> lines: the row as one column ...
    ("SELECT e.event_id, l.product_id, l.qty FROM raw_order_events e CROSS JOIN UNNEST(e.lines) AS t(l) ORDER BY 1, 2",
     [("e1", "prd_1", 1), ("e1", "prd_2", 2), ("e2", "prd_3", 5)]),
    # ... and Trino's expansion of the row fields into columns, with ordinality
    ("SELECT event_id, n, l_product, l_amount FROM raw_order_events CROSS JOIN UNNEST(lines) WITH ORDINALITY "
     "AS t(l_line, l_seller, l_product, l_qty, l_unit, l_amount, l_kind, l_platform, n) ORDER BY 1, 2",
     [("e1", 1, "prd_1", 1000), ("e1", 2, "prd_2", 1000), ("e2", 1, "prd_3", 500)]),
    ("SELECT sum(l_qty) FROM raw_order_events CROSS JOIN UNNEST(lines) "
     "AS t(l_line, l_seller, l_product, l_qty, l_unit, l_amount, l_kind, l_platform) WHERE l_platform IS NULL", 2),
    ("SELECT k, v FROM UNNEST(MAP(ARRAY['a', 'b'], ARRAY[1, 2])) AS t(k, v) ORDER BY k", [("a", 1), ("b", 2)]),
    # the partition column is a string, as in Glue
    ("SELECT dt, count(*) FROM raw_sales WHERE dt BETWEEN '2026-01-31' AND '2026-02-28' GROUP BY dt ORDER BY dt",
     [("2026-01-31", 1), ("2026-02-01", 2)]),
    # a few of the many functions sqlglot maps by itself
    ("SELECT count_if(status = 'placed'), max_by(order_id, amount_cents), arbitrary(currency) FROM raw_sales",
     [(3, "o2", "USD")]),
    ("SELECT regexp_like('o12', '^o[0-9]+$'), split_part('a-b-c', '-', 2), strpos('hello', 'l')", [(True, "b", 3)]),
    ("SELECT day_of_week(DATE '2026-02-01'), week(DATE '2026-01-01'), if(1 > 2, 'x', 'y')", [(7, 1, "y")]),
    # the same table under its Glue names
    ("SELECT count(*) FROM gitgoods_lake.raw_sales", 5),
    ("SELECT count(*) FROM awsdatacatalog.gitgoods_lake.raw_order_events", 2),
]  # fmt: skip


def _rows(table: pa.Table) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in table.to_pylist()]


@pytest.mark.parametrize(("athena_sql", "expected"), CASES, ids=[c[0][:70] for c in CASES])
def test_athena_sql_on_duckdb(engine: DuckDBEngine, athena_sql: str, expected: Any) -> None:
    rows = _rows(engine.query(athena_sql))
    if isinstance(expected, list) and expected and isinstance(expected[0], tuple):
        assert rows == expected
    else:
        assert rows == [(expected,)]


def test_result_types_and_names_are_athena_s(engine: DuckDBEngine) -> None:
    table = engine.query(
        "SELECT seller_id, count(*), sum(amount_cents), sum(qty), dt, max(sold_at), CAST(min(sold_at) AS date) "
        "FROM raw_sales GROUP BY seller_id, dt"
    )
    assert table.schema.names == ["seller_id", "_col1", "_col2", "_col3", "dt", "_col5", "_col6"]
    types = [f.type for f in table.schema]
    # Trino: sum(bigint) and sum(integer) are bigint (DuckDB alone would give HUGEINT); dt a string;
    # timestamps read from Parquet carry no zone.
    assert types[1:5] == [pa.int64(), pa.int64(), pa.int64(), pa.string()]
    assert pa.types.is_timestamp(types[5]) and types[5].tz is None
    assert types[6] == pa.date32()


def test_parameters(engine: DuckDBEngine) -> None:
    sql = "SELECT count(*) FROM raw_sales WHERE seller_id = ? AND dt >= ?"
    assert _rows(engine.query(sql, ["sel_a", "2026-01-30"])) == [(2,)]
    assert _rows(engine.query("SELECT :who AS who, :n + 1 AS n", {"who": "it's", "n": 41})) == [("it's", 42)]
    with pytest.raises(SqlError, match="placeholders"):
        engine.query(sql, ["sel_a"])


def test_the_engine_defines_only_the_macros_its_queries_call(lake_root: Path, local_settings: Settings) -> None:
    """Trino's semantics come as DuckDB macros, defined on the database as queries first call them,
    with the macros they call in turn (defining all 58 took ~0.08 s of every new engine)."""
    from pipelines.sql.functions import macros, macros_used

    assert [name for name, _ in macros_used("SELECT gg_from_base(x, 16, '', '') , gg_unknown(1)")] == [
        "gg_from_base_wide", "gg_from_base"]  # what it calls first; a name that is no macro is left to DuckDB
    assert len(macros_used("SELECT gg_double_to_varchar(x)")) > 4  # its whole family of helpers
    assert macros_used("SELECT 1") == []

    def defined(eng: DuckDBEngine) -> set[str]:
        rows = eng._db.execute("SELECT function_name FROM duckdb_functions() WHERE function_name LIKE 'gg_%'")
        return {r[0] for r in rows.fetchall()}

    with DuckDBEngine(local_settings, lake=f"file://{lake_root}", dynamodb=False) as eng:
        assert defined(eng) == set()
        assert eng.query("SELECT from_base('ff', 16) AS n").column(0)[0].as_py() == 255
        assert defined(eng) == {"gg_from_base", "gg_from_base_wide"}
        assert eng.query("SELECT CAST(1.5E0 AS VARCHAR) AS s").column(0)[0].as_py() == "1.5E0"  # Trino's text
        assert len(defined(eng)) > 4 and len(defined(eng)) < len(macros())


def test_transpiled_text() -> None:
    schema = {"t": {"ts": "TIMESTAMP", "d": "DATE", "n": "BIGINT"}}
    out = to_duckdb(
        "SELECT date_diff('day', ts, ts), ts AT TIME ZONE 'UTC', date_add('day', 1, d), n / 2 FROM t", schema
    )
    assert "DATE_SUB('day'" in out and 'CAST("t"."ts" AS TIMESTAMPTZ)' in out
    # bigint / integer: DuckDB's integer division (truncates toward zero, stays a bigint)
    assert 'CAST("t"."d" + INTERVAL 1 DAY AS DATE)' in out and 'CAST("t"."n" // 2 AS BIGINT)' in out
    assert joda_to_strftime("yyyy-MM-dd'T'HH:mm:ss.SSSZ") == "%Y-%m-%dT%H:%M:%S.%g%z"
    with pytest.raises(TranspileError):
        joda_to_strftime("GG yyyy")
    assert bind_params_text("SELECT ?, '?' -- ?\nFROM t WHERE a = ?", ["x'y", 2]) == (
        "SELECT 'x''y', '?' -- ?\nFROM t WHERE a = 2"
    )


def test_statements_are_recognised() -> None:
    unload = parse_statement(
        "UNLOAD (SELECT a, ')' AS b FROM t WHERE c = 'TO') TO 's3://bucket/out/' "
        "WITH (format = 'PARQUET', compression = 'SNAPPY', partitioned_by = ARRAY['dt'])"
    )
    assert unload.kind == "unload" and unload.query is not None
    assert unload.properties == {
        "format": "PARQUET",
        "compression": "SNAPPY",
        "partitioned_by": ["dt"],
        "location": "s3://bucket/out/",
    }
    ctas = parse_statement(
        "CREATE TABLE IF NOT EXISTS gitgoods_lake.x WITH (format = 'PARQUET', external_location = 's3://b/x/', "
        "partitioned_by = ARRAY['dt'], write_compression = 'ZSTD') AS SELECT a, dt FROM raw_sales"
    )
    assert (ctas.kind, ctas.name, ctas.if_exists) == ("ctas", "gitgoods_lake.x", True)
    assert ctas.properties == {
        "format": "PARQUET",
        "external_location": "s3://b/x/",
        "partitioned_by": ["dt"],
        "write_compression": "ZSTD",
    }
    assert parse_statement("CREATE OR REPLACE VIEW v AS SELECT 1 AS a").kind == "create_view"
    assert parse_statement("DROP TABLE IF EXISTS x").if_exists


def test_literals_read_back_as_the_python_values_they_stand_for() -> None:
    from sqlglot import exp

    from pipelines.sql.dialects import parse
    from pipelines.sql.params import literal_value, to_literal
    from pipelines.sql.pushdown import Predicate, table_predicates

    def value(sql: str) -> tuple[bool, Any]:
        return literal_value(parse(f"SELECT {sql}")[0].expressions[0])

    assert value("'it''s'") == (True, "it's") and value("12") == (True, 12) and value("1.5") == (True, 1.5)
    assert value("-7") == (True, -7) and value("-(2.5)") == (True, -2.5) and value("((3))") == (True, 3)
    assert value("TRUE") == (True, True) and value("- -4") == (True, 4)
    assert value("a") == (False, None) and value("-'x'") == (False, None) and value("1 + 1") == (False, None)
    for v in ["x", 0, -3, 2.25, True, False]:  # to_literal's inverse
        assert literal_value(to_literal(v)) == (True, v)
    # the CTAS / UNLOAD properties and the pushed-down predicates read literals the same way
    ctas = parse_statement("CREATE TABLE t WITH (format = 'ORC', bucket_count = -(4), x = (TRUE)) AS SELECT 1")
    assert ctas.properties == {"format": "ORC", "bucket_count": -4, "x": True}
    table = next(parse("SELECT * FROM t WHERE a = -(4) AND b IN ('x', (2)) AND c < 1.5")[0].find_all(exp.Table))
    assert table_predicates(table) == [
        Predicate("a", "eq", (-4,)),
        Predicate("b", "in", ("x", 2)),
        Predicate("c", "lt", (1.5,)),
    ]


# -- the DuckDB engine over the lake ----------------------------------------------------------------


class CountingFS(pafs.FileSystemHandler):
    """A local file system that records the files opened for reading."""

    def __init__(self) -> None:
        self.fs = pafs.LocalFileSystem()
        self.opened: list[str] = []

    def get_type_name(self) -> str:
        return "counting"

    def normalize_path(self, path: str) -> str:
        return self.fs.normalize_path(path)

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return self.fs.get_file_info(paths)

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        return self.fs.get_file_info(selector)

    def create_dir(self, path: str, recursive: bool) -> None:
        self.fs.create_dir(path, recursive=recursive)

    def delete_dir(self, path: str) -> None:
        self.fs.delete_dir(path)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        self.fs.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self) -> None:
        raise NotImplementedError

    def delete_file(self, path: str) -> None:
        self.fs.delete_file(path)

    def move(self, src: str, dest: str) -> None:
        self.fs.move(src, dest)

    def copy_file(self, src: str, dest: str) -> None:
        self.fs.copy_file(src, dest)

    def open_input_stream(self, path: str) -> Any:
        self.opened.append(path)
        return self.fs.open_input_stream(path)

    def open_input_file(self, path: str) -> Any:
        self.opened.append(path)
        return self.fs.open_input_file(path)

    def open_output_stream(self, path: str, metadata: Any) -> Any:
        return self.fs.open_output_stream(path, metadata=metadata)

    def open_append_stream(self, path: str, metadata: Any) -> Any:
        return self.fs.open_append_stream(path, metadata=metadata)


def _parquet_days(paths: list[str]) -> set[str]:
    return {p.split("/_runs/dt=")[1][:10] for p in paths if p.endswith(".parquet")}


def test_dt_filters_read_only_their_partitions(lake_root: Path, local_settings: Settings) -> None:
    handler = CountingFS()
    lake = LakeFS(f"file://{lake_root}", pafs.PyFileSystem(handler), str(lake_root), "file", local_settings)
    with DuckDBEngine(local_settings, lake=lake, dynamodb=False) as eng:
        # a literal range: only those partitions go into the snapshot, only their files are opened
        assert _rows(eng.query("SELECT count(*) FROM raw_sales WHERE dt BETWEEN '2026-01-31' AND '2026-02-28'")) == [
            (3,)
        ]
        assert _parquet_days(handler.opened) == {"2026-01-31", "2026-02-01"}
        plan = eng.explain("SELECT count(*) FROM raw_sales WHERE dt IN ('2026-01-30')")
        assert list(plan["partitions"].values()) == [["2026-01-30"]]
        # a dt predicate the snapshot cannot use (an expression) is still pushed into the pyarrow
        # scan, which skips the other partitions by their partition expression
        handler.opened.clear()
        sql = "SELECT count(*) FROM raw_sales WHERE dt = (CASE WHEN 1 = 1 THEN '2026-02-01' END)"
        assert _rows(eng.query(sql)) == [(2,)]
        assert _parquet_days(handler.opened) == {"2026-02-01"}
        # and with no filter every partition is read
        handler.opened.clear()
        assert _rows(eng.query("SELECT count(*) FROM raw_sales WHERE qty > 0")) == [(5,)]
        assert _parquet_days(handler.opened) == {"2026-01-30", "2026-01-31", "2026-02-01"}


def test_each_query_sees_the_current_partitions(tmp_path: Path, local_settings: Settings) -> None:
    lake = LakeFS.from_uri(f"file://{tmp_path}", settings=local_settings)
    writer = PartitionWriter(lake, "raw_sales", RAW_SALES, zone="raw")
    writer.write(DAYS[0], [sales_rows(DAYS[0])])
    with DuckDBEngine(local_settings, lake=lake, dynamodb=False) as eng:
        assert _rows(eng.query("SELECT count(*) FROM raw_sales")) == [(2,)]
        writer.write(DAYS[1], [sales_rows(DAYS[1])])
        writer.write(DAYS[0], [sales_rows(DAYS[0]).slice(0, 1)])  # replaced
        assert _rows(eng.query("SELECT dt, count(*) FROM raw_sales GROUP BY dt ORDER BY dt")) == [
            ("2026-01-30", 1),
            ("2026-01-31", 1),
        ]
        assert _rows(eng.query("SELECT count(*) FROM raw_sales WHERE dt = '2027-01-01'")) == [(0,)]


def test_ctas_unload_views_and_drop(engine: DuckDBEngine, tmp_path: Path) -> None:
    location = f"file://{tmp_path}/marts/seller_daily/"
    result = engine.create_table_as(
        "seller_daily",
        "SELECT seller_id, sum(amount_cents) AS gross, count(*) AS orders, dt FROM raw_sales GROUP BY seller_id, dt",
        location=location,
        partitioned_by=["dt"],
    )
    assert (result.kind, result.rows, result.location) == ("ctas", 4, location)
    assert sorted(p.name for p in (tmp_path / "marts/seller_daily").iterdir()) == [
        "dt=2026-01-30",
        "dt=2026-01-31",
        "dt=2026-02-01",
    ]
    assert _rows(engine.query("SELECT seller_id, gross, dt FROM seller_daily WHERE dt = '2026-02-01' ORDER BY 1")) == [
        ("sel_b", 1000, "2026-02-01"),
        ("sel_c", 500, "2026-02-01"),
    ]
    with pytest.raises(SqlError, match="already exists"):
        engine.create_table_as("seller_daily", "SELECT 1 AS a")

    engine.execute("CREATE OR REPLACE VIEW big_days AS SELECT seller_id, dt FROM seller_daily WHERE gross >= 1000")
    assert _rows(engine.query("SELECT count(*) FROM big_days b WHERE b.seller_id = 'sel_a'")) == [(1,)]

    out = engine.execute(
        f"UNLOAD (SELECT order_id, qty FROM raw_sales WHERE qty > 3) TO 'file://{tmp_path}/unload/' "
        "WITH (format = 'PARQUET', compression = 'SNAPPY')"
    )
    assert (out.kind, out.rows) == ("unload", 2)
    files = list((tmp_path / "unload").glob("*.parquet"))
    assert sorted(pq.read_table(files[0]).column("order_id").to_pylist()) == ["o4", "o5"]
    with pytest.raises(SqlError, match="not empty"):
        engine.execute(f"UNLOAD (SELECT 1 AS a) TO 'file://{tmp_path}/unload/'")

    engine.execute("DROP VIEW big_days")
    engine.execute("DROP TABLE seller_daily")
    with pytest.raises(SqlError):
        engine.query("SELECT * FROM seller_daily")
    engine.execute("DROP TABLE IF EXISTS seller_daily")


def test_stream_and_concurrent_queries(engine: DuckDBEngine) -> None:
    reader = engine.stream("SELECT order_id, qty FROM raw_sales ORDER BY order_id", batch_rows=2)
    assert isinstance(reader, pa.RecordBatchReader)
    assert reader.read_all().column("qty").to_pylist() == [1, 2, 3, 4, 5]

    errors: list[BaseException] = []
    results: list[int] = []

    def work(n: int) -> None:
        try:
            for _ in range(5):
                seller = f"sel_{'abc'[n % 3]}"
                (count,) = _rows(engine.query("SELECT count(*) FROM raw_sales WHERE seller_id = ?", [seller]))[0]
                results.append(count - {"sel_a": 2, "sel_b": 2, "sel_c": 1}[seller])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [0] * 30


def test_errors_say_what_failed(engine: DuckDBEngine) -> None:
    with pytest.raises(SqlError) as info:
        engine.query("SELECT no_such_column FROM raw_sales")
    assert info.value.engine == "duckdb" and "no_such_column" in str(info.value) and info.value.sql
    with pytest.raises(SqlError, match="expected a query"):
        engine.query("DROP VIEW x")
    with pytest.raises(SqlError):
        engine.query("SELECT * FROM read_csv('/etc/hostname')")  # no file access from SQL


def test_engine_for_picks_by_env(local_settings: Settings, lake_root: Path) -> None:
    with engine_for(local_settings, lake=f"file://{lake_root}", dynamodb=False) as eng:
        assert isinstance(eng, DuckDBEngine)
    aws_settings = local_settings.model_copy(update={"env": "aws"})
    from gitgoods import aws

    aws.reset()  # the shared boto3 session is made for these settings here, and for the local ones after
    try:
        eng = engine_for(aws_settings, workgroup="wg")
    finally:
        aws.reset()
    assert isinstance(eng, AthenaEngine) and eng.results == "csv" and eng.database == "gitgoods_lake"


def test_the_embedded_engine_takes_threads_and_memory_from_settings(local_settings: Settings, lake_root: Path) -> None:
    def setting(eng: DuckDBEngine, name: str) -> str:
        return eng._db.execute(f"SELECT current_setting('{name}')").fetchone()[0]

    capped = local_settings.model_copy(update={"duckdb_threads": 1, "duckdb_memory_limit": "300MB"})
    with DuckDBEngine(capped, lake=f"file://{lake_root}", dynamodb=False) as eng:
        assert setting(eng, "threads") == 1
        assert setting(eng, "memory_limit") in ("286.1 MiB", "300.0 MB")  # DuckDB prints it in its own unit
    with DuckDBEngine(capped, lake=f"file://{lake_root}", dynamodb=False, threads=2, memory_limit="1GB") as eng:
        assert setting(eng, "threads") == 2  # arguments win over settings
        assert setting(eng, "memory_limit") in ("953.6 MiB", "1.0 GB")


# -- the Athena engine: Stubber (pyathena's requests) ----------------------------------------------

QID = "11111111-2222-3333-4444-555555555555"
OUTPUT = "s3://gitgoods-athena-results/queries/"


def _execution(state: str, **extra: Any) -> dict[str, Any]:
    # no OutputLocation: as for a work group that keeps no result file, pyathena reads the rows
    # with GetQueryResults (the result file, and UNLOAD's, are read from moto's S3 below)
    return {
        "QueryExecution": {
            "QueryExecutionId": QID,
            "Query": "SELECT ...",
            "StatementType": "DML",
            "Status": {"State": state, **extra},
        }
    }


def _column(name: str, kind: str, precision: int = 0, scale: int = 0) -> dict[str, Any]:
    # as Athena describes a column: pyathena reads Precision, Scale and Nullable
    return {"Name": name, "Label": name, "Type": kind, "Precision": precision, "Scale": scale, "Nullable": "UNKNOWN"}


COLUMNS = [
    _column("seller_id", "varchar"),
    _column("orders", "bigint"),
    _column("units", "integer"),
    _column("share", "double"),
    _column("active", "boolean"),
    _column("day", "date"),
    _column("first_sale", "timestamp", 3),
    _column("local", "timestamp with time zone", 3),
    _column("net", "decimal", 12, 2),
    _column("blob", "varbinary"),
    _column("tags", "array"),
]


def _row(*values: str | None) -> dict[str, Any]:
    return {"Data": [{} if v is None else {"VarCharValue": v} for v in values]}


def _results(stub: Stubber, columns: list[dict[str, Any]], *pages: list[dict[str, Any]]) -> None:
    """What pyathena asks once the query SUCCEEDED: the metadata (a page of one row), then the
    rows from the start, 1,000 a page (the first page starts with the header)."""
    meta = {"ColumnInfo": columns}
    stub.add_response("get_query_results", {"ResultSet": {"Rows": pages[0][:1], "ResultSetMetadata": meta}},
                      {"QueryExecutionId": QID, "MaxResults": 1})  # fmt: skip
    for i, rows in enumerate(pages):
        page: dict[str, Any] = {"ResultSet": {"Rows": rows, "ResultSetMetadata": meta}}
        expected: dict[str, Any] = {"QueryExecutionId": QID, "MaxResults": 1000}
        if i + 1 < len(pages):
            page["NextToken"] = f"t{i + 2}"
        if i:
            expected["NextToken"] = f"t{i + 1}"
        stub.add_response("get_query_results", page, expected)


HEADER = _row(*[c["Name"] for c in COLUMNS])
ROW_A = _row("sel_a", "12", "30", "0.25", "true", "2026-01-30", "2026-01-30 01:30:00.250",
             "2026-01-29 20:30:00.000 America/New_York", "1234.50", "68 69", "[a, b]")  # fmt: skip
ROW_B = _row("sel_b", None, "-1", "NaN", "false", None, None, "2026-01-31 12:00:00.000 UTC", "-0.01", None, None)


def test_athena_query_sent_polled_paged_and_typed(local_settings: Settings) -> None:
    sleeps: list[float] = []
    eng = AthenaEngine(local_settings, workgroup="gitgoods", output=OUTPUT, results="csv",
                       poll_interval=0.1, sleep=sleeps.append)  # fmt: skip
    sql = "SELECT seller_id, count(*) AS orders FROM raw_sales WHERE dt = ? GROUP BY 1"
    sent = "SELECT seller_id, count(*) AS orders FROM raw_sales WHERE dt = '2026-01-30' GROUP BY 1"
    with Stubber(eng.client) as stub:
        stub.add_response(
            "start_query_execution",
            {"QueryExecutionId": QID},
            {
                "QueryString": sent,
                "WorkGroup": "gitgoods",
                "QueryExecutionContext": {"Database": "gitgoods_lake", "Catalog": "AwsDataCatalog"},
                "ResultConfiguration": {"OutputLocation": OUTPUT},
            },
        )
        for state in ("QUEUED", "RUNNING", "RUNNING", "SUCCEEDED"):
            stub.add_response("get_query_execution", _execution(state), {"QueryExecutionId": QID})
        _results(stub, COLUMNS, [HEADER, ROW_A], [ROW_B])
        table = eng.query(sql, ["2026-01-30"])
        stub.assert_no_pending_responses()
    assert eng.last_query_id == QID
    assert sleeps == pytest.approx([0.1, 0.15, 0.225])  # backoff between the polls
    assert table.schema.types == [
        pa.string(), pa.int64(), pa.int32(), pa.float64(), pa.bool_(), pa.date32(), pa.timestamp("ms"),
        pa.timestamp("ms", tz="UTC"), pa.decimal128(12, 2), pa.binary(), pa.string(),
    ]  # fmt: skip
    a, b = table.to_pylist()
    assert a == {
        "seller_id": "sel_a", "orders": 12, "units": 30, "share": 0.25, "active": True, "day": dt.date(2026, 1, 30),
        "first_sale": dt.datetime(2026, 1, 30, 1, 30, 0, 250000),
        "local": dt.datetime(2026, 1, 30, 1, 30, tzinfo=dt.UTC), "net": decimal.Decimal("1234.50"),
        "blob": b"hi", "tags": "[a, b]",
    }  # fmt: skip
    assert b["orders"] is None and b["units"] == -1 and b["share"] != b["share"]  # NaN
    assert b["local"] == dt.datetime(2026, 1, 31, 12, tzinfo=dt.UTC) and b["net"] == decimal.Decimal("-0.01")
    assert b["blob"] is None and b["day"] is None and b["first_sale"] is None


def test_athena_failure_raises_athena_s_reason(local_settings: Settings) -> None:
    eng = AthenaEngine(local_settings, workgroup="gitgoods", output=OUTPUT, results="csv", sleep=lambda s: None)
    reason = "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved"
    with Stubber(eng.client) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": QID})
        stub.add_response("get_query_execution", _execution("RUNNING"))
        stub.add_response(
            "get_query_execution",
            _execution("FAILED", StateChangeReason=reason, AthenaError={"ErrorCategory": 2, "ErrorType": 1006}),
        )
        with pytest.raises(SqlError) as info:
            eng.query("SELECT nope FROM raw_sales")
    assert info.value.reason == reason and info.value.category == "USER" and info.value.query_id == QID
    assert "FAILED" in str(info.value) and info.value.sql == "SELECT nope FROM raw_sales"


def test_athena_refused_request_raises_sql_error(local_settings: Settings) -> None:
    eng = AthenaEngine(local_settings, workgroup="gitgoods", output=OUTPUT, results="csv", sleep=lambda s: None)
    with Stubber(eng.client) as stub:
        stub.add_client_error("start_query_execution", "InvalidRequestException", "line 1:1: mismatched input")
        with pytest.raises(SqlError, match="refused the query") as info:
            eng.query("SELEC 1")
    assert info.value.sql == "SELEC 1" and info.value.engine == "athena"


@pytest.mark.parametrize(
    ("sql", "unloaded"),
    [
        ("SELECT seller_id, net FROM raw_sales", True),
        ("SELECT seller_id, net FROM raw_sales ORDER BY net DESC", False),  # UNLOAD's files lose the order
        ("SELECT seller_id FROM (SELECT seller_id FROM raw_sales ORDER BY net) t", True),  # the outermost decides
    ],
)
def test_athena_ordered_queries_keep_their_order(local_settings: Settings, sql: str, unloaded: bool) -> None:
    """With a result location, queries are read through UNLOAD, except one whose outermost SELECT
    is ordered: that one is sent as written and read from the (ordered) result file."""
    eng = AthenaEngine(local_settings, output=OUTPUT, sleep=lambda s: None)
    assert eng.results == "unload"
    sent: list[str] = []
    eng.client.meta.events.register(
        "provide-client-params.athena.StartQueryExecution", lambda params, **_: sent.append(params["QueryString"])
    )
    with Stubber(eng.client) as stub:
        stub.add_client_error("start_query_execution", "InvalidRequestException", "stop here")
        with pytest.raises(SqlError, match="refused the query"):
            eng.query(sql)
    assert sent[0].lstrip().startswith("UNLOAD") is unloaded
    assert sql in sent[0]


def test_athena_federated_names_and_no_ctas(local_settings: Settings) -> None:
    eng = AthenaEngine(local_settings, workgroup="wg", output=None, sleep=lambda s: None)
    assert eng.results == "csv"  # no result location: no UNLOAD
    sql = "SELECT c.title FROM dynamodb.default.catalog c JOIN raw_sales s ON s.product_id = c.product_id"
    with Stubber(eng.client) as stub:
        stub.add_response(
            "start_query_execution",
            {"QueryExecutionId": QID},
            {
                # the query itself, not a CTAS around it; only the federated table is named physically
                "QueryString": 'SELECT c.title FROM dynamodb.default."tsql-catalog" c JOIN raw_sales s '
                "ON s.product_id = c.product_id",
                "WorkGroup": "wg",
                "QueryExecutionContext": {"Database": "gitgoods_lake", "Catalog": "AwsDataCatalog"},
            },
        )
        stub.add_response("get_query_execution", _execution("SUCCEEDED"))
        _results(stub, [_column("title", "varchar")], [_row("title"), _row("Moon Quest")])
        assert eng.query(sql).to_pylist() == [{"title": "Moon Quest"}]


def test_athena_ctas_result_and_timeout_stops_the_query(local_settings: Settings) -> None:
    eng = AthenaEngine(local_settings, workgroup="wg", output=OUTPUT, results="csv", sleep=lambda s: None)
    with Stubber(eng.client) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": QID})
        done = _execution("SUCCEEDED")
        done["QueryExecution"].update(StatementType="DDL", SubstatementType="CREATE_TABLE_AS_SELECT")
        done["QueryExecution"]["Statistics"] = {"DataScannedInBytes": 1234, "TotalExecutionTimeInMillis": 900}
        stub.add_response("get_query_execution", done)
        stub.add_response(
            "get_query_results",
            {"UpdateCount": 42, "ResultSet": {"Rows": [], "ResultSetMetadata": {"ColumnInfo": []}}},
            {"QueryExecutionId": QID, "MaxResults": 1},
        )
        result = eng.create_table_as("kpis", "SELECT 1 AS a, dt FROM raw_sales", location="s3://b/kpis/",
                                     partitioned_by=["dt"])  # fmt: skip
    assert (result.kind, result.rows, result.location, result.query_id) == ("ctas", 42, "s3://b/kpis/", QID)
    assert result.stats["data_scanned_bytes"] == 1234

    slow = AthenaEngine(local_settings, workgroup="wg", output=OUTPUT, results="csv", timeout_s=0,
                        sleep=lambda s: None)  # fmt: skip
    with Stubber(slow.client) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": QID})
        stub.add_response("get_query_execution", _execution("RUNNING"))
        stub.add_response("stop_query_execution", {}, {"QueryExecutionId": QID})
        with pytest.raises(TimeoutError):
            slow.query("SELECT 1")
        stub.assert_no_pending_responses()


def test_athena_edge_values(local_settings: Settings) -> None:
    """Java's spelling of infinities, microsecond timestamps, an offset zone, Athena's `unknown`
    (the type of a bare NULL)."""
    eng = AthenaEngine(local_settings, workgroup="wg", output=None, sleep=lambda s: None)
    columns = [_column("x", "double"), _column("at", "timestamp", 6), _column("zoned", "timestamp with time zone", 3),
               _column("nothing", "unknown")]  # fmt: skip
    rows = [_row("x", "at", "zoned", "nothing"),
            _row("Infinity", "2026-01-30 01:30:00.123456", "2026-01-30 03:30:00.000 +02:00", None),
            _row("-Infinity", None, None, None), _row(None, None, None, None)]  # fmt: skip
    with Stubber(eng.client) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": QID})
        stub.add_response("get_query_execution", _execution("SUCCEEDED"))
        _results(stub, columns, rows)
        table = eng.query("SELECT x, at, zoned, NULL AS nothing FROM edge")
    assert table.column("x").to_pylist()[:2] == [float("inf"), float("-inf")]
    assert table.schema.field("at").type == pa.timestamp("us")
    assert table.column("at").to_pylist()[0] == dt.datetime(2026, 1, 30, 1, 30, 0, 123456)
    assert table.column("zoned").to_pylist() == [dt.datetime(2026, 1, 30, 1, 30, tzinfo=dt.UTC), None, None]
    assert table.schema.field("nothing").type == pa.null()
    assert table.column("x").to_pylist()[2] is None


# -- the Athena engine: moto's Athena (records the query, serves queued results) ---------------------


@pytest.fixture()
def moto_settings(moto_server: int, tmp_path: Path) -> Settings:
    return Settings(env="local", home=tmp_path, moto_port=moto_server, table_prefix="tsql-")


@pytest.fixture()
def results_on_moto(moto_server: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """pyathena reads result files with boto3's S3 client (without Athena's endpoint) and with
    pyarrow's S3 filesystem: both pointed at moto's S3."""
    from pyathena.arrow.result_set import AthenaArrowResultSetMetadataReader

    endpoint = f"http://127.0.0.1:{moto_server}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    monkeypatch.setattr(
        AthenaArrowResultSetMetadataReader,
        "_create_s3_file_system",
        lambda self: pafs.S3FileSystem(endpoint_override=endpoint, region="us-east-1", access_key="local",
                                     secret_key="local", allow_bucket_creation=False),  # fmt: skip
    )


def _queue_results(port: int, rows: list[dict[str, Any]], columns: list[dict[str, Any]]) -> None:
    response = requests.post(
        f"http://127.0.0.1:{port}/moto-api/static/athena/query-results",
        json={"results": [{"rows": rows, "column_info": columns}]},
        timeout=5,
    )
    assert response.status_code == 201


@pytest.mark.parametrize("where", ["result file", "result pages"])
def test_athena_engine_on_moto(moto_settings: Settings, moto_server: int, results_on_moto: None, where: str) -> None:
    from gitgoods import aws

    bucket = f"athena-results-{uuid.uuid4().hex[:8]}"
    aws.client("s3", moto_settings).create_bucket(Bucket=bucket)
    columns = [c for c in COLUMNS if c["Name"] in ("seller_id", "orders", "day", "net")]
    rows = [_row("seller_id", "orders", "day", "net"), _row("sel_a", "12", "2026-01-30", "10.25"),
            _row("sel_b", "3", "2026-01-31", "0.50")]  # fmt: skip
    _queue_results(moto_server, rows, columns)
    output = f"s3://{bucket}/q/" if where == "result file" else None
    eng = AthenaEngine(moto_settings, output=output, results="csv", poll_interval=0.01)
    sql = "SELECT seller_id, count(*) AS orders, day, net FROM raw_sales WHERE seller_id IN (?, ?) GROUP BY 1, 3, 4"
    table = eng.query(sql, ["sel_a", "sel_b"])
    assert table.to_pylist() == [
        {"seller_id": "sel_a", "orders": 12, "day": dt.date(2026, 1, 30), "net": decimal.Decimal("10.25")},
        {"seller_id": "sel_b", "orders": 3, "day": dt.date(2026, 1, 31), "net": decimal.Decimal("0.50")},
    ]
    # moto recorded what was sent
    recorded = aws.client("athena", moto_settings).get_query_execution(QueryExecutionId=eng.last_query_id)
    execution = recorded["QueryExecution"]
    assert execution["Query"] == sql.replace("(?, ?)", "('sel_a', 'sel_b')")
    if output:
        assert execution["ResultConfiguration"]["OutputLocation"].startswith(f"s3://{bucket}/q/")
    else:
        assert not execution.get("ResultConfiguration", {}).get("OutputLocation")
    assert execution["QueryExecutionContext"]["Database"] == "gitgoods_lake"


def test_athena_big_results_through_unload(moto_settings: Settings, results_on_moto: None) -> None:
    """With a result location, a query runs as UNLOAD to Parquet under it (Athena stubbed: the files
    and the data manifest it would write are put in moto's S3) and is read from those files:
    NULL and '' stay apart, the types are the files'."""
    import re

    import pyarrow.parquet as pq
    from botocore.stub import ANY

    from gitgoods import aws

    bucket = f"athena-results-{uuid.uuid4().hex[:8]}"
    s3 = aws.client("s3", moto_settings)
    s3.create_bucket(Bucket=bucket)
    eng = AthenaEngine(moto_settings, output=f"s3://{bucket}/q/", sleep=lambda s: None)
    assert eng.results == "unload"
    net = pa.array([decimal.Decimal("1.50"), None, decimal.Decimal("-2.00")], pa.decimal128(12, 2))
    data = pa.table({"seller_id": ["sel_a", "", None], "at": pa.array([1, 2, None], pa.timestamp("us")), "net": net})
    sent: list[str] = []

    def athena_unloads(params: dict[str, Any], **_: Any) -> None:
        sent.append(params["QueryString"])
        location = re.search(r"TO '(s3://[^']+)'", params["QueryString"]).group(1)
        key = f"{location.removeprefix(f's3://{bucket}/')}part-0.parquet"
        sink = pa.BufferOutputStream()
        pq.write_table(data, sink)
        s3.put_object(Bucket=bucket, Key=key, Body=sink.getvalue().to_pybytes())
        s3.put_object(Bucket=bucket, Key=f"q/{QID}-manifest.csv", Body=f"s3://{bucket}/{key}\n".encode())
        done = _execution("SUCCEEDED")
        done["QueryExecution"].update(
            Query=params["QueryString"],
            ResultConfiguration={"OutputLocation": f"s3://{bucket}/q/{QID}"},
            Statistics={"DataManifestLocation": f"s3://{bucket}/q/{QID}-manifest.csv"},
        )
        stub.add_response("get_query_execution", done)

    eng.client.meta.events.register("provide-client-params.athena.StartQueryExecution", athena_unloads)
    sql = "SELECT seller_id, at, net FROM raw_sales WHERE dt = ?"
    with Stubber(eng.client) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": QID}, {
            "QueryString": ANY, "WorkGroup": "primary", "ResultConfiguration": {"OutputLocation": f"s3://{bucket}/q/"},
            "QueryExecutionContext": {"Database": "gitgoods_lake", "Catalog": "AwsDataCatalog"}})  # fmt: skip
        reader = eng.stream(sql, ["2026-01-30"], batch_rows=2)
        stub.assert_no_pending_responses()
    unload = sent[0].strip()
    assert unload.startswith("UNLOAD (")
    assert "SELECT seller_id, at, net FROM raw_sales WHERE dt = '2026-01-30'" in unload
    assert f"TO 's3://{bucket}/q/unload/" in unload and "format = 'PARQUET'" in unload
    batches = list(reader)
    assert [b.num_rows for b in batches] == [2, 1]
    table = pa.Table.from_batches(batches)
    assert table.schema.types == [pa.string(), pa.timestamp("us"), pa.decimal128(12, 2)]
    assert table.to_pylist() == data.to_pylist()  # NULL is not ''


def test_lake_on_s3_needs_no_duckdb_extension(moto_settings: Settings) -> None:
    from gitgoods import aws

    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    aws.client("s3", moto_settings).create_bucket(Bucket=bucket)
    lake = LakeFS.from_uri(f"s3://{bucket}/lake", settings=moto_settings)
    write_lake(lake)
    with DuckDBEngine(moto_settings, lake=lake, dynamodb=False) as eng:
        rows = _rows(eng.query("SELECT dt, sum(qty) FROM raw_sales WHERE dt >= '2026-01-31' GROUP BY dt ORDER BY dt"))
        assert rows == [("2026-01-31", 3), ("2026-02-01", 9)]
        # DuckDB itself may not touch files (nor install extensions): pyarrow read S3 for it
        with pytest.raises(SqlError, match="disabled by configuration"):
            eng.query("SELECT extension_name FROM duckdb_extensions()")


def test_s3_queries_reuse_pointers_and_small_files_until_a_partition_switches(moto_settings: Settings) -> None:
    """The process keeps partition pointers (by the listing's ETags) and small run files between
    queries: a repeated query costs one LIST per table; a switched or new partition is read at once."""
    from gitgoods import aws

    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    aws.client("s3", moto_settings).create_bucket(Bucket=bucket)
    lake = LakeFS.from_uri(f"s3://{bucket}/lake", settings=moto_settings)
    write_lake(lake)
    calls = _requests(lake)
    sql = "SELECT dt, sum(qty) AS units FROM raw_sales GROUP BY dt ORDER BY dt"

    def run() -> tuple[list[tuple[Any, ...]], dict[str, int]]:
        calls.clear()
        with DuckDBEngine(moto_settings, lake=lake, dynamodb=False) as eng:  # a new engine each time
            rows = _rows(eng.query(sql))
        names = [name for name, _ in calls]
        return rows, {name: names.count(name) for name in set(names)}

    first, cold = run()
    assert [r[0] for r in first] == [d.isoformat() for d in DAYS]
    assert cold["GetObject"] >= 2 * len(DAYS)  # a pointer and a file per partition
    again, warm = run()
    assert again == first
    assert warm == {"ListObjectsV2": 1}  # nothing but the listing of pointers

    # a partition switched to a new version, and a new partition: both seen by the next query
    writer = PartitionWriter(lake, "raw_sales", RAW_SALES, zone="raw")
    switched = sales_rows(DAYS[1])
    qty = switched.schema.get_field_index("qty")
    switched = switched.set_column(qty, switched.schema.field(qty), pa.array([7] * switched.num_rows, pa.int32()))
    writer.write(DAYS[1], [switched])
    writer.write(dt.date(2026, 2, 2), [sales_rows(DAYS[2]).slice(0, 1)])
    after, counts = run()
    units = dict(after)
    assert dict(first)["2026-01-31"] != 7 and units["2026-01-31"] == 7 * switched.num_rows
    assert "2026-02-02" in units and units["2026-01-30"] == dict(first)["2026-01-30"]
    assert counts["GetObject"] == 4  # the two new pointers and their two files, nothing else


# -- the table digest on S3 ------------------------------------------------------------------------


def _s3_lake(settings: Settings) -> LakeFS:
    from gitgoods import aws

    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    aws.client("s3", settings).create_bucket(Bucket=bucket)
    return LakeFS.from_uri(f"s3://{bucket}/lake", settings=settings)


def _write_days(lake: LakeFS, days: list[dt.date], qty: int = 1) -> None:
    writer = PartitionWriter(lake, "raw_sales", RAW_SALES, zone="raw")
    for day in days:
        rows = sales_rows(DAYS[0])
        i = rows.schema.get_field_index("qty")
        writer.write(day, [rows.set_column(i, rows.schema.field(i), pa.array([qty] * rows.num_rows, pa.int32()))])


def _requests(lake: LakeFS, operation: str | None = None) -> list[Any]:
    """What the lake's S3 client (`lake.objects`) sends from now on: (operation, key or prefix) of
    each request, or with `operation` the keys of that operation's requests only."""
    from urllib.parse import parse_qs, unquote, urlsplit

    sent: list[Any] = []
    send = lake.objects.send

    def recording(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        if "list-type" in query:
            op, key = "ListObjectsV2", query.get("prefix", [""])[0]
        else:  # path-style (the moto server): /bucket/key
            op, key = {"GET": "GetObject", "PUT": "PutObject"}.get(method, method), unquote(parts.path).split("/", 2)[2]
        if operation is None:
            sent.append((op, key))
        elif op == operation:
            sent.append(key)
        return send(method, url, *args, **kwargs)

    lake.objects.send = recording  # type: ignore[method-assign]
    return sent


def _gets(lake: LakeFS) -> list[str]:
    return _requests(lake, "GetObject")


def test_the_digest_holds_every_pointer_and_refreshes_what_changed(moto_settings: Settings, tmp_path: Path) -> None:
    from pipelines.lake.digest import list_pointers, read_digest, refresh_digest
    from pipelines.lake.partitions.manifest import current_manifest

    lake = _s3_lake(moto_settings)
    days = [dt.date(2026, 3, d) for d in range(1, 4)]
    _write_days(lake, days)
    first = refresh_digest(lake, "raw", "raw_sales")  # no digest yet: listed
    assert (first.partitions, first.fetched, first.listed) == (3, 3, True)
    digest = read_digest(lake, "raw", "raw_sales")
    assert {d: e[0] for d, e in digest.items()} == list_pointers(lake, "raw", "raw_sales")
    assert digest["2026-03-02"][1] == current_manifest(lake, "raw_sales", "2026-03-02", zone="raw")

    _write_days(lake, days[1:2], qty=5)  # one partition switched
    again = refresh_digest(lake, "raw", "raw_sales", relist=True)
    assert (again.partitions, again.fetched, again.listed) == (3, 1, True)  # only the changed pointer was read

    # a listed refresh takes what a writer knows of its own pointers where the listed ETag is its PUT's
    from dataclasses import replace

    writer = PartitionWriter(lake, "raw_sales", RAW_SALES, zone="raw")
    mine = writer.write(days[0], [sales_rows(DAYS[0])])
    assert mine.pointer_etag == list_pointers(lake, "raw", "raw_sales")["2026-03-01"] and mine.manifest is not None
    assert refresh_digest(lake, "raw", "raw_sales", [mine], relist=True).fetched == 0
    stale = writer.write(days[0], [sales_rows(DAYS[0])])  # switched again: `mine` is now stale
    assert refresh_digest(lake, "raw", "raw_sales", [mine], relist=True).fetched == 1
    assert read_digest(lake, "raw", "raw_sales")["2026-03-01"][1]["run_id"] == stale.run_id
    forged = replace(stale, pointer_etag='"' + "0" * 32 + '"', manifest={**stale.manifest, "rows": -1})
    _write_days(lake, days[:1])
    assert refresh_digest(lake, "raw", "raw_sales", [forged], relist=True).fetched == 1  # not its ETag: read
    assert read_digest(lake, "raw", "raw_sales")["2026-03-01"][1]["rows"] >= 0
    assert read_digest(lake, "raw", "raw_sales")["2026-03-02"][1] == current_manifest(
        lake, "raw_sales", "2026-03-02", zone="raw")  # fmt: skip
    assert refresh_digest(LakeFS.from_uri(f"file://{tmp_path}"), "raw", "raw_sales") is None  # disk: none


def test_a_build_s_digest_refresh_lists_nothing_until_its_listing_is_old(
    moto_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer's refresh merges its own entries (the ETags its PUTs got) into the digest without a
    LIST; entries it did not write stay as they were; past RELIST_AFTER the pointers are listed."""
    from pipelines.lake import digest as digest_module
    from pipelines.lake.digest import list_pointers, read_digest, refresh_digest

    lake = _s3_lake(moto_settings)
    days = [dt.date(2026, 3, d) for d in range(1, 4)]
    _write_days(lake, days)
    refresh_digest(lake, "raw", "raw_sales")
    requests = _requests(lake)

    writer = PartitionWriter(lake, "raw_sales", RAW_SALES, zone="raw")
    mine = writer.write(days[2], [sales_rows(DAYS[0])])
    _write_days(lake, days[1:2], qty=5)  # switched by another writer, which leaves the digest alone
    requests.clear()
    merged = refresh_digest(lake, "raw", "raw_sales", [mine])
    assert (merged.partitions, merged.fetched, merged.listed) == (3, 0, False)
    assert [op for op, _ in requests] == ["GetObject", "PutObject"]  # the digest read and written: no LIST
    digest, listed = read_digest(lake, "raw", "raw_sales"), list_pointers(lake, "raw", "raw_sales")
    assert digest["2026-03-03"] == (listed["2026-03-03"], mine.manifest)  # the writer's own: exact
    assert digest["2026-03-02"][0] != listed["2026-03-02"]  # the other's: stale, so never used by a reader
    assert digest["2026-03-01"][0] == listed["2026-03-01"]

    monkeypatch.setattr(digest_module, "RELIST_AFTER", dt.timedelta(0))  # the listing is now "old"
    relisted = refresh_digest(lake, "raw", "raw_sales", [mine])
    assert (relisted.fetched, relisted.listed) == (1, True)
    assert ("ListObjectsV2", "lake/raw/raw_sales/_current/dt=") in requests
    assert {d: e[0] for d, e in read_digest(lake, "raw", "raw_sales").items()} == list_pointers(
        lake, "raw", "raw_sales")  # fmt: skip


def test_a_cold_reader_resolves_partitions_from_the_digest_and_never_trusts_it(
    moto_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.lake import s3_cache
    from pipelines.lake.digest import DIGEST_NAME, digest_key, refresh_digest

    lake = _s3_lake(moto_settings)
    days = [dt.date(2026, 3, d) for d in range(1, 11)]  # more than DIGEST_MIN_POINTERS
    _write_days(lake, days)
    refresh_digest(lake, "raw", "raw_sales")
    gets = _gets(lake)
    sql = "SELECT sum(qty) FROM raw_sales WHERE dt BETWEEN '2026-03-01' AND '2026-03-10'"
    per_day = sales_rows(DAYS[0]).num_rows

    def cold_query() -> int:
        monkeypatch.setattr(s3_cache, "_S3_CACHE", s3_cache._S3Cache())  # a new process, as it were
        gets.clear()
        with DuckDBEngine(moto_settings, lake=lake, dynamodb=False) as eng:
            return eng.query(sql).column(0)[0].as_py()

    assert cold_query() == 10 * per_day
    pointers = [k for k in gets if "/_current/dt=" in k]
    assert pointers == [] and sum(k.endswith(DIGEST_NAME) for k in gets) == 1  # 1 GET instead of 10
    assert len(gets) == 1 + 10  # the digest and the ten (small) files

    # a partition switched after the digest: its entry's ETag no longer matches, so it is read anew
    _write_days(lake, days[4:5], qty=9)
    assert cold_query() == 9 * per_day + 9 * per_day
    assert [k for k in gets if "/_current/dt=" in k] == [k for k in gets if k.endswith("dt=2026-03-05.json")] != []

    # an unreadable digest is ignored
    bucket, key = digest_key(lake, "raw", "raw_sales")
    lake.objects.put(bucket, key, b"not gzip", content_type="application/gzip")
    assert cold_query() == 9 * per_day + 9 * per_day
    assert sum("/_current/dt=" in k for k in gets) == 10


def test_a_cold_read_of_a_history_reads_the_digest_beside_the_listing_and_still_checks_it(
    moto_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read of the days before a given one (a state table's look-up) starts the digest's GET with
    the listing in a process that holds none of the table's pointers; an entry whose ETag the
    listing does not show is read anew; a warm process does not read the digest."""
    from pipelines.lake import s3_cache
    from pipelines.lake.digest import DIGEST_NAME, refresh_digest

    lake = _s3_lake(moto_settings)
    days = [dt.date(2026, 3, d) for d in range(1, 11)]
    _write_days(lake, days)
    refresh_digest(lake, "raw", "raw_sales")
    _write_days(lake, days[2:3], qty=4)  # switched after the digest: its entry is stale
    gets = _gets(lake)
    sql = "SELECT sum(qty) FROM raw_sales WHERE dt < '2026-03-11'"
    per_day = sales_rows(DAYS[0]).num_rows
    monkeypatch.setattr(s3_cache, "_S3_CACHE", s3_cache._S3Cache())  # a new process, as it were
    with DuckDBEngine(moto_settings, lake=lake, dynamodb=False) as eng:
        assert eng.query(sql).column(0)[0].as_py() == 9 * per_day + 4 * per_day
        assert sum(k.endswith(DIGEST_NAME) for k in gets) == 1
        assert [k for k in gets if "/_current/dt=" in k] == [k for k in gets if k.endswith("dt=2026-03-03.json")] != []
        gets.clear()
        assert eng.query(sql).column(0)[0].as_py() == 13 * per_day
        assert [k for k in gets if "/_current/" in k] == []  # warm: every pointer from the process's cache


def test_a_snapshot_fetches_small_files_whole_smallest_first_within_its_budget(
    moto_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files up to SMALL_FILE_BYTES are fetched whole (one GET each, by the lake's client) while the
    snapshot's whole files stay within WHOLE_BUDGET_BYTES; the rest are read in place by pyarrow.
    The answer is the same either way."""
    from pipelines.lake import s3_cache
    from pipelines.lake.partitions.current import CurrentFile, CurrentFiles
    from pipelines.sql import lake_snapshot

    lake = _s3_lake(moto_settings)
    days = [dt.date(2026, 3, d) for d in range(1, 7)]
    _write_days(lake, days)
    size = CurrentFiles(lake).files("raw", "raw_sales", ["2026-03-01"]).files[0].bytes  # every day's file alike
    gets = _gets(lake)
    sql = "SELECT sum(qty) FROM raw_sales WHERE dt BETWEEN '2026-03-01' AND '2026-03-06'"
    per_day = sales_rows(DAYS[0]).num_rows
    for budget, whole in ((10 * size, 6), (2 * size + size // 2, 2), (0, 0)):
        monkeypatch.setattr(lake_snapshot, "WHOLE_BUDGET_BYTES", budget)
        monkeypatch.setattr(s3_cache, "_S3_CACHE", s3_cache._S3Cache())  # a new process, as it were
        gets.clear()
        with DuckDBEngine(moto_settings, lake=lake, dynamodb=False) as eng:
            assert eng.query(sql).column(0)[0].as_py() == 6 * per_day
        assert sum(k.endswith(".parquet") for k in gets) == whole
    files = [CurrentFile(f"2026-03-0{i}", "r", f"f{i}", n) for i, n in enumerate((300, 100, 200, 5 << 20), 1)]
    monkeypatch.setattr(lake_snapshot, "WHOLE_BUDGET_BYTES", 350)
    assert [f.name for f in lake_snapshot._small(files)] == ["f2", "f3"]  # 100 + 200; 300 would pass 350
    monkeypatch.setattr(lake_snapshot, "WHOLE_BUDGET_BYTES", 64 << 20)
    assert [f.name for f in lake_snapshot._small(files)] == ["f2", "f3", "f1"]  # 5 MB: above SMALL_FILE_BYTES


def test_the_lake_s_dataset_resolves_partitions_as_the_engine_does(
    moto_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`partitions.reading.dataset` takes the same resolver as the engine: pointers from the digest
    when cold, from the process's cache when seen before, a switched partition read anew."""
    from pipelines.lake import s3_cache
    from pipelines.lake.digest import DIGEST_NAME, refresh_digest
    from pipelines.lake.partitions.reading import dataset

    monkeypatch.setattr(s3_cache, "_S3_CACHE", s3_cache._S3Cache())
    lake = _s3_lake(moto_settings)
    days = [dt.date(2026, 3, d) for d in range(1, 11)]  # more than DIGEST_MIN_POINTERS
    _write_days(lake, days)
    refresh_digest(lake, "raw", "raw_sales")
    gets = _gets(lake)
    per_day = sales_rows(DAYS[0]).num_rows

    def units() -> int:
        gets.clear()
        return pa.compute.sum(dataset(lake, "raw_sales").to_table(columns=["qty"])["qty"]).as_py()

    assert units() == 10 * per_day
    assert [k for k in gets if "/_current/" in k] == [k for k in gets if k.endswith(DIGEST_NAME)] != []
    assert units() == 10 * per_day
    assert [k for k in gets if "/_current/" in k] == []  # every pointer from the process's cache
    _write_days(lake, days[4:5], qty=9)
    assert units() == 9 * per_day + 9 * per_day
    assert [k for k in gets if "/_current/" in k] == [k for k in gets if k.endswith("dt=2026-03-05.json")] != []
