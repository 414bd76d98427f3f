"""Maps (https://trino.io/docs/current/functions/map.html) as Trino gives them: `cardinality` of a
map, the subscript operator failing on a missing key (where `element_at` gives NULL), `map_agg`
(NULL keys skipped, NULL for no rows), `map_entries` as rows that UNNEST expands.
"""

from __future__ import annotations

from sqlglot import exp

from pipelines.sql.functions import call
from pipelines.sql.functions.arrays import kind, subscript_index

_T = exp.DataType.Type


def _maps(node: exp.Expr) -> exp.Expr | None:
    if isinstance(node, exp.ArraySize) and kind(node.this) == _T.MAP:
        return exp.Cast(this=call("CARDINALITY", node.this), to=exp.DataType.build("BIGINT"))
    if (
        isinstance(node, exp.Bracket)
        and not node.args.get("safe")
        and len(node.expressions) == 1
        and kind(node.this) == _T.MAP
    ):
        return call("gg_map_subscript", node.this, subscript_index(node))
    if isinstance(node, exp.Anonymous) and node.name.lower() == "map_agg" and len(node.expressions) == 2:
        agg = call("gg_map_agg", *node.expressions)
        agg.type = exp.DataType(this=_T.MAP)  # for `cardinality` around it
        return agg
    if isinstance(node, exp.Anonymous) and node.name.lower() == "map_entries" and len(node.expressions) == 1:
        arg = node.expressions[0]
        t = getattr(arg, "type", None)
        known = t is not None and t.this == _T.MAP and len(t.expressions) == 2
        if known or kind(arg) == _T.MAP:  # typed as rows so that UNNEST ... AS t(k, v) expands them
            key, value = (e.sql("duckdb") for e in t.expressions) if known else ("UNKNOWN", "UNKNOWN")
            node.type = exp.DataType.build(f"ARRAY<STRUCT<key {key}, value {value}>>", dialect="duckdb")
            return node
    return None


REWRITES = [_maps]

MACROS = [
    """CREATE OR REPLACE MACRO gg_map_subscript(m, k) AS
        CASE WHEN NOT map_contains(m, k) THEN error('Key not present in map') ELSE m[k] END""",
    "CREATE OR REPLACE MACRO gg_map_agg(k, v) AS map_from_entries(list({'k': k, 'v': v}) FILTER (WHERE k IS NOT NULL))",
]
