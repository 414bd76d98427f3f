"""Clauses and operators of Trino's SELECT (https://trino.io/docs/current/sql/select.html) and
its conditional, comparison and logical operators, as the models and an analyst write them:
UNNEST in all its forms, set operations, grouping sets, FILTER, OFFSET/FETCH, the default NULL
ordering, recursive WITH, three-valued logic; and the names Athena gives unnamed columns."""

from __future__ import annotations

from pipelines.sql.duckdb_engine import DuckDBEngine
from tests.sql_conformance.harness import Case, cases, check

SELECT = "sql/select.html"
LOGIC = "functions/logical.html#effect-of-null-on-logical-operators"
STUDENTS = "(VALUES ('John', ARRAY[7, 10, 9]), ('Mary', ARRAY[4, 8, 9])) AS tests (student, scores)"


@cases(
    # the page's own examples
    Case(f"SELECT concat(student, '=', CAST(score AS varchar)) FROM {STUDENTS} CROSS JOIN UNNEST(scores) AS t(score) "
         "ORDER BY student, score", ["John=7", "John=9", "John=10", "Mary=4", "Mary=8", "Mary=9"], "varchar",
         doc=f"{SELECT}#unnest", rows=True),
    Case("SELECT n * 10 + a FROM (VALUES (ARRAY[2, 5]), (ARRAY[7, 8, 9])) AS x (numbers) "
         "CROSS JOIN UNNEST(numbers) WITH ORDINALITY AS t(n, a) ORDER BY 1", [21, 52, 71, 82, 93], "bigint",
         doc=f"{SELECT}#unnest", rows=True),
    Case("SELECT concat(language, '=', CAST(first_appeared_year AS varchar)) FROM "
         "UNNEST(map_from_entries(ARRAY[('SQL', 1974), ('Java', 1995)])) AS t(language, first_appeared_year) "
         "ORDER BY 1", ["Java=1995", "SQL=1974"], "varchar", doc=f"{SELECT}#unnest", rows=True),
    # several arrays side by side, the shorter padded with NULL
    Case("SELECT coalesce(CAST(a AS varchar), 'null') || '/' || b "
         "FROM UNNEST(ARRAY[1, 2], ARRAY['a', 'b', 'c']) AS t(a, b) ORDER BY b", ["1/a", "2/b", "null/c"],
         "varchar", doc=f"{SELECT}#unnest", rows=True),
    Case("SELECT o FROM UNNEST(ARRAY[1], ARRAY[5, 6, 7]) WITH ORDINALITY AS t(a, b, o) ORDER BY o", [1, 2, 3],
         "bigint", doc=f"{SELECT}#unnest", rows=True),
    # an array of rows: one column per field, bound by position
    Case("SELECT CAST(a AS varchar) || '/' || b FROM UNNEST(ARRAY[ROW(1, 'x'), ROW(2, 'y')]) AS t(a, b) ORDER BY a",
         ["1/x", "2/y"], "varchar", doc=f"{SELECT}#unnest", rows=True),
    Case("SELECT sum(b) FROM UNNEST(ARRAY[ROW('a', 1), ROW('b', 2)]) AS t(a, b)", 3, "bigint",
         doc=f"{SELECT}#unnest"),
    # the lake table's array and map columns (tags: 2 + 1 + 0 + 2 elements; attrs' values sum to 10)
    Case("SELECT count(*) FROM marts_sample CROSS JOIN UNNEST(tags) AS t(tag)", 5, "bigint", doc=f"{SELECT}#unnest"),
    Case("SELECT count(*) FROM marts_sample LEFT JOIN UNNEST(tags) AS t(tag) ON true", 6, "bigint",
         doc=f"{SELECT}#unnest"),
    Case("SELECT sum(v) FROM marts_sample CROSS JOIN UNNEST(attrs) AS t(k, v)", 10, "bigint", doc=f"{SELECT}#unnest"),
    # a map's values are typed: bigint / integer stays an integer division (10 / 4 = 2), not 2.5
    Case("SELECT sum(v) / 4 FROM marts_sample CROSS JOIN UNNEST(attrs) AS t(k, v)", 2, "bigint",
         doc="functions/math.html#mathematical-operators"),
    Case("SELECT count(*) FROM marts_sample CROSS JOIN UNNEST(attrs) WITH ORDINALITY AS t(k, v, o) WHERE o = 2", 1,
         "bigint", doc=f"{SELECT}#unnest"),
)  # fmt: skip
def test_unnest(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)


