"""The lake as the local engine's queries read it: each query's snapshot of the partitions it
names, resolved once by the lake's resolver of current files (`pipelines.lake.partitions.current`:
on S3 many at a time, through the table's digest and the process's cache), tuned for S3 scans:
small files fetched whole up front, more files in flight and coalesced reads; and the select list
that shows a table as Athena does (`athena_select_list`)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from pipelines.lake import s3_cache
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.current import SNAPSHOT_THREADS, CurrentFile, CurrentFiles, TableFiles
from pipelines.lake.partitions.reading import PartitionNotFound, snapshot_dataset
from pipelines.sql.dialects import quote_identifier
from pipelines.sql.pushdown import Predicate

# Files a scan keeps in flight on S3 (pyarrow's default is 4: with one small file a day, a scan of a
# year waits on ~365 round trips four at a time).
REMOTE_FRAGMENT_READAHEAD = 16
# On S3 the column chunks a scan needs from a file are fetched in as few GETs as this allows: gaps
# of up to 1 MiB between them are read through (pyarrow's default, 8 KiB, costs a GET per column of
# a small daily file; a request costs more than a megabyte of transfer).
REMOTE_CACHE = pa.CacheOptions(hole_size_limit=1 << 20, range_size_limit=32 << 20, lazy=True)
# On S3 a file up to this size (a mart's day; a staging day, ~1.3 MB for 27,000 sales lines) is fetched
# whole, in one GET, when the snapshot is taken - rather than a footer read and then a data read during
# the scan, each a round trip - and kept by the process (`s3_cache`: the night's next query reads it
# again). Smallest first, while the snapshot's whole files stay within WHOLE_BUDGET_BYTES: a long scan
# of bigger files reads the rest in place, a few at a time, rather than all of it into memory at once.
SMALL_FILE_BYTES = 2 << 20
WHOLE_BUDGET_BYTES = 64 << 20
# A snapshot's key columns (`_KeyFiles`) are held in memory up to this size.
KEYS_IN_MEMORY_BYTES = 256 << 20
_BACKGROUND = ThreadPoolExecutor(2, thread_name_prefix="lake-keys")  # packs' key files, fetched ahead


def _dt_matches(day: str, predicates: list[Predicate]) -> bool:
    for p in predicates:
        values = [v for v in p.values if isinstance(v, str)]
        if len(values) != len(p.values):
            continue  # not a string literal: leave it to DuckDB
        if p.op == "eq" and day != values[0]:
            return False
        if p.op == "in" and day not in values:
            return False
        if p.op == "lt" and not day < values[0]:
            return False
        if p.op == "le" and not day <= values[0]:
            return False
        if p.op == "gt" and not day > values[0]:
            return False
        if p.op == "ge" and not day >= values[0]:
            return False
        if p.op == "between" and not values[0] <= day <= values[1]:
            return False
        if p.op == "prefix" and not day.startswith(values[0]):
            return False
    return True


def dt_bounds(predicates: list[Predicate]) -> tuple[str | None, str | None]:
    """The first and last day the `dt` predicates allow (None: unbounded), for listing fewer days;
    `_dt_matches` still decides each day."""
    first: str | None = None
    last: str | None = None
    for p in predicates:
        values = [v for v in p.values if isinstance(v, str)]
        if not values or len(values) != len(p.values):
            continue
        lo = hi = None
        if p.op in ("eq", "in", "between"):
            lo, hi = min(values), max(values)
        elif p.op in ("gt", "ge"):
            lo = values[0]
        elif p.op in ("lt", "le"):
            hi = values[0]
        elif p.op == "prefix":
            lo, hi = values[0], values[0] + "\uffff"
        if lo is not None and (first is None or lo > first):
            first = lo
        if hi is not None and (last is None or hi < last):
            last = hi
    return first, last


class _Snapshot(ds.FileSystemDataset):
    """The files of some partitions of a lake table, as resolved once for a query.

    DuckDB builds its scan with `scanner(columns=..., filter=...)`; on S3 this lets more files be
    read at once than pyarrow's default. A filter that holds for every day of the snapshot
    (`days`: the query's `dt` predicates chose them) is dropped: every row it would test passes.
    That saves reading `dt` where it is a column of the file - a month pack's, 5.7 million strings
    for a year of first purchases (docs/benchmarks.md) - while a filter on other columns stays.

    A scan of nothing but the columns of the packs' key files (`keys`: the state's look-up of
    `pair_key`) reads those files in place of the packs, each fetched whole on S3.
    """

    days: tuple[str, ...] = ()
    keys: _KeyFiles | None = None

    def scanner(self, *args: Any, **kwargs: Any) -> ds.Scanner:
        if not isinstance(self.filesystem, pafs.LocalFileSystem):
            kwargs.setdefault("fragment_readahead", REMOTE_FRAGMENT_READAHEAD)
        if kwargs.get("filter") is not None and self.days and _holds_for_every_day(kwargs["filter"], self.days):
            kwargs["filter"] = None
        if self.keys is not None and (narrow := self.keys.dataset(kwargs.get("columns"), kwargs.get("filter"))):
            return narrow.scanner(*args, **kwargs)
        return super().scanner(*args, **kwargs)


class _KeyFiles:
    """The snapshot with each pack that has a key file read from that file: for a scan of its
    columns alone (and a filter on nothing else).

    A table that has key files is mostly looked up by them, so they are loaded from the start, in
    the background while the rest of the query is prepared: fetched whole (on S3), decoded, with the
    same columns of the days not packed, into one Arrow table that the scan then reads from memory -
    DuckDB scans 5.7 million keys held so in ~30 ms, against ~120 ms through a dataset of the files
    (docs/benchmarks.md). Keys that would take more than KEYS_IN_MEMORY_BYTES are read from the
    files during the scan instead."""

    def __init__(self, lake: LakeFS, found: TableFiles, schema: pa.Schema) -> None:
        self.lake, self.found = lake, found
        self.columns = set.intersection(*(set(f.keys.columns) for f in found.files if f.packed and f.keys))
        self.files = tuple(f.keys if f.packed and f.keys else f for f in found.files)
        self.schema = pa.schema([f for f in schema if f.name in self.columns])
        self._loaded: Future[pa.Table | None] | None = None
        if not any(f.packed and f.keys is None for f in found.files):
            self._loaded = _BACKGROUND.submit(self._load)

    def _load(self) -> pa.Table | None:
        """Every file's key columns in memory (None when the files are over half the budget: decoded,
        a sorted delta-encoded key takes ~1.5 times its bytes)."""
        import pyarrow.parquet as pq

        if sum(f.bytes for f in self.files) * 2 > KEYS_IN_MEMORY_BYTES:
            return None
        fetched = {} if self.lake.is_local else _whole(self.lake, list(self.files))
        names = self.schema.names
        try:
            parts = [
                pq.read_table(pa.BufferReader(fetched[f]) if f in fetched else self.lake.path(f.run, f.name),
                              columns=names, filesystem=None if f in fetched else self.lake.fs).cast(self.schema)
                for f in self.files
            ]  # fmt: skip
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):  # a day of other columns
            return None  # the scan reads the files, as any other
        return pa.concat_tables(parts) if parts else self.schema.empty_table()

    def dataset(self, columns: list[str] | None, condition: ds.Expression | None) -> ds.Dataset | None:
        if self._loaded is None or columns is None or not set(columns) <= self.columns:
            return None  # not the key columns alone, or a pack without a key file
        if condition is not None and not _binds(condition, self.schema):
            return None  # the filter needs a column the key files lack
        loaded = self._loaded.result()
        if loaded is not None:
            return ds.InMemoryDataset(loaded)
        found = TableFiles(self.files, self.found.schema)
        if self.lake.is_local:
            return snapshot_dataset(self.lake, found, schema=self.schema)
        fetched = _whole(self.lake, [f for f in self.files if f.columns] + _small(self.files))
        return snapshot_dataset(self.lake, found, schema=self.schema, fmt=_remote_format(), fetched=fetched)


def _binds(condition: ds.Expression, schema: pa.Schema) -> bool:
    """Whether `condition` refers to columns of `schema` alone."""
    return _kept(condition, schema.empty_table()) is not None


def _holds_for_every_day(condition: ds.Expression, days: tuple[str, ...]) -> bool:
    """Whether `condition` refers to `dt` alone and is true for each of `days`."""
    return _kept(condition, pa.table({"dt": pa.array(days, pa.string())})) == len(days)


def _kept(condition: ds.Expression, table: pa.Table) -> int | None:
    """The rows of `table` that pass `condition`; None when it names a column `table` lacks (or
    compares one with a value of another type): pyarrow refuses to bind it."""
    try:
        return ds.dataset(table).to_table(filter=condition).num_rows
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None


def snapshot(current: CurrentFiles, zone: str, table: str, days: list[str]) -> ds.Dataset:
    """A query's snapshot of `days` of a table (the resolver `current` is the query's, so a table
    named twice reads the same versions): the newest partition's schema plus `dt`."""
    lake = current.lake
    found = current.files(zone, table, days)
    if found.schema is None:
        raise PartitionNotFound(f"{zone}/{table}: none of the partitions {days[:3]}... exists")
    if lake.is_local:
        dataset = snapshot_dataset(lake, found, cls=_Snapshot)
    else:
        small = _whole(lake, _small(found.files))
        dataset = snapshot_dataset(lake, found, fmt=_remote_format(), fetched=small, cls=_Snapshot)
    dataset.days = tuple(days)  # every row's `dt` is one of them: the files are those days' (or their packs)
    if any(f.keys is not None for f in found.files):
        dataset.keys = _KeyFiles(lake, found, dataset.schema)
    return dataset


