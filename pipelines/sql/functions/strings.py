"""Trino's string functions (https://trino.io/docs/current/functions/string.html) where DuckDB's
differ or are missing:

- `split(s, d, limit)`: at most `limit` elements, the last holding the rest (sqlglot drops the limit);
- `strpos(s, sub, instance)`: the position of the n-th (from the end when negative) occurrence,
  overlapping ones counted as Trino's `indexOf` loop counts them;
- `substr(s, start[, length])`: empty for a start of 0, a start before the string's beginning
  (negative, counted from its end) or a length of 0 or less (DuckDB counts such ranges partly);
- `split_part(s, d, i)` is NULL past the last field (DuckDB: the empty string); an index < 1 fails;
- `trim`, `ltrim`, `rtrim` without characters remove Java's whitespace (tab, newline, ...; DuckDB:
  spaces only);
- `replace(s, '', r)` puts `r` around every character, as Java's String.replace (DuckDB leaves `s`);
- `lpad` / `rpad` to a negative length fail (DuckDB: the empty string);
- `codepoint(c)` (DuckDB: `unicode`) and `hamming_distance` (DuckDB: `hamming`);
- a NULL literal in `concat` / `||` keeps the result VARCHAR (DuckDB types it NULL); a number in
  them is refused (Trino has no such concat, DuckDB would print the number).

`format` (a conversion function) is in `pipelines.sql.functions.formatting`.
"""

from __future__ import annotations

from sqlglot import exp

from pipelines.sql.functions import call, refuse
from pipelines.sql.functions.argtypes import FLOATS, INTEGERS, TEXTS, T, cast, is_type, string_literal

_NUMBERS = INTEGERS | FLOATS | {T.DECIMAL}

MACROS = [
    # split(s, d, n): the first n-1 pieces, then the rest of the string joined back by d
    "CREATE OR REPLACE MACRO gg_split(s, d, n) AS CASE WHEN s IS NULL OR d IS NULL OR n IS NULL THEN NULL"
    " WHEN n <= 0 THEN error('split: limit must be positive')"
    " WHEN d = '' THEN error('split: the delimiter may not be the empty string')"
    " WHEN len(str_split(s, d)) <= n THEN str_split(s, d)"
    " ELSE list_concat(str_split(s, d)[1:n - 1], [array_to_string(str_split(s, d)[n:], d)]) END",
    # strpos(s, sub, n): the n-th start position of sub in s (n < 0: from the end), 0 if none
    "CREATE OR REPLACE MACRO gg_strpos(s, sub, n) AS CASE WHEN s IS NULL OR sub IS NULL OR n IS NULL THEN NULL"
    " WHEN n = 0 THEN error('strpos: instance must be a positive or negative number')"
    " WHEN sub = '' THEN 1"
    " ELSE CAST(coalesce(list_filter(range(1, length(s) + 1),"
    " lambda i: substr(s, i, length(sub)) = sub)[n], 0) AS BIGINT) END",
    "CREATE OR REPLACE MACRO gg_substr(s, st, n) AS CASE"
    " WHEN st = 0 OR n <= 0 OR st > length(s) OR length(s) + st < 0 THEN ''"
    " ELSE substring(s, CASE WHEN st < 0 THEN length(s) + st + 1 ELSE st END, n) END",
    "CREATE OR REPLACE MACRO gg_substr_from(s, st) AS gg_substr(s, st, length(s) + 1)",
    "CREATE OR REPLACE MACRO gg_split_part(s, d, i) AS CASE"
    " WHEN i < 1 THEN error('split_part: index must be greater than zero')"
    " WHEN i <= len(str_split(s, d)) THEN split_part(s, d, i) END",
    "CREATE OR REPLACE MACRO gg_replace(s, f, r) AS CASE WHEN f IS NULL OR r IS NULL THEN NULL"
    " WHEN f <> '' THEN replace(s, f, r)"
    " WHEN s = '' THEN r ELSE r || array_to_string(str_split(s, ''), r) || r END",
    "CREATE OR REPLACE MACRO gg_pad_length(n) AS CASE WHEN n < 0"
    " THEN error('lpad/rpad: target length must be in the range [0..2147483647]') ELSE n END",
    "CREATE OR REPLACE MACRO gg_codepoint(c) AS CASE WHEN c IS NULL THEN NULL"
    " WHEN length(c) = 1 THEN unicode(c)"
    " ELSE error('codepoint: the argument must be a single character') END",
]


