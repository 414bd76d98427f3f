"""The lake as the local engine's queries read it: each query's snapshot of the partitions it
names, every partition's manifest resolved once (on S3 many at a time, through the table's digest
and the process's cache, `s3_cache`), the files each manifest names as a `pyarrow.dataset`."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from pipelines.lake.digest import fetch_pointer, list_pointers, read_digest
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.layout import check_dt, pointer_rel, run_rel
from pipelines.lake.partitions.manifest import current_manifest, list_partitions, schema_from_b64
from pipelines.lake.partitions.reading import PartitionNotFound
from pipelines.sql import s3_cache
from pipelines.sql.pushdown import Predicate

# On S3 a partition's manifest is one GET (its pointer): a snapshot resolves this many at once.
SNAPSHOT_THREADS = 16
# Files a scan keeps in flight on S3 (pyarrow's default is 4: with one small file a day, a scan of a
# year waits on ~365 round trips four at a time).
REMOTE_FRAGMENT_READAHEAD = 16
# On S3 the column chunks a scan needs from a file are fetched in as few GETs as this allows: gaps
# of up to 1 MiB between them are read through (pyarrow's default, 8 KiB, costs a GET per column of
# a small daily file; a request costs more than a megabyte of transfer).
REMOTE_CACHE = pa.CacheOptions(hole_size_limit=1 << 20, range_size_limit=32 << 20, lazy=True)
# On S3 a file this small (a mart's day, typically) is fetched whole, in one GET, when the snapshot is
# taken - rather than a footer read and then a data read during the scan.
SMALL_FILE_BYTES = 256 << 10
# A snapshot needing at least this many pointers it does not have reads the table's digest first
# (one GET for all of them; pipelines/lake/digest.py).
DIGEST_MIN_POINTERS = 8


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


class _Snapshot(ds.FileSystemDataset):
    """The files of some partitions of a lake table, as resolved once for a query.

    DuckDB builds its scan with `scanner(columns=..., filter=...)`; on S3 this lets more files be
    read at once than pyarrow's default.
    """

    def scanner(self, *args: Any, **kwargs: Any) -> ds.Scanner:
        if not isinstance(self.filesystem, pafs.LocalFileSystem):
            kwargs.setdefault("fragment_readahead", REMOTE_FRAGMENT_READAHEAD)
        return super().scanner(*args, **kwargs)


class _Manifests:
    """The manifests of the partitions one query reads, each resolved once (a table named twice in a
    query reads the same version of each partition) and, on S3, many at a time."""

    def __init__(self, lake: LakeFS) -> None:
        self.lake = lake
        self._days: dict[tuple[str, str], list[str]] = {}
        self._etags: dict[tuple[str, str, str], str] = {}
        self._manifests: dict[tuple[str, str, str], dict[str, Any] | None] = {}

    def days(self, zone: str, table: str) -> list[str]:
        key = (zone, table)
        if key not in self._days:
            self._days[key] = list_partitions(self.lake, table, zone=zone) if self.lake.is_local else self._list(*key)
        return self._days[key]

    def _list(self, zone: str, table: str) -> list[str]:
        """The partitions of a table on S3 (as `list_partitions`), with their pointers' ETags."""
        etags = list_pointers(self.lake, zone, table)
        for day, etag in etags.items():
            self._etags[(zone, table, day)] = etag
        return sorted(etags)

    def _cached_pointer(self, zone: str, table: str, day: str) -> dict[str, Any] | None:
        """A partition's manifest from the process's cache, when the listing shows the same ETag."""
        _, key = self.lake.bucket_key(pointer_rel(zone, table, day))
        return s3_cache._S3_CACHE.pointer(self.lake.uri, key, self._etags.get((zone, table, day)))

    def _pointer(self, zone: str, table: str, day: str) -> dict[str, Any] | None:
        """A partition's manifest on S3: its pointer, from the process's cache when the listing
        showed the same ETag, else one GET."""
        cached = self._cached_pointer(zone, table, day)
        if cached is not None:
            return cached
        found = fetch_pointer(self.lake, zone, table, day)
        if found is None:
            return None
        _, key = self.lake.bucket_key(pointer_rel(zone, table, day))
        s3_cache._S3_CACHE.put_pointer(self.lake.uri, key, found[0], found[1])
        return found[1]

    def _from_digest(self, zone: str, table: str, days: list[str]) -> None:
        """Resolve many pointers at once from the table's digest (one GET): the entries whose ETag
        is the one listed now; the others are left to `_pointer`."""
        digest = read_digest(self.lake, zone, table)
        for day in days:
            entry = digest.get(day)
            etag = self._etags.get((zone, table, day))
            if entry is not None and etag is not None and entry[0] == etag:
                self._manifests[(zone, table, day)] = entry[1]
                _, key = self.lake.bucket_key(pointer_rel(zone, table, day))
                s3_cache._S3_CACHE.put_pointer(self.lake.uri, key, etag, entry[1])

    def get(self, zone: str, table: str, days: list[str]) -> list[dict[str, Any]]:
        missing = [d for d in days if (zone, table, d) not in self._manifests]

        def one(day: str) -> dict[str, Any] | None:
            if self.lake.is_local:
                return current_manifest(self.lake, table, day, zone=zone)
            return self._pointer(zone, table, day)

        if not self.lake.is_local:
            uncached = [d for d in missing if self._cached_pointer(zone, table, d) is None]
            if len(uncached) >= DIGEST_MIN_POINTERS:
                self._from_digest(zone, table, uncached)
                missing = [d for d in missing if (zone, table, d) not in self._manifests]
        if len(missing) > 1 and not self.lake.is_local:
            _ = self.lake.s3  # made once here, not by every thread at once (the lake makes it lazily)
            with ThreadPoolExecutor(min(SNAPSHOT_THREADS, len(missing))) as pool:
                found = list(pool.map(one, missing))
        else:
            found = [one(d) for d in missing]
        for day, manifest in zip(missing, found, strict=True):
            self._manifests[(zone, table, day)] = manifest
        return [m for d in days if (m := self._manifests[(zone, table, d)]) is not None]

    def dataset(self, zone: str, table: str, days: list[str]) -> ds.Dataset:
        """A snapshot of `days` (like `partitions.reading.dataset`): the files each manifest names, with
        their sizes (no HEAD per file on S3); the newest partition's schema plus `dt`."""
        manifests = self.get(zone, table, sorted(check_dt(d) for d in days))
        if not manifests:
            raise PartitionNotFound(f"{zone}/{table}: none of the partitions {days[:3]}... exists")
        if self.lake.is_local:
            fmt = ds.ParquetFileFormat()
        else:
            options = ds.ParquetFragmentScanOptions(pre_buffer=True, cache_options=REMOTE_CACHE)
            fmt = ds.ParquetFileFormat(default_fragment_scan_options=options)
        files = [(run_rel(zone, table, m["dt"], m["run_id"]), f, m["dt"]) for m in manifests for f in m["files"]]
        small: dict[tuple[str, str], bytes] = {}
        if not self.lake.is_local:
            small = self._whole([(rel, f["name"]) for rel, f, _ in files if f["bytes"] <= SMALL_FILE_BYTES])
        fragments = []
        for rel, f, day in files:
            partition = ds.field("dt") == day
            data = small.get((rel, f["name"]))
            if data is not None:
                fragments.append(fmt.make_fragment(pa.BufferReader(data), partition_expression=partition))
            else:
                path = self.lake.path(rel, f["name"])
                fragments.append(fmt.make_fragment(path, self.lake.fs, partition, file_size=f["bytes"]))
        schema = schema_from_b64(manifests[-1]["schema"])
        if "dt" not in schema.names:
            schema = schema.append(pa.field("dt", pa.string()))
        return _Snapshot(fragments, schema, fmt, self.lake.fs)

    def _whole(self, files: list[tuple[str, str]]) -> dict[tuple[str, str], bytes]:
        """Small immutable files (a run's files are never rewritten) fetched whole, many at a time;
        one GetObject each (pyarrow would HEAD first), or none when the process has it already."""

        def one(item: tuple[str, str]) -> bytes:
            bucket, key = self.lake.bucket_key(*item)
            data = s3_cache._S3_CACHE.file(self.lake.uri, key)
            if data is None:
                data = self.lake.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                s3_cache._S3_CACHE.put_file(self.lake.uri, key, data)
            return data

        if not files:
            return {}
        with ThreadPoolExecutor(min(SNAPSHOT_THREADS, len(files))) as pool:
            return dict(zip(files, pool.map(one, files), strict=True))
