"""A micro-batch of stream records -> the affected day partitions, as new runs, write-audit-publish.

For one contract table (`sales`, `order_events`) the records are grouped by the item's day (the
day of its `day_shard`, the key the batch ingest reads a day by; else of its time attribute). For
each day and zone (`raw`, `quarantine`):

1. the records already in the zone's current run are skipped: its manifest holds, per shard, the
   last sequence number it contains (`stream.sequences`), so a batch replayed after a crash is
   never counted twice;
2. of the rest, the last record of each item wins (an item's records are in order: one shard at a
   time, parents before children), and its NEW image is converted by the ingest's own converter
   (`pipelines.ingest.convert.rows.convert_items`, with the day's rules): clean rows go to `raw`,
   rows breaking the contract to `quarantine`, exactly as the batch ingest sorts them (an item
   whose day changed is removed from its old day: `BatchApplier.by_day`);
3. the zone's run is staged as an upsert (`pipelines.lake.partitions.upsert`): each changed item's
   previous row (in either zone) is replaced, a REMOVE only deletes it; the manifest records the
   new positions;
4. the audit: the staged run's rows are previous + added - replaced (read from its manifest), its
   schema is the table's, and the batch's records are all accounted for (clean + quarantined +
   removed = items changed); only then is it published. The quarantine is published first, as by
   the batch ingest.

So the partition holds one row per item, its latest version: what the batch ingest reads from the
table, and what `stg_sales` expects ("the latest version of each DynamoDB item").
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from pipelines.ingest.convert.results import quarantine_batch
from pipelines.ingest.convert.rows import convert_items
from pipelines.ingest.convert.wire import TIME_ATTRIBUTE
from pipelines.ingest.schemas import QUARANTINE, RAW_TABLES, quarantine_table
from pipelines.lake.partitions.manifest import schema_from_b64
from pipelines.lake.partitions.switch import PartitionRaceLost
from pipelines.lake.partitions.upsert import StagedChange, current_base, stage_upsert
from pipelines.lake.partitions.writer import PartitionWriter
from pipelines.stream.shards import Record

if TYPE_CHECKING:
    from pipelines.lake.catalog import GlueCatalog
    from pipelines.lake.fs import LakeFS

log = logging.getLogger(__name__)

# contract table -> (lake table, key attributes joined into the row key)
STREAM_TABLES = {
    "sales": ("raw_sales", ("seller_id", "sk")),
    "order_events": ("raw_order_events", ("event_id",)),
}
RACE_RETRIES = 3


class AuditFailed(RuntimeError):
    """A staged micro-batch run failed its audit: it is kept, not published."""


def _s(image: dict[str, Any] | None, name: str) -> str | None:
    value = (image or {}).get(name)
    return value.get("S") if isinstance(value, dict) and isinstance(value.get("S"), str) else None


def item_key(table: str, keys: dict[str, Any]) -> str:
    """The row key of an item (`seller_id|sk`, `event_id`): the quarantine's `item_key` too."""
    return "|".join(_s(keys, k) or "" for k in STREAM_TABLES[table][1])


def item_day(table: str, image: dict[str, Any] | None, arrived: dt.date) -> dt.date:
    """The day partition of an item: its `day_shard`'s day, else its time attribute's; an item
    with neither is quarantined in the day it arrived (the converter says why)."""
    for text in (_s(image, "day_shard"), _s(image, TIME_ATTRIBUTE[table])):
        if text and len(text) >= 10:
            try:
                return dt.date.fromisoformat(text[:10])
            except ValueError:
                continue
    return arrived


@dataclass
class DayResult:
    """What one micro-batch did to one day of one table."""

    lake_table: str
    day: str
    records: int = 0  # records of the batch for this day, before skipping
    applied: dict[str, int] = field(default_factory=dict)  # zone -> records applied (0: all replayed)
    rows: dict[str, int] = field(default_factory=dict)  # zone -> rows of the published run
    files: dict[str, int] = field(default_factory=dict)  # zone -> files of the published run
    run_ids: dict[str, str] = field(default_factory=dict)


def _newer(records: list[Record], manifest: dict[str, Any] | None) -> list[Record]:
    done = ((manifest or {}).get("stream") or {}).get("sequences", {})
    return [r for r in records if r.shard_id not in done or int(r.sequence) > int(done[r.shard_id])]


def _latest(table: str, records: list[Record]) -> dict[str, Record]:
    latest: dict[str, Record] = {}
    for record in records:  # in stream order: the last one of an item wins
        latest[item_key(table, record.keys)] = record
    return latest


