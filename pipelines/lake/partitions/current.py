"""A table's current files: which days are current, each day's current manifest, the files it
names - resolved once per reader, for the lake's `dataset` and the local SQL engine's snapshots.

A `CurrentFiles` resolves each partition at most once (a table read twice by one query reads the
same version of each day), so what it returns is a snapshot: it never mixes two versions of a day.

On disk the symlinks are listed and each manifest read (`manifest.current_manifest`). On S3 a
partition's pointer *is* its manifest, and a reader starting cold would pay a GET per partition;
it pays fewer:

- the listing of `_current/` gives every pointer's ETag, and the process keeps pointers by ETag
  (`pipelines.lake.s3_cache`): a pointer seen before costs nothing, a switched one (a new ETag)
  is read again;
- when at least `DIGEST_MIN_POINTERS` listed pointers are not in that cache, the table's digest
  is read first (one GET for all of them, `pipelines.lake.digest`); an entry is taken only where
  its ETag is the one listed now;
- the rest are read `SNAPSHOT_THREADS` at a time;
- for a long run of days (a history that month packs may stand in for) the table's pack pointers
  are read in the background: beside the listing when its bounds show a history (the days before
  a given one, or a month or more), else beside the resolution of the days' pointers; beside such
  a listing a cold process also reads the table's digest.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow as pa

from pipelines.lake import s3_cache
from pipelines.lake.digest import read_digest
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions import packs
from pipelines.lake.partitions.layout import CURRENT_DIR, check_dt, pointer_rel, run_rel, table_rel
from pipelines.lake.partitions.manifest import (
    current_manifest,
    fetch_pointer,
    list_partitions,
    list_pointers,
    schema_from_b64,
)

# On S3 a partition's manifest is one GET (its pointer): this many are read at once.
SNAPSHOT_THREADS = 16
# Resolving at least this many pointers the process does not hold reads the table's digest first
# (one GET for all of them; pipelines/lake/digest.py).
DIGEST_MIN_POINTERS = 8
_BACKGROUND = ThreadPoolExecutor(2, thread_name_prefix="lake-history")  # pack pointers and digests, read ahead


@dataclass(frozen=True)
class CurrentFile:
    """One Parquet file of a partition's current version."""

    dt: str  # a month pack's: its month's first day
    run: str  # the run folder (a pack's folder), relative to the lake root
    name: str
    bytes: int
    packed: bool = False  # a month pack (pipelines.lake.partitions.packs): `dt` is a column of the file
    keys: CurrentFile | None = None  # a pack's key file (some of its columns alone), if it has one
    columns: tuple[str, ...] = ()  # a key file's columns (other files hold every column)


@dataclass(frozen=True)
class TableFiles:
    """The current files of some partitions of a table, in day order, and the newest one's schema
    (None when none of the partitions exists)."""

    files: tuple[CurrentFile, ...]
    schema: pa.Schema | None