def _remote_format() -> ds.ParquetFileFormat:
    options = ds.ParquetFragmentScanOptions(pre_buffer=True, cache_options=REMOTE_CACHE)
    return ds.ParquetFileFormat(default_fragment_scan_options=options)


def _small(files: Sequence[CurrentFile]) -> list[CurrentFile]:
    """The files of a snapshot to fetch whole: up to SMALL_FILE_BYTES each, smallest first, within
    WHOLE_BUDGET_BYTES in all (a key file is fetched whole apart from these)."""
    chosen, total = [], 0
    for f in sorted((f for f in files if f.bytes <= SMALL_FILE_BYTES and not f.columns), key=lambda f: f.bytes):
        if total + f.bytes > WHOLE_BUDGET_BYTES:
            break
        chosen.append(f)
        total += f.bytes
    return chosen


def _whole(lake: LakeFS, files: list[CurrentFile]) -> dict[CurrentFile, bytes]:
    """Small immutable files (a run's files are never rewritten) fetched whole, many at a time;
    one GetObject each (pyarrow would HEAD first), or none when the process has it already."""

    def one(f: CurrentFile) -> bytes:
        bucket, key = lake.bucket_key(f.run, f.name)
        data = s3_cache._S3_CACHE.file(lake.uri, key)
        if data is None:
            found = lake.objects.get(bucket, key)
            if found is None:
                raise FileNotFoundError(f"s3://{bucket}/{key}")
            data = found[1]
            s3_cache._S3_CACHE.put_file(lake.uri, key, data)
        return data

    if not files:
        return {}
    with ThreadPoolExecutor(min(SNAPSHOT_THREADS, len(files))) as pool:
        return dict(zip(files, pool.map(one, files), strict=True))


def athena_select_list(schema: pa.Schema) -> str:
    """The select list that shows a lake table as Athena does: zoned timestamps as plain UTC ones."""
    items = []
    for f in schema:
        column = quote_identifier(f.name)
        if pa.types.is_timestamp(f.type) and f.type.tz is not None:
            items.append(f"CAST({column} AS TIMESTAMP) AS {column}")
        else:
            items.append(column)
    return ", ".join(items) if items else "*"
