"""Aggregate functions (https://trino.io/docs/current/functions/aggregate.html) over integers and
doubles; approximate functions are held to their documented error, not to one value."""

from __future__ import annotations

from pipelines.sql.duckdb_engine import DuckDBEngine
from tests.sql_conformance.harness import Case, cases, check

DOC = "functions/aggregate.html"
V = "(VALUES 1, 2, 3, 4) AS t(x)"
N = "(VALUES 1, NULL, 3) AS t(x)"
E = "(VALUES 1) AS t(x) WHERE x > 1"  # no rows
K = "UNNEST(sequence(1, 1000)) AS t(x)"  # a thousand distinct bigints


@cases(
    Case(f"SELECT count(*) FROM {N}", 3, "bigint", doc=f"{DOC}#count"),
    Case(f"SELECT count(x) FROM {N}", 2, "bigint", doc=f"{DOC}#count"),
    Case(f"SELECT count(x) FROM {E}", 0, "bigint", doc=f"{DOC}#count"),
    Case(f"SELECT count(DISTINCT x % 2) FROM {V}", 2, "bigint", doc=f"{DOC}#count"),
    Case(f"SELECT count_if(x > 1) FROM {V}", 3, "bigint", doc=f"{DOC}#count_if"),
    Case(f"SELECT count_if(x > 1) FROM {E}", 0, "bigint", doc=f"{DOC}#count_if"),
    # integer sums read the sample table: their bigint type needs the column types the engine gives
    Case("SELECT sum(qty) FROM marts_sample WHERE id > 9", None, "bigint", doc=f"{DOC}#sum"),
    Case("SELECT sum(if(id = 2, NULL, qty)) FROM marts_sample", 8, "bigint", doc=f"{DOC}#sum"),
    Case("SELECT sum(ratio) FROM marts_sample", 4.0, "double", doc=f"{DOC}#sum"),
    Case("SELECT sum(qty) FROM marts_sample", 11, "bigint", doc=f"{DOC}#sum"),
    Case(f"SELECT avg(x) FROM {V}", 2.5, "double", doc=f"{DOC}#avg"),
    Case(f"SELECT avg(x) FROM {E}", None, "double", doc=f"{DOC}#avg"),
    Case("SELECT avg(ratio) FROM marts_sample", 1.0, "double", doc=f"{DOC}#avg"),
    Case(f"SELECT min(x) FROM {N}", 1, "integer", doc=f"{DOC}#min"),
    Case(f"SELECT max(x) FROM {N}", 3, "integer", doc=f"{DOC}#max"),
    Case("SELECT max(name) FROM marts_sample", "Zelda", "varchar", doc=f"{DOC}#max"),
    Case(f"SELECT max(x) FROM {E}", None, "integer", doc=f"{DOC}#max"),
    Case(f"SELECT max(x, 2) FROM {V}", [4, 3], "array(integer)", doc=f"{DOC}#max"),
    Case(f"SELECT min(x, 2) FROM {V}", [1, 2], "array(integer)", doc=f"{DOC}#min"),
)
def test_general(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)


@cases(
    Case("SELECT arbitrary(x) FROM (VALUES 7) AS t(x)", 7, "integer", doc=f"{DOC}#arbitrary"),
    Case("SELECT any_value(x) FROM (VALUES 7) AS t(x)", 7, "integer", doc=f"{DOC}#any_value"),
    Case("SELECT bool_and(b) FROM (VALUES true, NULL, false) AS t(b)", False, "boolean", doc=f"{DOC}#bool_and"),
    Case("SELECT bool_and(b) FROM (VALUES true, NULL) AS t(b)", True, "boolean", doc=f"{DOC}#bool_and"),
    Case("SELECT bool_or(b) FROM (VALUES false, NULL, true) AS t(b)", True, "boolean", doc=f"{DOC}#bool_or"),
    Case("SELECT every(b) FROM (VALUES true, true) AS t(b)", True, "boolean", doc=f"{DOC}#every"),
    Case("SELECT max_by(name, ratio) FROM marts_sample", "Tetris", "varchar", doc=f"{DOC}#max_by"),
    Case("SELECT min_by(name, ratio) FROM marts_sample", "Halo", "varchar", doc=f"{DOC}#min_by"),
    Case("SELECT max_by(name, ratio, 2) FROM marts_sample", ["Tetris", "Doom"], "array(varchar)",
         doc=f"{DOC}#max_by"),  # fmt: skip
    Case("SELECT min_by(name, ratio, 3) FROM marts_sample", ["Halo", "Zelda", "Doom"], "array(varchar)",
         doc=f"{DOC}#min_by"),  # fmt: skip
    Case("SELECT array_agg(name ORDER BY id) FROM marts_sample", ["Zelda", "Doom", "Tetris", "Halo"],
         "array(varchar)", doc=f"{DOC}#array_agg"),  # fmt: skip
    Case("SELECT array_agg(note ORDER BY id DESC) FROM marts_sample", [None, None, "late", None], "array(varchar)",
         doc=f"{DOC}#array_agg"),  # fmt: skip
    Case(f"SELECT array_agg(x) FROM {E}", None, "array(integer)", doc=f"{DOC}#array_agg"),
    Case("SELECT listagg(name, ',') WITHIN GROUP (ORDER BY id) FROM marts_sample", "Zelda,Doom,Tetris,Halo",
         "varchar", doc=f"{DOC}#listagg"),  # fmt: skip
    Case("SELECT listagg(note, ',') WITHIN GROUP (ORDER BY id) FROM marts_sample", "late", "varchar",
         doc=f"{DOC}#listagg"),  # fmt: skip
    Case("SELECT checksum(x) FROM (VALUES 1) AS t(x)", error="checksum", doc=f"{DOC}#checksum"),
)
def test_other(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)


