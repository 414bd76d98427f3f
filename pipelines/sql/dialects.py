"""The ground the Athena-to-DuckDB layer stands on: the two dialects' names (both loaded at import),
`TranspileError`, `parse` (Athena text -> sqlglot trees) and quoting an identifier (a literal's
value is `pipelines.sql.params.literal_value`).
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

ATHENA = "athena"
DUCKDB = "duckdb"
# Both dialects load now rather than on the first query (sqlglot imports them lazily: ~0.3 s).
sqlglot.Dialect.get_or_raise(ATHENA)
sqlglot.Dialect.get_or_raise(DUCKDB)


class TranspileError(ValueError):
    """SQL that cannot be parsed, or that uses something this layer cannot translate."""


def parse(sql: str) -> list[exp.Expr]:
    """Parse Athena SQL (one or more statements) into sqlglot trees."""
    try:
        trees = sqlglot.parse(sql, read=ATHENA)
    except ParseError as exc:
        raise TranspileError(f"cannot parse the SQL: {exc}") from exc
    return [t for t in trees if t is not None]


_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def quote_identifier(name: str) -> str:
    """`name` as an identifier, quoted when it needs to be."""
    return name if _IDENT.match(name) else '"' + name.replace('"', '""') + '"'


__all__ = ["ATHENA", "DUCKDB", "TranspileError", "parse", "quote_identifier"]
