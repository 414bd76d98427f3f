"""Array functions and operators (https://trino.io/docs/current/functions/array.html): 1-based
positions, NULL elements and empty arrays as Trino treats them."""

from __future__ import annotations

import datetime as dt

from pipelines.sql.duckdb_engine import DuckDBEngine
from tests.sql_conformance.harness import Case, cases, check

DOC = "functions/array.html"


@cases(
    Case("ARRAY[1, 2, NULL, -4, NULL]", [1, 2, None, -4, None], "array(integer)", doc=DOC),
    Case("cardinality(ARRAY[1, 2, 4])", 3, "bigint", doc=f"{DOC}#cardinality"),
    Case("cardinality(ARRAY[])", 0, "bigint", doc=f"{DOC}#cardinality"),
    Case("cardinality(CAST(NULL AS array(integer)))", None, "bigint", doc=f"{DOC}#cardinality"),
    Case("SELECT cardinality(tags) FROM marts_sample ORDER BY id", [2, 1, 0, 2], "bigint", doc=f"{DOC}#cardinality",
         rows=True),  # fmt: skip
    Case("element_at(ARRAY[1, 2, 4], 2)", 2, "integer", doc=f"{DOC}#element_at"),
    Case("element_at(ARRAY[1, 2, 4], 5)", None, "integer", doc=f"{DOC}#element_at"),
    Case("element_at(ARRAY[1, 2, 4], -1)", 4, "integer", doc=f"{DOC}#element_at"),
    Case("element_at(ARRAY[1, 2, 4], -4)", None, "integer", doc=f"{DOC}#element_at"),
    # index 0 fails as the subscript operator does (Trino's ArraySubscriptOperator.checkIndex, which
    # element_at shares for 0: "SQL array indices start at 1")
    Case("element_at(ARRAY[1, 2, 4], 0)", error="SQL array indices start at 1", doc=f"{DOC}#element_at"),
    Case("SELECT element_at(tags, 2) FROM marts_sample ORDER BY id", ["switch", None, None, "xbox"], "varchar",
         doc=f"{DOC}#element_at", rows=True),  # fmt: skip
    Case("ARRAY[1, 2, 4][2]", 2, "integer", doc=f"{DOC}#subscript-operator"),
    Case("SELECT tags[1] FROM marts_sample WHERE id = 1", "rpg", "varchar", doc=f"{DOC}#subscript-operator"),
    Case("SELECT x[i] FROM (SELECT ARRAY[10, 20, 30] AS x, 2 AS i)", 20, "integer", doc=f"{DOC}#subscript-operator"),
    Case("SELECT x[2] FROM (SELECT ARRAY[10, 20, 30] AS x)", 20, "integer", doc=f"{DOC}#subscript-operator"),
    # the subscript operator fails where element_at gives NULL
    Case("ARRAY[1, 2, 4][5]", error="out of bounds", doc=f"{DOC}#element_at"),
    Case("contains(ARRAY[1, 2], 2)", True, "boolean", doc=f"{DOC}#contains"),
    Case("contains(ARRAY[1, 2], 3)", False, "boolean", doc=f"{DOC}#contains"),
    # NULL elements: unknown whether absent (Trino's ArrayContains and ArrayMaxFunction return NULL)
    Case("contains(ARRAY[1, NULL], 3)", None, "boolean", doc=f"{DOC}#contains"),
    Case("contains(ARRAY[1, NULL], 1)", True, "boolean", doc=f"{DOC}#contains"),
    Case("contains(ARRAY[1, 2], NULL)", None, "boolean", doc=f"{DOC}#contains"),
    Case("array_max(ARRAY[1, NULL, 3])", None, "integer", doc=f"{DOC}#array_max"),
    Case("array_min(ARRAY[1, NULL, 3])", None, "integer", doc=f"{DOC}#array_min"),
    Case("SELECT contains(tags, 'fps') FROM marts_sample ORDER BY id", [False, True, False, True], "boolean",
         doc=f"{DOC}#contains", rows=True),  # fmt: skip
    Case("array_join(ARRAY['a', NULL, 'b'], ',')", "a,b", "varchar", doc=f"{DOC}#array_join"),
    Case("array_join(ARRAY['a', NULL, 'b'], ',', 'x')", "a,x,b", "varchar", doc=f"{DOC}#array_join"),
    Case("array_join(ARRAY[1, 2], '-')", "1-2", "varchar", doc=f"{DOC}#array_join"),
    Case("array_distinct(ARRAY[3, 1, 3, 2, 1])", [3, 1, 2], "array(integer)", doc=f"{DOC}#array_distinct"),
    Case("array_sort(ARRAY[3, 2, NULL, 5, 1])", [1, 2, 3, 5, None], "array(integer)", doc=f"{DOC}#array_sort"),
    Case("array_sort(ARRAY['b', 'a'])", ["a", "b"], "array(varchar)", doc=f"{DOC}#array_sort"),
    Case("array_sort(ARRAY[3, 2, 5, 1, 2], (x, y) -> IF(x < y, 1, IF(x = y, 0, -1)))", error="array_sort",
         doc=f"{DOC}#array_sort"),  # fmt: skip
    Case("array_max(ARRAY[1, 3, 2])", 3, "integer", doc=f"{DOC}#array_max"),
    Case("array_min(ARRAY['b', 'a'])", "a", "varchar", doc=f"{DOC}#array_min"),
    Case("array_max(CAST(ARRAY[] AS array(integer)))", None, "integer", doc=f"{DOC}#array_max"),
    Case("array_position(ARRAY[10, 20, 30, 20], 20)", 2, "bigint", doc=f"{DOC}#array_position"),
    Case("array_position(ARRAY[10, 20], 40)", 0, "bigint", doc=f"{DOC}#array_position"),
    Case("slice(ARRAY[1, 2, 3, 4], 2, 2)", [2, 3], "array(integer)", doc=f"{DOC}#slice"),
    Case("slice(ARRAY[1, 2, 3, 4], -2, 2)", [3, 4], "array(integer)", doc=f"{DOC}#slice"),
    Case("slice(ARRAY[1, 2, 3, 4], 3, 5)", [3, 4], "array(integer)", doc=f"{DOC}#slice"),
    Case("sequence(1, 5)", [1, 2, 3, 4, 5], "array(bigint)", doc=f"{DOC}#sequence"),
    Case("sequence(5, 1)", [5, 4, 3, 2, 1], "array(bigint)", doc=f"{DOC}#sequence"),
    Case("sequence(1, 10, 3)", [1, 4, 7, 10], "array(bigint)", doc=f"{DOC}#sequence"),
    Case("sequence(DATE '2020-01-01', DATE '2020-01-03')",
         [dt.date(2020, 1, 1), dt.date(2020, 1, 2), dt.date(2020, 1, 3)], "array(date)", doc=f"{DOC}#sequence"),
    Case("sequence(DATE '2020-01-03', DATE '2020-01-01')",
         [dt.date(2020, 1, 3), dt.date(2020, 1, 2), dt.date(2020, 1, 1)], "array(date)", doc=f"{DOC}#sequence"),
    Case("flatten(ARRAY[ARRAY[1, 2], ARRAY[3]])", [1, 2, 3], "array(integer)", doc=f"{DOC}#flatten"),
    Case("SELECT b FROM UNNEST(zip(ARRAY[1, 2], ARRAY['1b', NULL, '3b'])) AS t(a, b)", ["1b", None, "3b"],
         "varchar", doc=f"{DOC}#zip", rows=True),  # fmt: skip
    Case("SELECT a FROM UNNEST(zip(ARRAY[1, 2], ARRAY['1b', NULL, '3b'])) AS t(a, b)", [1, 2, None],
         "integer", doc=f"{DOC}#zip", rows=True),  # fmt: skip
    Case("ARRAY[1] || ARRAY[2]", [1, 2], "array(integer)", doc=f"{DOC}#concatenation-operator"),
    Case("ARRAY[1] || 2", [1, 2], "array(integer)", doc=f"{DOC}#concatenation-operator"),
    Case("2 || ARRAY[1]", [2, 1], "array(integer)", doc=f"{DOC}#concatenation-operator"),
)
def test_array_functions(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)


