"""The ingest worker: a lean process that loads day partitions, so no long-lived process carries
the ingest's memory.

    python -m pipelines.ingest.worker                      # launched by Dagster Pipes (the assets)
    python -m pipelines.ingest.worker --config job.json    # a batch of partitions, JSON lines out

It runs exactly `pipelines.ingest.load.ingest_day`, the code the assets run in process, and
imports no Dagster, no boto3 and no pydantic-settings: what it needs comes from its parent as
plain JSON (`WorkerConfig`): where DynamoDB and the other AWS endpoints are (`AwsTarget`), the lake
URI and the Glue database. DynamoDB is read with signed raw requests (`pipelines.ingest.reader`),
Parquet goes through `pyarrow.fs`, Glue through signed JSON requests (`pipelines.aws_http`).
That keeps the process at ~85 MB before reading anything (pyarrow and numpy are most of it),
against ~170 MB for the same work inside a process that has imported the Dagster definitions.

Memory is bounded by design (see `docs/ingest.md`): the shard readers hand pages over a bounded
queue, at most one page per CPU is converted at a time, and the writer holds at most one row group
(128k rows) before encoding it. The worker also keeps pandas out (pyarrow would import it, ~40 MB,
on its first conversion from Python objects), caps glibc's malloc arenas at 2 and fixes its mmap
threshold at 256 KB, so memory freed by the converting threads goes back to the system instead of
staying with the process: ~30 MB less at peak for ~25 % more system CPU (page faults).

Under Dagster Pipes the config comes in the Pipes extras, the partition and the asset from the
Pipes context; like the in-process asset, the worker reports the materialisation (when the staged
runs passed their audit and were published: same metadata, plus the worker's own peak memory),
then the result of the blocking check `reconciles_with_dynamodb` on those runs. With `--config` it
loads every (table, day) given and prints one JSON line per partition and a last `{"summary": ...}`
line.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

MALLOC_ARENA_MAX = 2
MALLOC_MMAP_THRESHOLD = 256 * 1024


def tune_malloc(arenas: int = MALLOC_ARENA_MAX, mmap_threshold: int = MALLOC_MMAP_THRESHOLD) -> bool:
    """Cap glibc's malloc arenas and fix its mmap threshold (before any thread allocates).

    By default glibc gives each thread its own arena (up to 8 per core) and raises the mmap
    threshold up to 32 MB as large blocks are freed, so the buffers of converted pages end up in
    arenas that keep their memory. With a fixed threshold, every buffer of 256 KB or more is its
    own mapping and goes back to the system when freed. Returns False where this is not glibc.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_arena_max, m_mmap_threshold = -8, -3  # <malloc.h>
    return bool(mallopt(m_arena_max, arenas)) and bool(mallopt(m_mmap_threshold, mmap_threshold))


class _NoPandas:
    """A meta path finder that refuses pandas (see `block_pandas`)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError(f"{name} is kept out of the ingest worker")


def block_pandas() -> None:
    """Keep pandas out of this process: pyarrow imports it (~40 MB) on its first conversion from
    Python objects when it is installed, and nothing here uses it."""
    if "pandas" not in sys.modules and not any(isinstance(f, _NoPandas) for f in sys.meta_path):
        sys.meta_path.insert(0, _NoPandas())


def _status_kb(name: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_mb() -> float | None:
    kb = _status_kb("VmRSS")
    return None if kb is None else round(kb / 1024, 1)


def peak_rss_mb() -> float | None:
    """This process's peak resident memory (`VmHWM`), in MB."""
    kb = _status_kb("VmHWM")
    return None if kb is None else round(kb / 1024, 1)


