"""`raw_sales` and `raw_order_events`: one day of a DynamoDB table into one lake partition.

A partition is read with parallel Queries over the sharded day index, converted straight into
typed Arrow columns, streamed into Parquet row groups in a run-specific folder and then switched
in atomically. Items that break the contract go to the quarantine table with their reasons.

The load itself (`pipelines.ingest.load.ingest_day`) runs in a lean worker process launched
through Dagster Pipes (`pipelines.ingest.worker`), which reports the materialisation back, so the
Dagster process never holds the ingest's memory. `GITGOODS_INGEST_IN_PROCESS=true` (or the run
config `in_process: true`) runs the same function in the step's own process instead; the metadata
is the same either way. `make up`'s initial load does that: its process ends after the load, and
a worker per asset and day would cost ~0.3 s more a partition.
"""

import os
import sys
from datetime import date
from typing import Any

import dagster as dg
import pyarrow as pa

from gitgoods.settings import get_settings
from pipelines.arrow_memory import POOL_VARIABLE, use_system_allocator
from pipelines.aws_http import AwsTarget
from pipelines.defs.partitions import daily
from pipelines.ingest import load
from pipelines.ingest.load import IngestTally, quarantine_table
from pipelines.ingest.schemas import RAW_TABLES
from pipelines.lake.partitions.layout import writers_pool
from pipelines.lake.partitions.manifest import PartitionInfo
from pipelines.resources import DynamoResource, LakeResource

OWNERS = ["team:data-platform"]
PREVIEW_ROWS = load.PREVIEW_ROWS
WORKER_COMMAND = [sys.executable, "-m", "pipelines.ingest.worker"]

__all__ = [
    "ASSETS",
    "IngestTally",
    "ingest_partition",
    "materialize_metadata",
    "quarantine_table",
    "raw_order_events",
    "raw_sales",
    "table_schema",
    "worker_extras",
]


def ingest_partition(
    lake_table: str, day: date, dynamo: DynamoResource, lake: LakeResource, log: object | None = None
) -> tuple[PartitionInfo, PartitionInfo, IngestTally]:
    """Read one day of a contract table into the lake, in this process; returns the raw and
    quarantine partitions (`pipelines.ingest.load.ingest_day` with the resources' clients), with
    Arrow on the system allocator (`pipelines.arrow_memory`)."""
    use_system_allocator()
    return load.ingest_day(lake_table, day, dynamo.settings(), lake.open(), lake.catalog())


def table_schema(schema: pa.Schema) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(f.name, str(f.type), constraints=dg.TableColumnConstraints(nullable=f.nullable))
            for f in schema
        ]
    )


def dagster_metadata(plain: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Metadata in Pipes' format (`load.partition_metadata`) as Dagster's values, in process."""
    out: dict[str, Any] = {}
    for key, entry in plain.items():
        kind, value = entry["type"], entry["raw_value"]
        if kind == "table_schema":
            out[key] = dg.TableSchema(
                columns=[
                    dg.TableColumn(c["name"], c["type"], constraints=dg.TableColumnConstraints(**c["constraints"]))
                    for c in value["columns"]
                ]
            )
        elif kind == "path":
            out[key] = dg.MetadataValue.path(value)
        elif kind == "md":
            out[key] = dg.MetadataValue.md(value)
        elif kind == "json":
            out[key] = dg.MetadataValue.json(value)
        elif kind == "int":
            out[key] = dg.MetadataValue.int(value)
        elif kind == "float":
            out[key] = dg.MetadataValue.float(value)
        else:
            out[key] = value
    return out


def materialize_metadata(raw: PartitionInfo, quarantined: PartitionInfo, tally: IngestTally) -> dict:
    return dagster_metadata(load.partition_metadata(raw, quarantined, tally))


def worker_extras(dynamo: DynamoResource, lake: LakeResource) -> dict[str, Any]:
    """The worker's configuration (`pipelines.ingest.worker.WorkerConfig`, minus the partition)."""
    return {
        "target": AwsTarget.from_settings(dynamo.settings()).to_dict(),
        "lake_uri": lake.uri,
        "glue_database": lake.glue_database if lake.register_in_glue else None,
    }


def worker_env() -> dict[str, str]:
    # The worker sets both itself as well; here they hold from the first allocation on.
    return {
        POOL_VARIABLE: os.environ.get(POOL_VARIABLE, "system"),
        "MALLOC_ARENA_MAX": "2",
    }


class IngestConfig(dg.Config):
    """Where the partition is loaded: None follows `GITGOODS_INGEST_IN_PROCESS` (default: a worker)."""

    in_process: bool | None = None


def build_raw_asset(lake_table: str) -> dg.AssetsDefinition:
    source = RAW_TABLES[lake_table][0]

    @dg.asset(
        name=lake_table,
        group_name="ingest",
        partitions_def=daily,
        pool=writers_pool("raw", lake_table),
        kinds={"dynamodb", "parquet"},
        owners=OWNERS,
        description=(
            f"Every item of the storefront's `{source}` table for one UTC day, typed, as Parquet under "
            f"`raw/{lake_table}/dt=YYYY-MM-DD/` (replaced atomically). Items that break the event "
            f"contract are kept in `quarantine/{source}/` with their reasons."
        ),
        tags={"layer": "raw"},
    )
    def raw_asset(
        context: dg.AssetExecutionContext, config: IngestConfig, dynamo: DynamoResource, lake: LakeResource
    ) -> dg.MaterializeResult:
        day = date.fromisoformat(context.partition_key)
        in_process = get_settings().ingest_in_process if config.in_process is None else config.in_process
        if in_process:
            raw, quarantined, tally = ingest_partition(lake_table, day, dynamo, lake)
            context.log.info(
                f"{lake_table} {day}: {tally.items} items, {raw.rows} rows, {quarantined.rows} quarantined "
                f"-> {raw.location} (in process)"
            )
            return dg.MaterializeResult(metadata=materialize_metadata(raw, quarantined, tally))
        client = dg.PipesSubprocessClient(env=worker_env())
        invocation = client.run(
            command=WORKER_COMMAND,
            context=context,
            extras={"ingest": worker_extras(dynamo, lake)},
        )
        return invocation.get_materialize_result()

    return raw_asset


raw_sales = build_raw_asset("raw_sales")
raw_order_events = build_raw_asset("raw_order_events")
ASSETS = [raw_sales, raw_order_events]