class CurrentFiles:
    """The current version of a lake table's partitions, each resolved once (see the module)."""

    def __init__(self, lake: LakeFS) -> None:
        self.lake = lake
        self._days: dict[tuple[str, ...], list[str]] = {}
        self._etags: dict[tuple[str, str, str], str] = {}
        self._manifests: dict[tuple[str, str, str], dict[str, Any] | None] = {}
        self._pack_cache: dict[tuple[str, str], dict[str, packs.Pack]] = {}
        self._pack_reads: dict[tuple[str, str], Future[dict[str, packs.Pack]]] = {}
        self._digest_reads: dict[tuple[str, str], Future[dict[str, tuple[str, dict[str, Any]]]]] = {}

    def days(self, zone: str, table: str, first: str | None = None, last: str | None = None) -> list[str]:
        """The days of the table that have a current version, sorted (listed once); with `first`
        and/or `last` (inclusive), those in between - on S3 listed alone, unless the whole table
        was listed already."""
        whole = (zone, table) in self._days or self.lake.is_local or (first is None and last is None)
        key: tuple[str, ...] = (zone, table) if whole else (zone, table, first or "", last or "")
        if key not in self._days:
            if self.lake.is_local:
                self._days[key] = list_partitions(self.lake, table, zone=zone)
            else:
                if _history(first, last):
                    self._read_packs_meanwhile(zone, table)
                    self._read_digest_meanwhile(zone, table)
                etags = list_pointers(self.lake, zone, table, *((None, None) if whole else (first, last)))
                self._etags.update({(zone, table, day): etag for day, etag in etags.items()})
                self._days[key] = sorted(etags)
        return [d for d in self._days[key] if (first is None or d >= first) and (last is None or d <= last)]

    def seed(self, zone: str, table: str, entries: dict[str, tuple[str, dict[str, Any]]]) -> None:
        """Take a fresh listing of the whole table with its manifests (dt -> (ETag, manifest), as
        a digest refresh has just read them) instead of listing it again."""
        self._days[(zone, table)] = sorted(entries)
        for day, (etag, manifest) in entries.items():
            self._etags[(zone, table, day)] = etag
            self._manifests[(zone, table, day)] = manifest

    def manifests(self, zone: str, table: str, days: list[str]) -> list[dict[str, Any]]:
        """The current manifests of `days` (in that order; days without a current version left out)."""
        missing = [d for d in days if (zone, table, d) not in self._manifests]
        if not self.lake.is_local:
            listed = [d for d in missing if (zone, table, d) in self._etags]
            uncached = [d for d in listed if self._cached(zone, table, d) is None]
            if len(uncached) >= DIGEST_MIN_POINTERS:
                self._from_digest(zone, table, uncached)
                missing = [d for d in missing if (zone, table, d) not in self._manifests]
        if len(missing) > 1 and not self.lake.is_local:
            _ = self.lake.objects  # made once here, not by every thread at once (the lake makes it lazily)
            with ThreadPoolExecutor(min(SNAPSHOT_THREADS, len(missing))) as pool:
                found = list(pool.map(lambda d: self._one(zone, table, d), missing))
        else:
            found = [self._one(zone, table, d) for d in missing]
        for day, manifest in zip(missing, found, strict=True):
            self._manifests[(zone, table, day)] = manifest
        return [m for d in days if (m := self._manifests[(zone, table, d)]) is not None]

    def files(self, zone: str, table: str, days: list[str] | None = None) -> TableFiles:
        """The files of the current version of `days` (default: every current day), with their
        sizes as the manifests record them (no HEAD per file on S3)."""
        days = sorted(check_dt(d) for d in days) if days is not None else self.days(zone, table)
        if len(days) >= packs.PACK_MIN_DAYS:
            self._read_packs_meanwhile(zone, table)
        manifests = self.manifests(zone, table, days)
        schema = schema_from_b64(manifests[-1]["schema"]) if manifests else None
        files = [
            CurrentFile(m["dt"], run_rel(zone, table, m["dt"], m["run_id"]), f["name"], f["bytes"])
            for m in manifests
            for f in m["files"]
        ]
        if len(manifests) >= packs.PACK_MIN_DAYS:  # a long history: months packed whole stand in for their days
            for pack in packs.usable(self._packs(zone, table), manifests):
                files = [f for f in files if f.dt not in pack.sources]
                folder = packs.month_rel(zone, table, pack.month)
                keys = CurrentFile(f"{pack.month}-01", folder, pack.keys["file"], pack.keys["bytes"], packed=True,
                                   columns=pack.key_columns) if pack.keys else None  # fmt: skip
                files.append(CurrentFile(f"{pack.month}-01", folder, pack.file, pack.bytes, packed=True, keys=keys))
            files.sort(key=lambda f: f.dt)
        return TableFiles(tuple(files), schema)

    def _read_packs_meanwhile(self, zone: str, table: str) -> None:
        """Read the table's pack pointers in the background (S3), for `_packs` to take later."""
        key = (zone, table)
        if not self.lake.is_local and key not in self._pack_cache and key not in self._pack_reads:
            _ = self.lake.objects  # made here, not by two threads at once
            self._pack_reads[key] = _BACKGROUND.submit(packs.read_packs, self.lake, zone, table)

    def _read_digest_meanwhile(self, zone: str, table: str) -> None:
        """Read the table's digest in the background while its pointers are listed (S3), unless the
        process has held pointers of the table (a warm process resolves them from its cache). An
        entry is still taken only where its ETag is the one listed."""
        key = (zone, table)
        folder = self.lake.bucket_key(table_rel(zone, table), CURRENT_DIR)[1]  # where the pointers are
        if key not in self._digest_reads and not s3_cache._S3_CACHE.held_any(self.lake.uri, folder):
            _ = self.lake.objects  # made here, not by two threads at once
            self._digest_reads[key] = _BACKGROUND.submit(read_digest, self.lake, zone, table)

    def _packs(self, zone: str, table: str) -> dict[str, packs.Pack]:
        key = (zone, table)
        if key not in self._pack_cache:
            read = self._pack_reads.pop(key, None)
            self._pack_cache[key] = read.result() if read else packs.read_packs(self.lake, zone, table)
        return self._pack_cache[key]

    # -- one partition -------------------------------------------------------------------------

    def _one(self, zone: str, table: str, day: str) -> dict[str, Any] | None:
        if self.lake.is_local:
            return current_manifest(self.lake, table, day, zone=zone)
        cached = self._cached(zone, table, day)
        if cached is not None:
            return cached
        found = fetch_pointer(self.lake, zone, table, day)
        if found is None:
            return None
        s3_cache._S3_CACHE.put_pointer(self.lake.uri, self._key(zone, table, day), *found)
        return found[1]

    def _key(self, zone: str, table: str, day: str) -> str:
        return self.lake.bucket_key(pointer_rel(zone, table, day))[1]

    def _cached(self, zone: str, table: str, day: str) -> dict[str, Any] | None:
        """A pointer from the process's cache, when the listing showed the same ETag."""
        etag = self._etags.get((zone, table, day))
        return s3_cache._S3_CACHE.pointer(self.lake.uri, self._key(zone, table, day), etag)

    def _from_digest(self, zone: str, table: str, days: list[str]) -> None:
        """Resolve many pointers at once from the table's digest (one GET): the entries whose ETag
        is the one listed now; the others are left to `_one`."""
        read = self._digest_reads.pop((zone, table), None)
        digest = read.result() if read else read_digest(self.lake, zone, table)
        for day in days:
            entry = digest.get(day)
            etag = self._etags.get((zone, table, day))
            if entry is not None and etag is not None and entry[0] == etag:
                self._manifests[(zone, table, day)] = entry[1]
                s3_cache._S3_CACHE.put_pointer(self.lake.uri, self._key(zone, table, day), etag, entry[1])


def _history(first: str | None, last: str | None) -> bool:
    """Whether a listing of days `first`..`last` looks like a read of a history that packs may stand
    in for: the days before a given one (a state table's look-up), or a range of a month or more.
    A listing of the whole table is not taken for one (its length shows after it)."""
    if first is None or last is None:
        return first is not None or last is not None
    return (date.fromisoformat(last) - date.fromisoformat(first)).days + 1 >= packs.PACK_MIN_DAYS


__all__ = ["CurrentFile", "CurrentFiles", "TableFiles"]
