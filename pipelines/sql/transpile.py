"""Athena (Trino) SQL in, DuckDB SQL out: sqlglot plus the pieces sqlglot does not do.

The models in `sql/` are written once, in Athena's dialect. On AWS they are sent to Athena as they
are; locally `to_duckdb` parses them and generates them for DuckDB. `sqlglot.transpile(read=
"athena", write="duckdb")` maps most functions; what it leaves wrong or untouched is rewritten on
the syntax tree (never with regular expressions), using column types where Trino's result depends
on them. The pieces live in modules of their own:

- statements (CTAS, UNLOAD, views) are recognised in `pipelines.sql.statements` and carried out by
  the engine;
- parameters are bound in `pipelines.sql.params`;
- the tree rewrites (time zones, Joda patterns, date arithmetic, integer sums, UNNEST of rows,
  output names) are in `pipelines.sql.rewrites` (Joda patterns: `pipelines.sql.joda`);
- what a query asks of one table reference (predicates, columns) is in `pipelines.sql.pushdown`.

Types come from a schema mapping (`{"table": {"column": "DuckDB type"}}`) that the DuckDB engine
builds from the relations a query reads. Without one, the type-dependent rewrites are skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

from pipelines.sql.athena_types import annotate
from pipelines.sql.dialects import ATHENA, DUCKDB, TranspileError, parse
from pipelines.sql.functions.unnest import type_unnest_columns
from pipelines.sql.rewrites import cast_dates_back, name_outputs, transform_up

log = logging.getLogger(__name__)


def to_duckdb(
    sql_or_tree: str | exp.Expr,
    schema: Mapping[str, Mapping[str, str]] | MappingSchema | None = None,
    *,
    pretty: bool = False,
) -> str:
    """Athena SQL (text or tree; one query or statement) -> DuckDB SQL.

    `schema` maps the tables the query reads to their columns' DuckDB types; with it the query is
    qualified and typed (sqlglot's optimizer) and the type-dependent rewrites apply.
    """
    if isinstance(sql_or_tree, str):
        trees = parse(sql_or_tree)
        if len(trees) != 1:
            raise TranspileError(f"expected one statement, got {len(trees)}")
        tree = trees[0]
    else:
        tree = sql_or_tree.copy()
    if isinstance(tree, exp.Query):
        name_outputs(tree)
    if schema is not None:
        mapping = schema if isinstance(schema, MappingSchema) else MappingSchema(dict(schema), dialect=DUCKDB)
        try:
            typed = qualify(
                tree.copy(),
                schema=mapping,
                dialect=ATHENA,
                validate_qualify_columns=False,
                expand_alias_refs=False,
            )
            tree = annotate(typed, mapping)  # Trino's typing rules (pipelines.sql.athena_types)
            tree = annotate(cast_dates_back(tree), mapping)
            if type_unnest_columns(tree):
                tree = annotate(tree, mapping, overwrite_types=False)
        except SqlglotError as exc:  # unusual SQL the optimizer does not follow: untyped rewrites only
            log.warning("cannot type the query (%s): type-dependent rewrites skipped", exc)
    tree = transform_up(tree)
    try:
        return tree.sql(dialect=DUCKDB, pretty=pretty, unsupported_level=sqlglot.ErrorLevel.RAISE)
    except SqlglotError as exc:
        raise TranspileError(f"cannot write the query for DuckDB: {exc}") from exc


def transpile(sql: str, schema: Mapping[str, Mapping[str, str]] | None = None, *, pretty: bool = False) -> str:
    """Athena query text -> DuckDB query text (see `to_duckdb`)."""
    return to_duckdb(sql, schema, pretty=pretty)


__all__ = ["to_duckdb", "transpile"]
