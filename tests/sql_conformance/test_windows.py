"""Window functions (https://trino.io/docs/current/functions/window.html): ranking, value functions
with their default and explicit frames, running aggregates."""

from __future__ import annotations

from pipelines.sql.duckdb_engine import DuckDBEngine
from tests.sql_conformance.harness import Case, cases, check

DOC = "functions/window.html"
T = "FROM (VALUES 1, 2, 2, 3) AS t(x) ORDER BY x"  # a tie: the rows of x = 2 give the same values
U = "FROM (VALUES 4, 2, 3, 1) AS t(x) ORDER BY x"  # distinct values


def rows(sql: str, value: list, type_: str, anchor: str) -> Case:
    return Case(sql, value, type_, doc=f"{DOC}#{anchor}", rows=True)


@cases(
    rows(f"SELECT row_number() OVER (ORDER BY x) {U}", [1, 2, 3, 4], "bigint", "row_number"),
    rows(f"SELECT rank() OVER (ORDER BY x) {T}", [1, 2, 2, 4], "bigint", "rank"),
    rows(f"SELECT dense_rank() OVER (ORDER BY x) {T}", [1, 2, 2, 3], "bigint", "dense_rank"),
    rows(f"SELECT percent_rank() OVER (ORDER BY x) {T}", [0.0, 1 / 3, 1 / 3, 1.0], "double", "percent_rank"),
    rows(f"SELECT cume_dist() OVER (ORDER BY x) {T}", [0.25, 0.75, 0.75, 1.0], "double", "cume_dist"),
    rows(f"SELECT ntile(3) OVER (ORDER BY x) {U}", [1, 1, 2, 3], "bigint", "ntile"),
    rows(f"SELECT ntile(2) OVER (PARTITION BY x % 2 ORDER BY x) {U}", [1, 1, 2, 2], "bigint", "ntile"),
)
def test_ranking(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)


@cases(
    rows(f"SELECT lag(x) OVER (ORDER BY x) {U}", [None, 1, 2, 3], "integer", "lag"),
    rows(f"SELECT lag(x, 2, 0) OVER (ORDER BY x) {U}", [0, 0, 1, 2], "integer", "lag"),
    rows(f"SELECT lead(x) OVER (ORDER BY x) {U}", [2, 3, 4, None], "integer", "lead"),
    rows(f"SELECT lead(x, 1, -1) OVER (ORDER BY x) {U}", [2, 3, 4, -1], "integer", "lead"),
    rows(f"SELECT first_value(x) OVER (ORDER BY x) {U}", [1, 1, 1, 1], "integer", "first_value"),
    # the default frame ends at the current row (and its peers)
    rows(f"SELECT last_value(x) OVER (ORDER BY x) {U}", [1, 2, 3, 4], "integer", "last_value"),
    rows(f"SELECT last_value(x) OVER (ORDER BY x) {T}", [1, 2, 2, 3], "integer", "last_value"),
    rows(f"SELECT last_value(x) OVER (ORDER BY x ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) {U}",
         [4, 4, 4, 4], "integer", "last_value"),  # fmt: skip
    rows(f"SELECT nth_value(x, 2) OVER (ORDER BY x) {U}", [None, 2, 2, 2], "integer", "nth_value"),
    rows(f"SELECT nth_value(x, 5) OVER (ORDER BY x ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) {U}",
         [None, None, None, None], "integer", "nth_value"),  # fmt: skip
    # IGNORE NULLS: the value functions skip NULLs
    rows("SELECT first_value(x) IGNORE NULLS OVER (ORDER BY o) FROM (VALUES (1, NULL), (2, 5)) AS t(o, x) ORDER BY o",
         [None, 5], "integer", "value-functions"),  # fmt: skip
    rows("SELECT lag(x) IGNORE NULLS OVER (ORDER BY o) FROM (VALUES (1, 4), (2, NULL), (3, 6)) AS t(o, x) ORDER BY o",
         [None, 4, 4], "integer", "value-functions"),  # fmt: skip
    rows("SELECT last_value(x) IGNORE NULLS OVER (ORDER BY o ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"
         " FROM (VALUES (1, 5), (2, NULL)) AS t(o, x) ORDER BY o", [5, 5], "integer", "value-functions"),
)
def test_value_functions(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)


@cases(
    # RANGE up to the current row's peers (the default), ROWS up to the row itself
    Case("SELECT sum(id) OVER (ORDER BY day) FROM marts_sample ORDER BY id", [3, 3, 10, 10], "bigint",
         doc=f"{DOC}#aggregate-functions", rows=True),  # fmt: skip
    Case("SELECT sum(qty) OVER (PARTITION BY day ORDER BY id) FROM marts_sample ORDER BY id", [2, 5, 1, 6],
         "bigint", doc=f"{DOC}#aggregate-functions", rows=True),  # fmt: skip
    Case("SELECT sum(qty) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM marts_sample ORDER BY id",
         [2, 5, 4, 6], "bigint", doc=f"{DOC}#aggregate-functions", rows=True),  # fmt: skip
    Case("SELECT avg(ratio) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING) FROM marts_sample ORDER BY id",
         [0.5, 1.0, 1.5, 1.0], "double", doc=f"{DOC}#aggregate-functions", rows=True),  # fmt: skip
    Case("SELECT count(*) OVER () FROM marts_sample ORDER BY id", [4, 4, 4, 4], "bigint",
         doc=f"{DOC}#aggregate-functions", rows=True),  # fmt: skip
    Case("SELECT count_if(qty > 1) OVER (ORDER BY id) FROM marts_sample ORDER BY id", [1, 2, 2, 3], "bigint",
         doc=f"{DOC}#aggregate-functions", rows=True),  # fmt: skip
)
def test_running_aggregates(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)
