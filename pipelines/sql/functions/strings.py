"""Trino's string functions (https://trino.io/docs/current/functions/string.html) where DuckDB's
differ or are missing:

- `split(s, d, limit)`: at most `limit` elements, the last holding the rest (sqlglot drops the limit);
- `strpos(s, sub, instance)`: the position of the n-th (from the end when negative) occurrence,
  overlapping ones counted as Trino's `indexOf` loop counts them;
- `codepoint(c)` (DuckDB: `unicode`) and `hamming_distance` (DuckDB: `hamming`);
- a NULL literal in `concat` / `||` keeps the result VARCHAR (DuckDB types it NULL).

`format` (a conversion function) is in `pipelines.sql.functions.formatting`.
"""

from __future__ import annotations

from sqlglot import exp

from pipelines.sql.functions.argtypes import call, cast

MACROS = [
    # split(s, d, n): the first n-1 pieces, then the rest of the string joined back by d
    "CREATE OR REPLACE MACRO gg_split(s, d, n) AS CASE"
    " WHEN n <= 0 THEN error('split: limit must be positive')"
    " WHEN len(str_split(s, d)) <= n THEN str_split(s, d)"
    " ELSE list_concat(str_split(s, d)[1:n - 1], [array_to_string(str_split(s, d)[n:], d)]) END",
    # strpos(s, sub, n): the n-th start position of sub in s (n < 0: from the end), 0 if none
    "CREATE OR REPLACE MACRO gg_strpos(s, sub, n) AS CASE"
    " WHEN n = 0 THEN error('strpos: instance must be a positive or negative number')"
    " ELSE CAST(coalesce(list_filter(range(1, length(s) + 1),"
    " lambda i: substr(s, i, length(sub)) = sub)[n], 0) AS BIGINT) END",
    "CREATE OR REPLACE MACRO gg_codepoint(c) AS CASE WHEN length(c) = 1 THEN unicode(c)"
    " ELSE error('codepoint: the argument must be a single character') END",
]


def _null_as_varchar(node: exp.Expr) -> exp.Expr:
    return cast(exp.null(), "VARCHAR") if isinstance(node, exp.Null) else node


def rewrite(node: exp.Expr) -> exp.Expr | None:
    if isinstance(node, exp.Split) and node.args.get("limit") is not None:
        return call("gg_split", node.this, node.expression, node.args["limit"])
    if isinstance(node, exp.StrPosition) and node.args.get("occurrence") is not None:
        return call("gg_strpos", node.this, node.args["substr"], node.args["occurrence"])
    if isinstance(node, exp.Anonymous) and node.name.lower() == "codepoint" and len(node.expressions) == 1:
        return call("gg_codepoint", *node.expressions)
    if isinstance(node, exp.Anonymous) and node.name.lower() == "hamming_distance" and len(node.expressions) == 2:
        return call("hamming", *node.expressions)
    if isinstance(node, exp.DPipe) and (isinstance(node.this, exp.Null) or isinstance(node.expression, exp.Null)):
        return node.__class__(this=_null_as_varchar(node.this), expression=_null_as_varchar(node.expression))
    if isinstance(node, exp.Concat) and any(isinstance(e, exp.Null) for e in node.expressions):
        new = node.copy()
        new.set("expressions", [_null_as_varchar(e) for e in node.expressions])
        return new
    return None


REWRITES = [rewrite]
