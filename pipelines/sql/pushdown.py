"""What a query asks of one table reference, for readers that can skip rows or columns.

`table_predicates` and `table_columns` analyse a query for the engines: which simple predicates
(`col = literal`, `IN`, ranges, prefixes) apply to one table reference and which of its columns
are used - the federated DynamoDB catalog pushes them into key Queries and projections, the lake
uses them to skip partitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlglot import exp

from pipelines.sql.params import literal_value

PredicateOp = Literal["eq", "in", "lt", "le", "gt", "ge", "between", "prefix"]


@dataclass(frozen=True)
class Predicate:
    """`column <op> values`, values as Python scalars (str, int, float, bool)."""

    column: str
    op: PredicateOp
    values: tuple[Any, ...]


_FLIP = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le", "eq": "eq"}
_COMPARISONS: dict[type, str] = {exp.EQ: "eq", exp.LT: "lt", exp.LTE: "le", exp.GT: "gt", exp.GTE: "ge"}


def _sources(select: exp.Select) -> list[exp.Expr]:
    out = []
    if (from_ := select.args.get("from_") or select.args.get("from")) is not None:
        out.append(from_.this)
    out.extend(j.this for j in select.args.get("joins") or [])
    return out


def _alias(table: exp.Expr) -> str:
    return table.alias_or_name.lower()


def _conjuncts(node: exp.Expr | None) -> list[exp.Expr]:
    if node is None:
        return []
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return _conjuncts(node.this) + _conjuncts(node.expression)
    return [node]


def _maybe_correlated(select: exp.Select) -> bool:
    """Whether `select` is (inside) a subquery that can see an outer query's columns: one in an
    expression (`EXISTS`, `IN`, a scalar subquery) or a LATERAL, rather than in FROM, JOIN or WITH."""
    node: exp.Expr = select
    while node.parent is not None:
        parent = node.parent
        if isinstance(parent, exp.Exists | exp.Lateral) or (isinstance(parent, exp.In) and node.arg_key == "query"):
            return True
        if isinstance(node, exp.Subquery) and not isinstance(parent, exp.From | exp.Join | exp.SetOperation):
            return True
        node = parent
    return False


def table_predicates(table: exp.Table) -> list[Predicate]:
    """The simple predicates that must hold for every row of `table` a query keeps.

    Taken from the WHERE of the SELECT that reads the table and from the ON of its inner joins (and
    of the LEFT JOIN that brings in this very table): top-level AND terms of the form
    `col = literal`, `col IN (literals)`, `col < literal` (and <=, >, >=), `col BETWEEN a AND b`,
    `col LIKE 'prefix%'` and `starts_with(col, 'prefix')`, where `col` is this table's (qualified by
    its alias, or unqualified when the table is the SELECT's only source). Rows that fail one of
    them are dropped by the query anyway, so a reader may skip them; it must not rely on having
    skipped them (the query still applies every predicate).
    """
    select = table.find_ancestor(exp.Select)
    if select is None:
        return []
    alias = _alias(table)
    sources = _sources(select)
    # An unqualified name means this table's column when it is the only source - unless the SELECT
    # is a subquery in an expression, where the name may be an outer query's column.
    single = len(sources) == 1 and not _maybe_correlated(select)
    conds = _conjuncts((select.args.get("where") or exp.Where()).this)
    for join in select.args.get("joins") or []:
        on = join.args.get("on")
        side = str(join.args.get("side") or "").upper()
        kind = str(join.args.get("kind") or "").upper()
        if on is not None and (not side and kind in ("", "INNER") or side == "LEFT" and join.this is table):
            conds.extend(_conjuncts(on))

    def ours(node: exp.Expr) -> str | None:
        while isinstance(node, exp.Paren):
            node = node.this
        if not isinstance(node, exp.Column) or node.args.get("db"):
            return None
        qualifier = node.table.lower()
        if qualifier == alias or (not qualifier and single):
            return node.name.lower()
        return None

    out: list[Predicate] = []
    for cond in conds:
        if type(cond) in _COMPARISONS:
            op = _COMPARISONS[type(cond)]
            left, right = cond.this, cond.expression
            column, (is_lit, value) = ours(left), literal_value(right)
            if column is None:
                column, (is_lit, value) = ours(right), literal_value(left)
                op = _FLIP[op]
            if column is not None and is_lit:
                out.append(Predicate(column, op, (value,)))  # type: ignore[arg-type]
        elif isinstance(cond, exp.In) and not cond.args.get("query") and (column := ours(cond.this)):
            values = [literal_value(v) for v in cond.expressions]
            if values and all(ok for ok, _ in values):
                out.append(Predicate(column, "in", tuple(v for _, v in values)))
        elif isinstance(cond, exp.Between) and (column := ours(cond.this)):
            low, high = literal_value(cond.args["low"]), literal_value(cond.args["high"])
            if low[0] and high[0]:
                out.append(Predicate(column, "between", (low[1], high[1])))
        elif isinstance(cond, exp.Like) and (column := ours(cond.this)):
            ok, pattern = literal_value(cond.expression)
            if ok and isinstance(pattern, str) and pattern.endswith("%"):
                prefix = pattern[:-1]
                if not any(ch in prefix for ch in "%_\\"):
                    out.append(Predicate(column, "prefix", (prefix,)))
        elif isinstance(cond, exp.StartsWith) and (column := ours(cond.this)):
            ok, prefix = literal_value(cond.expression)
            if ok and isinstance(prefix, str):
                out.append(Predicate(column, "prefix", (prefix,)))
    return out


def table_columns(table: exp.Table, root: exp.Expr) -> set[str] | None:
    """The columns of `table` that `root` may use (a superset), or None when it needs them all
    (`SELECT *` or `alias.*` in the table's SELECT)."""
    alias = _alias(table)
    select = table.find_ancestor(exp.Select)
    if select is not None:
        for projection in select.expressions:
            if isinstance(projection, exp.Star):
                return None
            star = isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
            if star and projection.table.lower() in ("", alias):
                return None
    names: set[str] = set()
    for column in root.find_all(exp.Column):
        parts = [p.name.lower() for p in column.parts]
        if isinstance(column.this, exp.Star):
            continue
        if len(parts) == 1:
            names.add(parts[0])
        elif parts[0] == alias:
            names.add(parts[1])
        else:  # `other.col`, or `col.field` (a struct column): either way a superset
            names.update(parts[:2])
    for join in root.find_all(exp.Join):
        for ident in join.args.get("using") or []:
            names.add(ident.name.lower())
    return names


__all__ = ["Predicate", "PredicateOp", "table_columns", "table_predicates"]
