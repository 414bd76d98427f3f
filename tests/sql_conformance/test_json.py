"""Trino's JSON functions and casts: https://trino.io/docs/current/functions/json.html (values from
the page's examples; JSON results are compared through `json_format`, whose type is varchar)."""

from __future__ import annotations

from pipelines.sql.duckdb_engine import DuckDBEngine
from tests.sql_conformance.harness import Case, cases, check

J = "functions/json.html"
DOC = '\'{"store": {"book": [{"title": "A"}, {"title": "B"}], "open": true, "n": 2, "none": null}}\''


@cases(
    Case(f"json_extract_scalar({DOC}, '$.store.book[0].title')", "A", "varchar", doc=f"{J}#json_extract_scalar"),
    Case(f"json_extract_scalar({DOC}, '$.store.n')", "2", "varchar", doc=f"{J}#json_extract_scalar"),
    Case(f"json_extract_scalar({DOC}, '$.store.open')", "true", "varchar", doc=f"{J}#json_extract_scalar"),
    Case(f"json_extract_scalar({DOC}, '$.store.book')", None, "varchar", doc=f"{J}#json_extract_scalar"),
    Case(f"json_extract_scalar({DOC}, '$.store')", None, "varchar", doc=f"{J}#json_extract_scalar"),
    Case(f"json_extract_scalar({DOC}, '$.missing')", None, "varchar", doc=f"{J}#json_extract_scalar"),
    Case(f"json_extract_scalar({DOC}, '$.store.none')", None, "varchar", doc=f"{J}#json_extract_scalar"),
    Case("json_extract_scalar('{\"a\": 10.5, \"b\": [-1.25]}', '$.b[0]')", "-1.25", "varchar",
         doc=f"{J}#json_extract_scalar"),  # fmt: skip
    Case("json_extract_scalar('{\"price\": 10.50}', '$.price')", error="json_extract_scalar",
         doc=f"{J}#json_extract_scalar"),  # fmt: skip (Trino: '10.50', the document's text)
    Case(f"json_format(json_extract({DOC}, '$.store.book[1]'))", '{"title":"B"}', "varchar",
         doc=f"{J}#json_extract"),  # fmt: skip
    Case(f"json_extract({DOC}, '$.missing') IS NULL", True, "boolean", doc=f"{J}#json_extract"),
    Case("json_format(json_parse('[1, 2]'))", "[1,2]", "varchar", doc=f"{J}#json_parse"),
    Case("json_format(JSON '{\"a\": 1}')", '{"a":1}', "varchar", doc=f"{J}#json_format"),
    Case("json_array_length('[1, 2, 3]')", 3, "bigint", doc=f"{J}#json_array_length"),
    Case("json_array_length('[]')", 0, "bigint", doc=f"{J}#json_array_length"),
    Case("json_array_length('{\"a\": 1}')", None, "bigint", doc=f"{J}#json_array_length"),
    Case("json_size('{\"x\": {\"a\": 1, \"b\": 2}}', '$.x')", 2, "bigint", doc=f"{J}#json_size"),
    Case("json_size('{\"x\": [1, 2, 3]}', '$.x')", 3, "bigint", doc=f"{J}#json_size"),
    Case("json_size('{\"x\": {\"a\": 1, \"b\": 2}}', '$.x.a')", 0, "bigint", doc=f"{J}#json_size"),
    Case("json_size('{\"x\": 1}', '$.missing')", None, "bigint", doc=f"{J}#json_size"),
    Case("json_size(CAST(NULL AS varchar), '$.x')", None, "bigint", doc=f"{J}#json_size"),
    Case("json_array_length(CAST(NULL AS varchar))", None, "bigint", doc=f"{J}#json_array_length"),
    Case("json_extract_scalar(CAST(NULL AS varchar), '$.a')", None, "varchar", doc=f"{J}#json_extract_scalar"),
    Case("is_json_scalar('1')", True, "boolean", doc=f"{J}#is_json_scalar"),
    Case("is_json_scalar('[1, 2, 3]')", False, "boolean", doc=f"{J}#is_json_scalar"),
    Case("CAST(JSON '\"abc\"' AS varchar)", "abc", "varchar", doc=f"{J}#cast-from-json"),
    Case("CAST(JSON '1' AS varchar)", "1", "varchar", doc=f"{J}#cast-from-json"),
    Case("CAST(JSON 'null' AS varchar)", None, "varchar", doc=f"{J}#cast-from-json"),
    Case("CAST(json_extract('{\"a\": \"x\"}', '$.a') AS varchar)", "x", "varchar", doc=f"{J}#cast-from-json"),
    Case("CAST(JSON '1' AS integer)", 1, "integer", doc=f"{J}#cast-from-json"),
    Case("CAST(JSON '10.5' AS varchar)", "1.05E1", "varchar", doc=f"{J}#cast-from-json"),
    Case("CAST(JSON '[1.5, \"a\", 2, null, true]' AS array(varchar))", ["1.5E0", "a", "2", None, "true"],
         "array(varchar)", doc=f"{J}#cast-from-json"),  # fmt: skip
    Case("CAST(JSON '[[1], 2]' AS array(varchar))", error="JSON array", doc=f"{J}#cast-from-json"),
    Case("element_at(CAST(JSON '{\"k\": \"v\", \"n\": 1.5}' AS map(varchar, varchar)), 'n')", "1.5E0",
         "varchar", doc=f"{J}#cast-from-json"),  # fmt: skip
    Case("CAST(JSON '[1, 23, 456]' AS array(integer))", [1, 23, 456], "array(integer)", doc=f"{J}#cast-from-json"),
    Case("json_format(CAST('abc' AS JSON))", '"abc"', "varchar", doc=f"{J}#cast-to-json"),
    Case("json_format(CAST(1 AS JSON))", "1", "varchar", doc=f"{J}#cast-to-json"),
    Case("json_format(CAST(ARRAY[1, 23, 456] AS JSON))", "[1,23,456]", "varchar", doc=f"{J}#cast-to-json"),
)
def test_json_functions(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)
