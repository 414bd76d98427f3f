"""Trino's semantics for functions, operators and clauses, family by family.

`sqlglot.transpile(read="athena", write="duckdb")` maps most of Athena's functions to DuckDB's,
but around the core of analytical SQL many of those mappings give a different answer (a type, a
NULL, a rounding, a time zone). Each family module here owns one group of Trino's functions
(https://trino.io/docs/current/functions.html) and gives either Trino's answer or a clear refusal:

- `REWRITES`: functions `(node) -> new node | None` applied to every node of the syntax tree,
  children first (by `pipelines.sql.rewrites.transform_up`), after sqlglot's parse and typing. A
  rewrite returns None when the node is not its business; the first one that returns a node wins;
- `MACROS`: `CREATE OR REPLACE MACRO ...` statements the DuckDB engine defines once on its
  database (`register_macros`), for semantics easier to state in SQL than on the tree. A macro's
  name starts with `gg_` so it never shadows a DuckDB function;
- a construct that cannot be made to match is refused with `refuse`, which names it: the engine
  turns that into a `SqlError` before anything runs.

Every case the suite holds is in `tests/sql_conformance/`, with the Trino documentation page its
expected value and type come from.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any, NoReturn

from sqlglot import exp

from pipelines.sql.dialects import TranspileError

Rewrite = Callable[[exp.Expr], exp.Expr | None]


class UnsupportedConstruct(TranspileError):
    """An Athena construct the embedded engine cannot give Trino's answer for."""

    def __init__(self, construct: str, why: str) -> None:
        super().__init__(f"not supported by the embedded engine: {construct} ({why}); Athena runs it")
        self.construct = construct


def call(name: str, *args: exp.Expr) -> exp.Anonymous:
    """A call of the function `name` (a DuckDB function or one of the families' macros)."""
    return exp.Anonymous(this=name, expressions=list(args))


def refuse(construct: str, why: str) -> NoReturn:
    """Stop the transpile: `construct` (as the user wrote it, e.g. `split(s, d, limit)`) cannot be
    given Trino's answer here, for the reason `why`."""
    raise UnsupportedConstruct(construct, why)


def _families() -> tuple[ModuleType, ...]:
    # the family modules, in the order their rewrites are tried (imported here, not at the top, so
    # a family module may import this package's helpers)
    from pipelines.sql.functions import (
        aggregates,
        arrays,
        conversion,
        datetime,
        decimals,
        formatting,
        json,
        maps,
        math,
        numbertext,
        regex,
        strings,
        unnest,
    )

    return (
        unnest,
        datetime,
        maps,
        arrays,
        aggregates,
        decimals,
        numbertext,
        strings,
        regex,
        json,
        conversion,
        formatting,
        math,
    )


def _collect(attr: str) -> list[Any]:
    out: list[Any] = []
    for module in _families():
        out.extend(getattr(module, attr, ()))
    return out


_REWRITES: list[Rewrite] | None = None


def rewrite(node: exp.Expr) -> exp.Expr | None:
    """The first family rewrite that takes `node` (its children already rewritten), or None."""
    global _REWRITES
    if _REWRITES is None:
        _REWRITES = _collect("REWRITES")
    for fn in _REWRITES:
        new = fn(node)
        if new is not None:
            return new
    return None


def macros() -> list[str]:
    """Every family's `CREATE OR REPLACE MACRO` statements."""
    return _collect("MACROS")


def register_macros(connection: Any, statements: Iterable[str] | None = None) -> None:
    """Define the families' macros on a DuckDB connection (or database)."""
    for sql in macros() if statements is None else statements:
        connection.execute(sql)


_MACRO_NAME = re.compile(r"\s*CREATE OR REPLACE MACRO (gg_\w+)", re.IGNORECASE)
_MACRO_USE = re.compile(r"\bgg_\w+", re.IGNORECASE)
_BY_NAME: dict[str, str] | None = None


def macros_used(sql: str) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the macros `sql` calls and of those they call in turn, each after
    the ones it calls: what a connection needs to run `sql` (58 macros take ~0.08 s to define, a
    query uses a few)."""
    global _BY_NAME
    if _BY_NAME is None:
        _BY_NAME = {m.group(1).lower(): s for s in macros() if (m := _MACRO_NAME.match(s))}
    by_name = _BY_NAME
    out: dict[str, str] = {}

    def visit(name: str, seen: frozenset[str]) -> None:
        if name in out or name in seen or name not in by_name:
            return
        body = by_name[name]
        for used in _MACRO_USE.findall(body[_MACRO_NAME.match(body).end():]):  # type: ignore[union-attr]
            visit(used.lower(), seen | {name})
        out[name] = body

    for name in _MACRO_USE.findall(sql):
        visit(name.lower(), frozenset())
    return list(out.items())


class MacrosOnFirstUse:
    """The macros of one DuckDB database (shared by its cursors), each defined when a query first
    calls it (`define_for`, with the transpiled SQL), safely from many threads."""

    def __init__(self, db: Any) -> None:
        self._db = db
        self._defined: set[str] = set()
        self._lock = threading.Lock()

    def define_for(self, duckdb_sql: str) -> None:
        with self._lock:
            for name, create in macros_used(duckdb_sql):
                if name not in self._defined:
                    self._db.execute(create)
                    self._defined.add(name)


__all__ = [
    "MacrosOnFirstUse",
    "Rewrite",
    "UnsupportedConstruct",
    "call",
    "macros",
    "macros_used",
    "refuse",
    "register_macros",
    "rewrite",
]
