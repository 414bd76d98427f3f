"""The rewrites of an Athena syntax tree into DuckDB's semantics, where sqlglot leaves it wrong or
untouched (on the tree, never with regular expressions), using column types where Trino's result
depends on them:

- time zones, Joda patterns (`format_datetime`, `parse_datetime`) and `date_diff`: see
  `pipelines.sql.functions.datetime`;
- `date_add`, `date_trunc` and `date +/- INTERVAL` on a DATE stay DATEs (DuckDB makes timestamps);
- `sum` of integers and `count_if` are BIGINT (DuckDB: HUGEINT), integer `/` integer truncates (sqlglot, typed);
- `CAST(timestamp AS varchar)` prints milliseconds as Trino's timestamp(3) does;
- unnamed output columns are called `_col0`, `_col1`, ... as on Athena.

`transform_up` applies them to a whole tree, `cast_dates_back` prepares a typed tree (so that DATE
flows through CTEs) and `name_outputs` gives unnamed output columns their Athena names.
"""

from __future__ import annotations

from sqlglot import exp

from pipelines.sql import functions
from pipelines.sql.dialects import DUCKDB
from pipelines.sql.functions import call

_DAY_OR_LONGER = {"DAY", "WEEK", "MONTH", "QUARTER", "YEAR", "DAYS", "WEEKS", "MONTHS", "QUARTERS", "YEARS"}
_INTEGER_TYPES = {
    exp.DataType.Type.TINYINT,
    exp.DataType.Type.SMALLINT,
    exp.DataType.Type.INT,
    exp.DataType.Type.BIGINT,
    exp.DataType.Type.UTINYINT,
    exp.DataType.Type.USMALLINT,
    exp.DataType.Type.UINT,
    exp.DataType.Type.UBIGINT,
}
_TIMESTAMP_TYPES = {
    exp.DataType.Type.TIMESTAMP,
    exp.DataType.Type.TIMESTAMPNTZ,
    exp.DataType.Type.TIMESTAMP_S,
    exp.DataType.Type.TIMESTAMP_MS,
    exp.DataType.Type.TIMESTAMP_NS,
    exp.DataType.Type.DATETIME,
}


def _is(node: exp.Expr | None, *types: exp.DataType.Type) -> bool:
    kind = node.to if isinstance(node, exp.Cast) else getattr(node, "type", None)
    return kind is not None and kind.this in types


def _unit(node: exp.Expr) -> str:
    unit = node.args.get("unit")
    return unit.name.upper() if unit is not None else "DAY"


def _as_date(node: exp.Expr) -> exp.Expr:
    return exp.Cast(this=node, to=exp.DataType.build("DATE"))


def _stays_date(node: exp.Expr) -> bool:
    """A date function or date +/- interval of a day or longer on a DATE: a DATE in Trino, a
    TIMESTAMP in DuckDB (unless already cast back)."""
    parent = node.parent
    if isinstance(parent, exp.Cast) and parent.to.this == exp.DataType.Type.DATE:
        return False
    if isinstance(node, exp.DateAdd | exp.DateSub) and _is(node.this, exp.DataType.Type.DATE):
        return _unit(node) in _DAY_OR_LONGER
    if isinstance(node, exp.Add | exp.Sub):
        left, right = node.this, node.expression
        for date_side, other in ((left, right), (right, left)):
            if _is(date_side, exp.DataType.Type.DATE) and isinstance(other, exp.Interval):
                unit = other.args.get("unit")
                if unit is not None and unit.name.upper() in _DAY_OR_LONGER:
                    return True
        return False
    return isinstance(node, exp.TimestampTrunc | exp.DateTrunc) and _is(node.this, exp.DataType.Type.DATE)


def _date_series(node: exp.Expr) -> bool:
    """`sequence(date, date[, interval])`: an array of DATE in Trino, of TIMESTAMP in DuckDB."""
    if not isinstance(node, exp.GenerateSeries) or not _is(node.args.get("start"), exp.DataType.Type.DATE):
        return False
    parent = node.parent
    return not (isinstance(parent, exp.Cast) and parent.to.is_type("array<date>"))


