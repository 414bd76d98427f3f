"""What the process keeps of the lake on S3 between reads: partition pointers (by ETag, for the
resolver of current files, `partitions.current`) and small immutable Parquet files (LRU, for the
local engine's snapshots), in one process-wide `_S3_CACHE`."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

# What the process keeps of the lake on S3 between queries (see _S3Cache).
POINTER_CACHE_ENTRIES = 50_000
FILE_CACHE_BYTES = 64 << 20


class _S3Cache:
    """Lake objects on S3 kept by the process between queries, so a repeated query costs one LIST
    per table instead of two GETs per partition; thread-safe.

    - Partition pointers (on S3 a pointer *is* the partition's manifest), by key and ETag: a query
      lists `_current/` (the listing gives every pointer's ETag; S3 lists consistently) and GETs
      only the pointers whose ETag it has not seen - a switched partition has a new pointer, hence
      a new ETag, so the next query sees the new version as before.
    - Small Parquet files, by path: a run's files are written once and never replaced (a new
      version is a new run folder), so a cached copy is never stale. LRU, FILE_CACHE_BYTES at most.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pointers: OrderedDict[tuple[str, str], tuple[str, dict[str, Any]]] = OrderedDict()
        self._folders: set[tuple[str, str]] = set()  # the folders of pointers ever held (tables' `_current/`)
        self._files: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._file_bytes = 0

    def pointer(self, uri: str, key: str, etag: str | None) -> dict[str, Any] | None:
        with self._lock:
            hit = self._pointers.get((uri, key))
            if hit is None or etag is None or hit[0] != etag:
                return None
            self._pointers.move_to_end((uri, key))
            return hit[1]

    def held_any(self, uri: str, folder: str) -> bool:
        """Whether the process has held a pointer under `folder` (a table's `_current`) at any time."""
        with self._lock:
            return (uri, folder) in self._folders

    def put_pointer(self, uri: str, key: str, etag: str, manifest: dict[str, Any]) -> None:
        with self._lock:
            self._folders.add((uri, key.rsplit("/", 1)[0]))
            self._pointers[(uri, key)] = (etag, manifest)
            self._pointers.move_to_end((uri, key))
            while len(self._pointers) > POINTER_CACHE_ENTRIES:
                self._pointers.popitem(last=False)

    def file(self, uri: str, path: str) -> bytes | None:
        with self._lock:
            data = self._files.get((uri, path))
            if data is not None:
                self._files.move_to_end((uri, path))
            return data

    def put_file(self, uri: str, path: str, data: bytes) -> None:
        if len(data) > FILE_CACHE_BYTES // 8:
            return
        with self._lock:
            if (uri, path) in self._files:
                return
            self._files[(uri, path)] = data
            self._file_bytes += len(data)
            while self._file_bytes > FILE_CACHE_BYTES:
                _, dropped = self._files.popitem(last=False)
                self._file_bytes -= len(dropped)


_S3_CACHE = _S3Cache()
