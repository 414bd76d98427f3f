"""Decimal and integer arithmetic: Trino's value and type (pipelines/sql/functions/decimals.py).

Expected types follow the precision and scale rules of functions/decimal.html (for `/`, the page's
formula has a typo; Trino's `DecimalOperators` signature is min(38, p1 + s2 + max(0, s2 - s1))),
decimal division and avg round half up (Trino's `DecimalOperators.divide*`,
`DecimalAverageAggregation`). A decimal literal's precision does not count leading zeros (`0.1` is
decimal(1,1): Trino's `Decimals.parse` and its tests; the page's `DECIMAL '0000012345.1234500000'`
example predates that). Values below are computed by hand from the sample rows in harness.py:
price 10.25, 3.10, 99.99, 0.01; qty 2, 3, 1, 5; ratio 0.5, 1.5, 2.5, -0.5; days 01-30 (ids 1, 2)
and 01-31 (ids 3, 4).
"""

from __future__ import annotations

from decimal import Decimal as D

from pipelines.sql.duckdb_engine import DuckDBEngine
from tests.sql_conformance.harness import Case, cases, check

LITERALS = "functions/decimal.html#decimal-literals"
ARITHMETIC = "functions/decimal.html#binary-arithmetic-decimal-operators"
UNARY = "functions/decimal.html#unary-decimal-operators"
DECIMAL = "language/types.html#decimal"
INTEGER = "language/types.html#integer"
BIGINT = "language/types.html#bigint"
MATH = "functions/math.html#mathematical-operators"
AVG = "functions/aggregate.html#avg"
SUM = "functions/aggregate.html#sum"
MINMAX = "functions/aggregate.html#min"
S = "marts_sample"


@cases(
    Case("1.5", D("1.5"), "decimal(2,1)", doc=LITERALS),
    Case("0.1", D("0.1"), "decimal(1,1)", doc=LITERALS),
    Case("DECIMAL '0'", D("0"), "decimal(1,0)", doc=LITERALS),
    Case("DECIMAL '12345'", D("12345"), "decimal(5,0)", doc=LITERALS),
    Case("DECIMAL '1.50'", D("1.50"), "decimal(3,2)", doc=LITERALS),
    Case("CAST(2.5 AS DECIMAL)", D("3"), "decimal(38,0)", doc=DECIMAL),  # default precision 38, scale 0
    Case("1e3", 1000.0, "double", doc="language/types.html#double"),
    Case("2147483648", 2147483648, "bigint", doc=INTEGER),
)
def test_literals(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)


@cases(
    # + -: precision min(38, 1 + max(s1, s2) + max(p1 - s1, p2 - s2)), scale max(s1, s2)
    Case("1.5 + 2.25", D("3.75"), "decimal(4,2)", doc=ARITHMETIC),
    Case("DECIMAL '10.25' - 0.5", D("9.75"), "decimal(5,2)", doc=ARITHMETIC),
    Case("DECIMAL '99.99' + 1", D("100.99"), "decimal(13,2)", doc=ARITHMETIC),  # integer: decimal(10,0)
    # *: precision min(38, p1 + p2), scale s1 + s2
    Case("1.5 * 2.25", D("3.375"), "decimal(5,3)", doc=ARITHMETIC),
    Case("CAST(1 AS DECIMAL(30,2)) * CAST(2 AS DECIMAL(30,2))", D("2.0000"), "decimal(38,4)", doc=ARITHMETIC),
    # /: precision min(38, p1 + s2 + max(0, s2 - s1)), scale max(s1, s2), half up
    Case("DECIMAL '10.00' / DECIMAL '3.0'", D("3.33"), "decimal(5,2)", doc=ARITHMETIC),
    Case("DECIMAL '2.00' / DECIMAL '3'", D("0.67"), "decimal(3,2)", doc=ARITHMETIC),
    Case("DECIMAL '-2.00' / DECIMAL '3'", D("-0.67"), "decimal(3,2)", doc=ARITHMETIC),
    Case("DECIMAL '1.00' / DECIMAL '8'", D("0.13"), "decimal(3,2)", doc=ARITHMETIC),
    Case("DECIMAL '-1.00' / 8", D("-0.13"), "decimal(3,2)", doc=ARITHMETIC),
    Case("DECIMAL '0.01' / DECIMAL '0.001'", D("10.000"), "decimal(6,3)", doc=ARITHMETIC),
    Case("DECIMAL '1' / DECIMAL '0.3'", D("3.3"), "decimal(3,1)", doc=ARITHMETIC),
    Case("CAST(NULL AS DECIMAL(5,2)) / DECIMAL '0'", None, "decimal(5,2)", doc=ARITHMETIC),
    Case("DECIMAL '1.00' / DECIMAL '0'", error="Division by zero", doc=ARITHMETIC),
    # %: precision min(p1 - s1, p2 - s2) + max(s1, s2), scale max(s1, s2); the sign of the dividend
    Case("DECIMAL '7.5' % DECIMAL '2'", D("1.5"), "decimal(2,1)", doc=ARITHMETIC),
    Case("DECIMAL '-7.5' % 2", D("-1.5"), "decimal(2,1)", doc=ARITHMETIC),
    Case("-DECIMAL '1.50'", D("-1.50"), "decimal(3,2)", doc=UNARY),
    # a decimal with a double is a double
    Case("1.5 + 1e0", 2.5, "double", doc=DECIMAL),
    Case("DECIMAL '3.0' / 2e0", 1.5, "double", doc=DECIMAL),
    Case("CAST(1.5 AS real) + DECIMAL '1.5'", 3.0, "real", doc="language/types.html#real"),
)
def test_decimal_operators(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)


