"""How the federated catalog reads one `dynamodb.default.<table>` reference: the `FetchPlan`.

`plan_read` turns the query's own predicates and columns on the reference
(`transpile.table_predicates`, `transpile.table_columns`) into one DynamoDB operation: `GetItem` /
`BatchGetItem` or a key `Query` (with a sort-key condition) on the hash key, else a `Query` on a
global secondary index, else a parallel `Scan`; plus the projection and the pushed filters.
Nothing here talks to DynamoDB (`pipelines.sql.federated_fetch` performs the plans).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from gitgoods.contract.tables import Table
from pipelines.sql.pushdown import Predicate, table_columns, table_predicates

_NUMERIC_LOOKING = re.compile(r"^\s*[-+]?[0-9.]")


class FederatedError(LookupError):
    """A federated table the catalog does not have, or a read it cannot plan."""


# -- plans ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchPlan:
    """How one `dynamodb.default.<table>` reference of a query is read."""

    table: str  # contract name
    physical: str  # DynamoDB table name (with the prefix)
    operation: str  # GetItem | BatchGetItem | Query | Scan | none (contradictory key predicates)
    index: str | None = None
    key: str | None = None  # hash key attribute of the key condition (table's or index's)
    values: tuple[str, ...] = ()  # its values: one GetItem / Query per value
    range_key: str | None = None
    range_condition: tuple[str, tuple[str, ...]] | None = None  # (eq|lt|le|gt|ge|between|prefix, values)
    projection: tuple[str, ...] | None = None  # None: every attribute
    filters: tuple[Predicate, ...] = ()  # pushed as FilterExpression (Query and Scan only)
    segments: int = 1
    required: tuple[str, ...] = field(default=(), compare=False)  # columns the query names as alias.col

    def describe(self) -> str:
        where = f" index {self.index}" if self.index else ""
        parts = [f"{self.operation} {self.physical}{where}"]
        if self.key:
            parts.append(
                f"{self.key} IN {list(self.values)}" if len(self.values) > 1 else f"{self.key} = {self.values[0]!r}"
            )
        if self.range_condition:
            parts.append(f"{self.range_key} {self.range_condition[0]} {list(self.range_condition[1])}")
        if self.filters:
            parts.append("filter " + " AND ".join(f"{p.column} {p.op} {list(p.values)}" for p in self.filters))
        if self.operation == "Scan":
            parts.append(f"{self.segments} segments")
        if self.projection is not None:
            parts.append(f"columns {list(self.projection)}")
        return "; ".join(parts)


# -- planning ------------------------------------------------------------------------------------


def plan_read(
    spec: Table, physical: str, table: exp.Table, root: exp.Expr, *, segments: int, filter_pushdown: bool
) -> FetchPlan:
    """The read for one reference of the contract table `spec` (DynamoDB name `physical`), from the
    query's predicates and columns on it."""
    predicates = table_predicates(table)
    alias = table.alias_or_name.lower()
    columns = table_columns(table, root)
    required = tuple(
        sorted(
            {
                c.name.lower()
                for c in root.find_all(exp.Column)
                if c.table.lower() == alias and not c.args.get("db") and not isinstance(c.this, exp.Star)
            }
        )
    )
    key_attributes = [k for k in (spec.hash_key, spec.range_key) if k]
    projection = None if columns is None else tuple(sorted(set(columns) | set(key_attributes)))
    common: dict[str, Any] = {
        "table": spec.name,
        "physical": physical,
        "projection": projection,
        "required": required,
    }

    def key_values(attribute: str) -> tuple[str, ...] | None:
        values: set[str] | None = None
        for p in predicates:
            if p.column != attribute or p.op not in ("eq", "in"):
                continue
            if not all(isinstance(v, str) for v in p.values):
                continue  # key attributes are strings: another literal is not a key lookup
            values = set(p.values) if values is None else values & set(p.values)
        return None if values is None else tuple(sorted(values))

    def with_filters(plan: dict[str, Any], used: set[str]) -> dict[str, Any]:
        if filter_pushdown:
            plan["filters"] = tuple(p for p in predicates if p.column not in used and _filterable(p))
        return plan

    hash_values = key_values(spec.hash_key)
    if hash_values is not None:
        if not hash_values:
            return FetchPlan(operation="none", **common)
        if spec.range_key is None:
            operation = "GetItem" if len(hash_values) == 1 else "BatchGetItem"
            return FetchPlan(operation=operation, key=spec.hash_key, values=hash_values, **common)
        condition = _range_condition(predicates, spec.range_key)
        if condition and condition[0] == "empty":
            return FetchPlan(operation="none", **common)
        plan = {"operation": "Query", "key": spec.hash_key, "values": hash_values, "range_key": spec.range_key}
        plan["range_condition"] = condition
        return FetchPlan(**with_filters(plan, {spec.hash_key, spec.range_key}), **common)
    for index in spec.indexes:
        index_values = key_values(index.hash_key)
        if index_values is None:
            continue
        if not index_values:
            return FetchPlan(operation="none", **common)
        condition = _range_condition(predicates, index.range_key) if index.range_key else None
        if condition and condition[0] == "empty":
            return FetchPlan(operation="none", **common)
        plan = {
            "operation": "Query",
            "index": index.name,
            "key": index.hash_key,
            "values": index_values,
            "range_key": index.range_key,
            "range_condition": condition,
        }
        used = {index.hash_key} | ({index.range_key} if condition and index.range_key else set())
        return FetchPlan(**with_filters(plan, used), **common)
    return FetchPlan(**with_filters({"operation": "Scan", "segments": segments}, set()), **common)


def _filterable(p: Predicate) -> bool:
    """Equalities on strings or booleans: safe to evaluate in DynamoDB too. (A number literal could
    match an attribute stored as a string in DuckDB's comparison but not in DynamoDB's.)"""
    if p.op not in ("eq", "in"):
        return False
    return all(isinstance(v, bool) or (isinstance(v, str) and not _NUMERIC_LOOKING.match(v)) for v in p.values)


def _range_condition(predicates: list[Predicate], attribute: str | None) -> tuple[str, tuple[str, ...]] | None:
    """One key condition on the sort key that keeps every row the predicates keep (it may keep more)."""
    if not attribute:
        return None
    mine = [p for p in predicates if p.column == attribute and all(isinstance(v, str) for v in p.values)]
    for p in mine:
        if p.op == "eq":
            return ("eq", p.values)
    low: tuple[str, bool] | None = None  # (value, inclusive)
    high: tuple[str, bool] | None = None
    prefix = None
    for p in mine:
        if p.op in ("gt", "ge"):
            if low is None or p.values[0] > low[0]:
                low = (p.values[0], p.op == "ge")
        elif p.op in ("lt", "le"):
            if high is None or p.values[0] < high[0]:
                high = (p.values[0], p.op == "le")
        elif p.op == "between":
            lo, hi = p.values
            if low is None or lo > low[0]:
                low = (lo, True)
            if high is None or hi < high[0]:
                high = (hi, True)
        elif p.op == "prefix":
            prefix = p.values[0]
    if low and high:
        if low[0] > high[0]:
            return ("empty", ())
        return ("between", (low[0], high[0]))  # inclusive: a superset of > / <
    if low:
        return ("ge" if low[1] else "gt", (low[0],))
    if high:
        return ("le" if high[1] else "lt", (high[0],))
    if prefix is not None:
        return ("prefix", (prefix,))
    return None


__all__ = ["FederatedError", "FetchPlan", "plan_read"]
