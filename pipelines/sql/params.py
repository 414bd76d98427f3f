"""Literals and query parameters: a Python value as an Athena literal (`to_literal`, `sql_literal`)
and back (`literal_value`), and `?` / `:name` placeholders bound to values on the syntax tree
(`bind_params`) or on the text, the rest kept as written (`bind_params_text`).
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Mapping, Sequence
from typing import Any

from sqlglot import exp, tokens

from pipelines.sql.dialects import ATHENA, TranspileError
from pipelines.sql.text_edits import apply_edits


def to_literal(value: Any) -> exp.Expr:
    """A Python value as an Athena literal: str, int, float, Decimal, bool, None, date, datetime."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return exp.Cast(this=exp.Literal.string(value.isoformat(sep=" ")), to=exp.DataType.build("TIMESTAMP"))
    if isinstance(value, dt.date):
        return exp.Cast(this=exp.Literal.string(value.isoformat()), to=exp.DataType.build("DATE"))
    if isinstance(value, int | float | decimal.Decimal):
        return exp.Literal.number(value) if value >= 0 else exp.Neg(this=exp.Literal.number(-value))
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, list | tuple):
        return exp.Array(expressions=[to_literal(v) for v in value])
    raise TypeError(f"cannot use a {type(value).__name__} as an SQL parameter")


def literal_value(node: exp.Expr) -> tuple[bool, Any]:
    """An Athena literal as a Python value: `(True, value)` for a string, a number (int when it is
    one, else float), a boolean, a negated number or one of these in parentheses; `(False, None)`
    for anything else."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal):
        return True, (node.this if node.is_string else _number(node.this))
    if isinstance(node, exp.Boolean):
        return True, bool(node.this)
    if isinstance(node, exp.Neg):
        ok, value = literal_value(node.this)
        if ok and isinstance(value, int | float) and not isinstance(value, bool):
            return True, -value
    return False, None


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


def sql_literal(value: Any) -> str:
    """`to_literal(value)` as Athena text."""
    return to_literal(value).sql(ATHENA)


def bind_params(tree: exp.Expr, params: Sequence[Any] | Mapping[str, Any] | None) -> exp.Expr:
    """Replace `?` (positional `params`) or `:name` (mapping) placeholders by literals, in place."""
    if params is None:
        return tree
    placeholders = list(tree.find_all(exp.Placeholder))
    if isinstance(params, Mapping):
        for node in placeholders:
            key = node.args.get("this")
            if not key or str(key) not in params:
                raise TranspileError(f"no value for parameter {node.sql(ATHENA)}")
            node.replace(to_literal(params[str(key)]))
        return tree
    positional = [p for p in placeholders if not p.args.get("this")]
    if len(positional) != len(params):
        raise TranspileError(f"the SQL has {len(positional)} '?' placeholders, {len(params)} values given")
    for node, value in zip(positional, params, strict=True):
        node.replace(to_literal(value))
    return tree


def bind_params_text(sql: str, params: Sequence[Any] | Mapping[str, Any] | None) -> str:
    """`bind_params` on the text: only the placeholders change, the rest stays as written."""
    if params is None:
        return sql
    toks = tokens.Tokenizer().tokenize(sql)
    edits: list[tuple[int, int, str]] = []
    position = 0
    for i, token in enumerate(toks):
        if token.token_type == tokens.TokenType.PLACEHOLDER and token.text == "?":
            if isinstance(params, Mapping):
                raise TranspileError("'?' placeholders take a sequence of values")
            if position >= len(params):
                raise TranspileError("more '?' placeholders than values")
            edits.append((token.start, token.end, sql_literal(params[position])))
            position += 1
        elif (
            token.token_type == tokens.TokenType.COLON
            and isinstance(params, Mapping)
            and i + 1 < len(toks)
            and toks[i + 1].start == token.end + 1
            and toks[i + 1].text in params
            and (i == 0 or toks[i - 1].token_type != tokens.TokenType.COLON)
        ):
            edits.append((token.start, toks[i + 1].end, sql_literal(params[toks[i + 1].text])))
    if not isinstance(params, Mapping) and position != len(params):
        raise TranspileError(f"the SQL has {position} '?' placeholders, {len(params)} values given")
    return apply_edits(sql, edits)


__all__ = ["bind_params", "bind_params_text", "literal_value", "sql_literal", "to_literal"]
