"""Trino's mathematical functions (https://trino.io/docs/current/functions/math.html) where DuckDB's
differ in type or are missing:

- `round(decimal(p,s), d)` is a decimal(p+1, s) (DuckDB: decimal(p, d)); `round(decimal(p,s))` a
  decimal(p-s+min(s,1), 0); a decimal expression whose precision is not known here is refused;
- `truncate(decimal(p,s)[, d])`: decimal(max(1, p-s), 0), or decimal(p, s) with digits;
- `ceil` / `floor` of an integer keep its type (DuckDB: double), of a decimal give
  decimal(p-s+min(s,1), 0);
- `sign` has its argument's type (DuckDB: tinyint); of a decimal, decimal(1,0);
- `width_bucket(x, bound1, bound2, n)` and `width_bucket(x, bins)`, `e()`, `nan()`, `infinity()` (missing in DuckDB);
- `from_base(string, radix)` (missing in DuckDB) for a literal radix 2, 10 or 16: Java's
  `Long.parseLong` (an optional sign, then digits of the radix in either case; anything else, or a
  value outside bigint, fails); another radix is refused.
"""

from __future__ import annotations

from sqlglot import exp

from pipelines.sql.functions import call, refuse
from pipelines.sql.functions.argtypes import FLOATS, INTEGERS, arg_type, cast, decimal_ps, literal_decimal

MACROS = [
    "CREATE OR REPLACE MACRO gg_width_bucket(x, b1, b2, n) AS CAST(CASE"
    " WHEN n <= 0 THEN error('width_bucket: bucketCount must be greater than 0')"
    " WHEN b1 = b2 THEN error('width_bucket: bounds cannot equal each other')"
    " WHEN b1 < b2 THEN (CASE WHEN x < b1 THEN 0 WHEN x >= b2 THEN n + 1"
    " ELSE floor((x - b1) / (b2 - b1) * n) + 1 END)"
    " ELSE (CASE WHEN x > b1 THEN 0 WHEN x <= b2 THEN n + 1"
    " ELSE floor((b1 - x) / (b1 - b2) * n) + 1 END) END AS BIGINT)",
    # width_bucket(x, bins): how many of the (ascending) bins are <= x
    # from_base: the digits (a sign, then the radix's digits: `pattern`) read by DuckDB's cast with
    # the radix's prefix ('0x', '0b' or none), through HUGEINT so that -2^63 and overflow behave
    "CREATE OR REPLACE MACRO gg_from_base_wide(s, prefix) AS"
    " CASE WHEN starts_with(s, '-') THEN -1 ELSE 1 END * TRY_CAST(prefix || ltrim(s, '+-') AS HUGEINT)",
    "CREATE OR REPLACE MACRO gg_from_base(s, radix, prefix, pattern) AS CASE WHEN s IS NULL THEN NULL"
    " WHEN regexp_full_match(s, pattern) AND gg_from_base_wide(s, prefix)"
    " BETWEEN -9223372036854775808 AND 9223372036854775807 THEN CAST(gg_from_base_wide(s, prefix) AS BIGINT)"
    " ELSE error('Not a valid base-' || radix || ' number: ' || s) END",
    "CREATE OR REPLACE MACRO gg_width_bucket_bins(x, bins) AS CASE WHEN x IS NULL OR bins IS NULL THEN NULL"
    " ELSE CAST(len(list_filter(bins, lambda b: b <= x)) AS BIGINT) END",
]

_CONSTANTS = {
    "e": lambda: call("exp", exp.Literal.number(1)),
    "nan": lambda: cast(exp.Literal.string("NaN"), "DOUBLE"),
    "infinity": lambda: cast(exp.Literal.string("Infinity"), "DOUBLE"),
}


