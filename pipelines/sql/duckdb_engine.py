"""The local SQL engine: embedded DuckDB over the lake, Athena SQL transpiled with sqlglot.

Every query runs on its own DuckDB connection (a cursor of the engine's one database), on which
this module registers exactly what the query reads:

- **lake tables**, by their Glue names (`raw_sales`, `raw_order_events`, `quarantine_sales`, ...,
  see `pipelines.lake.partitions.layout.glue_table_name`): the current version of each partition,
  as a `pyarrow.dataset` snapshot taken when the query starts (`pipelines.sql.lake_snapshot`, on
  the lake's resolver of current files, `partitions.current`, as `partitions.reading.dataset`: each
  partition's manifest read once per query, many at a time on S3, the file sizes taken from the
  manifests), scanned lazily by DuckDB with projection and
  filter pushdown. `dt` stays a VARCHAR partition column, as in Glue, and a filter on it skips
  whole partitions: literal predicates on `dt` (`=`, `IN`, ranges, `BETWEEN`) already limit the
  partitions put in the snapshot, and pyarrow prunes the rest by the partition expressions.
  Timestamps are exposed as Athena reads them from Parquet: `TIMESTAMP` without zone, in UTC. A
  table is addressable as `raw_sales`, `<glue_database>.raw_sales` or
  `awsdatacatalog.<glue_database>.raw_sales`, like on Athena with the Glue database as the session's;
- **DynamoDB tables** `dynamodb.default.<table>`, read by `pipelines.sql.federated` with the
  query's key predicates pushed down;
- **views** made by `CREATE VIEW` through this engine (kept as Athena SQL and expanded into the
  queries that use them), and **tables** made by CTAS (Parquet files at `external_location`, read
  back as a dataset with string partition columns; without a location, a DuckDB table in memory);
  those statements are emulated in `pipelines.sql.duckdb_ddl`.

Nothing is read into memory when a table is registered; no DuckDB extension is installed or
loaded (Parquet through pyarrow, ICU for time zones and JSON are built in); the connection cannot
read or write files by itself (`enable_external_access=false`).

Thread safety: the engine may be shared by threads. Each `query`/`stream`/`execute` opens its own
connection and registers its own relations, so concurrent queries do not see each other's
temporary objects; the registries of views and CTAS tables are guarded by a lock. A `stream`
keeps its connection until the reader is exhausted or closed.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs
from sqlglot import exp

from gitgoods.settings import Settings, get_settings
from pipelines.ingest.reader import DynamoDBError
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.current import CurrentFiles
from pipelines.lake.partitions.layout import check_name, glue_table_name
from pipelines.lake.partitions.manifest import list_tables
from pipelines.sql.dialects import TranspileError, quote_identifier
from pipelines.sql.duckdb_ddl import DDLEmulation, ExternalTable
from pipelines.sql.engine import ExecuteResult, Params, SqlEngine, SqlError
from pipelines.sql.federated import DynamoDBCatalog
from pipelines.sql.federated_fetch import FetchResult
from pipelines.sql.federated_plan import FederatedError
from pipelines.sql.functions import MacrosOnFirstUse
from pipelines.sql.lake_snapshot import athena_select_list
from pipelines.sql.params import bind_params
from pipelines.sql.query_tables import LakeTable, external_source, resolve
from pipelines.sql.statements import Statement, parse_statement
from pipelines.sql.tablesample import carry_sample
from pipelines.sql.transpile import to_duckdb

log = logging.getLogger(__name__)

DEFAULT_CATALOG = "awsdatacatalog"
MAX_VIEW_DEPTH = 16


@dataclass
class Prepared:
    """A query ready to run on its own connection."""

    connection: Any
    statement: Statement
    duckdb_sql: str
    fetched: list[FetchResult]
    lake_partitions: dict[str, list[str]]  # registered name -> the dt partitions in its snapshot


class DuckDBEngine(DDLEmulation, SqlEngine):
    """Athena SQL on embedded DuckDB over the lake and the DynamoDB federated catalog."""

    name = "duckdb"

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        lake: LakeFS | str | None = None,
        dynamodb: DynamoDBCatalog | bool = True,
        database: str = ":memory:",
        glue_database: str | None = None,
        threads: int | None = None,
        memory_limit: str | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.lake = lake if isinstance(lake, LakeFS) else LakeFS.from_uri(lake or self.settings.lake, self.settings)
        self.glue_database = (glue_database or self.settings.glue_database).lower()
        if dynamodb is True:
            self.dynamodb: DynamoDBCatalog | None = DynamoDBCatalog(self.settings)
            self._own_dynamodb = True
        else:
            self.dynamodb = dynamodb or None
            self._own_dynamodb = False
        config: dict[str, Any] = {
            "autoinstall_known_extensions": "false",
            "autoload_known_extensions": "false",
            "enable_external_access": "false",
        }
        threads = threads or self.settings.duckdb_threads
        memory_limit = memory_limit or self.settings.duckdb_memory_limit
        if threads:
            config["threads"] = int(threads)
        if memory_limit:
            config["memory_limit"] = memory_limit
        # Where DuckDB spills what does not fit in memory_limit: its own folder under the system's
        # temp dir (DuckDB's default is `.tmp` in the working directory), removed by close().
        self._spill_dir = Path(tempfile.gettempdir()) / f"gitgoods-duckdb-{uuid.uuid4().hex[:12]}"
        config["temp_directory"] = str(self._spill_dir)
        self._db = duckdb.connect(database, config=config)
        self._db.execute("SET GLOBAL TimeZone = 'UTC'")  # Athena's session zone
        self._lock = threading.Lock()
        self._macros = MacrosOnFirstUse(self._db)  # Trino's semantics as DuckDB macros (pipelines.sql.functions)
        self._views: dict[str, exp.Query] = {}
        self._external: dict[str, ExternalTable] = {}
        self._lake_index: dict[str, LakeTable] = {}
        self._closed = False

    # -- the interface ------------------------------------------------------------------------------

    def query(self, sql: str, params: Params = None) -> pa.Table:
        with self._prepared(sql, params, "query") as prepared:
            try:
                return prepared.connection.sql(prepared.duckdb_sql).to_arrow_table()
            except duckdb.Error as exc:
                raise self._error(exc, prepared) from exc

    def stream(self, sql: str, params: Params = None, *, batch_rows: int = 65_536) -> pa.RecordBatchReader:
        context = self._prepared(sql, params, "query")
        prepared = context.__enter__()
        try:
            reader = prepared.connection.sql(prepared.duckdb_sql).to_arrow_reader(batch_rows)
        except BaseException as exc:
            context.__exit__(type(exc), exc, exc.__traceback__)
            if isinstance(exc, duckdb.Error):
                raise self._error(exc, prepared) from exc
            raise

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                yield from reader
            except duckdb.Error as exc:
                raise self._error(exc, prepared) from exc
            finally:
                reader.close()
                context.__exit__(None, None, None)

        return pa.RecordBatchReader.from_batches(reader.schema, batches())

    def execute(self, sql: str, params: Params = None) -> ExecuteResult:
        statement = self._parse(sql)
        if statement.kind == "query":
            rows = 0
            for batch in self.stream(sql, params):
                rows += batch.num_rows
            return ExecuteResult("query", rows=rows)
        if statement.kind == "create_view":
            return self._create_view(statement)
        if statement.kind in ("drop_view", "drop_table"):
            return self._drop(statement)
        if statement.kind in ("ctas", "unload"):
            return self._write(statement, sql, params)
        raise SqlError(
            f"the local engine does not run this statement (Athena/Glue DDL?): {statement.sql[:200]}",
            engine=self.name,
            sql=statement.sql,
        )

    def explain(self, sql: str, params: Params = None) -> dict[str, Any]:
        """What a query would do: the DuckDB SQL, the federated reads (they are performed) and the
        lake partitions in each table's snapshot."""
        with self._prepared(sql, params, "query") as prepared:
            return {
                "duckdb_sql": prepared.duckdb_sql,
                "federated": [r.plan.describe() for r in prepared.fetched],
                "partitions": prepared.lake_partitions,
            }

    def tables(self) -> dict[str, str]:
        """The relations queries can name: Glue-named lake tables, CTAS tables and views."""
        self._refresh_lake_index()
        with self._lock:
            out = {name: f"lake {t.zone}/{t.table}" for name, t in self._lake_index.items()}
            out.update({name: f"table at {t.location}" for name, t in self._external.items()})
            out.update({name: "view" for name in self._views})
        return out

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._db.close()
        shutil.rmtree(self._spill_dir, ignore_errors=True)
        if self._own_dynamodb and self.dynamodb is not None:
            self.dynamodb.close()

    # -- preparing a query ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _prepared(self, sql: str, params: Params, expect: str) -> Iterator[Prepared]:
        statement = self._parse(sql)
        if expect == "query" and statement.kind != "query":
            raise SqlError(f"expected a query, got a {statement.kind} statement", engine=self.name, sql=sql)
        assert statement.query is not None
        connection = self._db.cursor()
        try:
            prepared = self._prepare_tree(connection, statement, statement.query.copy(), params)
            yield prepared
        finally:
            with contextlib.suppress(Exception):
                connection.close()

    def _parse(self, sql: str) -> Statement:
        try:
            return parse_statement(sql)
        except TranspileError as exc:
            raise SqlError(str(exc), engine=self.name, sql=sql) from exc

    def _prepare_tree(self, connection: Any, statement: Statement, tree: exp.Expr, params: Params) -> Prepared:
        try:
            return self._prepare_tree_unchecked(connection, statement, tree, params)
        except (TranspileError, FederatedError, DynamoDBError) as exc:
            raise SqlError(str(exc), engine=self.name, sql=statement.sql) from exc

    def _prepare_tree_unchecked(
        self, connection: Any, statement: Statement, tree: exp.Expr, params: Params
    ) -> Prepared:
        tree = self._expand_views(bind_params(tree, params))
        fetched: list[FetchResult] = []
        if self.dynamodb is not None and self.dynamodb.references(tree):
            fetched = self.dynamodb.attach(tree, lambda name, table: connection.register(name, table))
        partitions = self._register_tables(connection, tree)
        schema = self._schema(connection, tree)
        duckdb_sql = to_duckdb(tree, schema)
        self._macros.define_for(duckdb_sql)
        return Prepared(connection, statement, duckdb_sql, fetched, partitions)

    def _error(self, exc: Exception, prepared: Prepared | None) -> SqlError:
        sql = prepared.duckdb_sql if prepared else None
        return SqlError(f"DuckDB: {exc}", engine=self.name, sql=sql, reason=str(exc))

    def _local_name(self, table: exp.Table) -> str | None:
        """The name a table reference means here, or None if it is not ours (dynamodb, other DBs)."""
        catalog, db = table.catalog.lower(), table.db.lower()
        if catalog and catalog != DEFAULT_CATALOG:
            return None
        if db and db != self.glue_database:
            return None
        return table.name.lower()

    @staticmethod
    def _cte_names(tree: exp.Expr) -> set[str]:
        return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}

    def _expand_views(self, tree: exp.Expr) -> exp.Expr:
        for _ in range(MAX_VIEW_DEPTH):
            with self._lock:
                views = dict(self._views)
            if not views:
                return tree
            ctes = self._cte_names(tree)
            changed = False
            for table in list(tree.find_all(exp.Table)):
                name = self._local_name(table)
                if name is None or name not in views or (name in ctes and not table.db):
                    continue
                alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(name))
                replacement = exp.Subquery(this=views[name].copy(), alias=alias.copy())
                if table is tree:
                    return replacement
                table.replace(replacement)
                changed = True
            if not changed:
                return tree
        raise SqlError(f"views nested deeper than {MAX_VIEW_DEPTH} (a cycle?)", engine=self.name)

    def _refresh_lake_index(self) -> dict[str, LakeTable]:
        index: dict[str, LakeTable] = {}
        for zone in self.lake.list_names(kind=pafs.FileType.Directory):
            try:
                check_name(zone, "zone")
            except ValueError:
                continue
            for table in list_tables(self.lake, zone):
                index.setdefault(glue_table_name(zone, table), LakeTable(zone, table, glue_table_name(zone, table)))
        with self._lock:
            self._lake_index = index
        return index

    def _register_tables(self, connection: Any, tree: exp.Expr) -> dict[str, list[str]]:
        """Register the lake and CTAS tables the query names: each reference gets a snapshot of its
        partitions, and a partition named by two references of one query is resolved once. On S3
        the query's tables are resolved at once, each in turn on one thread (a table named twice
        reads the same versions)."""
        ctes = self._cte_names(tree)
        current = CurrentFiles(self.lake)
        index = dict(self._lake_index)
        refreshed = False
        refs: list[tuple[str, exp.Table, ExternalTable | LakeTable]] = []
        for n, table in enumerate(list(tree.find_all(exp.Table))):
            name = self._local_name(table)
            if not name or (name in ctes and not table.db) or name.startswith(("__ddb_", "__lake_")):
                continue
            with self._lock:
                external = self._external.get(name)
            if external is None and name not in index and not refreshed:
                index, refreshed = self._refresh_lake_index(), True
            if external is None and name not in index:
                # A DuckDB table made by CTAS without a location, or unknown (DuckDB will say so).
                table.set("catalog", None)
                table.set("db", None)
                continue
            refs.append((f"__lake_{n}_{name}", table, external or index[name]))
        lake_refs = [(registered, table, target) for registered, table, target in refs if isinstance(target, LakeTable)]
        lake_sources = resolve(current, lake_refs, self.name)
        partitions: dict[str, list[str]] = {}
        for registered, table, target in refs:
            if isinstance(target, LakeTable):
                partitions[registered], source = lake_sources[registered]
            else:
                source = external_source(target, self.settings)
            connection.register(f"{registered}_src", source)
            # identifiers only, quoted here: no value of the query goes into this text
            connection.execute(
                f"CREATE TEMP VIEW {quote_identifier(registered)} AS SELECT {athena_select_list(source.schema)} "  # noqa: S608
                f"FROM {quote_identifier(registered + '_src')}"
            )
            alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(table.name.lower()))
            table.replace(carry_sample(table, exp.Table(this=exp.to_identifier(registered), alias=alias.copy())))
        return partitions

    def _schema(self, connection: Any, tree: exp.Expr) -> dict[str, dict[str, str]]:
        schema: dict[str, dict[str, str]] = {}
        ctes = self._cte_names(tree)
        for table in tree.find_all(exp.Table):
            name = table.name
            if table.db or table.catalog or name.lower() in ctes or name in schema:
                continue
            try:
                rows = connection.sql(f"DESCRIBE SELECT * FROM {quote_identifier(name)}").fetchall()  # noqa: S608
            except duckdb.Error:
                continue  # unknown: DuckDB reports it when the query runs
            schema[name] = {r[0]: r[1] for r in rows if r[1] != '"NULL"'}
        return schema


__all__ = ["DuckDBEngine", "LakeTable"]
