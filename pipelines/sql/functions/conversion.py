"""Trino's conversion functions (https://trino.io/docs/current/functions/conversion.html) where
DuckDB's differ:

- `CAST(double AS integer|bigint|...)` rounds half away from zero (DuckDB: half to even);
- `CAST(varchar AS integer|bigint|...)` accepts only an integer's sign and digits, with what Java's
  trim removes around them (DuckDB also reads and rounds `'1.5'`); `try_cast` gives NULL for the rest;
- `CAST(varchar AS boolean)` reads only t, f, 1, 0, true and false, in any case;
- `CAST(double|real AS varchar)` prints as Trino does (`1.5E0`, `1.0E7`: see
  `pipelines.sql.functions.numbertext`);
- `typeof` names types as Trino does (`integer`, `decimal(12,2)`, `array(varchar)`,
  `varchar(3)` for a string literal); a text expression of literals only is refused (Trino gives it
  a bounded `varchar(n)` this engine does not track).
"""

from __future__ import annotations

from sqlglot import exp

from pipelines.sql.functions import call, refuse
from pipelines.sql.functions.argtypes import FLOATS, INTEGERS, TEXTS, arg_type, cast, is_type, string_literal

MACROS = [
    # the text to cast, or one DuckDB's CAST cannot read and that names the value (so try_cast gives
    # NULL, and the macro may stand inside TRY, which refuses error())
    # Trino: Long.parseLong(s.trim()): an optional sign and digits, around them what Java's trim
    # removes (U+0000 to U+0020)
    "CREATE OR REPLACE MACRO gg_integer_text(s) AS CASE"
    " WHEN regexp_full_match(s, '[\\x00-\\x20]*[+-]?[0-9]+[\\x00-\\x20]*') THEN regexp_extract(s, '[+-]?[0-9]+')"
    " ELSE 'cannot cast ''' || s || ''' to an integer' END",
    # Trino reads t, f, 1, 0, true, false in any case (DuckDB also yes, no, y, n, ...)
    "CREATE OR REPLACE MACRO gg_boolean_text(s) AS CASE"
    " WHEN lower(s) IN ('t', '1', 'true') THEN 'true' WHEN lower(s) IN ('f', '0', 'false') THEN 'false'"
    " ELSE 'cannot cast ''' || s || ''' to boolean' END",
    # DuckDB's type names (typeof) as Trino's: lower case, arrays, rows, real, timestamp(3)
    "CREATE OR REPLACE MACRO gg_trino_type_name(t) AS CASE"
    " WHEN t = '\"NULL\"' THEN 'unknown'"
    " WHEN regexp_matches(replace(t, 'WITH TIME ZONE', ''),"
    " '(HUGEINT|UBIGINT|UINTEGER|USMALLINT|UTINYINT|INTERVAL|\\bTIME\\b|TIMESTAMP_)')"
    " THEN error('typeof: DuckDB type ' || t || ' has no Trino name here')"
    " ELSE regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace("
    " regexp_replace(lower(t), 'struct\\(', 'row(', 'g'), '\\bfloat\\b', 'real', 'g'),"
    " '\\bblob\\b', 'varbinary', 'g'), '\\btimestamp\\b', 'timestamp(3)', 'g'),"
    " '([a-z0-9_]+(\\([^()]*\\))?)\\[\\]', 'array(\\1)', 'g'),"
    " '([a-z0-9_]+(\\([^()]*\\))?)\\[\\]', 'array(\\1)', 'g'),"
    " '([a-z0-9_]+(\\([^()]*\\))?)\\[\\]', 'array(\\1)', 'g') END",
    "CREATE OR REPLACE MACRO gg_trino_type_name_literals(t) AS CASE WHEN t LIKE '%VARCHAR%'"
    " THEN error('typeof: Trino types string literals as a bounded varchar(n)') ELSE gg_trino_type_name(t) END",
]


def _holds_text(kind: exp.DataType) -> bool:
    return any(isinstance(t, exp.DataType) and t.this in TEXTS for t in kind.walk())


def _bounded_text(node: exp.Expr) -> bool:
    """An expression of literals whose type may hold a string literal's varchar(n) (Trino types
    `'ab'` as varchar(2), `ARRAY['a']` as array(varchar(1))): a string literal under no CAST, and
    no column, and a type that is or holds a text (or is not known)."""
    kind = arg_type(node)
    if any(True for _ in node.find_all(exp.Column)) or (kind is not None and not _holds_text(kind)):
        return False
    for literal in node.find_all(exp.Literal):
        if not literal.is_string:
            continue
        ancestor = literal.parent
        while ancestor is not None and ancestor is not node.parent and not isinstance(ancestor, exp.Cast):
            ancestor = ancestor.parent
        if not isinstance(ancestor, exp.Cast):
            return True
    return False


def _typeof(node: exp.Typeof) -> exp.Expr:
    text = string_literal(node.this)
    if text is not None:
        return exp.Literal.string(f"varchar({len(text)})")
    if _bounded_text(node.this):
        kind = arg_type(node.this)
        if kind is not None:
            refuse(f"typeof({node.this.sql('athena')})", "Trino types string literals as a bounded varchar(n)")
        # a type not known here (another family's rewrite): refused when it turns out to hold a text
        return call("gg_trino_type_name_literals", call("typeof", node.this))
    return call("gg_trino_type_name", call("typeof", node.this))


def rewrite(node: exp.Expr) -> exp.Expr | None:
    if isinstance(node, exp.Typeof):
        return _typeof(node)
    if not isinstance(node, exp.Cast):
        return None
    target = node.to.this
    if target in INTEGERS and is_type(node.this, FLOATS):
        return node.__class__(this=call("round", node.this), to=node.to)
    if target in INTEGERS and is_type(node.this, TEXTS):
        return node.__class__(this=call("gg_integer_text", node.this), to=node.to)
    if target == exp.DataType.Type.BOOLEAN and is_type(node.this, TEXTS):
        return node.__class__(this=call("gg_boolean_text", node.this), to=node.to)
    if target in TEXTS and is_type(node.this, FLOATS):
        real = is_type(node.this, {exp.DataType.Type.FLOAT})
        text = call("gg_real_to_varchar" if real else "gg_double_to_varchar", node.this)
        return text if node.to.this != exp.DataType.Type.CHAR else cast(text, node.to.sql("duckdb"))
    return None


REWRITES = [rewrite]
