"""The SQL engine layer: Athena-dialect SQL in, Arrow out, on Athena (aws) or DuckDB (local).

See docs/sql-engines.md. `engine_for(settings)` picks the engine; `pipelines.sql.transpile` turns
Athena SQL into DuckDB SQL (drawing on `dialects`, `statements`, `params`, `text_edits`,
`pushdown`, `joda` and `rewrites`); `pipelines.sql.federated` serves `dynamodb.default.<table>`
locally.
"""

from pipelines.sql.engine import ExecuteResult, SqlEngine, SqlError, engine_for

__all__ = ["ExecuteResult", "SqlEngine", "SqlError", "engine_for"]
