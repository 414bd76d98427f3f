"""`UNNEST` as Trino expands it (https://trino.io/docs/current/sql/select.html#unnest):

- an array of scalars gives one column, an array of rows one column per row field, a map two
  columns (key, value);
- several arguments are expanded side by side, the shorter ones padded with NULL;
- `WITH ORDINALITY` adds the 1-based position as the last column.

DuckDB's `UNNEST` takes one list, and a list of structs stays one struct column: the clause
becomes a subquery that unnests each argument in one select list (DuckDB zips several unnests of
one select list, padding with NULL, as Trino does), then expands struct elements into their
fields. The rewrite needs the arguments' types (the typed tree); untyped, the clause is left as it
is and DuckDB says what it cannot bind.
"""

from __future__ import annotations

from sqlglot import exp

from pipelines.sql.functions import call

T = exp.DataType.Type


def _shape(arg: exp.Expr) -> tuple[str, int] | None:
    """("rows", n fields) | ("map", 2) | ("scalars", 1) for a typed argument, else None."""
    kind = getattr(arg, "type", None)
    if isinstance(arg, exp.MapFromEntries) and (kind is None or kind.this == T.UNKNOWN):
        entries = getattr(arg.this, "type", None)  # sqlglot leaves map_from_entries untyped
        literal = arg.this if isinstance(arg.this, exp.Array) else None  # ARRAY[('k', v), ...]: rows
        if literal is not None and literal.expressions and all(
            isinstance(e, exp.Tuple) and len(e.expressions) == 2 for e in literal.expressions
        ):
            return "map", 2
        if entries is not None and entries.this == T.ARRAY and entries.expressions:
            element = entries.expressions[0]
            if element.this == T.STRUCT and len(element.expressions) == 2:
                return "map", 2
        return None
    if kind is None:
        return None
    if kind.this == T.MAP:
        return "map", 2
    if kind.this == T.ARRAY and kind.expressions:
        element = kind.expressions[0]
        if element.this == T.STRUCT:
            return "rows", len(element.expressions)
        if element.this != T.UNKNOWN:
            return "scalars", 1
    return None


def _element_types(arg: exp.Expr, shape: tuple[str, int]) -> list[exp.DataType] | None:
    """The types of the columns `arg` unnests into (positionally), when known."""
    kind = getattr(arg, "type", None)
    if kind is None or kind.this == T.UNKNOWN:
        return None
    if shape[0] == "map" and kind.this == T.MAP and len(kind.expressions) == 2:
        return list(kind.expressions)
    if shape[0] == "rows":
        fields = kind.expressions[0].expressions
        types = [f.args.get("kind") if isinstance(f, exp.ColumnDef) else f for f in fields]
        return types if all(isinstance(t, exp.DataType) for t in types) else None
    return None


def type_unnest_columns(tree: exp.Expr) -> bool:
    """Give the columns of `UNNEST(map) AS t(k, v)` and `UNNEST(array of rows) AS t(a, b)` their
    types (sqlglot types an array's elements, not a map's entries nor unnamed row fields, which
    Trino binds by position), and mark their ancestors untyped for another `annotate_types` pass
    (`overwrite_types=False`). True if any column was typed."""
    known: dict[tuple[str, str], exp.DataType] = {}
    for node in tree.find_all(exp.Unnest):
        alias = node.args.get("alias")
        if alias is None or not alias.this or not alias.columns:
            continue
        types: list[exp.DataType] = []
        for arg in node.expressions:
            shape = _shape(arg)
            element = _element_types(arg, shape) if shape and shape[0] != "scalars" else None
            if element is None:
                break
            types.extend(element)
        else:
            if len(types) == len(alias.columns):
                for column, kind in zip(alias.columns, types, strict=True):
                    known[(alias.name.lower(), column.name.lower())] = kind
    changed = False
    for column in tree.find_all(exp.Column):
        kind = known.get((column.table.lower(), column.name.lower()))
        if kind is None or (column.type is not None and column.type == kind):
            continue
        column.type = kind.copy()
        changed = True
        parent = column.parent
        while parent is not None:
            parent.type = exp.DataType.build("UNKNOWN")
            parent = parent.parent
    return changed


def expand_unnest(node: exp.Expr) -> exp.Expr | None:
    """`UNNEST(a1, ..., an) [WITH ORDINALITY] AS t(c1, ..., cm[, ord])` -> a subquery with one
    column per Trino output column."""
    if not isinstance(node, exp.Unnest):
        return None
    alias = node.args.get("alias")
    if alias is None or not alias.columns or not node.expressions:
        return None
    shapes = [_shape(arg) for arg in node.expressions]
    if any(s is None for s in shapes):
        return None
    width = sum(s[1] for s in shapes if s is not None)
    ordinality = node.args.get("offset")
    if len(alias.columns) != width:
        return None
    if len(node.expressions) == 1 and shapes[0] == ("scalars", 1) and not ordinality:
        return None  # DuckDB's UNNEST of one list already is Trino's
    inner: list[exp.Expr] = []
    outer: list[exp.Expr] = []
    for i, (arg, shape) in enumerate(zip(node.expressions, shapes, strict=True)):
        assert shape is not None
        name = f"_gg_e{i}"
        source = call("MAP_ENTRIES", arg.copy()) if shape[0] == "map" else arg.copy()
        inner.append(exp.alias_(exp.Unnest(expressions=[source]), name))
        column = exp.column(name, "_gg_u")
        outer.append(column if shape[0] == "scalars" else exp.Unnest(expressions=[column]))
    columns = [c.copy() for c in alias.columns]
    if ordinality:
        lists = [call("MAP_KEYS", a.copy()) if s and s[0] == "map" else a.copy()
                 for a, s in zip(node.expressions, shapes, strict=True)]  # fmt: skip
        if len(lists) == 1:
            position: exp.Expr = call("GENERATE_SUBSCRIPTS", lists[0], exp.Literal.number(1))
        else:  # 1 .. the longest argument's length, zipped with the arguments
            lengths = [call("LEN", a) for a in lists]
            longest = exp.Greatest(this=lengths[0], expressions=lengths[1:])
            position = exp.Unnest(expressions=[call("RANGE", exp.Literal.number(1), exp.Add(
                this=longest, expression=exp.Literal.number(1)))])  # fmt: skip
        inner.append(exp.alias_(position, "_gg_o"))
        outer.append(exp.column("_gg_o", "_gg_u"))
        columns.append(ordinality.copy() if isinstance(ordinality, exp.Identifier) else exp.to_identifier("ordinality"))
    subquery = exp.select(*outer).from_(exp.select(*inner).subquery("_gg_u"))
    new_alias = exp.TableAlias(this=alias.this.copy() if alias.this else exp.to_identifier("_gg_t"), columns=columns)
    if isinstance(node.parent, exp.From):
        return exp.Subquery(this=subquery, alias=new_alias)
    return exp.Lateral(this=exp.Subquery(this=subquery), alias=new_alias)


REWRITES = [expand_unnest]

__all__ = ["REWRITES", "expand_unnest", "type_unnest_columns"]