def _maybe_decimal(node: exp.Expr) -> bool:
    """An expression that may be a DECIMAL whose precision and scale are not known here."""
    kind = arg_type(node)
    if kind is not None:
        return kind.this == exp.DataType.Type.DECIMAL
    return any(literal_decimal(n) is not None for n in node.find_all(exp.Literal)) or any(
        getattr(c, "type", None) is not None and c.type.this == exp.DataType.Type.DECIMAL
        for c in node.find_all(exp.Column)
    )


def _whole_decimal(p: int, s: int) -> str:
    return f"DECIMAL({min(38, max(1, p - s + min(s, 1)))}, 0)"


_NO_PS = "its decimal precision and scale are not known to the embedded engine"


# Trino's result type of round / truncate of a decimal(p, s): without digits, with digits
_DECIMAL_RESULTS = {
    "round": (lambda p, s: _whole_decimal(p, s), lambda p, s: f"DECIMAL({min(38, p + 1)}, {s})"),
    "truncate": (lambda p, s: f"DECIMAL({max(1, p - s)}, 0)", lambda p, s: f"DECIMAL({p}, {s})"),
}


def _round_or_truncate(node: exp.Round | exp.Trunc, name: str) -> exp.Expr | None:
    ps = decimal_ps(node.this)
    if ps is None:
        if _maybe_decimal(node.this):
            refuse(f"{name}(<decimal expression>)", _NO_PS)
        return None
    whole, with_digits = _DECIMAL_RESULTS[name]
    return cast(node, (whole if node.args.get("decimals") is None else with_digits)(*ps))


def _ceil_floor(node: exp.Ceil | exp.Floor) -> exp.Expr | None:
    if node.args.get("decimals") is not None:
        return None
    kind = arg_type(node.this)
    if kind is not None and kind.this in INTEGERS:
        return node.this
    ps = decimal_ps(node.this)
    if ps is not None:
        return cast(node, _whole_decimal(*ps))
    if kind is None and _maybe_decimal(node.this):
        refuse(f"{node.key}(<decimal expression>)", _NO_PS)
    return None


def _sign(node: exp.Sign) -> exp.Expr | None:
    kind = arg_type(node.this)
    if kind is not None and kind.this in INTEGERS | FLOATS:
        return cast(node, kind.sql("duckdb"))
    if decimal_ps(node.this) is not None or _maybe_decimal(node.this):
        return cast(node, "DECIMAL(1, 0)")
    return None


# radix -> (the cast's prefix, the digits)
_BASES = {2: ("0b", "[01]"), 10: ("", "[0-9]"), 16: ("0x", "[0-9a-fA-F]")}


def _from_base(node: exp.FromBase) -> exp.Expr:
    radix = node.expression
    value = int(radix.this) if isinstance(radix, exp.Literal) and not radix.is_string else None
    if value not in _BASES:
        refuse(f"from_base(..., {radix.sql('athena')})", "only a literal radix 2, 10 or 16 is supported")
    prefix, digits = _BASES[value]
    args = [exp.Literal.number(value), exp.Literal.string(prefix), exp.Literal.string(f"[+-]?{digits}+")]
    return call("gg_from_base", node.this, *args)


def rewrite(node: exp.Expr) -> exp.Expr | None:
    if isinstance(node, exp.FromBase):
        return _from_base(node)
    if isinstance(node, exp.Round | exp.Trunc):
        return _round_or_truncate(node, "round" if isinstance(node, exp.Round) else "truncate")
    if isinstance(node, exp.Ceil | exp.Floor):
        return _ceil_floor(node)
    if isinstance(node, exp.Sign):
        return _sign(node)
    if isinstance(node, exp.WidthBucket) and node.args.get("max_value") is None:
        return call("gg_width_bucket_bins", node.this, node.args["min_value"])
    if isinstance(node, exp.WidthBucket):
        args = [node.this, node.args["min_value"], node.args["max_value"], node.args["num_buckets"]]
        return call("gg_width_bucket", *args)
    if isinstance(node, exp.Anonymous) and not node.expressions and node.name.lower() in _CONSTANTS:
        return _CONSTANTS[node.name.lower()]()
    return None


REWRITES = [rewrite]
