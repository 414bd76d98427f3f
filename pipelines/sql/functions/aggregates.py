"""Aggregates (https://trino.io/docs/current/functions/aggregate.html) as Trino gives them:
`approx_percentile` of the argument's type (one percentage or an array of them), `count_if` 0 over
no rows, `every`; weighted `approx_percentile` (DuckDB has no weighted quantile: the weights would be
dropped) and `checksum` (no equivalent hash) are refused.
"""

from __future__ import annotations

from sqlglot import exp

from pipelines.sql.functions import call, refuse


def _aggregates(node: exp.Expr) -> exp.Expr | None:
    if isinstance(node, exp.ApproxQuantile):
        if node.args.get("weight") is not None:
            refuse("approx_percentile(x, w, percentage)", "the embedded engine has no weighted percentile")
        if node.args.get("accuracy") is not None:
            refuse("approx_percentile(x, percentage, accuracy)", "the embedded engine has no accuracy parameter")
        # DuckDB's approx_quantile keeps x's type as Trino does (sqlglot would cast it to a double)
        return call("APPROX_QUANTILE", node.this, node.args["quantile"])
    if isinstance(node, exp.CountIf):
        # DuckDB's count_if is NULL over no rows, Trino's 0
        case = exp.Case(ifs=[exp.If(this=node.this, true=exp.Literal.number(1))])
        return exp.Count(this=case)
    if isinstance(node, exp.Anonymous) and node.name.lower() == "every" and len(node.expressions) == 1:
        return call("BOOL_AND", node.expressions[0])
    if isinstance(node, exp.Anonymous) and node.name.lower() == "checksum":
        refuse("checksum(x)", "the embedded engine has no equivalent of Trino's order-insensitive hash")
    return None


REWRITES = [_aggregates]
