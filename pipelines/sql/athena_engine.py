"""The AWS SQL engine: Amazon Athena through pyathena, results as Arrow.

Starting a statement, polling it and reading its result are pyathena's (`pyathena.arrow.cursor.
ArrowCursor` on a `pyathena.connection.Connection` made from the project's boto3 session, its
endpoint and region): `StartQueryExecution` with the SQL as written, in the settings' work group,
with the Glue database as the session's database (catalog `AwsDataCatalog`) and, when set, the
settings' result location; then `GetQueryExecution` until the query ends. What the engine adds:

- the polling cadence: the wait between two polls grows from `poll_interval` by 1.5 up to
  `max_poll_interval` (pyathena's `on_poll` callback sleeps; pyathena's own interval is 0), and a
  query that outlives `timeout_s` is stopped (`StopQueryExecution`) before `TimeoutError` is raised
  (pyathena stops an interrupted query, Ctrl-C, itself);
- failures: FAILED or CANCELLED raise `SqlError` with Athena's reason, error category and query id
  (pyathena's `OperationalError` carries only the reason; the last polled execution has the rest);
  a refused request (`StartQueryExecution` failing) raises `SqlError` too;
- how results are read (`results`):
  - `"unload"` (the default when a result location is set): a query (SELECT/WITH) runs as
    `UNLOAD ... TO '<result location>unload/...' WITH (format = 'PARQUET')` and its Parquet files
    are read (pyathena's `unload=True`). This is the path for big results: `stream()` (the marts
    write whole partitions from it), `query()` and the row count of `execute()` read through it.
    Types are Parquet's as Athena writes them: timestamps as timestamp[us], decimal(p, s) ->
    decimal128(p, s), varbinary -> binary, array/map/row as Arrow list/map/struct; NULL and ''
    stay apart. UNLOAD writes its files in parallel, so an order would not survive them: a query
    whose outermost SELECT has an ORDER BY is read through the result file instead (`"csv"`).
  - `"csv"` (the default without a result location): Athena's CSV result file, or, when the work
    group keeps none (managed result storage), the `GetQueryResults` pages read as that file.
    Types by the result metadata (`AthenaArrowTypes`): varchar/char -> string,
    tinyint/smallint/integer/bigint -> int8/16/32/64, double -> float64, float/real -> float32,
    boolean, decimal(p, s) -> decimal128(p, s), date -> date32, timestamp -> timestamp[ms] ([us] or
    [ns] beyond millisecond precision), timestamp with time zone -> timestamp[ms, UTC], varbinary
    -> binary, unknown -> null; array, map, row, json, time and interval stay text as Athena
    prints them. In this format a NULL text value and '' are both read as '' (pyathena's CSV
    reading; the UNLOAD path keeps them apart).
  Other statements (CTAS, UNLOAD, DDL) are never wrapped; their update count is Athena's.
  pyathena reads a whole result into memory; `stream()` then hands out its batches.

Nothing is wrapped in a CTAS: federated queries (`dynamodb.default.<table>`, Athena's DynamoDB
connector registered as the data catalog `dynamodb`) and ordinary ones run as they are. The only
rewrites of the SQL text are token-level: `?`/`:name` parameters become literals, and
`dynamodb.default.<contract table>` becomes the physical table (`"<prefix><table>"`), so the same
model text runs on both engines.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyathena.arrow.converter import DefaultArrowTypeConverter
from pyathena.arrow.cursor import ArrowCursor
from pyathena.connection import Connection
from pyathena.error import DatabaseError, OperationalError
from pyathena.model import AthenaQueryExecution

from gitgoods import aws
from gitgoods.contract.tables import TABLES
from gitgoods.settings import Settings, get_settings
from pipelines.sql.dialects import TranspileError, parse
from pipelines.sql.engine import ExecuteResult, Params, SqlEngine, SqlError
from pipelines.sql.federated import CATALOG as FEDERATED_CATALOG
from pipelines.sql.federated import SCHEMA as FEDERATED_SCHEMA
from pipelines.sql.params import bind_params_text
from pipelines.sql.statements import parse_statement
from pipelines.sql.text_edits import rename_catalog_tables_text

log = logging.getLogger(__name__)

DEFAULT_WORKGROUP = "primary"
DATA_CATALOG = "AwsDataCatalog"
RESULTS = ("unload", "csv")
_CATEGORIES = {1: "SYSTEM", 2: "USER", 3: "OTHER"}
# What pyathena's CSV reading leaves as text (the engine converts it): zoned timestamps and
# varbinary (by pyathena's converters of the same types), and floating point, which pyarrow's CSV
# reader would read with "NaN" as NULL.
_FROM_TEXT = {
    "timestamp with time zone": pa.timestamp("ms", tz="UTC"),
    "varbinary": pa.binary(),
    "double": pa.float64(),
    "float": pa.float32(),
    "real": pa.float32(),
}


class AthenaArrowTypes(DefaultArrowTypeConverter):
    """The Arrow types the CSV result is read with, by Athena type, precision and scale."""

    def get_dtype(self, type_: str, precision: int = 0, scale: int = 0) -> Any:
        kind = type_.lower()
        if kind in _FROM_TEXT:
            return pa.string()
        if kind == "decimal":
            return pa.decimal128(min(max(precision or 38, 1), 38), scale or 0)
        if kind == "timestamp":
            return pa.timestamp("ms" if (precision or 3) <= 3 else "us" if precision <= 6 else "ns")
        if kind == "unknown":
            return pa.null()
        return super().get_dtype(kind, precision, scale)


class AthenaEngine(SqlEngine):
    """Athena SQL on Amazon Athena through pyathena (see the module docstring)."""

    name = "athena"

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        workgroup: str | None = None,
        output: str | None = None,
        database: str | None = None,
        results: str | None = None,
        poll_interval: float = 0.25,
        max_poll_interval: float = 2.0,
        timeout_s: float | None = None,
        federated_catalog: str = FEDERATED_CATALOG,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings or get_settings()
        self.workgroup = workgroup or self.settings.athena_workgroup or DEFAULT_WORKGROUP
        self.output = output if output is not None else self.settings.athena_output
        self.database = database or self.settings.glue_database
        self.results = results or ("unload" if self.output else "csv")
        if self.results not in RESULTS:
            raise ValueError(f"results must be one of {RESULTS}, not {self.results!r}")
        if self.results == "unload" and not self.output:
            raise ValueError("results='unload' needs a result location (output / GITGOODS_ATHENA_OUTPUT)")
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.timeout_s = timeout_s
        self.federated_catalog = federated_catalog
        self._sleep = sleep
        self.types = AthenaArrowTypes()
        self.connection = Connection(
            session=aws.session(self.settings),
            region_name=self.settings.region,
            endpoint_url=self.settings.aws_endpoint,
            work_group=self.workgroup,
            s3_staging_dir=self.output or "",  # "": the work group's location, not an env variable
            schema_name=self.database,
            catalog_name=DATA_CATALOG,
            poll_interval=0,  # the engine's on_poll waits (see _Polls)
            kill_on_interrupt=True,
        )
        self.last_query_id: str | None = None

    @property
    def client(self) -> Any:
        """The boto3 Athena client pyathena sends with."""
        return self.connection.client

    # -- the SQL sent ----------------------------------------------------------------------------------

    def athena_sql(self, sql: str, params: Params = None) -> str:
        """The text sent to Athena: `sql` with its parameters inlined and the federated contract
        tables named physically; nothing else changes."""
        try:
            text = bind_params_text(sql, params)
            if self.federated_catalog.lower() in text.lower():
                mapping = {name: self.settings.table(name) for name in TABLES}
                text = rename_catalog_tables_text(text, self.federated_catalog, FEDERATED_SCHEMA, mapping)
        except TranspileError as exc:
            raise SqlError(str(exc), engine=self.name, sql=sql) from exc
        return text

    # -- running ------------------------------------------------------------------------------------------

    def run(self, sql: str, params: Params = None, *, unload: bool = False) -> ArrowCursor:
        """Start, wait and read the result (as Parquet files of an UNLOAD when `unload` and the
        statement is a query); the finished pyathena cursor."""
        text = self.athena_sql(sql, params)
        polls = _Polls(self)
        cursor = self.connection.cursor(
            ArrowCursor,
            unload=unload,
            on_poll=polls,
            on_start_query_execution=self._started,
            converter=self.types,
        )
        try:
            cursor.execute(text)
        except TimeoutError:
            try:
                cursor.cancel()
            except Exception:  # noqa: BLE001 - already failing; the timeout matters
                log.warning("could not stop Athena query %s", cursor.query_id)
            raise
        except OperationalError as exc:
            execution = polls.last
            if execution is None or execution.state == AthenaQueryExecution.STATE_SUCCEEDED:
                raise SqlError(f"Athena: {exc}", engine=self.name, sql=text, query_id=cursor.query_id) from exc
            reason = execution.state_change_reason or execution.error_message or execution.state
            raise SqlError(
                f"Athena query {execution.query_id} {execution.state}: {reason}",
                engine=self.name,
                sql=text,
                query_id=execution.query_id,
                reason=reason,
                category=_CATEGORIES.get(execution.error_category or 0),
            ) from exc
        except DatabaseError as exc:
            raise SqlError(f"Athena refused the query: {exc}", engine=self.name, sql=text) from exc
        return cursor

    def _started(self, query_id: str) -> None:
        self.last_query_id = query_id
        log.info("athena query %s started in %s", query_id, self.workgroup)

    def _unload(self, sql: str) -> bool:
        """Whether a query is read through UNLOAD's files: by the `results` setting, except that an
        ordered query (ORDER BY in its outermost SELECT) keeps its order through the result file."""
        if self.results != "unload":
            return False
        try:
            trees = parse(sql)
        except TranspileError:
            return True
        return not (len(trees) == 1 and trees[0].args.get("order") is not None)

    def _table(self, sql: str, params: Params) -> pa.Table:
        cursor = self.run(sql, params, unload=self._unload(sql))
        table = cursor.as_arrow()
        for i, (_name, kind, *_) in enumerate(cursor.description or []):
            target = _FROM_TEXT.get(kind)
            if target is None or i >= table.num_columns or not pa.types.is_string(table.schema.field(i).type):
                continue  # typed already (as Parquet files are)
            text = table.column(i)
            if pa.types.is_floating(target):  # NULL was read as ''
                values = pc.cast(pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text), target)
            else:
                values = pa.array([self.types.convert(kind, v or None) for v in text.to_pylist()], target)
            table = table.set_column(i, table.schema.field(i).with_type(target), values)
        return table

    # -- the interface ---------------------------------------------------------------------------------------

    def query(self, sql: str, params: Params = None) -> pa.Table:
        return self._table(sql, params)

    def stream(self, sql: str, params: Params = None, *, batch_rows: int = 65_536) -> pa.RecordBatchReader:
        table = self._table(sql, params)
        return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=batch_rows))

    def execute(self, sql: str, params: Params = None) -> ExecuteResult:
        try:
            statement = parse_statement(sql)
            kind = statement.kind
        except TranspileError:
            statement, kind = None, "other"  # Athena-only DDL sqlglot does not know: Athena judges it
        cursor = self.run(sql, params, unload=kind == "query" and self._unload(sql))
        rows = None
        if kind == "query":
            rows = cursor.as_arrow().num_rows
        elif kind in ("ctas", "unload") or cursor.statement_type == "DML":
            rows = cursor.rowcount if cursor.rowcount >= 0 else self._update_count(cursor.query_id)
        location = None
        if statement is not None and kind in ("ctas", "unload"):
            location = statement.properties.get("external_location") or statement.properties.get("location")
        return ExecuteResult(
            kind,
            rows=rows,
            location=location,
            query_id=cursor.query_id,
            stats={
                "data_scanned_bytes": cursor.data_scanned_in_bytes,
                "engine_ms": cursor.engine_execution_time_in_millis,
                "total_ms": cursor.total_execution_time_in_millis,
                "queue_ms": cursor.query_queue_time_in_millis,
                "output_location": cursor.output_location,
            },
        )

    def _update_count(self, query_id: str | None) -> int | None:
        # pyathena counts INSERT/UPDATE/DELETE/MERGE/CTAS; Athena also counts the rows of an UNLOAD
        return self.client.get_query_results(QueryExecutionId=query_id, MaxResults=1).get("UpdateCount")

    def close(self) -> None:
        self.connection.close()


class _Polls:
    """pyathena's `on_poll`: remembers the last execution polled, waits before the next poll with
    the engine's backoff, and raises `TimeoutError` once the engine's `timeout_s` has passed."""

    def __init__(self, engine: AthenaEngine) -> None:
        self.engine = engine
        self.interval = engine.poll_interval
        self.deadline = None if engine.timeout_s is None else time.monotonic() + engine.timeout_s
        self.last: AthenaQueryExecution | None = None

    def __call__(self, execution: Any) -> None:
        self.last = execution
        if execution.state in AthenaQueryExecution.TERMINAL_STATES:
            return
        if self.deadline is not None and time.monotonic() > self.deadline:
            limit = self.engine.timeout_s
            raise TimeoutError(f"Athena query {execution.query_id} still {execution.state} after {limit}s")
        self.engine._sleep(self.interval)
        self.interval = min(self.interval * 1.5 if self.interval else 0.0, self.engine.max_poll_interval)


__all__ = ["AthenaArrowTypes", "AthenaEngine"]