def _as_date_array(node: exp.Expr) -> exp.Expr:
    if node.args.get("step") is None:  # Trino: a day, back a day when start > stop
        start, end = node.args["start"], node.args["end"]
        day = exp.Interval(this=exp.Literal.string("1"), unit=exp.var("DAY"))
        back = exp.If(this=exp.GT(this=start.copy(), expression=end.copy()), true=exp.Neg(this=day.copy()))
        node.set("step", exp.Case(ifs=[back], default=day))
    return exp.Cast(this=node, to=exp.DataType.build("ARRAY<DATE>", dialect=DUCKDB))


def cast_dates_back(tree: exp.Expr) -> exp.Expr:
    """Wrap every expression that `_stays_date` in a CAST to DATE, so that a second typing pass
    sees DATE wherever it flows (a CTE column of `date_trunc('month', d)` is a DATE to the query
    that reads it, as in Trino)."""
    for node in reversed(list(tree.dfs())):
        if _stays_date(node) or _date_series(node):
            parent, arg_key, index = node.parent, node.arg_key, node.index
            new = _as_date(node) if _stays_date(node) else _as_date_array(node)
            if parent is None:
                tree = new
            else:
                parent.set(arg_key, new, index)
    return tree


def _rewrite(node: exp.Expr) -> exp.Expr:
    """One node, Athena semantics -> DuckDB (children are already rewritten)."""
    new = functions.rewrite(node)
    if new is not None:
        return new
    if _stays_date(node):
        return _as_date(node)
    if _date_series(node):
        return _as_date_array(node)
    if _integer_sum(node) and not isinstance(node.parent, exp.Window | exp.Filter):
        return exp.Cast(this=node, to=exp.DataType.build("BIGINT"))
    if (
        isinstance(node, exp.Cast)
        and node.to.this in (exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT)
        and _is(node.this, *_TIMESTAMP_TYPES)
    ):
        fmt = exp.Literal.string("%Y-%m-%d %H:%M:%S.%g")
        formatted = call("STRFTIME", node.this, fmt)
        return exp.TryCast(this=formatted, to=node.to) if isinstance(node, exp.TryCast) else formatted
    return node


def _integer_sum(node: exp.Expr) -> bool:
    """`sum(<integer>)` or `count_if(...)` (DuckDB: HUGEINT, Trino: bigint), possibly with FILTER
    and/or OVER around it (cast the outermost)."""
    while isinstance(node, exp.Window | exp.Filter):
        node = node.this
    return isinstance(node, exp.CountIf) or (isinstance(node, exp.Sum) and _is(node.this, *_INTEGER_TYPES))


def name_outputs(query: exp.Expr) -> None:
    """Unnamed output columns get Trino's names: `_col0`, `_col1`, ... (the leftmost SELECT names
    the output of a UNION)."""
    while isinstance(query, exp.SetOperation | exp.Subquery):
        query = query.this
    if not isinstance(query, exp.Select):
        return
    for i, projection in enumerate(query.expressions):
        if isinstance(projection, exp.Alias | exp.Column | exp.Star | exp.Dot):
            continue
        projection.replace(exp.alias_(projection.copy(), f"_col{i}"))


def transform_up(tree: exp.Expr) -> exp.Expr:
    """Apply `_rewrite` children first, so every rewrite sees rewritten arguments."""
    for node in reversed(list(tree.dfs())):
        parent, arg_key, index = node.parent, node.arg_key, node.index
        new = _rewrite(node)  # may wrap `node`, which re-parents it: put `new` where `node` was
        if new is not node:
            if parent is None:
                tree = new
            else:
                parent.set(arg_key, new, index)
    return tree


__all__ = ["cast_dates_back", "name_outputs", "transform_up"]
