"""Trino's decimal and integer arithmetic (https://trino.io/docs/current/language/types.html#decimal,
functions/decimal.html, functions/math.html, functions/aggregate.html#avg).

What DuckDB does differently, and what is done about it here:

- a decimal literal: Trino types `0.1` as decimal(1,1) (leading zeros are not digits), DuckDB as
  decimal(2,1): the literal is cast to Trino's type;
- `+ - * %` on decimals: the result is cast to Trino's precision and scale (`%` differs: Trino's
  precision is min(p1 - s1, p2 - s2) + max(s1, s2)); an integer operand is a decimal(3|5|10|19, 0);
- decimal `/`: DuckDB divides as doubles. Trino keeps a decimal of scale max(s1, s2) and precision
  min(38, p1 + s2 + max(0, s2 - s1)), rounding half away from zero: computed exactly on the
  unscaled 128-bit integers (`gg_decimal_quotient`), dividing by zero is an error as in Trino;
- `avg(decimal(p,s))` is decimal(p,s) in Trino (rounded half up), a double in DuckDB: computed
  exactly from `sum` and `count` (also under FILTER, DISTINCT and OVER);
- integer `/` integer truncates and keeps the wider integer type (`integer / integer` is an
  integer): DuckDB's `//`, which truncates toward zero like Trino;
- a decimal mixed with a double (or a real) is a double (a real), as in DuckDB: nothing to do.

The expected precisions come from Trino's `DecimalOperators` signatures and
`DecimalAverageAggregation`. Overflow is an error on both engines (DuckDB checks its integer and
decimal arithmetic). `numeric_type` is Trino's type of a numeric expression, also used to derive the
Athena types of the models' columns (`pipelines.sql.athena_types`).
"""

from __future__ import annotations

import re

from sqlglot import exp

from pipelines.sql.functions import refuse