@cases(
    # 1, 2, 3, 4: squared deviations from 2.5 sum to 5
    Case(f"SELECT var_samp(x) FROM {V}", 5 / 3, "double", doc=f"{DOC}#var_samp"),
    Case(f"SELECT variance(x) FROM {V}", 5 / 3, "double", doc=f"{DOC}#variance"),
    Case(f"SELECT var_pop(x) FROM {V}", 1.25, "double", doc=f"{DOC}#var_pop"),
    Case(f"SELECT stddev(x) FROM {V}", (5 / 3) ** 0.5, "double", doc=f"{DOC}#stddev"),
    Case(f"SELECT stddev_samp(x) FROM {V}", (5 / 3) ** 0.5, "double", doc=f"{DOC}#stddev_samp"),
    Case(f"SELECT stddev_pop(x) FROM {V}", 1.25**0.5, "double", doc=f"{DOC}#stddev_pop"),
    Case("SELECT stddev_samp(x) FROM (VALUES 1) AS t(x)", None, "double", doc=f"{DOC}#stddev_samp"),
    Case("SELECT geometric_mean(x) FROM (VALUES 1, 2, 4) AS t(x)", 2.0, "double", doc=f"{DOC}#geometric_mean"),
)
def test_statistics(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)


@cases(
    Case("SELECT approx_distinct(x) FROM (VALUES 1, 2, 2, NULL) AS t(x)", 2, "bigint", doc=f"{DOC}#approx_distinct"),
    Case(f"SELECT approx_distinct(x) FROM {E}", 0, "bigint", doc=f"{DOC}#approx_distinct"),
    # standard error 2.3%: within three of them
    Case(f"SELECT abs(approx_distinct(x) - 1000) <= 69 FROM {K}", True, "boolean", doc=f"{DOC}#approx_distinct"),
    Case(f"SELECT abs(approx_percentile(x, 0.5) - 500) <= 10 FROM {K}", True, "boolean",
         doc=f"{DOC}#approx_percentile"),  # fmt: skip
    Case("SELECT approx_percentile(x, 0.5) FROM (VALUES BIGINT '7') AS t(x)", 7, "bigint",
         doc=f"{DOC}#approx_percentile"),  # fmt: skip
    Case("SELECT approx_percentile(x, 0.5) FROM (VALUES DOUBLE '7.5') AS t(x)", 7.5, "double",
         doc=f"{DOC}#approx_percentile"),  # fmt: skip
    Case("SELECT approx_percentile(x, ARRAY[0.5, 0.9]) FROM (VALUES BIGINT '7') AS t(x)", [7, 7], "array(bigint)",
         doc=f"{DOC}#approx_percentile"),  # fmt: skip
    Case(f"SELECT transform(approx_percentile(x, ARRAY[0.1, 0.9]), v -> abs(v - 500) <= 410) FROM {K}",
         [True, True], "array(boolean)", doc=f"{DOC}#approx_percentile"),  # fmt: skip
    Case(f"SELECT approx_percentile(x, 0.5) FROM {E}", None, "integer", doc=f"{DOC}#approx_percentile"),
    Case("SELECT approx_percentile(x, w, 0.5) FROM (VALUES (BIGINT '1', 99), (BIGINT '100', 1)) AS t(x, w)",
         error="approx_percentile(x, w, percentage)", doc=f"{DOC}#approx_percentile"),  # fmt: skip
)
def test_approximate(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)
