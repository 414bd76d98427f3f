"""Trino's conversion functions: https://trino.io/docs/current/functions/conversion.html, and the
casts of https://trino.io/docs/current/language/types.html (a double cast to an integer type rounds
half away from zero; a double or real cast to varchar is the SQL standard's approximate numeric
literal, mantissa and exponent, as Trino prints it: 1.5E0, 0E0; a real with at most 7 significant
digits, rounded half to even)."""

from __future__ import annotations

import decimal

from pipelines.sql.duckdb_engine import DuckDBEngine
from tests.sql_conformance.harness import Case, cases, check

C = "functions/conversion.html"


@cases(
    Case("CAST(2.5e0 AS integer)", 3, "integer", doc=f"{C}#cast"),
    Case("CAST(-2.5e0 AS bigint)", -3, "bigint", doc=f"{C}#cast"),
    Case("CAST(0.5e0 AS smallint)", 1, "smallint", doc=f"{C}#cast"),
    Case("CAST(3.5e0 AS bigint)", 4, "bigint", doc=f"{C}#cast"),
    Case("CAST(2.4e0 AS integer)", 2, "integer", doc=f"{C}#cast"),
    Case("CAST(2.5 AS integer)", 3, "integer", doc=f"{C}#cast"),
    Case("SELECT CAST(ratio AS bigint) FROM marts_sample ORDER BY id", [1, 2, 3, -1], "bigint", doc=f"{C}#cast",
         rows=True),  # fmt: skip
    Case("try_cast(2.5e0 AS integer)", 3, "integer", doc=f"{C}#try_cast"),
    Case("CAST(CAST(NULL AS double) AS integer)", None, "integer", doc=f"{C}#cast"),
    Case("CAST('12' AS integer)", 12, "integer", doc=f"{C}#cast"),
    Case("CAST('-7' AS bigint)", -7, "bigint", doc=f"{C}#cast"),
    Case("CAST(CAST(NULL AS varchar) AS integer)", None, "integer", doc=f"{C}#cast"),
    Case("SELECT CAST(note AS integer) FROM marts_sample WHERE id = 1", None, "integer", doc=f"{C}#cast"),
    Case("CAST('1.5' AS integer)", error="cannot cast", doc=f"{C}#cast"),
    Case("CAST(' 12 ' AS integer)", 12, "integer", doc=f"{C}#cast"),
    Case("CAST(chr(9) || '+7' || chr(10) AS bigint)", 7, "bigint", doc=f"{C}#cast"),
    Case("CAST('1 2' AS integer)", error="cannot cast", doc=f"{C}#cast"),
    Case("try_cast('' AS integer)", None, "integer", doc=f"{C}#try_cast"),
    Case("try_cast('abc' AS integer)", None, "integer", doc=f"{C}#try_cast"),
    Case("try_cast('1.5' AS integer)", None, "integer", doc=f"{C}#try_cast"),
    Case("try_cast('12' AS integer)", 12, "integer", doc=f"{C}#try_cast"),
    Case("CAST('1.5' AS double)", 1.5, "double", doc=f"{C}#cast"),
    Case("CAST('TRUE' AS boolean)", True, "boolean", doc=f"{C}#cast"),
    Case("CAST('f' AS boolean)", False, "boolean", doc=f"{C}#cast"),
    Case("CAST('0' AS boolean)", False, "boolean", doc=f"{C}#cast"),
    Case("CAST('yes' AS boolean)", error="cannot cast", doc=f"{C}#cast"),
    Case("try(CAST('1.5' AS integer))", None, "integer", doc="functions/conditional.html#try"),
    Case("try_cast('yes' AS boolean)", None, "boolean", doc=f"{C}#try_cast"),
    Case("SELECT CAST(note AS boolean) FROM marts_sample WHERE id = 1", None, "boolean", doc=f"{C}#cast"),
    Case("to_hex(from_hex('ff'))", "FF", "varchar", doc="functions/binary.html#to_hex"),
    Case("CAST('1.50' AS decimal(5,2))", decimal.Decimal("1.50"), "decimal(5,2)", doc=f"{C}#cast"),
    Case("CAST(1.5e0 AS varchar)", "1.5E0", "varchar", doc=f"{C}#cast"),
    Case("CAST(100e0 AS varchar)", "1.0E2", "varchar", doc=f"{C}#cast"),
    Case("CAST(12345678.9e0 AS varchar)", "1.23456789E7", "varchar", doc=f"{C}#cast"),
    Case("CAST(1e7 AS varchar)", "1.0E7", "varchar", doc=f"{C}#cast"),
    Case("CAST(0.0001e0 AS varchar)", "1.0E-4", "varchar", doc=f"{C}#cast"),
    Case("CAST(-0.001e0 AS varchar)", "-1.0E-3", "varchar", doc=f"{C}#cast"),
    Case("CAST(0e0 AS varchar)", "0E0", "varchar", doc=f"{C}#cast"),
    Case("CAST(CAST(1.5 AS real) AS varchar)", "1.5E0", "varchar", doc=f"{C}#cast"),
    Case("CAST(CAST(NULL AS double) AS varchar)", None, "varchar", doc=f"{C}#cast"),
    Case("SELECT CAST(ratio AS varchar) FROM marts_sample ORDER BY id", ["5.0E-1", "1.5E0", "2.5E0", "-5.0E-1"],
         "varchar", doc=f"{C}#cast", rows=True),  # fmt: skip
    Case("CAST(-infinity() AS varchar)", "-Infinity", "varchar", doc=f"{C}#cast"),
    Case("CAST(CAST(1.2345678 AS real) AS varchar)", "1.234568E0", "varchar", doc=f"{C}#cast"),
    Case("CAST(CAST(1234568.5 AS real) AS varchar)", "1.234568E6", "varchar", doc=f"{C}#cast"),
    Case("CAST(nan() AS varchar)", "NaN", "varchar", doc=f"{C}#cast"),
    Case("CAST(1.50 AS varchar)", "1.50", "varchar", doc=f"{C}#cast"),
    Case("CAST(5 AS varchar)", "5", "varchar", doc=f"{C}#cast"),
    Case("typeof(1)", "integer", "varchar", doc=f"{C}#typeof"),
    Case("typeof(1.5)", "decimal(2,1)", "varchar", doc=f"{C}#typeof"),
    Case("typeof(1.5e0)", "double", "varchar", doc=f"{C}#typeof"),
    Case("typeof('cat')", "varchar(3)", "varchar", doc=f"{C}#typeof"),
    Case("typeof(CAST(1 AS real))", "real", "varchar", doc=f"{C}#typeof"),
    Case("typeof(ARRAY[1, 2])", "array(integer)", "varchar", doc=f"{C}#typeof"),
    Case("SELECT typeof(price) FROM marts_sample WHERE id = 1", "decimal(12,2)", "varchar", doc=f"{C}#typeof"),
    Case("SELECT typeof(name) FROM marts_sample WHERE id = 1", "varchar", "varchar", doc=f"{C}#typeof"),
    Case("SELECT typeof(tags) FROM marts_sample WHERE id = 1", "array(varchar)", "varchar", doc=f"{C}#typeof"),
    Case("SELECT typeof(sold_at) FROM marts_sample WHERE id = 1", "timestamp(3)", "varchar",
         doc="connector/hive.html#hive-general-configuration-properties"),  # fmt: skip (timestamp precision: ms)
    Case("typeof(CAST(1 AS bigint) * 2)", "bigint", "varchar", doc=f"{C}#typeof"),
    Case("typeof(ARRAY[ARRAY[1]])", "array(array(integer))", "varchar", doc=f"{C}#typeof"),
    Case("typeof(CAST(ROW(1, 'a') AS ROW(x integer, y varchar)))", "row(x integer, y varchar)", "varchar",
         doc=f"{C}#typeof"),  # fmt: skip
    Case("typeof(CAST('2026-01-01 00:00:00 UTC' AS timestamp(3) with time zone))", "timestamp(3) with time zone",
         "varchar", doc=f"{C}#typeof"),  # fmt: skip
    Case("SELECT typeof(attrs) FROM marts_sample WHERE id = 1", "map(varchar, bigint)", "varchar", doc=f"{C}#typeof"),
    Case("typeof(length('abc'))", "bigint", "varchar", doc=f"{C}#typeof"),
    Case("typeof(MAP(ARRAY['a'], ARRAY[1]))", error="typeof", doc=f"{C}#typeof"),
    Case("typeof(upper('ab'))", error="typeof", doc=f"{C}#typeof"),
    Case("to_hex(to_utf8('abc'))", "616263", "varchar", doc="functions/binary.html#to_hex"),
    Case("from_hex('616263')", b"abc", "varbinary", doc="functions/binary.html#from_hex"),
)
def test_conversions(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)