# Java's Character.isWhitespace, which Trino's trim functions remove
WHITESPACE = "".join(
    chr(c)
    for c in [*range(0x09, 0x0E), *range(0x1C, 0x21), 0x1680, *range(0x2000, 0x2007), *range(0x2008, 0x200B)]
    + [0x2028, 0x2029, 0x205F, 0x3000]
)


def _non_negative(node: exp.Expr) -> bool:
    return isinstance(node, exp.Literal) and not node.is_string


def _null_as_varchar(node: exp.Expr) -> exp.Expr:
    return cast(exp.null(), "VARCHAR") if isinstance(node, exp.Null) else node


def _certain(node: exp.Expr) -> bool:
    return isinstance(node.unnest() if isinstance(node, exp.Paren) else node, exp.Literal | exp.Neg | exp.Cast)


def _concat(node: exp.Expr) -> exp.Expr | None:
    parts = node.expressions if isinstance(node, exp.Concat) else [node.this, node.expression]
    # a number for certain (a literal or a CAST; a column's type may be sqlglot's guess) next to a
    # string literal or CAST (an array's || takes an element)
    numbers = [p for p in parts if _certain(p) and is_type(p, _NUMBERS)]
    if numbers and any(_certain(p) and is_type(p, TEXTS) for p in parts):
        for part in numbers:
            refuse(f"concat/|| of the number {part.sql('athena')}", "Trino rejects it too: CAST the number to varchar")
    if not any(isinstance(p, exp.Null) for p in parts):
        return None
    new = node.copy()
    if isinstance(node, exp.Concat):
        new.set("expressions", [_null_as_varchar(e) for e in node.expressions])
    else:
        new.set("this", _null_as_varchar(node.this))
        new.set("expression", _null_as_varchar(node.expression))
    return new


def rewrite(node: exp.Expr) -> exp.Expr | None:
    if isinstance(node, exp.Substring):
        length = node.args.get("length")
        start = node.args.get("start") or exp.Literal.number(1)
        if length is None:
            return call("gg_substr_from", node.this, start)
        return call("gg_substr", node.this, start, length)
    if isinstance(node, exp.Trim) and node.args.get("expression") is None:
        new = node.copy()
        new.set("expression", exp.Literal.string(WHITESPACE))
        return new
    if isinstance(node, exp.Replace) and string_literal(node.expression) in (None, ""):
        return call("gg_replace", node.this, node.expression, node.args.get("replacement") or exp.Literal.string(""))
    if isinstance(node, exp.Pad) and not _non_negative(node.expression):
        new = node.copy()
        new.set("expression", call("gg_pad_length", node.expression))
        return new
    if isinstance(node, exp.SplitPart):
        return call("gg_split_part", node.this, node.args["delimiter"], node.args["part_index"])
    if isinstance(node, exp.Split) and node.args.get("limit") is not None:
        return call("gg_split", node.this, node.expression, node.args["limit"])
    if isinstance(node, exp.StrPosition) and node.args.get("occurrence") is not None:
        return call("gg_strpos", node.this, node.args["substr"], node.args["occurrence"])
    if isinstance(node, exp.Anonymous) and node.name.lower() == "codepoint" and len(node.expressions) == 1:
        return call("gg_codepoint", *node.expressions)
    if isinstance(node, exp.Anonymous) and node.name.lower() == "hamming_distance" and len(node.expressions) == 2:
        return call("hamming", *node.expressions)
    if isinstance(node, exp.DPipe | exp.Concat):
        return _concat(node)
    return None


REWRITES = [rewrite]
