"""`raw_sales` and `raw_order_events`: one day of a DynamoDB table into one lake partition.

A partition is read with parallel Queries over the sharded day index, converted straight into
typed Arrow columns and streamed into Parquet row groups in a run-specific folder, staged. Items
that break the contract go to the quarantine table with their reasons. The blocking check
`reconciles_with_dynamodb` runs in the asset's step on the staged runs, which are switched in
atomically only if it passed (write-audit-publish): the asset yields its materialisation (when
published) and the check's result; when the check failed, nothing is published and the step
fails, so nothing downstream runs on the day.

The load itself (`pipelines.ingest.load.ingest_day`) runs in a lean worker process launched
through Dagster Pipes (`pipelines.ingest.worker`), which reports the materialisation back, so the
Dagster process never holds the ingest's memory. `GITGOODS_INGEST_IN_PROCESS=true` (or the run
config `in_process: true`) runs the same function in the step's own process instead; the metadata
is the same either way. `make up`'s initial load does that: its process ends after the load, and
a worker per asset and day would cost ~0.3 s more a partition.
"""

import os
import sys
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

import dagster as dg
import pyarrow as pa

from gitgoods.settings import get_settings
from pipelines.arrow_memory import POOL_VARIABLE, use_system_allocator
from pipelines.aws_http import AwsTarget
from pipelines.defs.ingest.checks import check_result, check_spec
from pipelines.defs.ingest.metadata import dagster_metadata
from pipelines.defs.partitions import daily
from pipelines.ingest import load
from pipelines.ingest.load import IngestTally, LoadedDay
from pipelines.ingest.schemas import RAW_TABLES, quarantine_table
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
    "load_results",
    "materialize_metadata",
    "quarantine_table",
    "raw_order_events",
    "raw_sales",
    "table_schema",
    "worker_extras",
]


def ingest_partition(
    lake_table: str, day: date, dynamo: DynamoResource, lake: LakeResource, log: object | None = None
) -> LoadedDay:
    """Read one day of a contract table into the lake, in this process: staged, audited, published
    if it passed (`pipelines.ingest.load.ingest_day` with the resources' clients), with Arrow on the
    system allocator (`pipelines.arrow_memory`)."""
    use_system_allocator()
    return load.ingest_day(lake_table, day, dynamo.settings(), lake.open(), lake.catalog())


def table_schema(schema: pa.Schema) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(f.name, str(f.type), constraints=dg.TableColumnConstraints(nullable=f.nullable))
            for f in schema
        ]
    )


def materialize_metadata(raw: PartitionInfo, quarantined: PartitionInfo, tally: IngestTally) -> dict:
    return dagster_metadata(load.partition_metadata(raw, quarantined, tally))


def load_results(loaded: LoadedDay) -> list[dg.MaterializeResult | dg.AssetCheckResult]:
    """What an in-process load reports, as the worker reports it through Pipes: the materialisation
    when the runs were published, then the check's result (so it targets that materialisation)."""
    check = check_result(loaded.audit, load.check_metadata(loaded))
    if not loaded.published:
        return [check]
    return [dg.MaterializeResult(metadata=materialize_metadata(loaded.raw, loaded.quarantined, loaded.tally)), check]


def publish_outcome(
    lake_table: str, day: date, results: Sequence[dg.MaterializeResult | dg.AssetCheckResult]
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Yield a load's results; when nothing was published, fail the step after the check's result:
    no materialisation claims the new run, and nothing downstream runs."""
    yield from results
    if not any(isinstance(r, dg.MaterializeResult) for r in results):
        check = next(r for r in results if isinstance(r, dg.AssetCheckResult))
        raise dg.Failure(
            description=(
                f"{lake_table} {day}: the new run does not reconcile with DynamoDB and was not published; "
                "the previous version stays current and the run is kept for inspection"
            ),
            metadata=check.metadata,
        )


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
        check_specs=[check_spec(lake_table)],
    )
    def raw_asset(
        context: dg.AssetExecutionContext, config: IngestConfig, dynamo: DynamoResource, lake: LakeResource
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        day = date.fromisoformat(context.partition_key)
        in_process = get_settings().ingest_in_process if config.in_process is None else config.in_process
        if in_process:
            loaded = ingest_partition(lake_table, day, dynamo, lake)
            context.log.info(
                f"{lake_table} {day}: {loaded.tally.items} items, {loaded.raw.rows} rows, "
                f"{loaded.quarantined.rows} quarantined -> {loaded.raw.location} (in process, "
                f"{'published' if loaded.published else 'not published'})"
            )
            results = load_results(loaded)
        else:
            client = dg.PipesSubprocessClient(env=worker_env())
            invocation = client.run(
                command=WORKER_COMMAND,
                context=context,
                extras={"ingest": worker_extras(dynamo, lake)},
            )
            results = invocation.get_results(implicit_materializations=False)
        yield from publish_outcome(lake_table, day, results)

    return raw_asset


raw_sales = build_raw_asset("raw_sales")
raw_order_events = build_raw_asset("raw_order_events")
ASSETS = [raw_sales, raw_order_events]
