"""Trino's mathematical functions: https://trino.io/docs/current/functions/math.html (round is half
away from zero; the result types as the page states them, a decimal's from Trino's signatures:
round(decimal(p,s), d) is decimal(p+1,s), round/ceil/floor(decimal(p,s)) decimal(p-s+min(s,1),0))."""

from __future__ import annotations

import decimal

from pipelines.sql.duckdb_engine import DuckDBEngine
from tests.sql_conformance.harness import Case, cases, check

M = "functions/math.html"
D = decimal.Decimal


@cases(
    Case("round(2.5e0)", 3.0, "double", doc=f"{M}#round"),
    Case("round(-2.5e0)", -3.0, "double", doc=f"{M}#round"),
    Case("round(0.125e0, 2)", 0.13, "double", doc=f"{M}#round"),
    Case("round(2.5)", D("3"), "decimal(2,0)", doc=f"{M}#round"),
    Case("round(-2.5)", D("-3"), "decimal(2,0)", doc=f"{M}#round"),
    Case("round(1.255, 2)", D("1.260"), "decimal(5,3)", doc=f"{M}#round"),
    Case("round(15, -1)", 20, "integer", doc=f"{M}#round"),
    Case("SELECT round(price, 1) FROM marts_sample WHERE id = 1", D("10.30"), "decimal(13,2)", doc=f"{M}#round"),
    Case("SELECT round(price) FROM marts_sample WHERE id = 3", D("100"), "decimal(11,0)", doc=f"{M}#round"),
    # decimal(2,1) * integer is a decimal(12,1) (functions/decimal.html); rounded as any decimal
    Case("round(1.5 * 2)", D("3"), "decimal(12,0)", doc=f"{M}#round"),
    Case("round(1.5 * 2, 1)", D("3.0"), "decimal(13,1)", doc=f"{M}#round"),
    Case("truncate(2.7e0)", 2.0, "double", doc=f"{M}#truncate"),
    Case("truncate(-2.7e0)", -2.0, "double", doc=f"{M}#truncate"),
    Case("truncate(2.75, 1)", D("2.70"), "decimal(3,2)", doc=f"{M}#truncate"),
    Case("truncate(-2.7)", D("-2"), "decimal(1,0)", doc=f"{M}#truncate"),
    Case("ceil(2.1e0)", 3.0, "double", doc=f"{M}#ceil"),
    Case("ceiling(-2.1)", D("-2"), "decimal(2,0)", doc=f"{M}#ceiling"),
    Case("floor(-2.9)", D("-3"), "decimal(2,0)", doc=f"{M}#floor"),
    Case("floor(5)", 5, "integer", doc=f"{M}#floor"),
    Case("ceil(CAST(5 AS bigint))", 5, "bigint", doc=f"{M}#ceil"),
    Case("SELECT floor(price) FROM marts_sample WHERE id = 1", D("10"), "decimal(11,0)", doc=f"{M}#floor"),
    Case("mod(7, 3)", 1, "integer", doc=f"{M}#mod"),
    Case("mod(-7, 3)", -1, "integer", doc=f"{M}#mod"),
    Case("mod(7.5e0, 2e0)", 1.5, "double", doc=f"{M}#mod"),
    Case("power(2, 10)", 1024.0, "double", doc=f"{M}#power"),
    Case("sqrt(16)", 4.0, "double", doc=f"{M}#sqrt"),
    Case("ln(1)", 0.0, "double", doc=f"{M}#ln"),
    Case("log10(1000)", 3.0, "double", doc=f"{M}#log10"),
    Case("log2(8)", 3.0, "double", doc=f"{M}#log2"),
    Case("abs(-5)", 5, "integer", doc=f"{M}#abs"),
    Case("abs(-5.5)", D("5.5"), "decimal(2,1)", doc=f"{M}#abs"),
    Case("abs(-2.5e0)", 2.5, "double", doc=f"{M}#abs"),
    Case("sign(-3)", -1, "integer", doc=f"{M}#sign"),
    Case("sign(CAST(0 AS bigint))", 0, "bigint", doc=f"{M}#sign"),
    Case("sign(-2.5e0)", -1.0, "double", doc=f"{M}#sign"),
    Case("greatest(1, 2, 3)", 3, "integer", doc="functions/comparison.html#greatest"),
    Case("greatest(1, NULL, 3)", None, "integer", doc="functions/comparison.html#greatest"),
    Case("least(2e0, 1e0)", 1.0, "double", doc="functions/comparison.html#least"),
    Case("width_bucket(5.3e0, 0.2e0, 10.6e0, 5)", 3, "bigint", doc=f"{M}#width_bucket"),
    Case("width_bucket(-1e0, 0e0, 10e0, 5)", 0, "bigint", doc=f"{M}#width_bucket"),
    Case("width_bucket(10e0, 0e0, 10e0, 5)", 6, "bigint", doc=f"{M}#width_bucket"),
    Case("width_bucket(10e0, 10e0, 0e0, 5)", 1, "bigint", doc=f"{M}#width_bucket"),
    Case("width_bucket(CAST(NULL AS double), 0e0, 10e0, 5)", None, "bigint", doc=f"{M}#width_bucket"),
    Case("width_bucket(2.5e0, ARRAY[1e0, 2e0, 3e0])", 2, "bigint", doc=f"{M}#width_bucket"),
    Case("width_bucket(0.5e0, ARRAY[1e0, 2e0, 3e0])", 0, "bigint", doc=f"{M}#width_bucket"),
    Case("width_bucket(3e0, ARRAY[1e0, 2e0, 3e0])", 3, "bigint", doc=f"{M}#width_bucket"),
    Case("7 / 2", 3, "integer", doc="functions/math.html#mathematical-operators"),
    Case("-7 / 2", -3, "integer", doc="functions/math.html#mathematical-operators"),
    Case("CAST(9007199254740993 AS bigint) / 1", 9007199254740993, "bigint",
         doc="functions/math.html#mathematical-operators"),  # fmt: skip
    Case("SELECT qty / 2 FROM marts_sample ORDER BY id", [1, 1, 0, 2], "integer",
         doc="functions/math.html#mathematical-operators", rows=True),  # fmt: skip
    Case("SELECT id / qty FROM marts_sample ORDER BY id", [0, 0, 3, 0], "bigint",
         doc="functions/math.html#mathematical-operators", rows=True),  # fmt: skip
    Case("7 % 3", 1, "integer", doc="functions/math.html#mathematical-operators"),
    Case("e()", 2.718281828459045, "double", doc=f"{M}#e"),
    Case("pi()", 3.141592653589793, "double", doc=f"{M}#pi"),
    Case("is_nan(nan())", True, "boolean", doc=f"{M}#is_nan"),
    Case("infinity() > 1e308", True, "boolean", doc=f"{M}#infinity"),
    # from_base is Java's Long.parseLong(string, radix) (Trino's MathFunctions.fromBase)
    Case("from_base('ff', 16)", 255, "bigint", doc=f"{M}#from_base"),
    Case("from_base('7FFFFFFFFFFFFFFF', 16)", 9223372036854775807, "bigint", doc=f"{M}#from_base"),
    Case("from_base('-8000000000000000', 16)", -9223372036854775808, "bigint", doc=f"{M}#from_base"),
    Case("from_base('-101', 2)", -5, "bigint", doc=f"{M}#from_base"),
    Case("from_base('+42', 10)", 42, "bigint", doc=f"{M}#from_base"),
    Case("from_base(CAST(NULL AS varchar), 16)", None, "bigint", doc=f"{M}#from_base"),
    Case("from_base('8000000000000000', 16)", error="8000000000000000", doc=f"{M}#from_base"),
    Case("from_base('0x1f', 16)", error="Not a valid base-16 number", doc=f"{M}#from_base"),
    Case("from_base('12', 2)", error="Not a valid base-2 number", doc=f"{M}#from_base"),
    Case("from_base('z', 36)", error="from_base", doc=f"{M}#from_base"),
    # the first 15 hex digits of an MD5 (RFC 1321's test vector: md5("abc") = 900150983cd24fb0...)
    Case("from_base(substr(to_hex(md5(to_utf8('abc'))), 1, 15), 16)", 0x900150983CD24FB, "bigint",
         doc=f"{M}#from_base"),  # fmt: skip
)
def test_math_functions(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)
