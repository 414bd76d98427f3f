"""Build a model's partitions: run its SELECT for a range of partitions, write each partition.

The query runs once per chunk of partitions (`chunk` keys at a time, from the call, the model's
YAML or the default: one scan of the history a mart needs serves many days). Its rows stream in
`dt` order, conformed to the documented schema; each partition, once complete, is written by one
of a few threads with `PartitionWriter` (new run prefix, atomic switch, Glue). Every partition of
the range is written, empty when the query returned no row for it, so a day without sales reads as
zero rows rather than as missing. On S3 the table's digest (pipelines/lake/digest.py) is refreshed
at the end, so a cold reader resolves every partition in one GET.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from pipelines import heap
from pipelines.lake.catalog import GlueCatalog
from pipelines.lake.digest import DigestRefresh, refresh_digest
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.current import CurrentFiles
from pipelines.lake.partitions.manifest import PartitionInfo, current_manifest, list_partitions, schema_from_b64
from pipelines.lake.partitions.packs import Pack, refresh_packs
from pipelines.lake.partitions.writer import PartitionWriter, StagedRun
from pipelines.marts.models import Model, ModelError, without_own_history
from pipelines.sql.engine import SqlEngine

log = logging.getLogger(__name__)

DEFAULT_CHUNK = {"day": 31, "month": 12}
# Partitions written at once: on S3 a write is a few requests that wait on the network.
DEFAULT_WRITE_THREADS = 8

T = TypeVar("T")


def partition_keys(model: Model, start: str, end: str) -> list[str]:
    """Every partition key of `model` from `start` to `end` (inclusive)."""
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    if last < first:
        raise ValueError(f"empty range {start}..{end}")
    if model.partitioned_by == "month":
        if first.day != 1 or last.day != 1:
            raise ValueError(f"{model.name} is partitioned by month: keys are first days of months")
        keys, d = [], first
        while d <= last:
            keys.append(d.isoformat())
            d = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
        return keys
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def conform(model: Model, table: pa.Table) -> pa.Table:
    """The query's rows with the documented columns, in order and with their types (dt last)."""
    if "dt" not in table.column_names:
        raise ModelError(f"{model.name} returns no dt column")
    schema = model.schema
    if schema is None:
        names = [n for n in table.column_names if n != "dt"]
        return table.select([*names, "dt"]).cast(
            pa.schema([*(table.schema.field(n) for n in names), pa.field("dt", pa.string())])
        )
    got, want = set(table.column_names) - {"dt"}, set(schema.names)
    if got != want:
        raise ModelError(
            f"{model.name} returns columns that differ from its YAML: "
            f"missing {sorted(want - got)}, undocumented {sorted(got - want)}"
        )
    columns = []
    for f in schema:
        col = table[f.name]
        if col.type != f.type:
            try:
                col = col.cast(f.type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise ModelError(f"{model.name}.{f.name}: {col.type} does not fit {f.type}: {exc}") from exc
        columns.append(col)
    columns.append(table["dt"].cast(pa.string()))
    return pa.Table.from_arrays(columns, schema=schema.append(pa.field("dt", pa.string())))


def _split(table: pa.Table) -> Iterator[tuple[str, pa.Table]]:
    if not table.num_rows:
        return
    table = table.sort_by("dt")
    dts = table["dt"].combine_chunks()
    ends = pc.not_equal(dts[1:], dts[:-1]).to_numpy(zero_copy_only=False).nonzero()[0] + 1
    starts = [0, *ends.tolist()]
    stops = [*ends.tolist(), table.num_rows]
    for a, b in zip(starts, stops, strict=True):
        yield dts[a].as_py(), table.slice(a, b - a).drop_columns(["dt"])


@dataclass
class BuildResult:
    model: str
    partitions: list[PartitionInfo]
    query_s: float
    write_s: float
    digest: DigestRefresh | None = None  # the table's digest, refreshed after the build (S3)
    audits: list[Any] = field(default_factory=list)  # each chunk's audit outcome (with `audit`)

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.partitions)


def ordered_by_dt(sql: str) -> str:
    """The model's SELECT with its rows in partition order (the model's text is kept whole)."""
    body = sql.strip().rstrip(";").rstrip()
    return f"SELECT * FROM (\n{body}\n) AS model_rows ORDER BY dt"  # noqa: S608 - the model's own file


