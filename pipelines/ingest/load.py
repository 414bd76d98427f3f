"""Load one day of a contract table into its lake partition: the one implementation, shared by
the Dagster assets (in process) and the lean worker process (`pipelines.ingest.worker`).

Write-audit-publish: the day's raw and quarantine runs are written staged (complete, not current),
reconciled with DynamoDB there (`pipelines.ingest.day_totals.reconcile_day`, the blocking check
`reconciles_with_dynamodb`), and switched current only if that passed. A run that fails stays in
the lake for inspection, and readers, Glue and the marts keep the previous version.

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
from pipelines.ingest.day_totals import Reconciliation, reconcile_day
from pipelines.ingest.schemas import QUARANTINE, RAW_TABLES, quarantine_table
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


RECONCILIATION_CHECK = "reconciles_with_dynamodb"  # the blocking check the audit reports as


@dataclass(frozen=True)
class LoadedDay:
    """One day loaded: its raw and quarantine runs (current when `published`), what the read saw
    and the audit that decided whether the runs were published."""

    raw: PartitionInfo
    quarantined: PartitionInfo
    tally: IngestTally
    audit: Reconciliation
    published: bool


def ingest_day(
    lake_table: str,
    day: date,
    dynamo: Any,
    fs: LakeFS,
    catalog: GlueCatalog | None = None,
    **read_options: Any,
) -> LoadedDay:
    """Read one day of a contract table into the lake: stage the raw and quarantine runs, audit
    them against DynamoDB, publish them if the audit allows it (see the module's docstring).

    `dynamo` says where the table is (`Settings` or `AwsTarget`); `read_options` go to `read_day`
    (its `http` client is used by the audit too).
    """
    source, schema, _ = RAW_TABLES[lake_table]
    tally = IngestTally()

    def batches() -> Iterator[pa.RecordBatch]:
        for page in reader.read_day(source, day, dynamo, **read_options):
            yield tally.add(page)

    raw_writer = PartitionWriter(fs, lake_table, schema, zone="raw", catalog=catalog)
    bad_writer = PartitionWriter(fs, quarantine_table(source), QUARANTINE, zone="quarantine", catalog=catalog)
    raw = raw_writer.stage(day, batches())
    # Written after the clean rows, from the (small) set of rows that broke the contract.
    quarantined = bad_writer.stage(day, [quarantine_batch(tally.quarantine)] if tally.quarantine else [])
    audit = reconcile_day(
        lake_table, day, dynamo, fs, runs=(raw.info.run_id, quarantined.info.run_id), http=read_options.get("http")
    )
    if not audit.publishable:
        return LoadedDay(raw.info, quarantined.info, tally, audit, published=False)
    # The quarantine first: once the clean rows are current, their quarantined rows are too.
    published_quarantine = bad_writer.publish(quarantined)
    return LoadedDay(raw_writer.publish(raw), published_quarantine, tally, audit, published=True)


# -- what a materialisation reports ----------------------------------------------------------------


def column_schema(schema: pa.Schema) -> dict[str, Any]:
    """An Arrow schema as Dagster Pipes' `table_schema` value (names, Arrow types, nullability)."""
    return {"columns": [{"name": f.name, "type": str(f.type), "constraints": {"nullable": f.nullable}} for f in schema]}


def _value(kind: str, value: Any) -> dict[str, Any]:
    return {"type": kind, "raw_value": value}


def reconciliation_metadata(audit: Reconciliation) -> dict[str, dict]:
    """What the reconciliation check shows (Pipes' format): the counts on both sides, or why not."""
    metadata = {key: _value("int", value) for key, value in audit.counts.items()}
    if audit.reason:
        metadata["reason"] = _value("text", audit.reason)
    return metadata


def check_metadata(loaded: LoadedDay) -> dict[str, dict]:
    """The check of a load's staged runs (Pipes' format): the counts, the runs and whether they were
    published; a run that was not is kept, and named, for inspection."""
    metadata = reconciliation_metadata(loaded.audit)
    metadata["run_id"] = _value("text", loaded.raw.run_id)
    metadata["location"] = _value("path", loaded.raw.location)
    metadata["quarantine_location"] = _value("path", loaded.quarantined.location)
    metadata["published"] = _value("bool", loaded.published)
    if not loaded.published:
        metadata["kept_for_inspection"] = _value("path", loaded.raw.location)
    return metadata


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
