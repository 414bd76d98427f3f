"""`history_from_export`: load years of history from a DynamoDB export into the same partitions,
with the same checks, without reading the table (the way a team with history would start).

Each day's reconciliation with the export is recorded as the raw asset's blocking check
`reconciles_with_dynamodb` for that day (the export is DynamoDB's table at a point in time), so the
models' gate (`pipelines.defs.marts.gates`) builds on history days as on ingested ones; a day
that does not reconcile is not published and records a failed check."""

import dagster as dg

from pipelines.defs.ingest.assets import table_schema
from pipelines.ingest.history import DayLoad, load_export
from pipelines.ingest.load import RECONCILIATION_CHECK
from pipelines.ingest.schemas import RAW_TABLES
from pipelines.lake.fs import LakeFS
from pipelines.resources import LakeResource


class ExportConfig(dg.Config):
    export_uri: str  # the export's folder (or its parent holding AWSDynamoDB/): file:// or s3://
    table: str = "raw_order_events"  # the lake table the export's DynamoDB table feeds


def materialization(config: ExportConfig, load: DayLoad) -> dg.AssetMaterialization:
    return dg.AssetMaterialization(
        asset_key=config.table,
        partition=load.day.isoformat(),
        metadata={
            "dagster/row_count": load.raw.rows,
            "dagster/column_schema": table_schema(load.raw.schema),
            "location": dg.MetadataValue.path(load.raw.location),
            "bytes": load.raw.bytes,
            "quarantined": load.quarantined.rows,
            "export_items": load.export_items,
            "reconciled_with_export": load.reconciled,
            "source": config.export_uri,
        },
    )


@dg.op(description="Read a DynamoDB export once and write every day it holds into the lake, reconciled.")
def load_history_from_export(context: dg.OpExecutionContext, config: ExportConfig, lake: LakeResource) -> dict:
    if config.table not in RAW_TABLES:
        raise dg.Failure(f"unknown lake table {config.table!r}; one of {sorted(RAW_TABLES)}")
    export = LakeFS.from_uri(config.export_uri)
    loads = load_export(export.fs, export.root, config.table, lake.open(), lake.catalog())
    broken = []
    for load in loads:
        day = load.day.isoformat()
        if load.published:
            context.log_event(materialization(config, load))
        context.log_event(
            dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey(config.table),
                check_name=RECONCILIATION_CHECK,
                passed=load.reconciled,
                partition=day,
                metadata={
                    "source": config.export_uri,
                    "export_items": load.export_items,
                    "lake_rows": load.raw.rows + load.quarantined.rows,
                    "export_amount": load.export_amount,
                    "lake_amount": load.lake_amount,
                    **({} if load.published else {"unpublished_run": dg.MetadataValue.path(load.raw.location)}),
                },
            )
        )
        if not load.reconciled:
            broken.append(day)
    if broken:
        raise dg.Failure(f"{len(broken)} day(s) do not reconcile with the export: {', '.join(broken[:10])}")
    summary = {
        "days": len(loads),
        "rows": sum(x.raw.rows for x in loads),
        "quarantined": sum(x.quarantined.rows for x in loads),
    }
    context.log.info(f"history loaded: {summary}")
    return summary


@dg.job(description="Load history from a DynamoDB export (ExportTableToPointInTime, DYNAMODB_JSON) into the lake.")
def history_from_export() -> None:
    load_history_from_export()


JOBS = [history_from_export]