class _Writes:
    """A chunk's partitions written by a pool of threads, in key order: at most `threads`
    partitions are in flight, and results (and progress) come back in the order submitted.
    `write(key, rows)` writes one partition (the writer's `write`, or its `stage` for an audit)."""

    def __init__(self, write: Callable[[str, list[pa.Table]], T], pool: ThreadPoolExecutor, threads: int,
                 done: Callable[[T], None]) -> None:  # fmt: skip
        self.write = write
        self.pool = pool
        self.threads = threads
        self.done = done
        self.in_flight: deque[Future[T]] = deque()
        self.waited_s = 0.0

    def submit(self, key: str, rows: list[pa.Table]) -> None:
        self.in_flight.append(self.pool.submit(self.write, key, rows))
        while len(self.in_flight) > self.threads:
            self._collect()

    def _collect(self) -> None:
        t0 = time.perf_counter()
        result = self.in_flight.popleft().result()
        self.waited_s += time.perf_counter() - t0
        self.done(result)

    def finish(self) -> None:
        while self.in_flight:
            self._collect()

    def settle(self) -> None:
        """After a failure: let the writes already started end (each is whole and atomic)."""
        for future in self.in_flight:
            future.exception()
        self.in_flight.clear()


class Audit(Protocol):
    """What an audit returns: whether the staged partitions may be published."""

    @property
    def passed(self) -> bool: ...


class AuditFailed(Exception):
    """A chunk's staged partitions failed their audit: none of them was published (the partitions
    keep their previous version; the runs are kept for inspection). The chunks before it, which
    passed, were published (`published`)."""

    def __init__(self, model: str, outcome: Audit, staged: list[StagedRun], published: list[PartitionInfo]) -> None:
        self.model = model
        self.outcome = outcome
        self.staged = staged
        self.published = published
        span = f"{staged[0].info.dt}..{staged[-1].info.dt}" if staged else "no partition"
        super().__init__(f"{model} {span}: the new runs failed their audit and were not published")


def build(
    model: Model,
    start: str,
    end: str,
    *,
    engine: SqlEngine,
    lake: LakeFS,
    catalog: GlueCatalog | None = None,
    chunk: int | None = None,
    run_id: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    write_threads: int = DEFAULT_WRITE_THREADS,
    audit: Callable[[list[StagedRun]], Audit] | None = None,
    retake: bool = False,
) -> BuildResult:
    """Write every partition of `model` from `start` to `end` and switch each to its new version.

    The query's rows are streamed in `dt` order; a partition is handed to a writer thread once
    its last row has arrived (the next `dt` starts or the stream ends), so memory holds about
    `write_threads + 1` partitions rather than the chunk. A partition is written only whole: if
    the query fails, the partitions already handed over are completed and the rest keep their
    previous version.

    With `audit` (write-audit-publish), each chunk's partitions are staged as new runs, invisible
    to readers; `audit(staged)` reads them, and only if it passed are they switched in, chunk by
    chunk (a later chunk's query may read an earlier chunk's partitions). A failed audit raises
    `AuditFailed`: that chunk's partitions keep their previous version, and its runs are kept.

    A dimension snapshot's final partitions are kept unless `retake`
    (pipelines/marts/snapshots.py). A packed model's months are packed again between chunks, for
    the next chunk's read of its history; after the last chunk that is left to its packs asset
    (`pack`), off the path of the figures.
    """
    if model.snapshot and not retake:
        from pipelines.marts.snapshots import build_missing

        return build_missing(model, start, end, lake, functools.partial(
            build, model, engine=engine, lake=lake, catalog=catalog, chunk=chunk, run_id=run_id, progress=progress,
            write_threads=write_threads, audit=audit, retake=True))  # fmt: skip
    heap.settle()  # the process's imports out of the collector's way, at its first build
    keys = partition_keys(model, start, end)
    chunk = chunk or model.chunk or DEFAULT_CHUNK[model.partitioned_by]
    write_threads = max(1, write_threads)
    writer: PartitionWriter | None = None
    written: list[PartitionInfo] = []
    audits: list[Any] = []
    query_s = write_s = 0.0

    def done(info: PartitionInfo) -> None:
        written.append(info)
        if progress:
            progress(info.dt, len(written), len(keys))

    with ThreadPoolExecutor(write_threads, thread_name_prefix=f"write-{model.name}") as pool:
        for i in range(0, len(keys), chunk):
            part = keys[i : i + chunk]
            t0 = time.perf_counter()
            sql = ordered_by_dt(model_sql(model, lake, part[0]))
            reader = engine.stream(sql, {"start": part[0], "end": part[-1]})
            if writer is None:
                writer = PartitionWriter(lake, model.name, _stored_schema(model, reader.schema), zone=model.zone,
                                         catalog=catalog)  # fmt: skip
                writer.prepare()  # the Glue table once, before the threads
            staged: list[StagedRun] = []
            if audit is None:
                writes = _Writes(functools.partial(writer.write, run_id=run_id), pool, write_threads, done)
            else:
                writes = _Writes(functools.partial(writer.stage, run_id=run_id), pool, write_threads, staged.append)
            todo = deque(part)  # keys not yet handed over, in order
            current: str | None = None
            rows: list[pa.Table] = []

            def hand_over(key: str, tables: list[pa.Table], *, todo: deque[str] = todo, writes: _Writes = writes,
                          part: list[str] = part) -> None:  # fmt: skip
                if key not in todo:
                    where = "twice, or out of dt order" if part[0] <= key <= part[-1] else "outside the range"
                    raise ModelError(f"{model.name} returned rows for partition {key} {where} "
                                     f"({part[0]}..{part[-1]})")  # fmt: skip
                while todo[0] != key:  # days without rows are written empty
                    writes.submit(todo.popleft(), [])
                writes.submit(todo.popleft(), tables)

            try:
                for batch in reader:
                    for key, table in _split(conform(model, pa.Table.from_batches([batch]))):
                        if key != current:
                            if current is not None:
                                hand_over(current, rows)
                            current, rows = key, []
                        rows.append(table)
                if current is not None:
                    hand_over(current, rows)
                rows = []
                t1 = time.perf_counter()
                for key in list(todo):
                    writes.submit(key, [])
                todo.clear()
                writes.finish()
            except BaseException:
                writes.settle()
                raise
            finally:
                reader.close()
            t2 = time.perf_counter()
            write_s += t2 - t1 + writes.waited_s
            query_s += t1 - t0 - writes.waited_s
            if audit is not None:
                outcome = audit(staged)
                audits.append(outcome)
                if not outcome.passed:
                    if written:  # the chunks that passed stay published: their digest too
                        refresh_digest(lake, model.zone, model.name, written)
                    raise AuditFailed(model.name, outcome, staged, written)
                t_publish = time.perf_counter()
                for info in pool.map(writer.publish, staged):
                    done(info)
                write_s += time.perf_counter() - t_publish
            log.info("%s: %s..%s, %d partitions", model.name, part[0], part[-1], len(part))
            if model.packed and model.reads_itself and i + chunk < len(keys):  # the next chunk reads them
                t_pack = time.perf_counter()
                refresh_packs(lake, model.zone, model.name, part, CurrentFiles(lake), keys=model.pack_keys)
                write_s += time.perf_counter() - t_pack
    t3 = time.perf_counter()
    digest = refresh_digest(lake, model.zone, model.name, written)  # S3: cold readers resolve it in one GET
    write_s += time.perf_counter() - t3
    return BuildResult(model.name, written, query_s, write_s, digest, audits)


