"""Load one day of a contract table into its lake partition: the one implementation, shared by
the Dagster assets (in process) and the lean worker process (`pipelines.ingest.worker`).

Nothing here imports Dagster, boto3 or the settings: the DynamoDB side is anything with
`region`, `dynamodb_endpoint` and `table()` (the project's `Settings` or a plain
`pipelines.aws_http.AwsTarget`), the lake a `LakeFS` and an optional Glue catalog. What a
materialisation reports is built here as plain values in Dagster Pipes' metadata format
(`{"type": ..., "raw_value": ...}`), which the asset turns into Dagster's types in process and the
worker hands over through Pipes unchanged, so both report the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from pipelines.ingest import reader
from pipelines.ingest.convert.results import PageResult, quarantine_batch
from pipelines.ingest.schemas import QUARANTINE, RAW_TABLES
from pipelines.lake.partitions.manifest import PartitionInfo
from pipelines.lake.partitions.writer import PartitionWriter
from pipelines.lake.preview import PREVIEW_ROWS, markdown_preview

if TYPE_CHECKING:
    from pipelines.lake.catalog import GlueCatalog
    from pipelines.lake.fs import LakeFS


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
            # a copy: a slice would keep the whole page's buffers alive until the partition is done
            self.preview = pa.RecordBatch.from_pylist(page.batch.slice(0, PREVIEW_ROWS).to_pylist(), page.batch.schema)
        return page.batch


def quarantine_table(source: str) -> str:
    return source  # quarantine/<contract table>/dt=...


def ingest_day(
    lake_table: str,
    day: date,
    dynamo: Any,
    fs: LakeFS,
    catalog: GlueCatalog | None = None,
    **read_options: Any,
) -> tuple[PartitionInfo, PartitionInfo, IngestTally]:
    """Read one day of a contract table into the lake; returns the raw and quarantine partitions.

    `dynamo` says where the table is (`Settings` or `AwsTarget`); `read_options` go to `read_day`.
    """
    source, schema, _ = RAW_TABLES[lake_table]
    tally = IngestTally()

    def batches() -> Iterator[pa.RecordBatch]:
        for page in reader.read_day(source, day, dynamo, **read_options):
            yield tally.add(page)

    raw = PartitionWriter(fs, lake_table, schema, zone="raw", catalog=catalog).write(day, batches())
    # Written after the clean rows, from the (small) set of rows that broke the contract. Until it
    # is switched in, the reconciliation check sees a difference, so nothing flows on.
    bad = [quarantine_batch(tally.quarantine)] if tally.quarantine else []
    quarantined = PartitionWriter(fs, quarantine_table(source), QUARANTINE, zone="quarantine", catalog=catalog).write(
        day, bad
    )
    return raw, quarantined, tally


# -- what a materialisation reports ----------------------------------------------------------------


def column_schema(schema: pa.Schema) -> dict[str, Any]:
    """An Arrow schema as Dagster Pipes' `table_schema` value (names, Arrow types, nullability)."""
    return {"columns": [{"name": f.name, "type": str(f.type), "constraints": {"nullable": f.nullable}} for f in schema]}


def _value(kind: str, value: Any) -> dict[str, Any]:
    return {"type": kind, "raw_value": value}


def partition_metadata(raw: PartitionInfo, quarantined: PartitionInfo, tally: IngestTally) -> dict[str, dict]:
    """The materialisation's metadata, in Dagster Pipes' format (see the module's docstring)."""
    reasons = Counter(reason for row in tally.quarantine for reason in row["reasons"])
    metadata = {
        "dagster/row_count": _value("int", raw.rows),
        "dagster/column_schema": _value("table_schema", column_schema(raw.schema)),
        "location": _value("path", raw.location),
        "bytes": _value("int", raw.bytes),
        "files": _value("int", len(raw.files)),
        "row_groups": _value("int", raw.row_groups),
        "items_read": _value("int", tally.items),
        "quarantined": _value("int", quarantined.rows),
        "quarantine_location": _value("path", quarantined.location),
        "preview": _value("md", markdown_preview(tally.preview, omit=["lines"])),  # nested order lines: too wide
    }
    if reasons:
        metadata["quarantine_reasons"] = _value("json", dict(reasons.most_common(20)))
    if tally.unknown_attributes:
        metadata["unknown_attributes"] = _value("json", sorted(tally.unknown_attributes))
    return metadata
