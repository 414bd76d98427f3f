"""The change-capture process: polls the streams of `sales` and `order_events`, applies each
micro-batch to the affected day partitions (`pipelines.stream.apply`), compacts days, refreshes the
affected days' models and reports every partition it published to Dagster.

One `step` per table: poll the stream from the read-ahead positions; apply the records; save the
checkpoint; commit. Any failure before the checkpoint rewinds the reader to the committed positions,
so the same records are read again (those already published are skipped by the manifests'
positions). A trimmed stream (`StreamTrimmed`) means changes may be lost: the days that may hold
them are reloaded from the table by the batch ingest (`pipelines.ingest.load.ingest_day`, with its
reconciliation) and the shard is read again from its trim horizon; this is logged as a warning and
reported. Compaction: a day of more than `compact_files` files, and every day the consumer wrote
once it is closed (the UTC date moved on), is rewritten into few files (`stage_compaction`).
The models: `pipelines.stream.refresh` (`Refresher` after each micro-batch, `CoalescedRefresh`
between micro-batches, through `between`).

Run it with `python -m pipelines.stream.consumer` (`make up` starts it; `make status` shows it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipelines.lake.partitions.switch import PartitionRaceLost
from pipelines.lake.partitions.upsert import stage_compaction
from pipelines.lake.partitions.writer import PartitionWriter
from pipelines.stream import checkpoint
from pipelines.stream.apply import STREAM_TABLES, BatchApplier, DayResult
from pipelines.stream.refresh import MARTS_INTERVAL_S, REFRESHED_MODELS, CoalescedRefresh, ModelBuilds, Refresher
from pipelines.stream.shards import StreamReader, StreamTrimmed

if TYPE_CHECKING:
    from gitgoods.settings import Settings
    from pipelines.lake.catalog import GlueCatalog
    from pipelines.lake.fs import LakeFS

log = logging.getLogger(__name__)


@dataclass
class ConsumerConfig:
    max_records: int = 10_000  # per table and micro-batch
    poll_interval_s: float = 1.0  # pause after a step that found nothing
    compact_files: int = 32  # a day past this many files is compacted at once
    refresh_models: tuple[str, ...] = REFRESHED_MODELS
    marts_interval_s: float = MARTS_INTERVAL_S  # the other daily models: at most one refresh per this many seconds
    reload_lookback_days: int = 35  # after a trimmed stream: days compared with DynamoDB and reloaded


@dataclass
class StepResult:
    days: list[DayResult] = field(default_factory=list)
    compacted: list[tuple[str, str, str]] = field(default_factory=list)  # (zone, table, day)
    reloaded: list[tuple[str, str]] = field(default_factory=list)  # (lake table, day) after a trim
    records: int = 0
    more_work: bool = False  # the work between micro-batches has more waiting: no pause


class StreamConsumer:
    """Both streams, from their checkpoints. `settings` say where DynamoDB is; `streams` is the
    `dynamodbstreams` client (`gitgoods.aws.client` by default)."""

    def __init__(
        self,
        settings: Settings,
        lake: LakeFS,
        catalog: GlueCatalog | None = None,
        *,
        config: ConsumerConfig | None = None,
        streams: Any = None,
        ddb: Any = None,
        tables: Iterable[str] = tuple(STREAM_TABLES),
        on_published: Callable[[list[DayResult]], None] | None = None,
        between: Callable[[], bool] | None = None,
        today: Callable[[], dt.date] | None = None,
    ) -> None:
        from gitgoods import aws
        from gitgoods.contract.tables import stream_arn

        self.settings = settings
        self.lake = lake
        self.catalog = catalog
        self.config = config or ConsumerConfig()
        self.streams = streams or aws.client("dynamodbstreams", settings)
        ddb = ddb or aws.client("dynamodb", settings)
        self.on_published = on_published
        self.between = between  # after every step: a slice of other work (the coalesced marts); more waiting?
        self.today = today or (lambda: dt.datetime.now(dt.UTC).date())
        self.appliers: dict[str, BatchApplier] = {}
        self.readers: dict[str, StreamReader] = {}
        for table in tables:
            arn = stream_arn(table, settings, ddb)
            if not arn:
                raise RuntimeError(f"table {settings.table(table)} has no stream (ensure_tables turns it on)")
            self.appliers[table] = BatchApplier(table, lake, catalog)
            self.readers[table] = StreamReader(self.streams, arn, checkpoint.load(lake, table, arn))
        self._unrefreshed: list[DayResult] = []  # published days whose refresh failed: tried again
        self._open_days: set[tuple[str, dt.date]] = set()  # written since the last compaction of closed days

    # -- one step ----------------------------------------------------------------------------------

    def step(self) -> StepResult:
        out = StepResult()
        caught_up = True  # every stream read to its end in this step (no backlog left)
        for table, reader in self.readers.items():
            applier = self.appliers[table]
            try:
                records = reader.poll(self.config.max_records)
                days = applier.apply(records, self.today()) if records else []
                if reader.ahead != reader.committed:  # something was read: the lake holds it now
                    checkpoint.save(self.lake, table, reader.arn, reader.ahead)
                    reader.commit()
            except StreamTrimmed as trimmed:
                reader.rewind()
                out.reloaded += self._reload_after_trim(table, trimmed)
                reader.restart_trimmed(trimmed.shard_id)
                continue
            except BaseException:
                reader.rewind()  # read again from the committed positions; published days skip them
                raise
            out.records += len(records)
            caught_up = caught_up and len(records) < self.config.max_records
            out.days += days
            for day in days:
                self._open_days.add((table, dt.date.fromisoformat(day.day)))
                out.compacted += self._compact_if_many(applier, day)
        if caught_up:  # while a backlog is read (a first start, a restart), closed days wait for it
            out.compacted += self._compact_closed_days()
        pending = self._unrefreshed + out.days
        if pending and self.on_published:
            try:
                self.on_published(pending)
                self._unrefreshed = []
            except Exception:  # the lake holds the batch; the refresh is tried again at the next step
                log.exception("refreshing the models of %s failed", ", ".join(sorted({d.day for d in pending})))
                self._unrefreshed = pending
        if self.between:
            try:
                out.more_work = self.between()
            except Exception:  # never stops the stream; its own errors are its to retry
                log.exception("work between micro-batches failed")
        return out

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                result = self.step()
            except Exception:
                log.exception("micro-batch failed; reading again from the committed positions")
                stop.wait(max(self.config.poll_interval_s, 5.0))
                continue
            if result.records:
                log.info("%d records -> %s", result.records, ", ".join(f"{d.lake_table}/{d.day}" for d in result.days))
            elif not result.more_work:
                stop.wait(self.config.poll_interval_s)

    # -- compaction --------------------------------------------------------------------------------

    def _writers(self, applier: BatchApplier) -> tuple[PartitionWriter, ...]:
        return (applier.quarantine, applier.raw)

    def compact(self, writer: PartitionWriter, day: dt.date | str) -> bool:
        """Rewrite a day's files into few, every row unchanged (audited: the same row count)."""
        for _ in range(3):
            change = stage_compaction(writer, day)
            if change is None:
                return False
            if change.staged.info.rows != change.previous_rows:
                raise RuntimeError(f"compaction of {writer.table} dt={day} changed the row count: kept, not published")
            try:
                writer.publish(change.staged)
                return True
            except PartitionRaceLost:
                continue
        return False

    def _compact_if_many(self, applier: BatchApplier, day: DayResult) -> list[tuple[str, str, str]]:
        out = []
        for writer in self._writers(applier):
            if day.files.get(writer.zone, 0) > self.config.compact_files and self.compact(writer, day.day):
                out.append((writer.zone, writer.table, day.day))
        return out

    def _compact_closed_days(self) -> list[tuple[str, str, str]]:
        today = self.today()
        out = []
        for table, day in sorted(d for d in self._open_days if d[1] < today):
            for writer in self._writers(self.appliers[table]):
                if self.compact(writer, day):
                    out.append((writer.zone, writer.table, day.isoformat()))
            self._open_days.discard((table, day))
        return out

    # -- a trimmed stream --------------------------------------------------------------------------

    def _reload_after_trim(self, table: str, trimmed: StreamTrimmed) -> list[tuple[str, str]]:
        """Reload from the table the days that may miss changes: those that differ from DynamoDB
        within the lookback, and today."""
        from pipelines.ingest.day_totals import changed_partitions
        from pipelines.ingest.load import ingest_day

        lake_table = STREAM_TABLES[table][0]
        today = self.today()
        days = {d for t, d, _ in changed_partitions(self.settings, self.lake, today, self.config.reload_lookback_days)
                if t == lake_table} | {today.isoformat()}  # fmt: skip
        log.warning("%s; reloading %s from the table: %s", trimmed, lake_table, ", ".join(sorted(days)))
        reloaded = []
        for day in sorted(days):
            loaded = ingest_day(lake_table, dt.date.fromisoformat(day), self.settings, self.lake, self.catalog)
            if not loaded.published:
                log.error("reload of %s dt=%s did not reconcile: %s", lake_table, day, loaded.audit.reason)
            reloaded.append((lake_table, day))
        return reloaded


