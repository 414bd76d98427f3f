"""Map functions and operators (https://trino.io/docs/current/functions/map.html). A map comes back
as Arrow's list of (key, value) pairs."""

from __future__ import annotations

from pipelines.sql.duckdb_engine import DuckDBEngine
from tests.sql_conformance.harness import Case, cases, check

DOC = "functions/map.html"


@cases(
    Case("map()", [], "map(unknown, unknown)", doc=f"{DOC}#map"),
    Case("map(ARRAY[1, 3], ARRAY[2, 4])", [(1, 2), (3, 4)], "map(integer, integer)", doc=f"{DOC}#map"),
    Case("cardinality(map(ARRAY['a', 'b'], ARRAY[1, 2]))", 2, "bigint", doc=f"{DOC}#cardinality"),
    Case("SELECT cardinality(attrs) FROM marts_sample ORDER BY id", [1, 2, 0, 1], "bigint", doc=f"{DOC}#cardinality",
         rows=True),  # fmt: skip
    Case("element_at(map(ARRAY['a', 'b'], ARRAY[1, 2]), 'b')", 2, "integer", doc=f"{DOC}#element_at"),
    Case("element_at(map(ARRAY['a', 'b'], ARRAY[1, 2]), 'c')", None, "integer", doc=f"{DOC}#element_at"),
    Case("SELECT element_at(attrs, 'a') FROM marts_sample ORDER BY id", [1, 2, None, None], "bigint",
         doc=f"{DOC}#element_at", rows=True),  # fmt: skip
    Case("map(ARRAY['a', 'b'], ARRAY[1, 2])['b']", 2, "integer", doc=f"{DOC}#subscript-operator"),
    Case("SELECT attrs['b'] FROM marts_sample WHERE id = 2", 3, "bigint", doc=f"{DOC}#subscript-operator"),
    Case("SELECT m[3] FROM (SELECT map(ARRAY[1, 3], ARRAY[2, 4]) AS m)", 4, "integer", doc=f"{DOC}#subscript-operator"),
    Case("SELECT element_at(m, 3) FROM (SELECT map(ARRAY[1, 3], ARRAY[2, 4]) AS m)", 4, "integer",
         doc=f"{DOC}#element_at"),  # fmt: skip
    # the subscript operator fails on a missing key where element_at gives NULL
    Case("map(ARRAY['a'], ARRAY[1])['c']", error="key not present", doc=f"{DOC}#subscript-operator"),
    Case("map_keys(map(ARRAY['a', 'b'], ARRAY[1, 2]))", ["a", "b"], "array(varchar)", doc=f"{DOC}#map_keys"),
    Case("map_values(map(ARRAY['a', 'b'], ARRAY[1, 2]))", [1, 2], "array(integer)", doc=f"{DOC}#map_values"),
    Case("map_from_entries(ARRAY[(1, 'x'), (2, 'y')])", [(1, "x"), (2, "y")], "map(integer, varchar)",
         doc=f"{DOC}#map_from_entries"),  # fmt: skip
    Case("SELECT v FROM UNNEST(map_entries(map(ARRAY[1, 2], ARRAY['x', 'y']))) AS t(k, v)", ["x", "y"], "varchar",
         doc=f"{DOC}#map_entries", rows=True),  # fmt: skip
    Case("SELECT map_agg(k, v) FROM (VALUES ('a', 1), ('b', 2)) AS t(k, v)", [("a", 1), ("b", 2)],
         "map(varchar, integer)", doc="functions/aggregate.html#map_agg"),  # fmt: skip
    Case("SELECT cardinality(map_agg(k, v)) FROM (VALUES ('a', 1), ('b', 2)) AS t(k, v)", 2, "bigint",
         doc="functions/aggregate.html#map_agg"),  # fmt: skip
    Case("SELECT map_agg(k, v) FROM (VALUES ('a', 1)) AS t(k, v) WHERE v > 1", None, "map(varchar, integer)",
         doc="functions/aggregate.html#map_agg"),  # fmt: skip
)
def test_map_functions(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)