def pack(model: Model, lake: LakeFS, start: str, end: str) -> list[Pack]:
    """Pack again the months of a packed model's partitions `start`..`end` (its packs asset, after
    the builds): a long history is then read a month per file (docs/incremental.md). The table's
    digest is refreshed from a listing first, which also tells the packs which days are current."""
    if not model.packed:
        return []
    current = CurrentFiles(lake)
    digest = refresh_digest(lake, model.zone, model.name, relist=True)
    if digest is not None:  # on S3: every current pointer, just listed and read
        current.seed(model.zone, model.name, digest.entries)
    return refresh_packs(lake, model.zone, model.name, partition_keys(model, start, end), current,
                         keys=model.pack_keys)


def model_sql(model: Model, lake: LakeFS, start: str) -> str:
    """The SQL to run for partitions from `start`: a model reading its own earlier partitions reads
    an empty relation instead while it has none before `start` (its first build), and refuses to
    read them when they were written with other columns (its oldest and newest earlier partitions
    are looked at: a state table whose columns changed is rebuilt from its first day)."""
    if not model.reads_itself:
        return model.sql
    oldest = list_partitions(lake, model.name, zone=model.zone, limit=1)  # on S3 one LIST of one key
    if not oldest or oldest[0] >= start:
        return without_own_history(model)
    if model.schema is not None:
        previous = partition_keys(model, oldest[0], start)[-2:-1]  # the partition before `start`, if any
        for key in {oldest[0], *previous}:
            manifest = current_manifest(lake, model.name, key, zone=model.zone)
            names = set(schema_from_b64(manifest["schema"]).names) if manifest else set(model.schema.names)
            if missing := sorted(set(model.schema.names) - names):
                raise ModelError(
                    f"{model.name}: its partition {key} has no column {', '.join(missing)} (written before the "
                    f"column was added): rebuild {model.name} from its first partition ({oldest[0]})"
                )
    return model.sql


def _stored_schema(model: Model, result: pa.Schema) -> pa.Schema:
    """The schema of the stored files: the documented columns (or the query's), without `dt`."""
    if model.schema is not None:
        return model.schema
    return pa.schema([f for f in result if f.name != "dt"])