def _instance() -> Any:
    import dagster as dg

    try:
        return dg.DagsterInstance.get()  # DAGSTER_HOME: the stack's instance
    except Exception as exc:  # no DAGSTER_HOME: nothing to report to
        log.info("no Dagster instance to report to (%s)", exc)
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-records", type=int, default=ConsumerConfig.max_records)
    parser.add_argument("--poll-interval", type=float, default=ConsumerConfig.poll_interval_s)
    parser.add_argument("--compact-files", type=int, default=ConsumerConfig.compact_files)
    parser.add_argument(
        "--marts-interval",
        type=float,
        default=ConsumerConfig.marts_interval_s,
        help="seconds between refreshes of the day's other daily models (0: with every batch)",
    )
    parser.add_argument("--no-refresh", action="store_true", help="do not rebuild the day's models")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from gitgoods.contract.tables import ensure_streams
    from gitgoods.settings import get_settings
    from pipelines.resources import resources_for

    settings = get_settings()
    ensure_streams(settings)
    lake_resource = resources_for(settings)["lake"]
    lake, catalog = lake_resource.open(), lake_resource.catalog()
    config = ConsumerConfig(args.max_records, args.poll_interval, args.compact_files,
                            marts_interval_s=args.marts_interval)  # fmt: skip
    refresher = marts = None
    if not args.no_refresh:
        builds = ModelBuilds(settings, lake, catalog, _instance())
        marts = CoalescedRefresh(builds, interval_s=config.marts_interval_s)
        refresher = Refresher(settings, lake, catalog, config.refresh_models, builds=builds, marts=marts)
    consumer = StreamConsumer(settings, lake, catalog, config=config, on_published=refresher,
                              between=marts.tick if marts else None)  # fmt: skip
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log.info("following the streams of %s", ", ".join(consumer.readers))
    consumer.run(stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