T = exp.DataType.Type
_INTEGER_DIGITS = {T.TINYINT: 3, T.SMALLINT: 5, T.INT: 10, T.BIGINT: 19}
_INTEGER_RANK = [T.TINYINT, T.SMALLINT, T.INT, T.BIGINT]
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod)
_NUMBER = re.compile(r"^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_UNKNOWN = object()  # a decimal whose precision is not known (sqlglot's untyped DECIMAL)


def decimal(p: int, s: int) -> exp.DataType:
    return exp.DataType.build(f"DECIMAL({p}, {s})")


def literal_type(node: exp.Literal) -> exp.DataType | None:
    """Trino's type of a numeric literal: integer or bigint by its size, decimal(p,s) with a point
    (leading zeros are not digits: `0.1` is decimal(1,1)), double with an exponent."""
    text = node.this.lstrip("+-")
    if node.is_string or not _NUMBER.match(text):
        return None
    if "e" in text.lower():
        return exp.DataType.build("DOUBLE")
    if "." not in text:
        return exp.DataType.build("INT" if abs(int(text)) < 2**31 else "BIGINT")
    return _decimal_text(text)


def _decimal_text(text: str) -> exp.DataType | None:
    """decimal(p,s) of digits with or without a point (`DECIMAL '12.50'`); None if not one."""
    text = text.strip().lstrip("+-")
    if not _NUMBER.match(text) or "e" in text.lower():
        return None
    whole, _, fraction = text.partition(".")
    digits = len(whole.lstrip("0")) + len(fraction)
    return decimal(max(digits, 1), len(fraction)) if digits <= 38 else None


def precision_scale(t: exp.DataType | None) -> tuple[int, int] | object | None:
    """(p, s) of a decimal, or of an integer type seen as a decimal (bigint: (19, 0)); `_UNKNOWN`
    for a decimal without its precision; None for anything else."""
    if t is None:
        return None
    if t.this in _INTEGER_DIGITS:
        return (_INTEGER_DIGITS[t.this], 0)
    if t.this == T.DECIMAL:
        params = [int(e.name) for e in t.expressions]
        return (params[0], params[1] if len(params) > 1 else 0) if params else _UNKNOWN
    return None


def _wider_integer(a: exp.DataType, b: exp.DataType) -> exp.DataType:
    return a if _INTEGER_RANK.index(a.this) >= _INTEGER_RANK.index(b.this) else b


def arithmetic_type(op: type[exp.Expr], left: exp.DataType | None, right: exp.DataType | None) -> exp.DataType | None:
    """Trino's result type of `left <op> right` for numeric operands (None when not numeric or
    unknown; a DECIMAL without precision when an operand's precision is unknown)."""
    if left is None or right is None:
        return None
    kinds = {left.this, right.this}
    if T.DOUBLE in kinds and kinds <= {T.DOUBLE, T.FLOAT, T.DECIMAL, *_INTEGER_DIGITS}:
        return exp.DataType.build("DOUBLE")
    if T.FLOAT in kinds and kinds <= {T.FLOAT, T.DECIMAL, *_INTEGER_DIGITS}:
        return exp.DataType.build("FLOAT")
    if kinds <= set(_INTEGER_DIGITS):
        return _wider_integer(left, right)
    a, b = precision_scale(left), precision_scale(right)
    if a is None or b is None:
        return None
    if a is _UNKNOWN or b is _UNKNOWN:
        return exp.DataType.build("DECIMAL")
    (p1, s1), (p2, s2) = a, b  # type: ignore[misc]
    s = max(s1, s2)
    if op in (exp.Add, exp.Sub):
        return decimal(min(38, max(p1 - s1, p2 - s2) + s + 1), s)
    if op is exp.Mul:
        return decimal(min(38, p1 + p2), s1 + s2)
    if op is exp.Div:
        return decimal(min(38, p1 + s2 + max(0, s2 - s1)), s)
    return decimal(min(p2 - s2, p1 - s1) + s, s)  # Mod


def _aggregate(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Window | exp.Filter):
        node = node.this
    return node


def numeric_type(node: exp.Expr | None) -> exp.DataType | None:
    """Trino's type of `node` where it is numeric and Trino's rules differ from sqlglot's typing
    (literals, arithmetic, sum, avg); otherwise the type sqlglot annotated (or None)."""
    if node is None:
        return None
    if isinstance(node, exp.Cast):
        return _cast_type(node)
    if isinstance(node, exp.Literal):
        return literal_type(node)
    if isinstance(node, exp.Paren | exp.Neg):
        return numeric_type(node.this)
    if isinstance(node, _ARITHMETIC):
        return arithmetic_type(type(node), numeric_type(node.this), numeric_type(node.expression))
    inner = _aggregate(node)
    if isinstance(inner, exp.Sum | exp.Avg):
        arg = numeric_type(_distinct_arg(inner))
        ps = precision_scale(arg)
        if arg is not None and arg.this == T.DECIMAL and isinstance(ps, tuple):
            return decimal(38, ps[1]) if isinstance(inner, exp.Sum) else decimal(*ps)
        if isinstance(inner, exp.Avg) and arg is not None and (arg.this in _INTEGER_DIGITS or arg.this == T.DOUBLE):
            return exp.DataType.build("DOUBLE")
        if isinstance(inner, exp.Sum) and arg is not None and arg.this in _INTEGER_DIGITS:
            return exp.DataType.build("BIGINT")
    kind = getattr(node, "type", None)
    return None if kind is None or kind.this == T.UNKNOWN else kind


def _cast_type(node: exp.Cast) -> exp.DataType:
    """A CAST's type; `DECIMAL '1.50'` (parsed as a CAST of the text) is the literal's decimal(3,2),
    a CAST to DECIMAL without precision is Trino's decimal(38,0) (DuckDB's default: (18,3))."""
    if node.to.this != T.DECIMAL or node.to.expressions:
        return node.to
    text = node.this
    if isinstance(text, exp.Literal) and text.is_string:
        kind = _decimal_text(text.this)
        if kind is not None:
            return kind
    return decimal(38, 0)


def _distinct_arg(agg: exp.Expr) -> exp.Expr:
    arg = agg.this
    return arg.expressions[0] if isinstance(arg, exp.Distinct) and arg.expressions else arg


# -- building DuckDB expressions --------------------------------------------------------------------


def _cast(node: exp.Expr, to: exp.DataType) -> exp.Cast:
    return exp.Cast(this=node, to=to.copy())


def _number(value: int) -> exp.Expr:
    literal = exp.Literal.number(value)
    return literal if value < 2**63 else _cast(literal, exp.DataType.build("HUGEINT", dialect="duckdb"))


def _unscaled(node: exp.Expr, scale: int, extra: int = 0) -> exp.Expr:
    """The 128-bit integer `node * 10^(scale + extra)` of a decimal of scale `scale` (or an integer)."""
    hugeint = exp.DataType.build("HUGEINT", dialect="duckdb")
    value = _cast(exp.Mul(this=exp.Paren(this=node), expression=_number(10**scale)) if scale else node, hugeint)
    return exp.Mul(this=value, expression=_number(10**extra)) if extra else value


def _from_unscaled(node: exp.Expr, p: int, s: int) -> exp.Expr:
    """A decimal(p,s) from its unscaled 128-bit integer."""
    if s == 0:
        return _cast(node, decimal(p, 0))
    step = exp.Literal.number("0." + "0" * (s - 1) + "1")
    return _cast(exp.Mul(this=_cast(node, decimal(38, 0)), expression=step), decimal(p, s))


def _quotient(dividend: exp.Expr, divisor: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this="gg_decimal_quotient", expressions=[dividend, divisor])


MACROS = [
    # a / b on 128-bit integers, rounded half away from zero (Trino's decimal division and decimal
    # avg); dividing by zero is an error, a NULL operand gives NULL
    "CREATE OR REPLACE MACRO gg_decimal_quotient(a, b) AS "
    "CASE WHEN b = 0 AND a IS NOT NULL THEN error('Division by zero') "
    "ELSE sign(a) * sign(b) * ((abs(a) + abs(b) // 2) // abs(b)) END",
]


# -- the rewrites -----------------------------------------------------------------------------------


def _literal(node: exp.Expr) -> exp.Expr | None:
    """A decimal literal as a value (not a function's argument): cast to Trino's precision; a CAST
    to DECIMAL without precision: to Trino's."""
    if isinstance(node, exp.Cast) and node.to.this == T.DECIMAL and not node.to.expressions:
        node.set("to", _cast_type(node))  # in place: other families' CAST rewrites still see it
        return None
    if not isinstance(node, exp.Literal) or node.is_string or isinstance(node.parent, exp.Cast):
        return None
    parent = node.parent
    while isinstance(parent, exp.Neg | exp.Paren):
        parent = parent.parent
    if isinstance(parent, exp.Func) and not isinstance(parent, exp.Coalesce | exp.If | exp.Case):
        return None  # an argument (approx_percentile's 0.5, round's digits): the function's business
    kind = literal_type(node)
    return _cast(node, kind) if kind is not None and kind.this == T.DECIMAL else None


def _arithmetic(node: exp.Expr) -> exp.Expr | None:
    if not isinstance(node, _ARITHMETIC):
        return None
    left, right = numeric_type(node.this), numeric_type(node.expression)
    result = arithmetic_type(type(node), left, right)
    if result is None or result.this not in (T.DECIMAL, *_INTEGER_DIGITS):
        return None
    if result.this in _INTEGER_DIGITS:
        if isinstance(node, exp.Div):  # truncates toward zero, keeps the integer type
            return _cast(exp.IntDiv(this=node.this, expression=node.expression), result)
        return None
    ps = precision_scale(result)
    if not isinstance(ps, tuple):
        if isinstance(node, exp.Div):
            refuse(f"decimal division {node.sql('athena')}", "an operand's decimal precision is not known")
        return None
    if not isinstance(node, exp.Div):
        return _cast(node, result)
    (_, s1), (_, s2) = precision_scale(left), precision_scale(right)  # type: ignore[misc]
    p, s = ps
    dividend = _unscaled(node.this, s1, extra=s - s1 + s2)
    return _from_unscaled(_quotient(dividend, _unscaled(node.expression, s2)), p, s)


def _average(node: exp.Expr) -> exp.Expr | None:
    """avg(decimal(p,s)) (under FILTER / OVER: the outermost node) -> sum / count, exactly."""
    if isinstance(node.parent, exp.Window | exp.Filter):
        return None
    avg = _aggregate(node)
    if not isinstance(avg, exp.Avg):
        return None
    kind = numeric_type(node)
    ps = precision_scale(kind)
    if kind is None or kind.this != T.DECIMAL:
        arg = numeric_type(_distinct_arg(avg))
        if arg is not None and arg.this == T.DECIMAL:
            refuse(f"avg({_distinct_arg(avg).sql('athena')})", "its decimal precision is not known")
        return None
    p, s = ps  # type: ignore[misc]

    def replaced(func: exp.Expr) -> exp.Expr:
        if node is avg:
            return func
        outer = node.copy()
        _aggregate(outer).replace(func)
        return outer

    total = replaced(exp.Sum(this=avg.this.copy()))
    count = replaced(exp.Count(this=avg.this.copy()))
    hugeint = exp.DataType.build("HUGEINT", dialect="duckdb")
    return _from_unscaled(_quotient(_unscaled(total, s), _cast(count, hugeint)), p, s)


REWRITES = [_literal, _arithmetic, _average]

__all__ = ["MACROS", "REWRITES", "arithmetic_type", "decimal", "literal_type", "numeric_type", "precision_scale"]
