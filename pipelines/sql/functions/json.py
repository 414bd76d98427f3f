"""Trino's JSON functions (https://trino.io/docs/current/functions/json.html) where DuckDB's differ:

- `json_extract_scalar` of an object or an array is NULL (DuckDB: its JSON text); of a fractional
  number, the document's text (DuckDB reprints it: `10.50` -> `10.5`, so one it reprints
  differently fails the query);
- `json_array_length` is a BIGINT, NULL for what is not an array (DuckDB: UBIGINT, 0);
- `json_size(json, path)` (missing in DuckDB) and `is_json_scalar`;
- `CAST(json AS varchar)` gives a JSON string's value (DuckDB: its quoted text), NULL for JSON null,
  a fractional number as `CAST(double AS varchar)` (`1.5E0`), and fails for an object or array as in
  Trino; so do the elements of `CAST(json AS array(varchar))` and `map(varchar, varchar)`;
- `CAST(varchar AS json)` makes a JSON string (DuckDB parses the text).
"""

from __future__ import annotations

from sqlglot import exp

from pipelines.sql.functions import call
from pipelines.sql.functions.argtypes import TEXTS, T, arg_type, is_type

MACROS = [
    # a fractional number is printed by DuckDB in its shortest form, Trino gives the document's text:
    # refused (an error) when that shortest form is not a number token of the document (10.50, 1e2)
    "CREATE OR REPLACE MACRO gg_json_extract_scalar(j, p) AS CASE"
    " WHEN json_type(j, p) IN ('OBJECT', 'ARRAY') THEN NULL"
    " WHEN json_type(j, p) = 'DOUBLE' AND NOT regexp_matches(CAST(j AS VARCHAR),"
    " '(^|[:\\[,])\\s*' || regexp_escape(json_extract_string(j, p)) || '\\s*($|[,}\\]])')"
    " THEN error('json_extract_scalar: the number''s text in the document (' || json_extract_string(j, p)"
    " || ' as DuckDB reads it) cannot be reproduced; Athena gives it as written')"
    " ELSE json_extract_string(j, p) END",
    "CREATE OR REPLACE MACRO gg_json_array_length(j) AS"
    " CASE WHEN json_type(j) = 'ARRAY' THEN CAST(json_array_length(j) AS BIGINT) END",
    "CREATE OR REPLACE MACRO gg_json_size(j, p) AS CAST(CASE WHEN json_type(j, p) IS NULL THEN NULL"
    " WHEN json_type(j, p) = 'OBJECT' THEN len(json_keys(j, p))"
    " WHEN json_type(j, p) = 'ARRAY' THEN json_array_length(j, p) ELSE 0 END AS BIGINT)",
    "CREATE OR REPLACE MACRO gg_is_json_scalar(j) AS json_type(j) NOT IN ('OBJECT', 'ARRAY')",
    "CREATE OR REPLACE MACRO gg_json_to_varchar(j) AS CASE json_type(j)"
    " WHEN 'NULL' THEN NULL WHEN 'VARCHAR' THEN json_extract_string(j, '$')"
    " WHEN 'OBJECT' THEN error('cannot cast a JSON object to varchar')"
    " WHEN 'ARRAY' THEN error('cannot cast a JSON array to varchar')"
    " WHEN 'DOUBLE' THEN gg_double_to_varchar(CAST(j AS DOUBLE))"  # Trino: as CAST(double AS varchar)
    " ELSE CAST(j AS VARCHAR) END",
    "CREATE OR REPLACE MACRO gg_json_to_varchar_array(j) AS"
    " list_transform(CAST(j AS JSON[]), lambda x: gg_json_to_varchar(x))",
    "CREATE OR REPLACE MACRO gg_json_to_varchar_map(j) AS map_from_entries(list_transform("
    " map_entries(CAST(j AS MAP(VARCHAR, JSON))), lambda e: {'k': e.key, 'v': gg_json_to_varchar(e.value)}))",
]

_CALLS = {
    ("json_array_length", 1): "gg_json_array_length",
    ("json_size", 2): "gg_json_size",
    ("is_json_scalar", 1): "gg_is_json_scalar",
}


def _is_json(node: exp.Expr) -> bool:
    if isinstance(node, exp.ParseJSON | exp.JSONExtract):
        return True
    kind = arg_type(node)
    return kind is not None and kind.this == T.JSON


def _text_collection(kind: exp.DataType) -> bool:
    """ARRAY(varchar) or MAP(varchar, varchar): their JSON elements become text as CAST(json AS varchar)."""
    parts = [p for p in kind.expressions if isinstance(p, exp.DataType)]
    return (kind.this, len(parts)) in ((T.ARRAY, 1), (T.MAP, 2)) and all(p.this in TEXTS for p in parts)


def rewrite(node: exp.Expr) -> exp.Expr | None:
    if isinstance(node, exp.JSONExtractScalar):
        return call("gg_json_extract_scalar", node.this, node.expression)
    if isinstance(node, exp.Anonymous):
        name = _CALLS.get((node.name.lower(), len(node.expressions)))
        return call(name, *node.expressions) if name else None
    if isinstance(node, exp.Cast) and _is_json(node.this) and _text_collection(node.to):
        macro = "gg_json_to_varchar_array" if node.to.this == T.ARRAY else "gg_json_to_varchar_map"
        return call(macro, node.this)
    if isinstance(node, exp.Cast) and node.to.this in TEXTS and _is_json(node.this):
        json_value = call("gg_json_to_varchar", node.this)
        return exp.TryCast(this=json_value, to=node.to) if isinstance(node, exp.TryCast) else json_value
    if isinstance(node, exp.Cast) and node.to.this == T.JSON and is_type(node.this, TEXTS):
        return call("to_json", node.this)
    return None


REWRITES = [rewrite]
