"""Arrays (https://trino.io/docs/current/functions/array.html) as Trino gives them: the subscript
operator fails out of bounds where `element_at` gives NULL, `contains`, `array_max` and `array_min`
are NULL where a NULL element leaves the answer unknown, `array_position` is a bigint and 0 when
absent, `array_distinct` keeps the first of each value (NULL included) in order, `slice` takes a
length, `sequence` counts down when start > stop, `zip` pads with NULLs, `reduce` applies its output
function, `array || element` appends. A comparator given to `array_sort` is refused.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types

from pipelines.sql.dialects import ATHENA
from pipelines.sql.functions import call, refuse

_T = exp.DataType.Type


def kind(node: exp.Expr) -> _T | None:
    """The type of `node` as far as the tree says (a literal ARRAY[...] or map(...) without typing)."""
    if isinstance(node, exp.Array):
        return _T.ARRAY
    if isinstance(node, exp.Map | exp.MapFromEntries):
        return _T.MAP
    if isinstance(node, exp.Cast):
        return node.to.this
    if isinstance(node, exp.Literal):
        return _T.VARCHAR if node.is_string else _T.INT
    t = getattr(node, "type", None)
    return None if t is None or t.this == _T.UNKNOWN else t.this


def _typed(node: exp.Expr, like: exp.DataType) -> exp.Expr:
    node.type = like
    return node


def _untyped_kind(node: exp.Expr) -> _T:
    """The type sqlglot gave `node` when it parsed it (before the query's tables were known)."""
    fresh = annotate_types(exp.maybe_parse(node.sql(ATHENA), dialect=ATHENA), dialect=ATHENA)
    return fresh.type.this if fresh.type is not None else _T.UNKNOWN


def subscript_index(node: exp.Bracket) -> exp.Expr:
    """The 1-based index (or the key) of `x[i]` as written. sqlglot's parser made an integer index of
    an array (or of what it could not type yet) 0-based; its DuckDB writer adds 1 back only where it
    then sees an array, so a map column's key or a typed column index would be off by one."""
    index = node.expressions[0]
    if _untyped_kind(node.this) in (_T.UNKNOWN, _T.ARRAY) and _untyped_kind(index) in exp.DataType.INTEGER_TYPES:
        return exp.Add(this=index, expression=exp.Literal.number(1))
    return index


def _subscript(node: exp.Expr) -> exp.Expr | None:
    """`x[i]` and `element_at(x, i)` (sqlglot: a "safe" bracket) of an array."""
    if not isinstance(node, exp.Bracket) or len(node.expressions) != 1 or kind(node.this) != _T.ARRAY:
        return None
    if node.args.get("safe"):  # element_at(x, i): sqlglot keeps the index as written (offset 1)
        index = node.expressions[0] if node.args.get("offset") == 1 else subscript_index(node)
        return call("gg_element_at", node.this, index)
    return call("gg_array_subscript", node.this, subscript_index(node))


def _functions(node: exp.Expr) -> exp.Expr | None:
    if isinstance(node, exp.ArrayPosition):
        return call("gg_array_position", node.this, node.expression)
    if isinstance(node, exp.ArrayContains):
        return call("gg_contains", node.this, node.expression)
    if isinstance(node, exp.ArrayMax | exp.ArrayMin):
        name = "gg_array_max" if isinstance(node, exp.ArrayMax) else "gg_array_min"
        return call(name, node.this)
    if isinstance(node, exp.ArrayDistinct):
        return call("gg_array_distinct", node.this)
    if isinstance(node, exp.ArraySlice):
        start, length = node.args.get("start"), node.args.get("end")
        if start is None or length is None:
            return None
        return call("gg_slice", node.this, start, length)
    if isinstance(node, exp.ArraySort) and node.expression is not None:
        refuse("array_sort(array, comparator)", "DuckDB sorts lists only by their natural order")
    if isinstance(node, exp.GenerateSeries) and node.args.get("step") is None and not _is_date(node.args["start"]):
        # Trino: a step of -1 when start > stop (DuckDB: an empty list); dates: rewrites._as_date_array
        start, end = node.args["start"], node.args["end"]
        down = exp.If(this=exp.GT(this=start.copy(), expression=end.copy()), true=exp.Literal.number(-1))
        node.set("step", exp.Case(ifs=[down], default=exp.Literal.number(1)))
        return None
    if isinstance(node, exp.Anonymous) and node.name.lower() == "zip" and node.expressions:
        return _typed(call("LIST_ZIP", *node.expressions), _zip_type(node.expressions))
    if isinstance(node, exp.Reduce) and node.args.get("finish") is not None:
        return _reduce(node)
    if isinstance(node, exp.DPipe):
        left, right = kind(node.this), kind(node.expression)
        if left == _T.ARRAY and right not in (_T.ARRAY, None):
            return call("LIST_APPEND", node.this, node.expression)
        if right == _T.ARRAY and left not in (_T.ARRAY, None):
            return call("LIST_PREPEND", node.this, node.expression)
    return None


def _is_date(node: exp.Expr) -> bool:
    return kind(node) in (_T.DATE, _T.TIMESTAMP, _T.TIMESTAMPTZ, _T.DATETIME)


def _zip_type(arrays: list[exp.Expr]) -> exp.DataType:
    """array(row(...)) of the arrays' element types, so that UNNEST ... AS t(a, b) expands it."""
    fields = []
    for i, array in enumerate(arrays):
        t = getattr(array, "type", None)
        known = t is not None and t.this == _T.ARRAY and t.expressions
        fields.append(f"field{i} {t.expressions[0].sql('duckdb') if known else 'UNKNOWN'}")
    return exp.DataType.build(f"ARRAY<STRUCT<{', '.join(fields)}>>", dialect="duckdb")


def _reduce(node: exp.Reduce) -> exp.Expr:
    """reduce(a, s0, (s, x) -> ..., s -> f(s)): f applied to DuckDB's list_reduce (with s0 as its initial value)."""
    finish = node.args["finish"]
    reduced = exp.Reduce(this=node.this, initial=node.args["initial"], merge=node.args["merge"])
    if not isinstance(finish, exp.Lambda) or len(finish.expressions) != 1:
        refuse("reduce(..., outputFunction)", "the output function must be a lambda of one argument")
    name = finish.expressions[0].name
    body = finish.this.copy()
    # the lambda's parameter, as sqlglot parses it: a bare identifier (or an unqualified column)
    uses = [
        n
        for n in body.find_all(exp.Identifier, exp.Column)
        if n.name == name and not isinstance(n.parent, exp.Column) and not (isinstance(n, exp.Column) and n.table)
    ]
    if body in uses:
        return reduced
    for use in uses:
        use.replace(exp.Paren(this=reduced.copy()))
    return body


REWRITES = [_subscript, _functions]

MACROS = [
    """CREATE OR REPLACE MACRO gg_array_subscript(a, i) AS CASE
        WHEN i = 0 THEN error('SQL array indices start at 1')
        WHEN abs(i) > len(a) OR i < 0 THEN error('Array subscript out of bounds') ELSE a[i] END""",
    # element_at: NULL past either end (a negative index counts from the end), but index 0 fails
    "CREATE OR REPLACE MACRO gg_element_at(a, i) AS CASE WHEN i = 0 THEN error('SQL array indices start at 1') "
    "ELSE a[i] END",
    """CREATE OR REPLACE MACRO gg_array_position(a, e) AS
        CASE WHEN a IS NULL OR e IS NULL THEN NULL ELSE CAST(coalesce(list_position(a, e), 0) AS BIGINT) END""",
    # Trino: NULL when the element is absent but the array holds a NULL (DuckDB: false)
    """CREATE OR REPLACE MACRO gg_contains(a, e) AS CASE WHEN e IS NULL THEN NULL WHEN list_contains(a, e) THEN true
        WHEN list_count(a) < len(a) THEN NULL ELSE list_contains(a, e) END""",
    # Trino: NULL when the array holds a NULL (DuckDB skips it)
    "CREATE OR REPLACE MACRO gg_array_max(a) AS CASE WHEN list_count(a) < len(a) THEN NULL ELSE list_max(a) END",
    "CREATE OR REPLACE MACRO gg_array_min(a) AS CASE WHEN list_count(a) < len(a) THEN NULL ELSE list_min(a) END",
    "CREATE OR REPLACE MACRO gg_array_distinct(a) AS list_filter(a, lambda e, i: list_position(a, e) = i)",
    """CREATE OR REPLACE MACRO gg_slice(a, s, n) AS CASE
        WHEN s = 0 THEN error('SQL array indices start at 1')
        WHEN n < 0 THEN error('length must be greater than or equal to 0')
        WHEN s > 0 THEN a[s:s + n - 1]
        WHEN len(a) + s < 0 THEN a[1:0]
        ELSE a[len(a) + s + 1:len(a) + s + n] END""",
]
