"""`TABLESAMPLE BERNOULLI (p)` / `TABLESAMPLE SYSTEM (p)` on the tables the DuckDB engine registers
(https://trino.io/docs/current/sql/select.html#tablesample).

The engine swaps each lake table reference for the view it registers; `carry_sample` moves the
clause onto that view's reference, so DuckDB samples it: BERNOULLI keeps each row with probability
p%, SYSTEM keeps whole chunks of rows (DuckDB's vectors, as Trino keeps whole splits). 0 keeps no
row and 100 every row. Any other method, or a percentage outside [0, 100], is refused.
"""

from __future__ import annotations

from sqlglot import exp

from pipelines.sql.functions import refuse

METHODS = ("BERNOULLI", "SYSTEM")


def carry_sample(source: exp.Table, target: exp.Table) -> exp.Table:
    """`target` with the sample clause of `source` (checked), if it has one."""
    sample = source.args.get("sample")
    if sample is None:
        return target
    method = sample.args.get("method")
    percent = sample.args.get("percent")
    name = method.name.upper() if method is not None else ""
    if name not in METHODS or percent is None or sample.args.get("size") or sample.args.get("seed"):
        refuse(f"TABLESAMPLE {sample.sql('athena')}", "only BERNOULLI (p) and SYSTEM (p) sample a percentage")
    value = percent.this if isinstance(percent, exp.Literal) and not percent.is_string else None
    if value is None or not 0 <= float(value) <= 100:
        refuse(f"TABLESAMPLE {name} ({percent.sql('athena')})", "the percentage must be a number from 0 to 100")
    target.set("sample", sample.copy())
    return target


__all__ = ["carry_sample"]
