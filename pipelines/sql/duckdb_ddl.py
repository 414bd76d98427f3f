"""The statements the local engine runs besides queries, emulated as Athena/Glue behave: CREATE
VIEW (kept as Athena SQL), DROP VIEW/TABLE, CTAS and UNLOAD (Parquet written with pyarrow). A mixin
of `DuckDBEngine`, whose state (its database, lock and registries) it uses."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
from sqlglot import exp

from gitgoods.settings import Settings
from pipelines.lake.fs import LakeFS
from pipelines.sql.dialects import quote_identifier
from pipelines.sql.engine import ExecuteResult, Params, SqlError
from pipelines.sql.statements import Statement


@dataclass(frozen=True)
class ExternalTable:
    """A table written by CTAS through this engine: Parquet under `location`, hive partitions."""

    name: str
    location: str
    partitioned_by: tuple[str, ...]


class DDLEmulation:
    """CREATE VIEW, DROP, CTAS and UNLOAD on the engine's registries (`_views`, `_external`) and
    database (`_db`), under its lock; the SELECT of a CTAS/UNLOAD is prepared by the engine
    (`_prepare_tree`)."""

    name: str
    settings: Settings
    glue_database: str
    _db: Any
    _lock: threading.Lock
    _views: dict[str, exp.Query]
    _external: dict[str, ExternalTable]

    # -- statements that write or define --------------------------------------------------------------

    def _create_view(self, statement: Statement) -> ExecuteResult:
        name = self._target_name(statement)
        assert statement.query is not None
        with self._lock:
            if name in self._views and not statement.replace:
                if statement.if_exists:
                    return ExecuteResult("create_view", table=name)
                raise SqlError(f"view {name} already exists", engine=self.name, sql=statement.sql)
            self._views[name] = statement.query.copy()
        return ExecuteResult("create_view", table=name)

    def _drop(self, statement: Statement) -> ExecuteResult:
        name = self._target_name(statement)
        with self._lock:
            if statement.kind == "drop_view":
                found = self._views.pop(name, None) is not None
            else:
                found = self._external.pop(name, None) is not None
        if statement.kind == "drop_table" and not found:
            connection = self._db.cursor()
            try:
                exists = connection.execute(
                    "SELECT count(*) FROM duckdb_tables() WHERE lower(table_name) = ? AND NOT temporary", [name]
                ).fetchall()[0][0]
                if exists:
                    connection.execute(f"DROP TABLE {quote_identifier(name)}")
                    found = True
            finally:
                connection.close()
        if not found and not statement.if_exists:
            raise SqlError(f"{statement.kind.split('_')[1]} {name} does not exist", engine=self.name, sql=statement.sql)
        return ExecuteResult(statement.kind, table=name)

    def _target_name(self, statement: Statement) -> str:
        assert statement.name is not None
        parts = statement.name.split(".")
        if len(parts) > 1 and parts[-2] != self.glue_database:
            raise SqlError(
                f"{statement.name}: the local engine has one database ({self.glue_database})",
                engine=self.name,
                sql=statement.sql,
            )
        return parts[-1]

    def _write(self, statement: Statement, sql: str, params: Params) -> ExecuteResult:
        """CTAS and UNLOAD: run the SELECT, write its rows with pyarrow (DuckDB has no such
        properties and may not touch files itself)."""
        props = statement.properties
        fmt = str(props.get("format", "PARQUET")).upper()
        if fmt != "PARQUET":
            raise SqlError(f"the local engine writes PARQUET only, not {fmt}", engine=self.name, sql=sql)
        partitioned_by = tuple(props.get("partitioned_by") or ())
        if statement.kind == "unload":
            location, name = str(props["location"]), None
        else:
            name = self._target_name(statement)
            location = props.get("external_location")
            with self._lock:
                exists = name in self._external or name in self._views
            if exists or self._memory_table_exists(name):
                if statement.if_exists:
                    return ExecuteResult("ctas", rows=0, table=name)
                raise SqlError(f"table {name} already exists", engine=self.name, sql=sql)
        assert statement.query is not None
        connection = self._db.cursor()
        try:
            prepared = self._prepare_tree(connection, statement, statement.query.copy(), params)
            try:
                if location is None:  # CTAS without a location: a table in DuckDB's memory
                    target = quote_identifier(str(name))
                    # the query was generated from the parsed tree (parameters bound as literals)
                    connection.execute(f"CREATE TABLE {target} AS SELECT * FROM ({prepared.duckdb_sql})")  # noqa: S608
                    rows = connection.execute(f"SELECT count(*) FROM {target}").fetchall()[0][0]  # noqa: S608
                    return ExecuteResult("ctas", rows=rows, table=name)
                reader = connection.sql(prepared.duckdb_sql).to_arrow_reader()
            except duckdb.Error as exc:
                raise self._error(exc, prepared) from exc
            missing = [c for c in partitioned_by if c not in reader.schema.names]
            if missing:
                raise SqlError(f"partition columns {missing} are not in the SELECT", engine=self.name, sql=sql)
            rows = _write_parquet(reader, location, partitioned_by, props, self.settings)
        finally:
            connection.close()
        if statement.kind == "ctas":
            with self._lock:
                self._external[str(name)] = ExternalTable(str(name), location, partitioned_by)
        return ExecuteResult(statement.kind, rows=rows, location=location, table=name)

    def _memory_table_exists(self, name: str) -> bool:
        connection = self._db.cursor()
        try:
            return bool(
                connection.execute(
                    "SELECT count(*) FROM duckdb_tables() WHERE lower(table_name) = ? AND NOT temporary", [name]
                ).fetchall()[0][0]
            )
        finally:
            connection.close()


def _write_parquet(
    reader: pa.RecordBatchReader,
    location: str,
    partitioned_by: tuple[str, ...],
    props: dict[str, Any],
    settings: Settings,
) -> int:
    """Write `reader` as Parquet under `location` (file:// or s3://), hive-partitioned; the location
    must be empty, as Athena requires. Returns the rows written."""
    target = LakeFS.from_uri(location, settings)
    if target.list():
        raise SqlError(f"{location} is not empty (Athena refuses to write there too)", engine="duckdb")
    schema = reader.schema
    if partitioned_by:
        # partition values become folder names: strings, as the lake's `dt`
        fields = [f if f.name not in partitioned_by else pa.field(f.name, pa.string()) for f in schema]
        schema = pa.schema(fields)
    counted = {"rows": 0}

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            counted["rows"] += batch.num_rows
            if partitioned_by:
                batch = batch.cast(schema)
            yield batch

    compression = str(props.get("write_compression") or props.get("compression") or "zstd").lower()
    ds.write_dataset(
        pa.RecordBatchReader.from_batches(schema, batches()),
        base_dir=target.root,
        filesystem=target.fs,
        format="parquet",
        file_options=ds.ParquetFileFormat().make_write_options(compression=compression),
        partitioning=ds.partitioning(pa.schema([schema.field(c) for c in partitioned_by]), flavor="hive")
        if partitioned_by
        else None,
        basename_template=f"part-{uuid.uuid4().hex[:8]}-{{i}}.parquet",
        existing_data_behavior="overwrite_or_ignore",
    )
    return counted["rows"]


__all__ = ["DDLEmulation", "ExternalTable"]
