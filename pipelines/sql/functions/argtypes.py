"""What the family rewrites need to know of an argument: its type (from the typed tree, or, for an
expression of literals in an untyped tree, from typing that expression alone) and small builders."""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types

from pipelines.sql.dialects import ATHENA
from pipelines.sql.functions.decimals import literal_type, precision_scale

T = exp.DataType.Type
INTEGERS = {T.TINYINT, T.SMALLINT, T.INT, T.BIGINT}
FLOATS = {T.DOUBLE, T.FLOAT}
TEXTS = {T.VARCHAR, T.TEXT, T.CHAR}


def literal_decimal(node: exp.Expr | None) -> tuple[int, int] | None:
    """(precision, scale) of a decimal literal such as `1.25` (Trino: DECIMAL(3,2); sqlglot says DOUBLE)."""
    if isinstance(node, exp.Neg):
        return literal_decimal(node.this)
    if not isinstance(node, exp.Literal):
        return None
    ps = precision_scale(literal_type(node))
    return ps if isinstance(ps, tuple) and literal_type(node).this == T.DECIMAL else None


def arg_type(node: exp.Expr | None) -> exp.DataType | None:
    """`node`'s type, or None when it is not known. A subtree holding a decimal literal has no
    type known here (sqlglot types those as DOUBLE) unless it is that literal or a CAST."""
    if node is None:
        return None
    ps = literal_decimal(node)
    if ps is not None:
        return exp.DataType.build(f"DECIMAL({ps[0]}, {ps[1]})")
    if isinstance(node, exp.Cast):
        return node.to if node.to.this not in (T.UNKNOWN, T.NULL) else None
    if any(literal_decimal(n) is not None for n in node.find_all(exp.Literal)):
        return None
    kind = getattr(node, "type", None)
    if kind is None or kind.this in (T.UNKNOWN, T.NULL):
        try:
            kind = annotate_types(node.copy(), dialect=ATHENA).type
        except SqlglotError:
            return None
    return None if kind is None or kind.this in (T.UNKNOWN, T.NULL) else kind


def is_type(node: exp.Expr | None, types: set[exp.DataType.Type]) -> bool:
    kind = arg_type(node)
    return kind is not None and kind.this in types


def decimal_ps(node: exp.Expr | None) -> tuple[int, int] | None:
    """(precision, scale) of an argument known to be a DECIMAL: a literal, a CAST, a typed column."""
    if isinstance(node, exp.Column | exp.Cast | exp.Literal | exp.Neg):
        kind = arg_type(node)
        ps = precision_scale(kind) if kind is not None and kind.this == T.DECIMAL else None
        return ps if isinstance(ps, tuple) else None
    return None


def cast(node: exp.Expr, to: str) -> exp.Cast:
    return exp.Cast(this=node, to=exp.DataType.build(to, dialect="duckdb"))


def string_literal(node: exp.Expr | None) -> str | None:
    return node.this if isinstance(node, exp.Literal) and node.is_string else None
