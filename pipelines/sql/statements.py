"""Athena statements as the engines carry them out: `parse_statement` classifies one statement
(query, CTAS, UNLOAD, CREATE VIEW, DROP TABLE/VIEW; see `Statement`) and `ctas_sql` writes the
CTAS of a SELECT.

CTAS with `WITH (format=..., partitioned_by=ARRAY[...], external_location=...)`,
`UNLOAD (SELECT ...) TO '...' WITH (...)` and `CREATE VIEW` are recognised by `parse_statement`
and carried out by the engine (DuckDB has no such table properties).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlglot import exp, tokens
from sqlglot.errors import SqlglotError

from pipelines.sql.dialects import ATHENA, TranspileError, parse
from pipelines.sql.params import literal_value, sql_literal

StatementKind = Literal["query", "ctas", "unload", "create_view", "drop_table", "drop_view", "other"]


@dataclass
class Statement:
    """One parsed Athena statement.

    `query` is the SELECT of a query, CTAS, UNLOAD or view; `name` the table or view created or
    dropped; `properties` the CTAS / UNLOAD `WITH (...)` properties, lower-case keys, Python values
    (`partitioned_by` a list of column names), plus `location` for UNLOAD's `TO '...'`.
    """

    kind: StatementKind
    sql: str
    tree: exp.Expr | None = None
    query: exp.Query | None = None
    name: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    if_exists: bool = False  # CREATE ... IF NOT EXISTS / DROP ... IF EXISTS
    replace: bool = False  # CREATE OR REPLACE VIEW


def parse_statement(sql: str) -> Statement:
    """One Athena statement, classified (see `Statement`). UNLOAD, which sqlglot leaves as an opaque
    command, is parsed here: `UNLOAD (<query>) TO '<location>' [WITH (<properties>)]`."""
    text = sql.strip().rstrip(";").strip()
    if _first_word(text) == "UNLOAD":
        return _parse_unload(text)
    trees = parse(text)
    if len(trees) != 1:
        raise TranspileError(f"expected one statement, got {len(trees)}")
    tree = trees[0]
    if isinstance(tree, exp.Query):
        return Statement("query", text, tree, tree)
    if isinstance(tree, exp.Create):
        kind = str(tree.args.get("kind") or "").upper()
        target = tree.this
        name = _table_name(target.this if isinstance(target, exp.Schema) else target)
        query = tree.expression if isinstance(tree.expression, exp.Query) else None
        if kind == "TABLE" and query is not None:
            return Statement(
                "ctas", text, tree, query, name, _properties(tree.args.get("properties")), bool(tree.args.get("exists"))
            )
        if kind == "VIEW" and query is not None:
            return Statement(
                "create_view",
                text,
                tree,
                query,
                name,
                {},
                bool(tree.args.get("exists")),
                bool(tree.args.get("replace")),
            )
    if isinstance(tree, exp.Drop):
        kind = str(tree.args.get("kind") or "").upper()
        targets = tree.args.get("tables") or ([tree.this] if tree.this else [])
        if kind in ("TABLE", "VIEW") and len(targets) == 1:
            return Statement(
                "drop_table" if kind == "TABLE" else "drop_view",
                text,
                tree,
                name=_table_name(targets[0]),
                if_exists=bool(tree.args.get("exists")),
            )
    return Statement("other", text, tree)


def _first_word(text: str) -> str:
    try:
        toks = tokens.Tokenizer().tokenize(text)
    except SqlglotError as exc:
        raise TranspileError(f"cannot read the SQL: {exc}") from exc
    return toks[0].text.upper() if toks else ""


def _table_name(table: exp.Expr) -> str:
    if not isinstance(table, exp.Table):
        raise TranspileError(f"expected a table name, got {table.sql(ATHENA)!r}")
    return ".".join(p.name for p in table.parts).lower()


def _python_value(node: exp.Expr) -> Any:
    """A property's value: a literal's value, an array's list of values, a bare word's name, else
    the expression's text."""
    if isinstance(node, exp.Array):
        return [_python_value(e) for e in node.expressions]
    ok, value = literal_value(node)
    if ok:
        return value
    if isinstance(node, (exp.Var, exp.Identifier)):
        return node.name
    return node.sql(ATHENA)


def _properties(props: exp.Expr | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for prop in props.expressions if props is not None else []:
        if isinstance(prop, exp.FileFormatProperty):
            out["format"] = str(_python_value(prop.this)).upper()
        elif isinstance(prop, exp.PartitionedByProperty):
            value = _python_value(prop.this)
            out["partitioned_by"] = [str(v).lower() for v in (value if isinstance(value, list) else [value])]
        elif isinstance(prop, exp.LocationProperty):
            out["external_location"] = _python_value(prop.this)
        elif isinstance(prop, exp.Property):
            out[prop.name.lower()] = _python_value(prop.args["value"])
        else:
            out[prop.key] = prop.sql(ATHENA)
    return out


def _parse_unload(text: str) -> Statement:
    toks = tokens.Tokenizer().tokenize(text)
    # UNLOAD ( <query> ) TO '<location>' [WITH ( <properties> )]
    if len(toks) < 5 or toks[1].token_type != tokens.TokenType.L_PAREN:
        raise TranspileError("UNLOAD must be followed by a parenthesised query")
    depth, close = 0, None
    for i in range(1, len(toks)):
        if toks[i].token_type == tokens.TokenType.L_PAREN:
            depth += 1
        elif toks[i].token_type == tokens.TokenType.R_PAREN:
            depth -= 1
            if depth == 0:
                close = i
                break
    if close is None or close + 2 >= len(toks) or toks[close + 1].text.upper() != "TO":
        raise TranspileError("UNLOAD (<query>) TO '<location>' [WITH (...)] expected")
    location_token = toks[close + 2]
    if location_token.token_type != tokens.TokenType.STRING:
        raise TranspileError("UNLOAD's location must be a string literal")
    query_sql = text[toks[1].end + 1 : toks[close].start]
    trees = parse(query_sql)
    if len(trees) != 1 or not isinstance(trees[0], exp.Query):
        raise TranspileError("UNLOAD must unload one query")
    properties: dict[str, Any] = {}
    rest = toks[close + 3 :]
    if rest:
        if rest[0].token_type != tokens.TokenType.WITH:
            raise TranspileError(f"unexpected {rest[0].text!r} after UNLOAD's location")
        props_sql = text[rest[0].end + 1 :]
        dummy = parse(f"CREATE TABLE _unload WITH {props_sql} AS SELECT 1")[0]
        properties = _properties(dummy.args.get("properties"))
    properties["location"] = location_token.text
    return Statement("unload", text, trees[0], trees[0], None, properties)


def ctas_sql(
    name: str,
    select_sql: str,
    *,
    location: str | None = None,
    partitioned_by: Sequence[str] = (),
    format: str = "PARQUET",  # noqa: A002
    properties: Mapping[str, Any] | None = None,
) -> str:
    """The Athena CTAS of `select_sql` into table `name` (text; partition columns must come last)."""
    props: list[str] = [f"format = {sql_literal(format.upper())}"]
    if location:
        props.append(f"external_location = {sql_literal(location)}")
    if partitioned_by:
        props.append(f"partitioned_by = ARRAY[{', '.join(sql_literal(c) for c in partitioned_by)}]")
    for key, value in (properties or {}).items():
        props.append(f"{key} = {sql_literal(value)}")
    return f"CREATE TABLE {name} WITH ({', '.join(props)}) AS\n{select_sql.strip().rstrip(';')}"


__all__ = ["Statement", "StatementKind", "ctas_sql", "parse_statement"]
