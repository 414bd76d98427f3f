"""The local SPICE: snapshots of QuickSight data sets, written by an ingestion, read by the portal.

A snapshot holds a data set's output columns (after its transforms) as one Parquet file,
`<root>/<data set id>/<ingestion id>.parquet`, and `<root>/<data set id>/current.json` names the
current one. The pointer is written last and replaced atomically, so a reader sees the previous
snapshot or the new one, never half of one, and an ingestion that fails leaves the previous one
current. Layout and fields: docs/seller-insights.md.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

_ID = re.compile(r"^[\w-]{1,512}$")
POINTER = "current.json"


def _check_id(value: str, what: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"bad {what} {value!r}: letters, digits, _ and - only")
    return value


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def parse_iso(value: str | None) -> datetime | None:
    """An ISO 8601 time (`Z` or an offset) as a datetime; None for None or ""."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


@dataclass(frozen=True)
class Snapshot:
    dataset_id: str
    ingestion_id: str
    created_time: datetime
    rows: int
    table: str
    partitions: int
    last_partition: str | None
    built_at: datetime | None
    data: pa.Table


class SpiceStore:
    """Snapshots under `root` (`settings.quicksight_state_dir / "spice"`)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._cache: dict[str, Snapshot] = {}

    def _dir(self, dataset_id: str) -> Path:
        return self.root / _check_id(dataset_id, "data set id")

    def file(self, dataset_id: str, ingestion_id: str) -> Path:
        """The Parquet file of one snapshot (the ingestion that wrote it)."""
        return self._dir(dataset_id) / f"{ingestion_id}.parquet"

    def pointer(self, dataset_id: str) -> dict | None:
        """The current snapshot's description (no data), or None before the first ingestion."""
        try:
            return json.loads((self._dir(dataset_id) / POINTER).read_text())
        except FileNotFoundError:
            return None

    def current(self, dataset_id: str) -> Snapshot | None:
        """The current snapshot, its table read once per ingestion and kept."""
        meta = self.pointer(dataset_id)
        if meta is None:
            return None
        with self._lock:
            cached = self._cache.get(dataset_id)
            if cached is not None and cached.ingestion_id == meta["ingestion_id"]:
                return cached
        data = pq.read_table(self.file(dataset_id, meta["ingestion_id"]))
        snapshot = Snapshot(
            dataset_id=dataset_id,
            ingestion_id=meta["ingestion_id"],
            created_time=parse_iso(meta["created_time"]) or datetime.now(UTC),
            rows=int(meta["rows"]),
            table=meta.get("table", ""),
            partitions=int(meta.get("partitions", 0)),
            last_partition=meta.get("last_partition"),
            built_at=parse_iso(meta.get("built_at")),
            data=data,
        )
        with self._lock:
            self._cache[dataset_id] = snapshot
        return snapshot

    def write(
        self,
        dataset_id: str,
        ingestion_id: str,
        data: pa.Table,
        *,
        table: str,
        partitions: int,
        last_partition: str | None,
        built_at: datetime | None,
        created_time: datetime | None = None,
    ) -> Snapshot:
        """Write a snapshot and make it current (data file first, fsynced; then the pointer)."""
        folder = self._dir(dataset_id)
        folder.mkdir(parents=True, exist_ok=True)
        _check_id(ingestion_id, "ingestion id")
        created = created_time or datetime.now(UTC)
        data_path = self.file(dataset_id, ingestion_id)
        tmp = folder / f".{ingestion_id}.parquet.tmp"
        pq.write_table(data, tmp, compression="zstd")
        _fsync(tmp)
        os.replace(tmp, data_path)
        meta = {
            "ingestion_id": ingestion_id,
            "created_time": _iso(created),
            "rows": data.num_rows,
            "table": table,
            "partitions": partitions,
            "last_partition": last_partition,
            "built_at": _iso(built_at),
        }
        pointer_tmp = folder / f".{POINTER}.{ingestion_id}.tmp"
        pointer_tmp.write_text(json.dumps(meta))
        _fsync(pointer_tmp)
        os.replace(pointer_tmp, folder / POINTER)
        self._prune(folder, keep=ingestion_id)
        return Snapshot(
            dataset_id, ingestion_id, created, data.num_rows, table, partitions, last_partition, built_at, data
        )

    def delete(self, dataset_id: str) -> None:
        """Forget a data set's snapshots (its data set was deleted)."""
        folder = self._dir(dataset_id)
        if folder.exists():
            for path in folder.glob("*"):
                path.unlink(missing_ok=True)
            folder.rmdir()
        with self._lock:
            self._cache.pop(dataset_id, None)

    @staticmethod
    def _prune(folder: Path, keep: str, retain: int = 3) -> None:
        """Keep the current snapshot and the few before it (readers holding an older one may still open it)."""
        files = sorted((p for p in folder.glob("*.parquet") if p.stem != keep), key=lambda p: p.stat().st_mtime)
        for old in files[: max(0, len(files) - (retain - 1))]:
            old.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
