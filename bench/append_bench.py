"""Appending a micro-batch to a day partition: reuse the current run's files, or rewrite the day.

A day of `--rows` sales rows (the raw_sales schema, generated) is written once; then `--batches`
micro-batches of `--batch-rows` new rows are appended, each as a new run, two ways, on disk:

- reuse: `stage_upsert` with the new rows' keys - the key columns of the current run's files are
  read to find rows to replace (none), the files are hard-linked into the new run, the new rows go
  to one new file (what the change capture does);
- rewrite: the whole day (current rows + new rows) written again as a new run.

Prints the median seconds and bytes written per append for each. Each append is published, so
the next one builds on it.

    .venv/bin/python bench/append_bench.py --rows 500000 --batch-rows 50 --batches 10
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from pipelines.ingest.schemas import RAW_SALES  # noqa: E402
from pipelines.lake.fs import LakeFS  # noqa: E402
from pipelines.lake.partitions.reading import read_partition  # noqa: E402
from pipelines.lake.partitions.upsert import stage_upsert  # noqa: E402
from pipelines.lake.partitions.writer import PartitionWriter  # noqa: E402

DAY = "2026-03-01"


def sales(n: int, start: int) -> pa.Table:
    rng = np.random.default_rng(start)
    ids = np.arange(start, start + n)
    at = datetime(2026, 3, 1, tzinfo=UTC)
    sold = pa.array(
        [at + timedelta(seconds=int(s)) for s in rng.integers(0, 86_399, n)], RAW_SALES.field("sold_at").type
    )
    cols = {
        "seller_id": pa.array([f"sel_{i % 300:026d}" for i in ids]),
        "sk": pa.array([f"2026-03-01T00:00:00.000Z#ord_{i:026d}#01" for i in ids]),
        "order_id": pa.array([f"ord_{i:026d}" for i in ids]),
        "line": pa.array(np.ones(n, np.int32)),
        "sold_at": sold,
        "product_id": pa.array([f"prd_{i % 5000:026d}" for i in ids]),
        "kind": pa.array(["game"] * n),
        "platform": pa.array(["pc"] * n),
        "genre": pa.array(["rpg"] * n),
        "qty": pa.array(rng.integers(1, 4, n).astype(np.int32)),
        "unit_cents": pa.array(rng.integers(100, 9000, n)),
        "amount_cents": pa.array(rng.integers(100, 9000, n)),
        "currency": pa.array(["USD"] * n),
        "country": pa.array(["US"] * n),
        "customer": pa.array([f"{i % 20000:032x}" for i in ids]),
        "status": pa.array(["placed"] * n),
        "updated_at": sold,
        "day_shard": pa.array([f"2026-03-01#{i % 8}" for i in ids]),
    }
    return pa.table(cols, schema=RAW_SALES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--batch-rows", type=int, default=50)
    parser.add_argument("--batches", type=int, default=10)
    args = parser.parse_args(argv)
    day = sales(args.rows, 0)
    results = {}
    for way in ("reuse", "rewrite"):
        with tempfile.TemporaryDirectory(prefix=f"append-{way}-") as tmp:
            lake = LakeFS.from_uri(tmp)
            writer = PartitionWriter(lake, "raw_sales", RAW_SALES)
            writer.write(DAY, [day])
            seconds, written = [], []
            for b in range(args.batches):
                new = sales(args.batch_rows, args.rows + b * args.batch_rows)
                t0 = time.perf_counter()
                if way == "reuse":
                    keys = [
                        f"{a}|{b}" for a, b in zip(new["seller_id"].to_pylist(), new["sk"].to_pylist(), strict=True)
                    ]
                    change = stage_upsert(writer, DAY, new, keys, ["seller_id", "sk"])  # as the stream does
                    staged = change.staged
                    fresh = [f for f in staged.manifest["files"] if f not in change.base["files"]]
                else:
                    staged = writer.stage(DAY, [read_partition(lake, "raw_sales", DAY), new])
                    fresh = staged.manifest["files"]
                writer.publish(staged)
                seconds.append(time.perf_counter() - t0)
                written.append(sum(f["bytes"] for f in fresh))
            rows = read_partition(lake, "raw_sales", DAY).num_rows
            assert rows == args.rows + args.batches * args.batch_rows, rows
            results[way] = (statistics.median(seconds), statistics.median(written))
            print(
                f"{way:<8} median {results[way][0] * 1000:8.1f} ms, {results[way][1] / 1e6:8.2f} MB written per append"
            )
    print(f"rewrite / reuse: {results['rewrite'][0] / results['reuse'][0]:.0f}x the time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
