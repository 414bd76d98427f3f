"""The AWS SQL engine: Amazon Athena, results as Arrow.

A statement is started with `StartQueryExecution` (the SQL as written, in the settings' work group,
with the Glue database as the session's database and, when set, the settings' result location),
polled with `GetQueryExecution` (QUEUED -> RUNNING -> SUCCEEDED; FAILED or CANCELLED raise
`SqlError` with Athena's reason and error category), and its rows are read either

- page by page with `GetQueryResults` (`results="api"`, 1,000 rows a page, `NextToken`), or
- from the CSV result file Athena writes to the output location (`results="csv"`, the default on
  AWS: one streamed S3 GetObject, parsed by pyarrow), with the column types of the result metadata.

Either way every column is converted by its Athena type (`ColumnInfo.Type`): varchar/char ->
string, tinyint/smallint/integer/bigint -> int8/16/32/64, double/float(real) -> float64/32,
boolean, decimal(p, s) -> decimal128(p, s), date -> date32, timestamp -> timestamp[ms] (us past
millisecond precision), timestamp with time zone -> timestamp[ms, UTC], varbinary (hex) ->
binary; array, map, row, json, time and interval stay text as Athena prints them.

Nothing is wrapped in a CTAS: federated queries (`dynamodb.default.<table>`, Athena's DynamoDB
connector registered as the data catalog `dynamodb`) and ordinary ones run as they are. The only
rewrites of the SQL text are token-level: `?`/`:name` parameters become literals, and
`dynamodb.default.<contract table>` becomes the physical table (`"<prefix><table>"`), so the same
model text runs on both engines.

Boto3 is used directly (client from `gitgoods.aws`, so moto locally): polling, paging and type
conversion stay visible and testable with `botocore.stub.Stubber`, and rows go to Arrow without
pandas or per-row Python objects on the CSV path.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import zoneinfo
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from gitgoods import aws
from gitgoods.contract.tables import TABLES
from gitgoods.settings import Settings, get_settings
from pipelines.sql.dialects import TranspileError
from pipelines.sql.engine import ExecuteResult, Params, SqlEngine, SqlError
from pipelines.sql.federated import CATALOG as FEDERATED_CATALOG
from pipelines.sql.federated import SCHEMA as FEDERATED_SCHEMA
from pipelines.sql.params import bind_params_text
from pipelines.sql.statements import parse_statement
from pipelines.sql.text_edits import rename_catalog_tables_text

log = logging.getLogger(__name__)

DEFAULT_WORKGROUP = "primary"
DATA_CATALOG = "AwsDataCatalog"
RUNNING_STATES = ("QUEUED", "RUNNING")
PAGE_ROWS = 1000

_STRING_TYPES = ("varchar", "char", "string", "json", "uuid", "ipaddress", "time", "array", "map", "row", "interval")
_INTEGERS = {
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "integer": pa.int32(),
    "int": pa.int32(),
    "bigint": pa.int64(),
}


# -- Athena result types -> Arrow -----------------------------------------------------------------


def arrow_type(column: dict[str, Any]) -> pa.DataType:
    """The Arrow type of one result column (`ColumnInfo` of `ResultSetMetadata`)."""
    kind = str(column.get("Type", "varchar")).lower()
    if kind in _INTEGERS:
        return _INTEGERS[kind]
    if kind == "boolean":
        return pa.bool_()
    if kind == "double":
        return pa.float64()
    if kind in ("float", "real"):
        return pa.float32()
    if kind == "decimal":
        precision = int(column.get("Precision") or 38)
        return pa.decimal128(min(max(precision, 1), 38), int(column.get("Scale") or 0))
    if kind == "date":
        return pa.date32()
    if kind == "timestamp with time zone":
        return pa.timestamp("ms", tz="UTC")
    if kind == "timestamp":
        return pa.timestamp("ms" if int(column.get("Precision") or 3) <= 3 else "us")
    if kind == "varbinary":
        return pa.binary()
    if kind == "unknown":
        return pa.null()
    return pa.string()  # varchar, char, json, array, map, row, time, interval, ...


def _zoned(text: str) -> dt.datetime:
    # "2026-01-01 10:00:00.000 UTC" / "... America/New_York" / "... +02:00"
    local, _, zone = text.rpartition(" ")
    value = dt.datetime.fromisoformat(local)
    if zone.upper() in ("UTC", "Z"):
        tz: dt.tzinfo = dt.UTC
    elif zone[:1] in "+-":
        tz = dt.datetime.strptime(zone.replace(":", ""), "%z").tzinfo or dt.UTC
    else:
        tz = zoneinfo.ZoneInfo(zone)
    return value.replace(tzinfo=tz).astimezone(dt.UTC)


def convert_column(values: pa.Array | list[str | None], column: dict[str, Any]) -> pa.Array:
    """Athena's text values of one column -> an Arrow array of the column's type."""
    strings = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
    target = arrow_type(column)
    if pa.types.is_string(target):
        return strings
    if pa.types.is_null(target):
        return pa.nulls(len(strings))
    if pa.types.is_binary(target):
        return pa.array([None if s is None else bytes.fromhex(s) for s in strings.to_pylist()], pa.binary())
    if pa.types.is_timestamp(target) and target.tz is not None:
        return pa.array([None if s is None else _zoned(s) for s in strings.to_pylist()], target)
    if pa.types.is_floating(target):
        try:
            return pc.cast(strings, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # NaN / Infinity spelled Java's way
            return pa.array([None if s is None else float(s) for s in strings.to_pylist()], target)
    if pa.types.is_timestamp(target):
        try:
            return pc.cast(strings, target)
        except pa.ArrowInvalid:  # more digits than the unit: keep them
            return pc.cast(strings, pa.timestamp("ns"))
    return pc.cast(strings, target)


def result_schema(columns: list[dict[str, Any]]) -> pa.Schema:
    return pa.schema(
        [pa.field(c.get("Name") or c.get("Label") or f"_col{i}", arrow_type(c)) for i, c in enumerate(columns)]
    )


# -- the engine -----------------------------------------------------------------------------------


class AthenaEngine(SqlEngine):
    """Athena SQL on Amazon Athena (see the module docstring)."""

    name = "athena"

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        client: Any = None,
        s3: Any = None,
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
        self.client = client or aws.client("athena", self.settings)
        self._s3 = s3
        self.workgroup = workgroup or self.settings.athena_workgroup or DEFAULT_WORKGROUP
        self.output = output if output is not None else self.settings.athena_output
        self.database = database or self.settings.glue_database
        self.results = results or ("csv" if self.settings.env == "aws" else "api")
        if self.results not in ("api", "csv"):
            raise ValueError(f"results must be 'api' or 'csv', not {self.results!r}")
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.timeout_s = timeout_s
        self.federated_catalog = federated_catalog
        self._sleep = sleep
        self.last_query_id: str | None = None

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

    def start(self, sql: str) -> str:
        request: dict[str, Any] = {
            "QueryString": sql,
            "WorkGroup": self.workgroup,
            "QueryExecutionContext": {"Database": self.database, "Catalog": DATA_CATALOG},
        }
        if self.output:
            request["ResultConfiguration"] = {"OutputLocation": self.output}
        try:
            query_id = self.client.start_query_execution(**request)["QueryExecutionId"]
        except self.client.exceptions.InvalidRequestException as exc:
            raise SqlError(f"Athena refused the query: {exc}", engine=self.name, sql=sql) from exc
        self.last_query_id = query_id
        log.info("athena query %s started in %s", query_id, self.workgroup)
        return query_id

    def wait(self, query_id: str, sql: str | None = None) -> dict[str, Any]:
        """Poll until the query ends; its `QueryExecution` when it SUCCEEDED, else `SqlError`.
        An interruption (or `timeout_s`) stops the query in Athena before raising."""
        interval = self.poll_interval
        deadline = None if self.timeout_s is None else time.monotonic() + self.timeout_s
        try:
            while True:
                execution = self.client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
                status = execution["Status"]
                state = status["State"]
                if state == "SUCCEEDED":
                    return execution
                if state not in RUNNING_STATES:
                    error = status.get("AthenaError") or {}
                    reason = status.get("StateChangeReason") or error.get("ErrorMessage") or state
                    category = {1: "SYSTEM", 2: "USER", 3: "OTHER"}.get(error.get("ErrorCategory"))
                    raise SqlError(
                        f"Athena query {query_id} {state}: {reason}",
                        engine=self.name,
                        sql=sql or execution.get("Query"),
                        query_id=query_id,
                        reason=reason,
                        category=category,
                    )
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"Athena query {query_id} still {state} after {self.timeout_s}s")
                self._sleep(interval)
                interval = min(interval * 1.5 if interval else 0.0, self.max_poll_interval)
        except (KeyboardInterrupt, TimeoutError):
            try:
                self.client.stop_query_execution(QueryExecutionId=query_id)
            except Exception:  # noqa: BLE001 - already failing; the interruption matters
                log.warning("could not stop Athena query %s", query_id)
            raise

    def run(self, sql: str, params: Params = None) -> dict[str, Any]:
        """Start and wait; the SUCCEEDED `QueryExecution`."""
        text = self.athena_sql(sql, params)
        return self.wait(self.start(text), text)

    # -- results -------------------------------------------------------------------------------------------

    def _pages(self, query_id: str, statement_type: str | None) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        first = self.client.get_query_results(QueryExecutionId=query_id, MaxResults=PAGE_ROWS)
        columns = first["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
        schema = result_schema(columns)

        def batches() -> Iterator[pa.RecordBatch]:
            page, first_page = first, True
            while True:
                rows = page["ResultSet"].get("Rows", [])
                if first_page and rows and statement_type in (None, "DML") and _is_header(rows[0], columns):
                    rows = rows[1:]  # a query's first row is its header
                first_page = False
                if rows:
                    yield _rows_to_batch(rows, columns, schema)
                token = page.get("NextToken")
                if not token:
                    return
                page = self.client.get_query_results(QueryExecutionId=query_id, MaxResults=PAGE_ROWS, NextToken=token)

        return schema, batches()

    def _csv(self, execution: dict[str, Any], batch_rows: int) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        query_id = execution["QueryExecutionId"]
        meta = self.client.get_query_results(QueryExecutionId=query_id, MaxResults=1)
        columns = meta["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
        schema = result_schema(columns)
        location = execution["ResultConfiguration"]["OutputLocation"]
        bucket, _, key = location.removeprefix("s3://").partition("/")
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"]
        names = [f.name for f in schema]
        reader = pcsv.open_csv(
            pa.PythonFile(body, mode="r"),
            read_options=pcsv.ReadOptions(column_names=names, skip_rows=1, block_size=max(1 << 20, batch_rows * 64)),
            parse_options=pcsv.ParseOptions(newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                null_values=[""],
            ),
        )

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                for batch in reader:
                    arrays = [convert_column(batch.column(i), c) for i, c in enumerate(columns)]
                    yield pa.RecordBatch.from_arrays(arrays, schema=schema)
            finally:
                body.close()

        return schema, batches()

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = aws.client("s3", self.settings)
        return self._s3

    def _reader(self, execution: dict[str, Any], batch_rows: int) -> pa.RecordBatchReader:
        query_id = execution["QueryExecutionId"]
        if self.results == "csv" and execution.get("ResultConfiguration", {}).get("OutputLocation"):
            schema, batches = self._csv(execution, batch_rows)
        else:
            schema, batches = self._pages(query_id, execution.get("StatementType"))
        return pa.RecordBatchReader.from_batches(schema, batches)

    # -- the interface ---------------------------------------------------------------------------------------

    def query(self, sql: str, params: Params = None) -> pa.Table:
        return self.stream(sql, params).read_all()

    def stream(self, sql: str, params: Params = None, *, batch_rows: int = 65_536) -> pa.RecordBatchReader:
        return self._reader(self.run(sql, params), batch_rows)

    def execute(self, sql: str, params: Params = None) -> ExecuteResult:
        try:
            kind = parse_statement(sql).kind
        except TranspileError:
            kind = "other"  # Athena-only DDL sqlglot does not know: Athena judges it
        execution = self.run(sql, params)
        query_id = execution["QueryExecutionId"]
        stats = execution.get("Statistics") or {}
        rows = None
        if kind in ("ctas", "unload") or execution.get("StatementType") == "DML" and kind != "query":
            rows = self.client.get_query_results(QueryExecutionId=query_id, MaxResults=1).get("UpdateCount")
        elif kind == "query":
            rows = sum(b.num_rows for b in self._reader(execution, 65_536))
        location = None
        if kind in ("ctas", "unload"):
            statement = parse_statement(sql)
            location = statement.properties.get("external_location") or statement.properties.get("location")
        return ExecuteResult(
            kind,
            rows=rows,
            location=location,
            query_id=query_id,
            stats={
                "data_scanned_bytes": stats.get("DataScannedInBytes"),
                "engine_ms": stats.get("EngineExecutionTimeInMillis"),
                "total_ms": stats.get("TotalExecutionTimeInMillis"),
                "queue_ms": stats.get("QueryQueueTimeInMillis"),
                "output_location": (execution.get("ResultConfiguration") or {}).get("OutputLocation"),
            },
        )


def _is_header(row: dict[str, Any], columns: list[dict[str, Any]]) -> bool:
    values = [d.get("VarCharValue") for d in row.get("Data", [])]
    return values == [c.get("Label") or c.get("Name") for c in columns]


def _rows_to_batch(rows: list[dict[str, Any]], columns: list[dict[str, Any]], schema: pa.Schema) -> pa.RecordBatch:
    width = len(columns)
    cells: list[list[str | None]] = [[] for _ in range(width)]
    for row in rows:
        data = row.get("Data", [])
        for i in range(width):
            cells[i].append(data[i].get("VarCharValue") if i < len(data) else None)
    return pa.RecordBatch.from_arrays([convert_column(cells[i], columns[i]) for i in range(width)], schema=schema)


__all__ = ["AthenaEngine", "arrow_type", "convert_column", "result_schema"]
