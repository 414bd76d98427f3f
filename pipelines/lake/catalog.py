"""The lake's Glue catalog: tables with explicit column types, one partition per day.

Athena reads a partition from the location its Glue partition names, so on S3 setting that
location (`set_partition`) *is* the atomic switch of a partition to a new run (see
`pipelines.lake.partitions`). Tables are only ever declared here, from the Arrow schema: no
crawler, no `MSCK REPAIR TABLE`, no partition projection (the run folders are not Hive-style
partitions of the table location and must not be discovered as such).

Locally the catalog lives in the moto server, which keeps nothing on disk: `rebuild_catalog`
recreates it from the lake's own pointers (symlinks on disk, `_current/` objects on S3) and runs
when the local stack starts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from pipelines.lake.fs import LakeFS, default_glue_database
from pipelines.lake.partitions.layout import glue_table_name, run_rel, table_rel
from pipelines.lake.partitions.manifest import current_manifest, list_partitions, list_tables, schema_from_b64

PARQUET_INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARTITION_KEYS: tuple[tuple[str, str], ...] = (("dt", "string"),)
TABLE_PARAMETERS = {
    "classification": "parquet",
    "EXTERNAL": "TRUE",
    "parquet.compression": "ZSTD",
    "typeOfData": "file",
}
if TYPE_CHECKING:
    from gitgoods.settings import Settings
    from pipelines.aws_http import AwsTarget

_COLUMN = re.compile(r"^[a-z_][a-z0-9_]*$")


# -- Arrow -> Glue (Hive DDL) types ------------------------------------------------------------


def glue_type(t: pa.DataType) -> str:
    """The Glue/Athena column type of an Arrow type (raises for types Athena cannot read)."""
    if pa.types.is_dictionary(t):
        return glue_type(t.value_type)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_boolean(t):
        return "boolean"
    simple = {
        pa.int8(): "tinyint",
        pa.int16(): "smallint",
        pa.int32(): "int",
        pa.int64(): "bigint",
        pa.uint8(): "smallint",
        pa.uint16(): "int",
        pa.uint32(): "bigint",
        pa.float16(): "float",
        pa.float32(): "float",
        pa.float64(): "double",
        pa.date32(): "date",
        pa.date64(): "date",
    }
    if t in simple:
        return simple[t]
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_decimal(t):
        if t.precision > 38:
            raise TypeError(f"{t}: Athena decimals have at most 38 digits")
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return f"array<{glue_type(t.value_type)}>"
    if pa.types.is_struct(t):
        inner = ",".join(f"{_column_name(t.field(i).name)}:{glue_type(t.field(i).type)}" for i in range(t.num_fields))
        return f"struct<{inner}>"
    if pa.types.is_map(t):
        return f"map<{glue_type(t.key_type)},{glue_type(t.item_type)}>"
    raise TypeError(f"no Athena type for Arrow type {t}")


def _column_name(name: str) -> str:
    # Athena folds identifiers to lower case; a mixed-case Parquet column would not match.
    if not _COLUMN.match(name):
        raise ValueError(f"column name {name!r} is not a lower-case Athena identifier")
    return name


def glue_columns(schema: pa.Schema) -> list[dict[str, str]]:
    return [{"Name": _column_name(f.name), "Type": glue_type(f.type)} for f in schema if f.name != "dt"]


def storage_descriptor(columns: list[dict[str, str]], location: str) -> dict[str, Any]:
    return {
        "Columns": columns,
        "Location": location,
        "InputFormat": PARQUET_INPUT_FORMAT,
        "OutputFormat": PARQUET_OUTPUT_FORMAT,
        "Compressed": False,
        "NumberOfBuckets": -1,
        "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE, "Parameters": {"serialization.format": "1"}},
        "StoredAsSubDirectories": False,
    }


def _sd_key(sd: dict[str, Any]) -> tuple[Any, ...]:
    columns = [(c["Name"], c["Type"]) for c in sd.get("Columns", [])]
    serde = sd.get("SerdeInfo", {}).get("SerializationLibrary")
    return (columns, sd.get("Location"), sd.get("InputFormat"), sd.get("OutputFormat"), serde)


def _err(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


# -- the catalog -------------------------------------------------------------------------------


@dataclass
class GlueCatalog:
    """Glue database of the lake: through `gitgoods.aws.client("glue")` for the project's `Settings`,
    through `pipelines.aws_http.glue_api` (signed JSON requests, no boto3) for a plain `AwsTarget`,
    or through the `glue` client given."""

    glue: Any = None
    database: str = ""  # default: `settings.glue_database` (`gitgoods_lake`)
    settings: Settings | AwsTarget | None = None
    _columns: dict[str, list[dict[str, str]]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.glue is None:
            from pipelines.aws_http import AwsTarget, glue_api

            if isinstance(self.settings, AwsTarget):
                self.glue = glue_api(self.settings)
            else:
                from gitgoods import aws

                self.glue = aws.client("glue", self.settings)
        if not self.database:
            self.database = default_glue_database(self.settings)

    def ensure_database(self, description: str = "Git Goods lake (raw and quarantine tables)") -> bool:
        """Create the database if missing; True if it was created."""
        try:
            self.glue.create_database(DatabaseInput={"Name": self.database, "Description": description})
            return True
        except Exception as exc:
            if _err(exc) == "AlreadyExistsException":
                return False
            raise

    def ensure_table(
        self,
        table: str,
        schema: pa.Schema,
        location: str,
        partition_keys: Iterable[tuple[str, str]] = PARTITION_KEYS,
        description: str | None = None,
    ) -> str:
        """Create or update an external Parquet table; returns "created", "updated" or "unchanged".

        Columns carry explicit types mapped from `schema`; `location` is the table's root (the
        partitions each name their own run folder).
        """
        columns = glue_columns(schema)
        table_input: dict[str, Any] = {
            "Name": table,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": dict(TABLE_PARAMETERS),
            "PartitionKeys": [{"Name": k, "Type": t} for k, t in partition_keys],
            "StorageDescriptor": storage_descriptor(columns, location),
        }
        if description:
            table_input["Description"] = description
        self._columns[table] = columns
        try:
            current = self.glue.get_table(DatabaseName=self.database, Name=table)["Table"]
        except Exception as exc:
            if _err(exc) != "EntityNotFoundException":
                raise
            try:
                self.glue.create_table(DatabaseName=self.database, TableInput=table_input)
                return "created"
            except Exception as exc2:
                if _err(exc2) != "AlreadyExistsException":
                    raise
                current = self.glue.get_table(DatabaseName=self.database, Name=table)["Table"]
        same = (
            _sd_key(current.get("StorageDescriptor", {})) == _sd_key(table_input["StorageDescriptor"])
            and [(k["Name"], k["Type"]) for k in current.get("PartitionKeys", [])]
            == [(k["Name"], k["Type"]) for k in table_input["PartitionKeys"]]
            and current.get("TableType") == "EXTERNAL_TABLE"
            and all(current.get("Parameters", {}).get(k) == v for k, v in TABLE_PARAMETERS.items())
        )
        if same:
            return "unchanged"
        self.glue.update_table(DatabaseName=self.database, TableInput=table_input)
        return "updated"

    def get_table(self, table: str) -> dict[str, Any] | None:
        try:
            return self.glue.get_table(DatabaseName=self.database, Name=table)["Table"]
        except Exception as exc:
            if _err(exc) == "EntityNotFoundException":
                return None
            raise

    def _table_columns(self, table: str) -> list[dict[str, str]]:
        if table not in self._columns:
            found = self.get_table(table)
            if found is None:
                raise LookupError(f"Glue table {self.database}.{table} does not exist")
            self._columns[table] = found["StorageDescriptor"]["Columns"]
        return self._columns[table]

    def _partition_input(self, dt: str, location: str, schema: pa.Schema | None, table: str) -> dict[str, Any]:
        columns = glue_columns(schema) if schema is not None else self._table_columns(table)
        return {"Values": [dt], "StorageDescriptor": storage_descriptor(columns, location)}

    def set_partition(self, table: str, dt: str, location: str, schema: pa.Schema | None = None) -> str:
        """Point partition `dt` at `location` (creating it if needed): one atomic Glue call, the
        switch Athena sees. Returns "created" or "updated"."""
        partition = self._partition_input(dt, location, schema, table)
        try:
            self.glue.update_partition(
                DatabaseName=self.database, TableName=table, PartitionValueList=[dt], PartitionInput=partition
            )
            return "updated"
        except Exception as exc:
            if _err(exc) != "EntityNotFoundException":
                raise
        try:
            self.glue.create_partition(DatabaseName=self.database, TableName=table, PartitionInput=partition)
            return "created"
        except Exception as exc:
            if _err(exc) != "AlreadyExistsException":  # created concurrently: update it after all
                raise
        self.glue.update_partition(
            DatabaseName=self.database, TableName=table, PartitionValueList=[dt], PartitionInput=partition
        )
        return "updated"

    def get_partition_location(self, table: str, dt: str) -> str | None:
        try:
            got = self.glue.get_partition(DatabaseName=self.database, TableName=table, PartitionValues=[dt])
        except Exception as exc:
            if _err(exc) == "EntityNotFoundException":
                return None
            raise
        return got["Partition"]["StorageDescriptor"]["Location"]

    def list_partitions(self, table: str) -> dict[str, str]:
        """{dt: location} of every partition of the table."""
        out: dict[str, str] = {}
        try:
            for page in self.glue.get_paginator("get_partitions").paginate(DatabaseName=self.database, TableName=table):
                for p in page["Partitions"]:
                    out[p["Values"][0]] = p["StorageDescriptor"]["Location"]
        except Exception as exc:
            if _err(exc) == "EntityNotFoundException":
                return {}
            raise
        return dict(sorted(out.items()))

    def create_partitions(self, table: str, partitions: list[dict[str, Any]]) -> None:
        """Create many partitions (100 a call); ones that exist already are updated."""
        for i in range(0, len(partitions), 100):
            chunk = partitions[i : i + 100]
            resp = self.glue.batch_create_partition(
                DatabaseName=self.database, TableName=table, PartitionInputList=chunk
            )
            by_values = {tuple(p["Values"]): p for p in chunk}
            for error in resp.get("Errors", []):
                values = tuple(error["PartitionValues"])
                if error.get("ErrorDetail", {}).get("ErrorCode") != "AlreadyExistsException":
                    raise RuntimeError(f"Glue could not create partition {table}{list(values)}: {error}")
                self.glue.update_partition(
                    DatabaseName=self.database,
                    TableName=table,
                    PartitionValueList=list(values),
                    PartitionInput=by_values[values],
                )

    def delete_partition(self, table: str, dt: str) -> None:
        try:
            self.glue.delete_partition(DatabaseName=self.database, TableName=table, PartitionValues=[dt])
        except Exception as exc:
            if _err(exc) != "EntityNotFoundException":
                raise


# -- rebuilding from the lake ------------------------------------------------------------------


def rebuild_catalog(
    lake: LakeFS,
    glue: GlueCatalog,
    *,
    zones: Iterable[str] = ("raw", "quarantine"),
    name_for: Callable[[str, str], str] = glue_table_name,
    prune: bool = False,
) -> dict[str, int]:
    """Make the Glue catalog match the lake: every table and every current partition.

    The lake's pointers (symlinks on disk, `_current/` objects on S3) are the truth; each names a
    run whose manifest carries the Arrow schema, so no other input is needed. Partitions missing in
    Glue are created, ones pointing elsewhere are switched; with `prune`, Glue partitions the lake
    does not have are dropped. Returns {glue table: partitions}.
    """
    glue.ensure_database()
    summary: dict[str, int] = {}
    for zone in zones:
        for table in list_tables(lake, zone):
            days = list_partitions(lake, table, zone=zone)
            manifests = [m for m in (current_manifest(lake, table, d, zone=zone) for d in days) if m]
            if not manifests:
                continue
            name = name_for(zone, table)
            newest = max(manifests, key=lambda m: m["dt"])
            glue.ensure_table(name, schema_from_b64(newest["schema"]), lake.uri_of(table_rel(zone, table)) + "/")
            existing = glue.list_partitions(name)
            to_create = []
            for m in manifests:
                location = lake.uri_of(run_rel(zone, table, m["dt"], m["run_id"])) + "/"
                schema = schema_from_b64(m["schema"])
                if m["dt"] not in existing:
                    to_create.append(
                        {"Values": [m["dt"]], "StorageDescriptor": storage_descriptor(glue_columns(schema), location)}
                    )
                elif existing[m["dt"]] != location:
                    glue.set_partition(name, m["dt"], location, schema=schema)
            glue.create_partitions(name, to_create)
            if prune:
                for dt in set(existing) - {m["dt"] for m in manifests}:
                    glue.delete_partition(name, dt)
            summary[name] = len(manifests)
    return summary