@cases(
    # "The default null ordering is NULLS LAST, regardless of the ordering direction."
    Case("SELECT x FROM (VALUES 3, NULL, 1) AS t(x) ORDER BY x", [1, 3, None], "integer",
         doc=f"{SELECT}#order-by-clause", rows=True),
    Case("SELECT x FROM (VALUES 3, NULL, 1) AS t(x) ORDER BY x DESC", [3, 1, None], "integer",
         doc=f"{SELECT}#order-by-clause", rows=True),
    Case("SELECT x FROM (VALUES 3, NULL, 1) AS t(x) ORDER BY x DESC NULLS FIRST", [None, 3, 1], "integer",
         doc=f"{SELECT}#order-by-clause", rows=True),
    Case("SELECT count(*) FROM (SELECT 1 UNION ALL SELECT 1 UNION SELECT 2)", 2, "bigint",
         doc=f"{SELECT}#union-clause"),
    Case("SELECT x FROM (VALUES 1, 1, 2, 3) t(x) INTERSECT SELECT x FROM (VALUES 1, 1, 3) t(x) ORDER BY 1", [1, 3],
         "integer", doc=f"{SELECT}#intersect-clause", rows=True),
    Case("SELECT x FROM (VALUES 1, 1, 2, 3) t(x) EXCEPT SELECT x FROM (VALUES 3) t(x) ORDER BY 1", [1, 2],
         "integer", doc=f"{SELECT}#except-clause", rows=True),
    Case("SELECT grouping(a, b) FROM (VALUES (1, 2)) t(a, b) GROUP BY ROLLUP (a, b) ORDER BY 1", [0, 1, 3],
         "bigint", doc=f"{SELECT}#grouping-operation", rows=True),
    Case("SELECT count(*) FROM (SELECT a, b FROM (VALUES (1, 2), (1, 3)) t(a, b) GROUP BY CUBE (a, b))", 6,
         "bigint", doc=f"{SELECT}#cube"),
    Case("SELECT count(*) FROM (SELECT 1 FROM (VALUES (1, 2), (1, 3)) t(a, b) GROUP BY GROUPING SETS ((a), (a, b)))",
         3, "bigint", doc=f"{SELECT}#complex-grouping-operations"),
    Case("SELECT count(*) FILTER (WHERE x > 1) FROM (VALUES 1, 2, 3) t(x)", 2, "bigint",
         doc="functions/aggregate.html#filtering-during-aggregation"),
    Case("SELECT x FROM (VALUES 1, 2, 3, 4) t(x) ORDER BY x OFFSET 1 ROWS FETCH FIRST 2 ROWS ONLY", [2, 3], "integer",
         doc=f"{SELECT}#offset-clause", rows=True),
    Case("SELECT max(x) FROM (VALUES 1, 2) t(x) HAVING count(*) > 1", 2, "integer", doc=f"{SELECT}#having-clause"),
    Case("SELECT count(DISTINCT x) FROM (VALUES 1, 1, NULL) t(x)", 1, "bigint", doc="functions/aggregate.html#count"),
    Case("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 4) SELECT sum(n) FROM t", 10,
         "bigint", doc=f"{SELECT}#with-recursive-clause"),
    Case("SELECT EXISTS (SELECT 1 WHERE false)", False, "boolean", doc=f"{SELECT}#exists"),
    Case("SELECT (SELECT max(x) FROM (VALUES 1, 5) t(x))", 5, "integer", doc=f"{SELECT}#scalar-subquery"),
)  # fmt: skip
def test_select_clauses(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)


@cases(
    Case("NULL IS DISTINCT FROM NULL", False, "boolean",
         doc="functions/comparison.html#is-distinct-from-and-is-not-distinct-from"),
    Case("1 IS DISTINCT FROM NULL", True, "boolean",
         doc="functions/comparison.html#is-distinct-from-and-is-not-distinct-from"),
    Case("'a_c' LIKE 'a#_c' ESCAPE '#'", True, "boolean", doc="functions/comparison.html#like"),
    Case("'abc' LIKE 'a%'", True, "boolean", doc="functions/comparison.html#like"),
    Case("2 BETWEEN 1 AND NULL", None, "boolean", doc="functions/comparison.html#range-operator-between"),
    Case("SELECT x FROM (VALUES 1, 2, 3) t(x) WHERE x IN (1, NULL)", [1], "integer",
         doc="functions/comparison.html#in", rows=True),
    Case("2 NOT IN (1, NULL)", None, "boolean", doc="functions/comparison.html#in"),
    Case("true AND NULL", None, "boolean", doc=LOGIC),
    Case("false AND NULL", False, "boolean", doc=LOGIC),
    Case("true OR NULL", True, "boolean", doc=LOGIC),
    Case("NOT CAST(NULL AS boolean)", None, "boolean", doc=LOGIC),
    Case("CASE WHEN NULL THEN 1 ELSE 2 END", 2, "integer", doc="functions/conditional.html#case"),
    Case("CASE 2 WHEN 1 THEN 'one' WHEN 2 THEN 'two' END", "two", "varchar(3)", doc="functions/conditional.html#case"),
    Case("if(1 > 2, 'yes')", None, "varchar(3)", doc="functions/conditional.html#if"),
    Case("if(1 < 2, 'yes', 'no')", "yes", "varchar(3)", doc="functions/conditional.html#if"),
    Case("coalesce(NULL, 2, 3)", 2, "integer", doc="functions/conditional.html#coalesce"),
    Case("nullif(1, 1)", None, "integer", doc="functions/conditional.html#nullif"),
    Case("try(CAST('x' AS integer))", None, "integer", doc="functions/conditional.html#try"),
)  # fmt: skip
def test_operators(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)


def test_unnamed_columns_are_named_as_athena_names_them(engine: DuckDBEngine) -> None:
    # Athena names an output column without a name `_col<position>` (0-based), named ones keep theirs
    table = engine.query("SELECT 1, 2 + 3 AS five, upper('a') FROM marts_sample LIMIT 1")
    assert table.column_names == ["_col0", "five", "_col2"]
