"""One SQL engine interface for the pipeline, two engines behind it.

Athena-dialect SQL goes in, Arrow comes out. `engine_for(settings)` picks the engine from
`GITGOODS_ENV`: `local` -> `DuckDBEngine` (embedded DuckDB over the lake on disk or S3, the SQL
transpiled with sqlglot, DynamoDB through a small federated connector), `aws` -> `AthenaEngine`
(Amazon Athena, work group and result location from the settings, DynamoDB through Athena's
DynamoDB connector). The same SQL text runs on both (see docs/sql-engines.md for the naming of
tables and what the transpiler handles).

A mart asset typically does::

    with engine_for(settings) as sql:
        reader = sql.stream(model_sql, params)          # pa.RecordBatchReader
        PartitionWriter(lake, "seller_daily_sales", schema, zone="marts").write(day, reader)
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from gitgoods.settings import Settings, get_settings

Params = Sequence[Any] | Mapping[str, Any] | None


class SqlError(RuntimeError):
    """A statement failed: the engine's own reason, and the SQL it ran (for DuckDB, after transpiling)."""

    def __init__(
        self,
        message: str,
        *,
        engine: str,
        sql: str | None = None,
        query_id: str | None = None,
        reason: str | None = None,
        category: str | None = None,
    ) -> None:
        super().__init__(message)
        self.engine = engine
        self.sql = sql
        self.query_id = query_id
        self.reason = reason or message
        self.category = category


@dataclass
class ExecuteResult:
    """What a statement did.

    `kind`: query, ctas, unload, create_view, drop_table, drop_view or other (DDL). `rows`: rows
    returned or written when known; `location`: where a CTAS or UNLOAD wrote its files; `query_id`:
    Athena's query execution id; `stats`: engine-specific figures (Athena: data scanned, times).
    """

    kind: str
    rows: int | None = None
    location: str | None = None
    table: str | None = None
    query_id: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)


class SqlEngine(abc.ABC):
    """Athena-dialect SQL in, Arrow out.

    - `query(sql, params)` runs one query and returns all rows as a `pa.Table`;
    - `stream(sql, params)` runs one query and returns a `pa.RecordBatchReader` (DuckDB streams from
      the executing query, Athena from the Parquet files of an UNLOAD, or its result file or pages);
    - `execute(sql, params)` runs any one statement: a query (rows counted, not kept), CTAS,
      `UNLOAD`, `CREATE VIEW`, `DROP TABLE/VIEW`, DDL;
    - `create_table_as(name, select_sql, ...)` materialises a SELECT as a table (a CTAS).

    Parameters: `?` placeholders with a sequence, or `:name` placeholders with a mapping; values are
    inlined as SQL literals (str, int, float, Decimal, bool, None, date, datetime, lists).
    Engines are context managers; `close()` releases connections.
    """

    name: str = "sql"

    @abc.abstractmethod
    def query(self, sql: str, params: Params = None) -> pa.Table: ...

    @abc.abstractmethod
    def stream(self, sql: str, params: Params = None, *, batch_rows: int = 65_536) -> pa.RecordBatchReader: ...

    @abc.abstractmethod
    def execute(self, sql: str, params: Params = None) -> ExecuteResult: ...

    def create_table_as(
        self,
        name: str,
        select_sql: str,
        *,
        location: str | None = None,
        partitioned_by: Sequence[str] = (),
        format: str = "PARQUET",  # noqa: A002
        params: Params = None,
    ) -> ExecuteResult:
        """`CREATE TABLE name WITH (format, external_location, partitioned_by) AS <select_sql>`.

        Partition columns must be the last columns of the SELECT, as Athena requires.
        """
        from pipelines.sql.statements import ctas_sql

        sql = ctas_sql(name, select_sql, location=location, partitioned_by=partitioned_by, format=format)
        return self.execute(sql, params)

    def close(self) -> None:  # noqa: B027 - optional for engines without resources
        pass

    def __enter__(self) -> SqlEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def engine_for(settings: Settings | None = None, **kwargs: Any) -> SqlEngine:
    """The engine for `settings.env`: `local` -> DuckDB, `aws` -> Athena (kwargs go to its constructor)."""
    settings = settings or get_settings()
    if settings.env == "aws":
        from pipelines.sql.athena_engine import AthenaEngine

        return AthenaEngine(settings, **kwargs)
    from pipelines.sql.duckdb_engine import DuckDBEngine

    return DuckDBEngine(settings, **kwargs)


__all__ = ["ExecuteResult", "Params", "SqlEngine", "SqlError", "engine_for"]