@dataclass
class WorkerConfig:
    """What a worker needs, as plain JSON (credentials only when the default chain would not do)."""

    target: dict[str, Any]  # pipelines.aws_http.AwsTarget.to_dict()
    lake_uri: str
    glue_database: str | None = None  # None: no Glue registration
    tables: list[str] = field(default_factory=list)  # lake tables (`raw_sales`, `raw_order_events`)
    days: list[str] = field(default_factory=list)  # YYYY-MM-DD
    read_options: dict[str, Any] = field(default_factory=dict)  # for read_day (max_workers, ...)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "lake_uri": self.lake_uri,
            "glue_database": self.glue_database,
            "tables": list(self.tables),
            "days": list(self.days),
            "read_options": dict(self.read_options),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkerConfig:
        known = {"target", "lake_uri", "glue_database", "tables", "days", "read_options"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown worker config keys: {sorted(unknown)}")
        return cls(**data)


class Session:
    """The clients of one worker run: the lake, the Glue catalog, DynamoDB's target."""

    def __init__(self, config: WorkerConfig) -> None:
        from pipelines.aws_http import AwsTarget
        from pipelines.ingest import load  # noqa: F401  (the converter's imports count as setup)
        from pipelines.lake.catalog import GlueCatalog
        from pipelines.lake.fs import LakeFS

        self.config = config
        self.target = AwsTarget.from_dict(config.target)
        self.fs = LakeFS.from_uri(config.lake_uri, self.target)
        self.catalog = (
            GlueCatalog(settings=self.target, database=config.glue_database) if config.glue_database else None
        )
        from pipelines.ingest.reader import DynamoDBHttp

        # one DynamoDB connection pool for every partition of the batch
        workers = int(config.read_options.get("max_workers", 8))
        self.http = DynamoDBHttp(self.target, max_connections=max(1, workers))

    def ingest(self, lake_table: str, day: date) -> dict[str, Any]:
        """Load one partition (staged, audited, published if it passed); its summary, its
        materialisation metadata and its check's result (Pipes format)."""
        from pipelines.ingest.load import check_metadata, ingest_day, partition_metadata

        t0 = time.perf_counter()
        loaded = ingest_day(
            lake_table, day, self.target, self.fs, self.catalog, http=self.http, **self.config.read_options
        )
        raw, quarantined, tally = loaded.raw, loaded.quarantined, loaded.tally
        return {
            "table": lake_table,
            "day": day.isoformat(),
            "items": tally.items,
            "amount": tally.amount,
            "clean": tally.clean,
            "rows": raw.rows,
            "quarantined": quarantined.rows,
            "bytes": raw.bytes,
            "location": raw.location,
            "seconds": round(time.perf_counter() - t0, 3),
            "published": loaded.published,
            "metadata": partition_metadata(raw, quarantined, tally),
            "check": {
                "passed": loaded.audit.passed,
                "severity": loaded.audit.severity,
                "metadata": check_metadata(loaded),
            },
        }


def run_batch(config: WorkerConfig, emit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Every (table, day) of `config`, in order; emits one line per partition; the summary."""
    base = rss_mb()
    session = Session(config)
    ready = rss_mb()
    t0 = time.perf_counter()
    totals = {"partitions": 0, "items": 0, "clean": 0, "rows": 0, "quarantined": 0, "unpublished": 0}
    for lake_table, day in _partitions(config):
        line = session.ingest(lake_table, day)
        for key in ("items", "clean", "rows", "quarantined"):
            totals[key] += line[key]
        totals["partitions"] += 1
        totals["unpublished"] += not line["published"]
        emit(line)
    return {
        **totals,
        "wall": time.perf_counter() - t0,
        "imports_rss_mb": base,
        "baseline_rss_mb": ready,
        "peak_rss_mb": peak_rss_mb(),
    }


def _partitions(config: WorkerConfig) -> Iterator[tuple[str, date]]:
    for day in config.days:
        for lake_table in config.tables:
            yield lake_table, date.fromisoformat(day)


def run_pipes() -> None:
    """One partition of one asset, as Dagster Pipes asks; the materialisation (if the new runs were
    published) and the check's result go back through Pipes."""
    from dagster_pipes import open_dagster_pipes

    from pipelines.ingest.load import RECONCILIATION_CHECK

    with open_dagster_pipes() as pipes:
        config = WorkerConfig.from_dict(
            {"tables": [pipes.asset_key], "days": [pipes.partition_key], **pipes.get_extra("ingest")}
        )
        session = Session(config)
        (lake_table, day) = next(_partitions(config))
        line = session.ingest(lake_table, day)
        pipes.log.info(
            f"{lake_table} {day}: {line['items']} items, {line['rows']} rows, {line['quarantined']} quarantined "
            f"-> {line['location']} ({line['seconds']:.2f}s, worker peak {peak_rss_mb()} MB, "
            f"{'published' if line['published'] else 'not published'})"
        )
        if line["published"]:  # first, so that the check's result targets this materialisation
            metadata = dict(line["metadata"])
            metadata["worker_peak_rss_mb"] = {"type": "float", "raw_value": peak_rss_mb() or 0.0}
            pipes.report_asset_materialization(metadata=metadata)
        check = line["check"]
        pipes.report_asset_check(
            RECONCILIATION_CHECK, passed=check["passed"], severity=check["severity"], metadata=check["metadata"]
        )


def main(argv: list[str] | None = None) -> int:
    from pipelines.arrow_memory import use_system_allocator

    block_pandas()
    use_system_allocator()  # before anything else loads pyarrow
    tune_malloc()
    parser = argparse.ArgumentParser(description="Load day partitions of the raw lake (see the module docstring).")
    parser.add_argument("--config", help="a WorkerConfig as JSON: a file, or - for stdin")
    args = parser.parse_args(argv)
    if args.config is None:
        from dagster_pipes import PipesEnvVarParamsLoader

        if not PipesEnvVarParamsLoader().is_dagster_pipes_process():
            parser.error("not launched by Dagster Pipes: give --config")
        run_pipes()
        return 0
    text = sys.stdin.read() if args.config == "-" else Path(args.config).read_text()
    config = WorkerConfig.from_dict(json.loads(text))

    def emit(line: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()

    summary = run_batch(config, emit)
    emit({"summary": summary})
    return 0


if __name__ == "__main__":
    sys.exit(main())