@cases(
    Case("transform(ARRAY[5, 6], x -> x + 1)", [6, 7], "array(integer)", doc=f"{DOC}#transform"),
    Case("transform(ARRAY[5, NULL, 6], x -> coalesce(x, 0) + 1)", [6, 1, 7], "array(integer)",
         doc=f"{DOC}#transform"),  # fmt: skip
    Case("transform(ARRAY['x', 'abc', 'z'], x -> x || '0')", ["x0", "abc0", "z0"], "array(varchar)",
         doc=f"{DOC}#transform"),  # fmt: skip
    Case("filter(ARRAY[5, -6, NULL, 7], x -> x > 0)", [5, 7], "array(integer)", doc=f"{DOC}#filter"),
    Case("filter(ARRAY[5, NULL, 7, NULL], x -> x IS NOT NULL)", [5, 7], "array(integer)", doc=f"{DOC}#filter"),
    Case("reduce(ARRAY[5, 20, 50], 0, (s, x) -> s + x, s -> s)", 75, "integer", doc=f"{DOC}#reduce"),
    Case("reduce(ARRAY[5, 20, NULL, 50], 0, (s, x) -> s + x, s -> s)", None, "integer", doc=f"{DOC}#reduce"),
    Case("reduce(ARRAY[5, 20, NULL, 50], 0, (s, x) -> s + coalesce(x, 0), s -> s)", 75, "integer",
         doc=f"{DOC}#reduce"),  # fmt: skip
    Case("reduce(CAST(ARRAY[] AS array(integer)), 0, (s, x) -> s + x, s -> s)", 0, "integer", doc=f"{DOC}#reduce"),
    Case("reduce(ARRAY[5, 20], 0, (s, x) -> s + x, s -> s * 10)", 250, "integer", doc=f"{DOC}#reduce"),
)
def test_lambdas(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)
