"""History from a DynamoDB export (`ExportTableToPointInTime`), without reading the table.

The export's items of one day are spread over all its files, so the load has two passes:

1. read the export once (`read_export`, streaming, bounded buffers) and spill each day's clean
   rows to small Parquet files in a local staging folder, keeping per-day counts and sums;
2. for each day, stream its staged files into the lake with the same `PartitionWriter` as the
   daily ingest, as new runs not yet current, and its quarantined rows beside them.

Each day is then audited exactly as the daily ingest is, on those new runs: the export's item
count and amount sum for the day must equal the lake's clean plus quarantined rows. Only a day
that reconciles is switched in (write-audit-publish); another keeps its previous version, and its
runs are kept for inspection.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.ingest.convert.results import quarantine_batch
from pipelines.ingest.export import read_export
from pipelines.ingest.schemas import QUARANTINE, RAW_TABLES
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.manifest import PartitionInfo
from pipelines.lake.partitions.reading import read_partition
from pipelines.lake.partitions.writer import PartitionWriter

# Items whose day cannot be read at all are kept in this quarantine partition.
UNDATED = date(1970, 1, 1)


@dataclass
class _Day:
    items: int = 0
    amount: int = 0
    files: list[Path] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class DayLoad:
    day: date
    raw: PartitionInfo
    quarantined: PartitionInfo
    export_items: int
    export_amount: int
    lake_amount: int
    published: bool = False  # reconciled runs only become current (write-audit-publish)

    @property
    def reconciled(self) -> bool:
        return self.export_items == self.raw.rows + self.quarantined.rows and self.export_amount == self.lake_amount


def _staged_batches(files: list[Path]) -> Iterator[pa.RecordBatch]:
    for path in files:
        yield from pq.ParquetFile(path).iter_batches(batch_size=128 * 1024)


def _sum(table: pa.Table, column: str) -> int:
    return int(pc.sum(table.column(column)).as_py() or 0)


def load_export(
    export_fs: Any,
    export_root: str,
    lake_table: str,
    lake: LakeFS,
    catalog: Any = None,
    *,
    staging: Path | None = None,
    max_buffered_rows: int = 250_000,
) -> list[DayLoad]:
    """Load every day an export holds into the lake; returns one `DayLoad` per day written."""
    source, schema, amount_col = RAW_TABLES[lake_table]
    own_staging = staging is None
    staging = Path(tempfile.mkdtemp(prefix=f"export-{lake_table}-")) if staging is None else staging
    days: dict[date, _Day] = defaultdict(_Day)
    try:
        for n, (day, result) in enumerate(
            read_export(export_fs, export_root, source, max_buffered_rows=max_buffered_rows)
        ):
            slot = days[day or UNDATED]
            slot.items += result.raw_count
            slot.amount += result.raw_amount
            slot.quarantine.extend(result.quarantine)
            if result.batch.num_rows:
                path = staging / f"{(day or UNDATED).isoformat()}-{n:06d}.parquet"
                pq.write_table(pa.Table.from_batches([result.batch]), path, compression="lz4")
                slot.files.append(path)

        loads = []
        for day in sorted(days):
            slot = days[day]
            raw_writer = PartitionWriter(lake, lake_table, schema, zone="raw", catalog=catalog)
            bad_writer = PartitionWriter(lake, source, QUARANTINE, zone="quarantine", catalog=catalog)
            raw = raw_writer.stage(day, _staged_batches(slot.files))
            bad = bad_writer.stage(day, [quarantine_batch(slot.quarantine)] if slot.quarantine else [])
            # Audited from the new runs as readers will see them, before they become current.
            clean = read_partition(lake, lake_table, day.isoformat(), columns=[amount_col], run_id=raw.info.run_id)
            stored_bad = read_partition(lake, source, day.isoformat(), zone="quarantine", columns=["amount_cents"],
                                        run_id=bad.info.run_id)  # fmt: skip
            lake_amount = _sum(clean, amount_col) + _sum(stored_bad, "amount_cents")
            load = DayLoad(day, raw.info, bad.info, slot.items, slot.amount, lake_amount)
            if load.reconciled:
                load = replace(load, raw=raw_writer.publish(raw), quarantined=bad_writer.publish(bad), published=True)
            loads.append(load)
            for path in slot.files:  # this day is in the lake: its staging can go
                path.unlink(missing_ok=True)
        return loads
    finally:
        if own_staging:
            shutil.rmtree(staging, ignore_errors=True)
