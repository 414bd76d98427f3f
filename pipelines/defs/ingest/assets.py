"""`raw_sales` and `raw_order_events`: one day of a DynamoDB table into one lake partition.

A partition is read with parallel Queries over the sharded day index, converted straight into
typed Arrow columns, streamed into Parquet row groups in a run-specific folder and then switched
in atomically. Items that break the contract go to the quarantine table with their reasons.
"""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

import dagster as dg
import pyarrow as pa

from pipelines.defs.ingest.partitions import daily
from pipelines.ingest.convert import PageResult, quarantine_batch
from pipelines.ingest.reader import read_day
from pipelines.ingest.schemas import QUARANTINE, RAW_TABLES
from pipelines.lake.partitions import PartitionInfo, PartitionWriter
from pipelines.resources import DynamoResource, LakeResource

OWNERS = ["team:data-platform"]
PREVIEW_ROWS = 10


@dataclass
class IngestTally:
    """What one partition's read saw, for metadata and reconciliation."""

    items: int = 0
    amount: int = 0
    clean: int = 0
    quarantine: list[dict] = field(default_factory=list)
    unknown_attributes: set[str] = field(default_factory=set)
    preview: pa.RecordBatch | None = None

    def add(self, page: PageResult) -> pa.RecordBatch:
        self.items += page.raw_count
        self.amount += page.raw_amount
        self.clean += page.clean_count
        self.quarantine.extend(page.quarantine)
        self.unknown_attributes |= set(page.unknown_attributes)
        if self.preview is None and page.batch.num_rows:
            self.preview = page.batch.slice(0, PREVIEW_ROWS)
        return page.batch


def quarantine_table(source: str) -> str:
    return source  # quarantine/<contract table>/dt=...


def ingest_partition(
    lake_table: str, day: date, dynamo: DynamoResource, lake: LakeResource, log: object | None = None
) -> tuple[PartitionInfo, PartitionInfo, IngestTally]:
    """Read one day of a contract table into the lake; returns the raw and quarantine partitions."""
    source, schema, _ = RAW_TABLES[lake_table]
    settings = dynamo.settings()
    fs, catalog = lake.open(), lake.catalog()
    tally = IngestTally()

    def batches() -> Iterator[pa.RecordBatch]:
        for page in read_day(source, day, settings):
            yield tally.add(page)

    raw = PartitionWriter(fs, lake_table, schema, zone="raw", catalog=catalog).write(day, batches())
    # Written after the clean rows, from the (small) set of rows that broke the contract. Until it
    # is switched in, the reconciliation check sees a difference, so nothing flows on.
    bad = [quarantine_batch(tally.quarantine)] if tally.quarantine else []
    quarantined = PartitionWriter(fs, quarantine_table(source), QUARANTINE, zone="quarantine", catalog=catalog).write(
        day, bad
    )
    return raw, quarantined, tally


def _markdown_preview(batch: pa.RecordBatch | None) -> str:
    if batch is None or batch.num_rows == 0:
        return "_no rows_"
    names = [n for n in batch.schema.names if n != "lines"]
    rows = batch.select(names).to_pylist()
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    for row in rows:
        lines.append("| " + " | ".join(str(row[n]) for n in names) + " |")
    return "\n".join(lines)


def table_schema(schema: pa.Schema) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(f.name, str(f.type), constraints=dg.TableColumnConstraints(nullable=f.nullable))
            for f in schema
        ]
    )


def materialize_metadata(raw: PartitionInfo, quarantined: PartitionInfo, tally: IngestTally) -> dict:
    reasons = Counter(reason for row in tally.quarantine for reason in row["reasons"])
    metadata = {
        "dagster/row_count": raw.rows,
        "dagster/column_schema": table_schema(raw.schema),
        "location": dg.MetadataValue.path(raw.location),
        "bytes": raw.bytes,
        "files": len(raw.files),
        "row_groups": raw.row_groups,
        "items_read": tally.items,
        "quarantined": quarantined.rows,
        "quarantine_location": dg.MetadataValue.path(quarantined.location),
        "preview": dg.MetadataValue.md(_markdown_preview(tally.preview)),
    }
    if reasons:
        metadata["quarantine_reasons"] = dg.MetadataValue.json(dict(reasons.most_common(20)))
    if tally.unknown_attributes:
        metadata["unknown_attributes"] = sorted(tally.unknown_attributes)
    return metadata


def build_raw_asset(lake_table: str) -> dg.AssetsDefinition:
    source = RAW_TABLES[lake_table][0]

    @dg.asset(
        name=lake_table,
        group_name="ingest",
        partitions_def=daily,
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
        context: dg.AssetExecutionContext, dynamo: DynamoResource, lake: LakeResource
    ) -> dg.MaterializeResult:
        day = date.fromisoformat(context.partition_key)
        raw, quarantined, tally = ingest_partition(lake_table, day, dynamo, lake)
        context.log.info(
            f"{lake_table} {day}: {tally.items} items, {raw.rows} rows, {quarantined.rows} quarantined "
            f"-> {raw.location}"
        )
        return dg.MaterializeResult(metadata=materialize_metadata(raw, quarantined, tally))

    return raw_asset


raw_sales = build_raw_asset("raw_sales")
raw_order_events = build_raw_asset("raw_order_events")
ASSETS = [raw_sales, raw_order_events]