@cases(
    Case("7 / 2", 3, "integer", doc=MATH),  # integer division truncates
    Case("-7 / 2", -3, "integer", doc=MATH),
    Case("CAST(7 AS bigint) / 2", 3, "bigint", doc=MATH),
    Case("CAST(7 AS tinyint) / CAST(2 AS tinyint)", 3, "tinyint", doc=MATH),
    Case("9007199254740993 / 1", 9007199254740993, "bigint", doc=MATH),  # exact: not through a double
    Case("-7 % 3", -1, "integer", doc="functions/math.html#mod"),
    Case("CAST(NULL AS integer) / 0", None, "integer", doc=MATH),
    Case("7 / 0", error="Division by zero", doc=MATH),
    Case("2147483647 + 1", error="overflow", doc=INTEGER),  # integer range: an error, no widening
    Case("9223372036854775807 + 1", error="overflow", doc=BIGINT),
    Case("CAST(2147483647 AS bigint) + 1", 2147483648, "bigint", doc=BIGINT),
)
def test_integer_operators(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)


@cases(
    Case(f"SELECT sum(price) FROM {S}", D("113.35"), "decimal(38,2)", doc=SUM),
    Case(f"SELECT avg(price) FROM {S}", D("28.34"), "decimal(12,2)", doc=AVG),  # 28.3375
    Case(f"SELECT avg(price) FILTER (WHERE id <= 2) FROM {S}", D("6.68"), "decimal(12,2)", doc=AVG),  # 6.675
    Case(f"SELECT avg(DISTINCT price) FROM {S}", D("28.34"), "decimal(12,2)", doc=AVG),
    Case(f"SELECT avg(price) FROM {S} WHERE id > 99", None, "decimal(12,2)", doc=AVG),
    Case(f"SELECT avg(price) OVER (PARTITION BY day) FROM {S} ORDER BY id",
         [D("6.68"), D("6.68"), D("50.00"), D("50.00")], "decimal(12,2)", doc=AVG, rows=True),  # fmt: skip
    Case(f"SELECT -avg(price) FROM {S} WHERE id <= 2", D("-6.68"), "decimal(12,2)", doc=AVG),
    Case(f"SELECT min(price) FROM {S}", D("0.01"), "decimal(12,2)", doc=MINMAX),
    Case(f"SELECT max(price) FROM {S}", D("99.99"), "decimal(12,2)", doc="functions/aggregate.html#max"),
    Case(f"SELECT sum(qty) FROM {S}", 11, "bigint", doc=SUM),
    Case(f"SELECT avg(qty) FROM {S}", 2.75, "double", doc=AVG),
    Case(f"SELECT sum(price) / count(*) FROM {S}", D("28.34"), "decimal(38,2)", doc=ARITHMETIC),
)
def test_decimal_aggregates(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)


@cases(
    Case(f"SELECT price / qty FROM {S} ORDER BY id", [D("5.13"), D("1.03"), D("99.99"), D("0.00")],
         "decimal(12,2)", doc=ARITHMETIC, rows=True),  # fmt: skip
    Case(f"SELECT price * qty FROM {S} ORDER BY id", [D("20.50"), D("9.30"), D("99.99"), D("0.05")],
         "decimal(22,2)", doc=ARITHMETIC, rows=True),  # fmt: skip
    Case(f"SELECT price + id FROM {S} ORDER BY id", [D("11.25"), D("5.10"), D("102.99"), D("4.01")],
         "decimal(22,2)", doc=ARITHMETIC, rows=True),  # fmt: skip
    Case(f"SELECT price % qty FROM {S} ORDER BY id", [D("0.25"), D("0.10"), D("0.99"), D("0.01")],
         "decimal(12,2)", doc=ARITHMETIC, rows=True),  # fmt: skip
    Case(f"SELECT price * ratio FROM {S} ORDER BY id", [5.125, 4.65, 249.975, -0.005], "double",
         doc=DECIMAL, rows=True),  # fmt: skip
    Case(f"SELECT (price * ratio) / 2 FROM {S} ORDER BY id", [2.5625, 2.325, 124.9875, -0.0025], "double",
         doc=DECIMAL, rows=True),  # fmt: skip
    Case(f"SELECT qty / 2 FROM {S} ORDER BY id", [1, 1, 0, 2], "integer", doc=MATH, rows=True),
    Case(f"WITH t AS (SELECT price / qty AS x FROM {S}) SELECT sum(x) FROM t", D("106.15"), "decimal(38,2)",
         doc=ARITHMETIC),  # fmt: skip
    # a CTE's column keeps Trino's type in the query that reads it
    Case(f"WITH t AS (SELECT price / qty AS x FROM {S}) SELECT x / 2 FROM t ORDER BY x",
         [D("0.00"), D("0.52"), D("2.57"), D("50.00")], "decimal(12,2)", doc=ARITHMETIC, rows=True),  # fmt: skip
    Case(f"WITH t AS (SELECT price * 2 AS x FROM {S}) SELECT x / 3 FROM t ORDER BY x",
         [D("0.01"), D("2.07"), D("6.83"), D("66.66")], "decimal(22,2)", doc=ARITHMETIC, rows=True),  # fmt: skip
    Case(f"WITH t AS (SELECT avg(price) OVER () AS a FROM {S}) SELECT max(a / 2) FROM t", D("14.17"),
         "decimal(12,2)", doc=AVG),  # fmt: skip
)
def test_decimal_columns(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)