def _positions(records: list[Record], manifest: dict[str, Any] | None) -> dict[str, Any]:
    sequences = dict(((manifest or {}).get("stream") or {}).get("sequences", {}))
    for record in records:
        if record.shard_id not in sequences or int(record.sequence) > int(sequences[record.shard_id]):
            sequences[record.shard_id] = record.sequence
    return {"stream": {"sequences": dict(sorted(sequences.items()))}}


def audit(change: StagedChange, schema: pa.Schema) -> None:
    """Row arithmetic and schema of a staged micro-batch run (see the module's docstring)."""
    info, manifest = change.staged.info, change.staged.manifest
    problems = []
    if info.rows != change.expected_rows:
        problems.append(
            f"{info.rows} rows, expected {change.previous_rows} + {change.added} - {change.replaced} = "
            f"{change.expected_rows}"
        )
    if not schema_from_b64(manifest["schema"]).equals(schema):
        problems.append("its schema is not the table's")
    if problems:
        raise AuditFailed(f"{info.zone}/{info.table} dt={info.dt} run {info.run_id} (kept): " + "; ".join(problems))


class BatchApplier:
    """Applies micro-batches of one contract table's stream to its day partitions."""

    def __init__(self, table: str, lake: LakeFS, catalog: GlueCatalog | None = None) -> None:
        self.table = table
        self.lake_table, self.key_columns = STREAM_TABLES[table]
        _, schema, _ = RAW_TABLES[self.lake_table]
        self.raw = PartitionWriter(lake, self.lake_table, schema, zone="raw", catalog=catalog)
        self.quarantine = PartitionWriter(lake, quarantine_table(table), QUARANTINE, zone="quarantine", catalog=catalog)

    def by_day(self, records: Iterable[Record], today: dt.date) -> dict[dt.date, list[Record]]:
        """The records of each day, in stream order. A MODIFY that moves its item to another day
        (its `day_shard` changed between the old and the new image) is also, in the old day, a
        removal of the item: it leaves the old day's partition as it lands in the new one."""
        days: dict[dt.date, list[Record]] = defaultdict(list)
        for record in records:
            day = item_day(self.table, record.new_image or record.old_image, today)
            days[day].append(record)
            if record.new_image is not None and record.old_image is not None:
                old = item_day(self.table, record.old_image, today)
                if old != day:
                    days[old].append(replace(record, event="REMOVE", new_image=None))
        return dict(sorted(days.items()))

    def apply(self, records: list[Record], today: dt.date | None = None) -> list[DayResult]:
        today = today or dt.datetime.now(dt.UTC).date()
        return [self.apply_day(day, day_records) for day, day_records in self.by_day(records, today).items()]

    def apply_day(self, day: dt.date, records: list[Record]) -> DayResult:
        result = DayResult(self.lake_table, day.isoformat(), records=len(records))
        # the quarantine first: once the clean rows are current, their quarantined rows are too
        for zone, writer in (("quarantine", self.quarantine), ("raw", self.raw)):
            for attempt in range(RACE_RETRIES):
                try:
                    self._apply_zone(zone, writer, day, records, result)
                    break
                except PartitionRaceLost:  # a batch reload or compaction switched the day meanwhile
                    if attempt == RACE_RETRIES - 1:
                        raise
                    log.info("%s/%s dt=%s changed while a micro-batch was staged: again", zone, writer.table, day)
        return result

    def _apply_zone(self, zone: str, writer: PartitionWriter, day: dt.date, records: list[Record],
                    result: DayResult) -> None:  # fmt: skip
        version, manifest = current_base(writer, day)
        todo = _newer(records, manifest)
        result.applied[zone] = len(todo)
        if not todo:
            return
        latest = _latest(self.table, todo)
        images = [r.new_image for r in latest.values() if r.new_image is not None]
        converted = convert_items(images, self.table, day)
        removed = len(latest) - len(images)
        if converted.clean_count + len(converted.quarantine) + removed != len(latest):
            raise AuditFailed(f"{self.table} dt={day}: {len(latest)} items changed, but {converted.clean_count} "
                              f"clean + {len(converted.quarantine)} quarantined + {removed} removed")  # fmt: skip
        rows = converted.batch if zone == "raw" else quarantine_batch(converted.quarantine)
        change = stage_upsert(writer, day, rows, list(latest), self.key_columns if zone == "raw" else ["item_key"],
                              extra=_positions(todo, manifest), base=(version, manifest))  # fmt: skip
        if change is None:  # nothing for this zone (e.g. no quarantined row): its run stays
            return
        audit(change, writer.schema)
        info = writer.publish(change.staged)
        result.rows[zone], result.files[zone], result.run_ids[zone] = info.rows, len(info.files), info.run_id


__all__ = ["STREAM_TABLES", "AuditFailed", "BatchApplier", "DayResult", "audit", "item_day", "item_key"]
