"""Athena's (Trino's) types of a query's expressions, without running anything.

sqlglot's typing (`annotate_types`) follows its own rules for numbers: `1.5` is a DOUBLE, `price * 2`
keeps the decimal's precision, `price / 2` is a DECIMAL without precision, `avg(price)` a DOUBLE.
Trino's rules (https://trino.io/docs/current/functions/decimal.html) are in
`pipelines.sql.functions.decimals`; `TRINO_METADATA` is sqlglot's Athena typing with those rules
in place of its own, so that a CTE's column carries Trino's type to the query that reads it.
`annotate` types a qualified tree with it (the transpiler does, before the rewrites), and
`output_types` gives the Athena type of each output column of a query, by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

from pipelines.sql.dialects import ATHENA
from pipelines.sql.functions.decimals import numeric_type

_T = exp.DataType.Type


def _trino(base: Any) -> Any:
    """An annotator: sqlglot's (`base`), then Trino's numeric type where `numeric_type` knows it."""

    def annotate(self: Any, node: exp.Expr) -> exp.Expr:
        base(self, node)
        kind = numeric_type(node)
        if kind is not None:
            self._set_type(node, kind)
        return node

    return annotate


def _metadata() -> dict[type[exp.Expr], dict[str, Any]]:
    metadata = dict(sqlglot.Dialect.get_or_raise(ATHENA).EXPRESSION_METADATA)
    for kind in (exp.Add, exp.Sub, exp.Mul, exp.Mod):
        metadata[kind] = {"annotator": _trino(lambda self, e: self._annotate_binary(e))}
    metadata[exp.Div] = {"annotator": _trino(lambda self, e: self._annotate_div(e))}
    metadata[exp.Literal] = {"annotator": _trino(lambda self, e: self._annotate_literal(e))}
    metadata[exp.DateDiff] = {"returns": _T.BIGINT}  # functions/datetime.html#date_diff (sqlglot: INT)
    metadata[exp.FromBase] = {"returns": _T.BIGINT}  # functions/math.html#from_base (sqlglot: untyped)
    for kind in (exp.Cast, exp.Sum, exp.Avg):
        spec = metadata.get(kind) or {}
        base = spec.get("annotator")
        returns = spec.get("returns")
        if base is None:
            base = (lambda r: lambda self, e: self._set_type(e, r))(returns) if returns else _by_this
        metadata[kind] = {"annotator": _trino(base)}
    return metadata


def _by_this(self: Any, node: exp.Expr) -> exp.Expr:
    return self._annotate_by_args(node, "this")


TRINO_METADATA = _metadata()


def annotate(tree: exp.Expr, schema: MappingSchema, *, overwrite_types: bool = True) -> exp.Expr:
    """`tree` (qualified) typed by Trino's rules (`overwrite_types=False`: only its untyped nodes)."""
    return annotate_types(tree, schema=schema, expression_metadata=TRINO_METADATA, dialect=ATHENA,
                          overwrite_types=overwrite_types)  # fmt: skip


def type_name(kind: exp.DataType | None) -> str:
    """A type as Athena names it (`typeof`): `decimal(12,2)`, `bigint`, `varchar`, `timestamp`."""
    if kind is None or kind.this == _T.UNKNOWN:
        return "unknown"
    if kind.this == _T.DECIMAL:
        params = [e.name for e in kind.expressions] or ["38", "0"]
        return f"decimal({','.join(params)})"
    if kind.this in (_T.VARCHAR, _T.TEXT, _T.CHAR):
        return "varchar"
    if kind.this == _T.FLOAT:
        return "real"
    if kind.this in (_T.TIMESTAMP, _T.TIMESTAMPNTZ, _T.TIMESTAMP_MS, _T.DATETIME):
        return "timestamp"
    if kind.this in (_T.TIMESTAMPTZ, _T.TIMESTAMPLTZ):
        return "timestamp with time zone"
    return kind.sql(ATHENA).lower()


def output_types(sql: str | exp.Expr, tables: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Athena's type of each output column of the query `sql` (Athena dialect), by name, given the
    Athena types of the tables it reads (`{"table": {"column": "decimal(12,2)"}}`)."""
    tree = sqlglot.parse_one(sql, read=ATHENA) if isinstance(sql, str) else sql.copy()
    schema = MappingSchema({t: dict(c) for t, c in tables.items()}, dialect=ATHENA)
    typed = annotate(qualify(tree, schema=schema, dialect=ATHENA, validate_qualify_columns=False), schema)
    query = typed
    while isinstance(query, exp.SetOperation | exp.Subquery):
        query = query.this
    if not isinstance(query, exp.Select):
        raise ValueError("not a query")
    return {p.alias_or_name: type_name(p.type) for p in query.expressions}


__all__ = ["TRINO_METADATA", "annotate", "output_types", "type_name"]
