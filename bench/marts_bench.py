"""Marts benchmark: `seller_daily_sales` on the embedded engine against awswrangler + pandas.

Issue 4: on a generated lake of at least 10,000,000 sales lines over 365 days, in one run, build
`seller_daily_sales` for every day (ours: its state table `state_first_purchase` first), and run one
seller's 90-day report, on the embedded engine (`pipelines.marts.runner.build` with `DuckDBEngine`)
and the awswrangler/pandas way (`wr.s3.read_parquet` of the staging partitions, pandas group-bys
computing the same figures, `wr.s3.to_parquet(partition_cols=["dt"])`). Goals: >= 10x faster,
<= 1/3 of the peak memory, the one-seller query under a second. Results and analysis: docs/benchmarks-marts.md.

Steps (each in a fresh child process with a timeout; peak RSS is the child's own `VmHWM`, read by
the child as it ends - not `ru_maxrss`, which Linux carries over from the parent; wall time is the
child's own clock around the work, after its imports; CPU is user + system from `wait4`):

1. the raw lake (`raw_sales`, `raw_order_events`), generated with seeded, vectorised numpy/pyarrow
   and written with the lake's own `PartitionWriter`; cached on disk under `$TMPDIR`;
2. the staging models `stg_sales` and `stg_event_lines`, built from it with the runner on disk
   (timed separately: in production staging is materialised upstream of the marts); cached too;
3. a moto S3 server on a free loopback port (stopped by pid); the staging partitions are copied
   into a bucket in the lake's S3 layout (run folders, manifests, `_current/` pointers);
4. on moto S3: the competitor, then ours (`build(...)` as the mart asset runs it, and the variants
   of `--variants`: another chunk, write threads or memory limit), each on a fresh `marts/` zone
   and compared with the competitor's output row for row; moto's log counts the S3 requests of
   every step;
5. the one-seller report over 90 days: `DuckDBEngine.query` on ours' mart (cold: a new lake and
   engine in a fresh process; warm: the same engine again; a new engine in the warm process)
   against `wr.s3.read_parquet` of the competitor's mart + pandas; the rows are compared;
6. the same build on a disk lake (the same staging files): pandas (`pd.read_parquet`,
   `to_parquet`) and ours, outputs compared; the report on disk.

    .venv/bin/python bench/marts_bench.py                 # 10,000,000 lines / 365 days: ~8 min
                                                          # (+ ~4 min generation, ~4 min staging once)
    .venv/bin/python bench/marts_bench.py --quick         # 1,000,000 lines: a smoke test, ~4 min
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import Proc, add_run_args, child_env, free_port, run_child_main, wait_child, wait_for_quiet, wait_http
from benchlib import rss_mb as _rss_mb

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.append(str(REPO))  # after PYTHONPATH and the editable install

from marts_world import DATA_VERSION, generate  # noqa: E402


# ================================================================================================
# children: one step or approach each, in a fresh process
# ================================================================================================
def _engine(cfg: dict[str, Any], lake: Any) -> Any:
    from gitgoods.settings import get_settings
    from pipelines.sql.duckdb_engine import DuckDBEngine

    return DuckDBEngine(
        get_settings(), lake=lake, dynamodb=False, threads=cfg.get("threads"), memory_limit=cfg.get("memory_limit")
    )


def child_generate(cfg: dict[str, Any]) -> dict[str, Any]:
    base = _rss_mb()
    t0 = time.perf_counter()
    meta = generate(Path(cfg["folder"]), cfg["lines"], cfg["days"], cfg["seed"])
    return {"wall": time.perf_counter() - t0, "baseline_rss_mb": base, "meta": meta}


def child_staging(cfg: dict[str, Any]) -> dict[str, Any]:
    """Build stg_sales and stg_event_lines for every day of the raw lake (the runner, on disk)."""
    from pipelines.lake.fs import LakeFS
    from pipelines.marts.models import discover
    from pipelines.marts.runner import build

    models = discover()
    lake = LakeFS.from_uri(cfg["lake"])
    base = _rss_mb()
    out: dict[str, Any] = {"baseline_rss_mb": base}
    t0 = time.perf_counter()
    with _engine(cfg, lake) as engine:
        for name in ("stg_sales", "stg_event_lines"):
            t = time.perf_counter()
            r = build(models[name], cfg["first"], cfg["last"], engine=engine, lake=lake)
            out[name] = {"wall": time.perf_counter() - t, "rows": r.rows, "query_s": r.query_s, "write_s": r.write_s}
            print(f"  {name}: {r.rows:,} rows in {out[name]['wall']:.1f}s", flush=True)
    out["wall"] = time.perf_counter() - t0
    return out


def child_upload(cfg: dict[str, Any]) -> dict[str, Any]:
    """Copy the current staging partitions of the disk lake into the S3 lake, in the lake's S3
    layout: the run folders as they are, then each partition's pointer (its manifest), then each
    table's digest (pipelines/lake/digest.py), as the runner leaves a table it built on S3."""
    from concurrent.futures import ThreadPoolExecutor

    from pipelines.lake.digest import refresh_digest
    from pipelines.lake.fs import LakeFS
    from pipelines.lake.partitions.layout import MANIFEST, pointer_rel, run_rel
    from pipelines.lake.partitions.manifest import current_manifest, list_partitions

    src = LakeFS.from_uri(cfg["source"])
    dst = LakeFS.from_uri(cfg["lake"])
    t0 = time.perf_counter()
    copied = {"files": 0, "bytes": 0}

    def one(table: str, day: str) -> int:
        manifest = current_manifest(src, table, day, zone="stg")
        assert manifest is not None
        rel = run_rel("stg", table, day, manifest["run_id"])
        size = 0
        for name in [f["name"] for f in manifest["files"]] + [MANIFEST]:
            data = src.read_bytes(rel, name)
            with dst.fs.open_output_stream(dst.path(rel, name)) as fh:
                fh.write(data)
            size += len(data)
        dst.write_bytes(json.dumps(manifest).encode(), pointer_rel("stg", table, day), content_type="application/json")
        return size

    jobs = [(t, d) for t in cfg["tables"] for d in list_partitions(src, t, zone="stg")]
    with ThreadPoolExecutor(8) as pool:
        for size in pool.map(lambda job: one(*job), jobs):
            copied["files"] += 1
            copied["bytes"] += size
    if cfg.get("digests", True):  # as the runner leaves a table it built on S3
        for table in cfg["tables"]:
            refresh_digest(dst, "stg", table)
    return {"wall": time.perf_counter() - t0, "baseline_rss_mb": 0.0, **copied}


def child_ours(cfg: dict[str, Any]) -> dict[str, Any]:
    """`build(state_first_purchase)` then `build(seller_daily_sales)` for every day, as the assets
    run them (the runner's defaults unless the variant sets `chunk` or `write_threads`)."""
    from pipelines.lake.fs import LakeFS
    from pipelines.marts.models import discover
    from pipelines.marts.runner import build

    models = discover()
    lake = LakeFS.from_uri(cfg["lake"])
    base = _rss_mb()
    t0 = time.perf_counter()
    extra = {k: cfg[k] for k in ("chunk", "write_threads") if cfg.get(k)}
    out: dict[str, Any] = {"baseline_rss_mb": base, "query_s": 0.0, "write_s": 0.0}
    with _engine(cfg, lake) as engine:
        for name in ("state_first_purchase", "seller_daily_sales"):
            t = time.perf_counter()
            r = build(models[name], cfg["first"], cfg["last"], engine=engine, lake=lake, **extra)
            out[name] = {"wall": time.perf_counter() - t, "rows": r.rows}
            out["query_s"] += r.query_s
            out["write_s"] += r.write_s
    out.update(wall=time.perf_counter() - t0, rows=r.rows, partitions=len(r.partitions))
    return out


def _s3_parts(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/")


PANDAS_SALES = ["seller_id", "currency", "order_id", "buyer", "qty", "amount_cents"]
PANDAS_EVENTS = ["event_type", "seller_id", "currency", "qty", "amount_cents"]
KEYS = ["seller_id", "dt", "currency"]


def _pandas_mart(sales: Any, events: Any, bought_before: Any = None) -> Any:
    """seller_daily_sales from the staging rows, with pandas group-bys (the same figures as the SQL).
    `bought_before` (a boolean per sales row: the buyer bought from the seller before these rows'
    days) stands for the history when `sales` holds only the days being built."""
    import numpy as np
    import pandas as pd

    # a buyer is new on the day of their first purchase from this seller
    first_dt = sales.groupby(["seller_id", "buyer"], sort=False)["dt"].transform("min")
    new = first_dt == sales["dt"]
    sales["new_buyer"] = sales["buyer"].where(new if bought_before is None else new & ~bought_before)
    del first_dt, new
    sold = sales.groupby(KEYS, sort=False).agg(
        orders=("order_id", "nunique"),
        units=("qty", "sum"),
        gross_cents=("amount_cents", "sum"),
        buyers=("buyer", "nunique"),
        new_buyers=("new_buyer", "nunique"),
    )
    cancelled = events["event_type"] == "order_cancelled"
    events = events.assign(
        cancelled_units=events["qty"].where(cancelled, 0), cancelled_cents=events["amount_cents"].where(cancelled, 0)
    )
    returned = events.groupby(KEYS, sort=False).agg(
        refunded_units=("qty", "sum"),
        refund_cents=("amount_cents", "sum"),
        cancelled_units=("cancelled_units", "sum"),
        cancelled_cents=("cancelled_cents", "sum"),
    )
    df = sold.join(returned, how="outer").reset_index()
    counts = ["orders", "units", "gross_cents", "buyers", "new_buyers", "refunded_units", "refund_cents",
              "cancelled_units", "cancelled_cents"]  # fmt: skip
    for c in counts:
        df[c] = df[c].fillna(0).astype("int64")
    df["net_cents"] = df["gross_cents"] - df["refund_cents"]
    orders = df["orders"].to_numpy()
    gross = df["gross_cents"].to_numpy()
    aov = (2 * gross + orders) // np.maximum(2 * orders, 1)  # gross / orders rounded half up (all >= 0)
    df["avg_order_value_cents"] = pd.array(np.where(orders > 0, aov, 0), dtype="Int64")
    df.loc[orders == 0, "avg_order_value_cents"] = pd.NA
    df["returning_buyers"] = df["buyers"] - df["new_buyers"]
    return df[[*MART_COLUMNS, "dt"]]


def _only_returns(events: Any) -> Any:
    events = events[events["event_type"].isin(["order_refunded", "order_cancelled"])]
    return events.assign(dt=events["dt"].astype(str))


def child_pandas(cfg: dict[str, Any]) -> dict[str, Any]:
    """The awswrangler + pandas way: read the staging partitions from S3, group by, write back."""
    from concurrent.futures import ThreadPoolExecutor

    import awswrangler as wr
    import boto3
    import pandas as pd

    wr.config.s3_endpoint_url = cfg["s3_endpoint"]
    # one session for every call (without it awswrangler builds a new one, re-parsing the service
    # models, on every call): awswrangler at its best
    session = boto3.Session()
    s3 = session.client("s3")
    bucket, prefix = _s3_parts(cfg["lake"])
    first, last = cfg["first"], cfg["last"]
    backend = cfg.get("dtype_backend", "pyarrow")
    base = _rss_mb()

    def files(table: str) -> tuple[list[str], str]:
        """The current files of every partition in range: the lake's pointers name them. Like ours,
        it takes them from the table's digest (one GET) where the digest's ETag is the one listed."""
        import gzip

        etags = {}
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=f"{prefix}/stg/{table}/_current/"
        ):
            for o in page.get("Contents", []):
                name = o["Key"].rsplit("/", 1)[1]
                if name.startswith("dt=") and name.endswith(".json") and first <= name[3:13] <= last:
                    etags[o["Key"]] = o["ETag"]
        try:
            body = s3.get_object(Bucket=bucket, Key=f"{prefix}/stg/{table}/_current/_digest.json.gz")["Body"].read()
            digest = json.loads(gzip.decompress(body))["partitions"]
        except s3.exceptions.NoSuchKey:
            digest = {}

        def manifest(key: str) -> dict[str, Any]:
            entry = digest.get(key.rsplit("dt=", 1)[1][:10])
            if entry and entry["etag"] == etags[key]:
                return entry["manifest"]
            return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

        with ThreadPoolExecutor(16) as pool:
            manifests = list(pool.map(manifest, sorted(etags)))
        root = f"s3://{bucket}/{prefix}/stg/{table}/_runs/"
        return [f"{root}dt={m['dt']}/run={m['run_id']}/{f['name']}" for m in manifests for f in m["files"]], root

    def read(table: str, columns: list[str]) -> pd.DataFrame:
        paths, root = files(table)
        df = wr.s3.read_parquet(
            paths, path_root=root, dataset=True, columns=columns, dtype_backend=backend, boto3_session=session
        )
        df = df.drop(columns=["run"])
        if table == "stg_sales":  # the events' dt is cast after their filter (_only_returns)
            df["dt"] = df["dt"].astype(str)
        return df

    def write(df: pd.DataFrame) -> None:
        wr.s3.to_parquet(
            df,
            path=cfg["output"],
            dataset=True,
            partition_cols=["dt"],
            mode="overwrite_partitions",
            concurrent_partitioning=True,
            boto3_session=session,
        )

    return {**_pandas_steps(read, write), "baseline_rss_mb": base}


def child_pandas_disk(cfg: dict[str, Any]) -> dict[str, Any]:
    """The same pandas code on the disk lake: `pd.read_parquet` of the current partitions (the
    `dt=` symlinks), `DataFrame.to_parquet(partition_cols=["dt"])`."""
    import pandas as pd

    first, last = cfg["first"], cfg["last"]
    root = Path(cfg["lake"].removeprefix("file://"))
    base = _rss_mb()

    def read(table: str, columns: list[str]) -> pd.DataFrame:
        folders = sorted(p for p in (root / "stg" / table).glob("dt=*") if first <= p.name[3:] <= last)
        frames = []
        for folder in folders:
            df = pd.read_parquet(folder, columns=columns, dtype_backend="pyarrow")
            frames.append(df.assign(dt=folder.name[3:]))
        return pd.concat(frames, ignore_index=True)

    def write(df: pd.DataFrame) -> None:
        df.to_parquet(cfg["output"].removeprefix("file://"), partition_cols=["dt"], index=False)

    return {**_pandas_steps(read, write), "baseline_rss_mb": base}


def _pandas_steps(read: Any, write: Any) -> dict[str, Any]:
    """The competitor's steps, timed each: read both staging tables, the pandas mart, write."""
    timings: dict[str, float] = {}
    t0 = t = time.perf_counter()
    sales = read("stg_sales", PANDAS_SALES)
    timings["read_sales"] = time.perf_counter() - t
    t = time.perf_counter()
    events = _only_returns(read("stg_event_lines", PANDAS_EVENTS))
    timings["read_events"] = time.perf_counter() - t
    t = time.perf_counter()
    df = _pandas_mart(sales, events)
    del sales, events
    timings["compute"] = time.perf_counter() - t
    t = time.perf_counter()
    write(df)
    timings["write"] = time.perf_counter() - t
    return {"wall": time.perf_counter() - t0, "rows": len(df), **timings}


MART_COLUMNS = ["seller_id", "currency", "orders", "units", "gross_cents", "refunded_units", "refund_cents",
                "cancelled_units", "cancelled_cents", "net_cents", "avg_order_value_cents", "buyers", "new_buyers",
                "returning_buyers"]  # fmt: skip


def child_verify(cfg: dict[str, Any]) -> dict[str, Any]:
    """Ours' mart (through the lake's pointers) against the competitor's output, row for row."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    from pipelines.lake.fs import LakeFS
    from pipelines.lake.partitions.reading import dataset

    t0 = time.perf_counter()
    lake = LakeFS.from_uri(cfg["lake"])
    ours = dataset(lake, "seller_daily_sales", zone="marts").to_table()
    out: dict[str, Any] = {"baseline_rss_mb": 0.0, "ours_rows": ours.num_rows}
    schema = pa.schema([*(pa.field(c, pa.string() if c in ("seller_id", "currency") else pa.int64())
                          for c in MART_COLUMNS), pa.field("dt", pa.string())])  # fmt: skip
    order = [("dt", "ascending"), ("seller_id", "ascending"), ("currency", "ascending")]
    ours = ours.select(schema.names).cast(schema).sort_by(order)
    if cfg.get("output"):
        other_lake = LakeFS.from_uri(cfg["output"])
        theirs = ds.dataset(
            other_lake.root,
            filesystem=other_lake.fs,
            format="parquet",
            partitioning=ds.partitioning(pa.schema([("dt", pa.string())]), flavor="hive"),
        ).to_table()
        theirs = theirs.select(schema.names).cast(schema).sort_by(order)
        out["theirs_rows"] = theirs.num_rows
        out["equal"] = ours.equals(theirs)
        if not out["equal"]:
            diff = []
            for c in schema.names:
                if ours.num_rows == theirs.num_rows and not ours[c].equals(theirs[c]):
                    diff.append(c)
            out["columns_differing"] = diff
    # the report's seller: the biggest by gross over the year
    by_seller = (
        ours.group_by("seller_id").aggregate([("gross_cents", "sum")]).sort_by([("gross_cents_sum", "descending")])
    )
    out["seller"] = by_seller["seller_id"][0].as_py()
    out["sellers"] = by_seller.num_rows
    out["mart_rows_per_day"] = ours.num_rows / max(1, len(pc.unique(ours["dt"])))
    out["wall"] = time.perf_counter() - t0
    return out


# The one-seller report: 90 days of daily figures and the period's totals (the row with dt NULL)
REPORT_SQL = """
SELECT
    dt,
    sum(orders) AS orders,
    sum(units) AS units,
    sum(gross_cents) AS gross_cents,
    sum(refund_cents) AS refund_cents,
    sum(net_cents) AS net_cents,
    CAST(round(CAST(sum(gross_cents) AS double) / nullif(sum(orders), 0)) AS bigint) AS avg_order_value_cents,
    sum(new_buyers) AS new_buyers,
    sum(returning_buyers) AS returning_buyers
FROM marts_seller_daily_sales
WHERE seller_id = :seller AND dt BETWEEN :start AND :end
GROUP BY GROUPING SETS ((dt), ())
ORDER BY dt NULLS LAST
"""
REPORT_COLUMNS = ["orders", "units", "gross_cents", "refund_cents", "net_cents", "avg_order_value_cents",
                  "new_buyers", "returning_buyers"]  # fmt: skip


def child_query_ours(cfg: dict[str, Any]) -> dict[str, Any]:
    """The report through `DuckDBEngine.query`: cold (a new lake and engine, in a process that has
    imported the modules), warm (the same engine again, median of 5), and a new engine again."""
    import pipelines.sql.duckdb_engine  # noqa: F401 (imported before the clock starts, as in a service)
    from gitgoods.settings import get_settings
    from pipelines.lake.fs import LakeFS

    get_settings()
    params = {"seller": cfg["seller"], "start": cfg["start"], "end": cfg["end"]}
    base = _rss_mb()
    t0 = time.perf_counter()
    lake = LakeFS.from_uri(cfg["lake"])
    engine = _engine(cfg, lake)
    table = engine.query(REPORT_SQL, params)
    cold = time.perf_counter() - t0
    out: dict[str, Any] = {"wall": cold, "cold": cold, "baseline_rss_mb": base, "queries": 1}
    out["rows"] = [[r["dt"], *(r[c] for c in REPORT_COLUMNS)] for r in table.to_pylist()]
    if cfg.get("repeat", 5):  # 0: the cold query only (the parent counts its S3 requests)
        warm = []
        for _ in range(cfg.get("repeat", 5)):
            t = time.perf_counter()
            engine.query(REPORT_SQL, params)
            warm.append(time.perf_counter() - t)
        t = time.perf_counter()
        with _engine(cfg, LakeFS.from_uri(cfg["lake"])) as again:  # a new lake and engine, warm process
            again.query(REPORT_SQL, params)
        out.update(warm=sorted(warm)[len(warm) // 2], new_engine=time.perf_counter() - t, queries=len(warm) + 2)
    engine.close()
    return out


def child_query_pandas(cfg: dict[str, Any]) -> dict[str, Any]:
    """The report the awswrangler way, from the competitor's own mart: cold (first call) and warm."""
    import awswrangler as wr
    import boto3
    import numpy as np
    import pandas as pd

    wr.config.s3_endpoint_url = cfg["s3_endpoint"]
    session = boto3.Session()
    start, end, seller = cfg["start"], cfg["end"], cfg["seller"]
    columns = ["seller_id", "orders", "units", "gross_cents", "refund_cents", "net_cents", "new_buyers",
               "returning_buyers"]  # fmt: skip

    def report() -> pd.DataFrame:
        df = wr.s3.read_parquet(
            cfg["output"],
            dataset=True,
            partition_filter=lambda p: start <= p["dt"] <= end,
            columns=columns,
            boto3_session=session,
        )
        df = df[df["seller_id"] == seller].drop(columns=["seller_id"])
        df["dt"] = df["dt"].astype(str)
        daily = df.groupby("dt").sum().reset_index()
        total = daily.drop(columns=["dt"]).sum().to_frame().T
        total["dt"] = None
        out = pd.concat([daily.sort_values("dt"), total], ignore_index=True)
        orders, gross = out["orders"].to_numpy(), out["gross_cents"].to_numpy()
        out["avg_order_value_cents"] = np.where(orders > 0, (2 * gross + orders) // np.maximum(2 * orders, 1), -1)
        return out

    base = _rss_mb()
    t0 = time.perf_counter()
    out = report()
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(cfg.get("repeat", 5)):
        t = time.perf_counter()
        report()
        warm.append(time.perf_counter() - t)
    rows = [
        [r["dt"], *(None if c == "avg_order_value_cents" and r[c] < 0 else int(r[c]) for c in REPORT_COLUMNS)]
        for r in out.to_dict("records")
    ]
    return {
        "wall": cold,
        "cold": cold,
        "warm": sorted(warm)[len(warm) // 2],
        "baseline_rss_mb": base,
        "rows": rows,
        "queries": len(warm) + 1,
    }


CHILDREN = {
    "generate": child_generate,
    "staging": child_staging,
    "upload": child_upload,
    "ours": child_ours,
    "pandas": child_pandas,
    "pandas-disk": child_pandas_disk,
    "verify": child_verify,
    "query-ours": child_query_ours,
    "query-pandas": child_query_pandas,
}
# the children that run the pipeline's code, on the allocator it runs on
SYSTEM_ALLOCATOR_CHILDREN = {"generate", "staging", "upload", "ours", "verify", "query-ours"}


# ================================================================================================
# the orchestrator
# ================================================================================================
def run_child(kind: str, cfg: dict[str, Any], env: dict[str, str], work: Path, timeout: float,
              script: Path = Path(__file__)) -> dict[str, Any]:  # fmt: skip
    """Run one step of `script` (this one, or another benchmark's) in a fresh process; its result plus
    CPU from wait4 (its peak RSS it reads itself)."""
    tag = f"{kind}-{int(time.time() * 1000) % 10**8}"
    cfg_path = work / f"{tag}.json"
    cfg_path.write_text(json.dumps(cfg))
    out_path, err_path = work / f"{tag}.out", work / f"{tag}.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, str(script.resolve()), "--child", kind, "--config", str(cfg_path)],
            stdout=out,
            stderr=err,
            env=env,
            cwd=str(work),  # DuckDB and friends write nothing into the checkout
        )
        usage = wait_child(proc, timeout, kind, err_path)
    text = out_path.read_text()
    if proc.returncode != 0 or "RESULT " not in text:
        raise RuntimeError(f"{kind} failed (exit {proc.returncode}):\n{err_path.read_text()[-4000:]}")
    result = json.loads(text.split("RESULT ", 1)[1].splitlines()[0])
    result.update({"kind": kind, "cpu_s": usage.ru_utime + usage.ru_stime})
    return result


def create_bucket(moto_url: str, name: str) -> None:
    import boto3

    s3 = boto3.client(
        "s3", endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench"
    )
    s3.create_bucket(Bucket=name)


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 1) + ":" if i else "-" * (w + 2) for i, w in enumerate(widths)) + "|")
    for r in rows:
        lines.append(
            "| "
            + " | ".join(
                str(x).rjust(w) if i else str(x).ljust(w) for i, (x, w) in enumerate(zip(r, widths, strict=True))
            )
            + " |"
        )
    return "\n".join(lines)


def moto_requests(log: Path) -> int:
    """Requests the moto server has answered so far (one log line each)."""
    with log.open("rb") as fh:
        return sum(1 for line in fh if b" HTTP/1.1" in line)


def delete_prefix(moto_url: str, bucket: str, prefix: str) -> None:
    import boto3

    s3 = boto3.resource(
        "s3", endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench"
    )
    s3.Bucket(bucket).objects.filter(Prefix=prefix).delete()


def parse_variant(text: str) -> dict[str, Any]:
    """'default', 'c366', 'w1', 'm1GB', 'c31+w1' -> the name, label and build/engine settings."""
    out: dict[str, Any] = {"name": f"ours-s3-{text.replace('+', '-')}", "chunk": None, "write_threads": None}
    labels = []
    for part in text.split("+"):
        if part == "default":
            continue
        if part[:1] in ("c", "w") and part[1:].isdigit() and int(part[1:]) > 0:
            key = "chunk" if part[0] == "c" else "write_threads"
            out[key] = int(part[1:])
            labels.append(f"chunk {part[1:]}" if part[0] == "c" else f"{part[1:]} write thread(s)")
            continue
        if part[:1] == "m" and part[1:-2].isdigit() and part.endswith("GB"):
            out["memory_limit"] = part[1:]
            labels.append(f"memory_limit {part[1:]}")
            continue
        raise SystemExit(f"bad variant {text!r}: use default, cN, wN, mNGB, joined with +")
    out["label"] = "ours, " + (", ".join(labels) or "runner defaults")
    return out


def add_year_args(parser: argparse.ArgumentParser) -> None:
    """The generated year and its cache (the nightly benchmark reuses both)."""
    parser.add_argument("--lines", type=int, default=10_000_000, help="sales lines of the generated year")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quick", action="store_true", help="1,000,000 lines: a smoke test")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "gitgoods-marts-bench")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_year_args(parser)
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (ours)")
    parser.add_argument(
        "--memory-limit", default=None, help="DuckDB memory_limit (ours; default: the settings', as the assets run)"
    )
    parser.add_argument(
        "--variants",
        default="default,w1",
        help="ours' runs: 'default' (the runner's defaults: the model's chunk, 8 write threads), "
        "'cN' (chunk N), 'wN' (N write threads), combined with '+' (e.g. c31+w1, the runner before)",
    )
    parser.add_argument("--report-days", type=int, default=90, help="days of the one-seller report")
    parser.add_argument("--no-disk", action="store_true", help="skip the runs on a disk lake")
    parser.add_argument("--rebuild-staging", action="store_true", help="build the cached staging models again")
    add_run_args(parser, timeout=1800.0, profile="first `ours`")
    args = parser.parse_args(argv)
    if args.child:
        return run_child_main(CHILDREN, args.child, args.config, system_allocator=SYSTEM_ALLOCATOR_CHILDREN)
    if args.quick:
        args.lines = 1_000_000

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="gitgoods-marts-bench-"))
    print(f"work folder: {work}")
    folder = args.cache / f"raw-{args.lines}-{args.days}-{args.seed}-v{DATA_VERSION}"
    env = child_env({"GITGOODS_HOME": str(work / "home")})
    engine_cfg = {"threads": args.threads, "memory_limit": args.memory_limit}
    variants = [parse_variant(v) for v in args.variants.split(",")]
    results: dict[str, dict[str, Any]] = {}

    def step(name: str, kind: str, cfg: dict[str, Any], step_env: dict[str, str] | None = None) -> dict[str, Any]:
        r = run_child(kind, cfg, step_env or env, work, args.timeout)
        results[name] = r
        return r

    # 1. the raw lake (cached)
    g = step("generate", "generate", {"folder": str(folder), "lines": args.lines, "days": args.days, "seed": args.seed})
    meta = g["meta"]
    first, last = meta["first"], meta["last"]
    print(
        f"raw lake: {meta['lines']:,} sales lines ({meta['raw_sales_rows']:,} raw rows), {meta['orders']:,} orders, "
        f"{meta['events']:,} events ({meta['raw_event_rows']:,} raw rows, {meta['raw_event_lines']:,} lines), "
        f"{meta['sellers']} sellers, {meta['buyers']:,} buyers, {first}..{last}, {meta['bytes'] / 1e6:,.0f} MB "
        f"(generated in {meta['generate_s']:.0f}s; cached in {folder})",
        flush=True,
    )
    # 2. staging (cached: in production it is materialised upstream of the marts)
    staging_marker = folder / "staging.json"
    if args.rebuild_staging or not staging_marker.exists():
        print("building stg_sales and stg_event_lines ...", flush=True)
        lake_uri = f"file://{folder / 'lake'}"
        s = step("staging", "staging", {"lake": lake_uri, "first": first, "last": last, **engine_cfg})
        staging_marker.write_text(json.dumps(s, indent=1))
    staging = json.loads(staging_marker.read_text())
    results["staging"] = staging
    print(
        f"staging (runner, disk lake): stg_sales {staging['stg_sales']['rows']:,} rows in "
        f"{staging['stg_sales']['wall']:.0f}s, stg_event_lines {staging['stg_event_lines']['rows']:,} rows in "
        f"{staging['stg_event_lines']['wall']:.0f}s, peak {staging['peak_rss_mb']:.0f} MB",
        flush=True,
    )

    if args.wait_quiet:
        print(f"load average now {os.getloadavg()[0]:.2f}; waiting up to {args.wait_quiet:.0f}s for < 1.0 ...")
        wait_for_quiet(args.wait_quiet, 1.0)
    load_start = os.getloadavg()
    print(f"cpus: {os.cpu_count()}, load average: {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}")

    procs: list[Proc] = []
    rows: list[dict[str, Any]] = []
    verified: list[str] = []
    queries: list[dict[str, Any]] = []

    def show(r: dict[str, Any]) -> None:
        extra = ""
        if "query_s" in r:
            extra = f"  (query {r['query_s']:.1f}s, write {r['write_s']:.1f}s)"
        if "state_first_purchase" in r:
            extra += f"  (state {r['state_first_purchase']['wall']:.1f}s, mart {r['seller_daily_sales']['wall']:.1f}s)"
        if "compute" in r:
            extra = (f"  (read sales {r['read_sales']:.1f}s, events {r['read_events']:.1f}s, "
                     f"compute {r['compute']:.1f}s, write {r['write']:.1f}s)")  # fmt: skip
        if r.get("requests"):
            extra += f"  {r['requests']:,} S3 requests"
        print(
            f"  {r['label']:<58} {r['wall']:7.1f}s  cpu {r['cpu_s']:6.1f}s  peak {r['peak_rss_mb']:6.0f} MB "
            f"(base {r['baseline_rss_mb']:4.0f}){extra}",
            flush=True,
        )

    try:
        # 3. moto S3 with the staging partitions
        moto_port = free_port()
        moto_log = work / "moto.log"
        moto = Proc(
            [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
            moto_log,
            env=child_env({}),
        )
        procs.append(moto)
        moto_url = f"http://127.0.0.1:{moto_port}"
        wait_http(moto_url + "/moto-api/", 60)
        bucket = f"marts-bench-{os.getpid()}"
        create_bucket(moto_url, bucket)
        s3_env = child_env({"GITGOODS_HOME": str(work / "home"), "AWS_ENDPOINT_URL": moto_url})
        lake_s3 = f"s3://{bucket}/lake"
        tables = ["stg_sales", "stg_event_lines"]
        up = step(
            "upload", "upload", {"source": f"file://{folder / 'lake'}", "lake": lake_s3, "tables": tables}, s3_env
        )
        print(f"staging copied to moto S3: {up['files']} partitions, {up['bytes'] / 1e6:,.0f} MB in {up['wall']:.0f}s")

        def s3_step(name: str, kind: str, cfg: dict[str, Any], label: str) -> dict[str, Any]:
            before = moto_requests(moto_log)
            r = step(name, kind, cfg, s3_env)
            time.sleep(0.5)  # the log line follows the response
            r.update(label=label, requests=moto_requests(moto_log) - before)
            return r

        # 4. the build, on moto S3: the competitor first, then ours (each variant on a fresh marts zone)
        print(f"\nseller_daily_sales, {first}..{last}, on moto S3:")
        output = f"s3://{bucket}/pandas/seller_daily_sales"
        base_cfg = {"lake": lake_s3, "first": first, "last": last}
        r = s3_step("pandas-s3", "pandas", {**base_cfg, "s3_endpoint": moto_url, "output": output},
                    "awswrangler + pandas")  # fmt: skip
        rows.append(r)
        show(r)
        for i, variant in enumerate(variants):
            name, label = variant["name"], variant["label"]
            for zone in ("state", "marts"):
                delete_prefix(moto_url, bucket, f"lake/{zone}/")
            cfg = {**base_cfg, **engine_cfg, **{k: v for k, v in variant.items() if k not in ("name", "label")}}
            if args.profile and i == 0:
                cfg["profile"] = str(args.profile)
            r = s3_step(name, "ours", cfg, label)
            rows.append(r)
            show(r)
            v = step(f"verify-{name}", "verify", {"lake": lake_s3, "output": output}, s3_env)
            verified.append(f"{label}: {'equal' if v['equal'] else 'DIFFERENT ' + str(v.get('columns_differing'))}")
            print(f"    equal to the competitor's, row for row: {v['equal']} ({v['ours_rows']:,} rows)", flush=True)

        # 5. the one-seller report on moto S3 (ours: the last variant's mart; theirs: their output)
        start = (dt.date.fromisoformat(last) - dt.timedelta(days=args.report_days - 1)).isoformat()
        q = {"seller": v["seller"], "start": start, "end": last}
        print(f"\none seller's report, {start}..{last} (seller {v['seller']}, the largest of {v['sellers']}):")
        qc = s3_step("query-ours-s3-cold", "query-ours", {"lake": lake_s3, **q, **engine_cfg, "repeat": 0}, "")
        qo = s3_step("query-ours-s3", "query-ours", {"lake": lake_s3, **q, **engine_cfg}, "ours on moto S3")
        qo["cold_requests"] = qc["requests"]
        qo["warm_requests"] = (qo["requests"] - qc["requests"]) / (qo["queries"] - 1)
        qp = s3_step("query-pandas-s3", "query-pandas", {"output": output, "s3_endpoint": moto_url, **q},
                     "awswrangler + pandas on moto S3")  # fmt: skip
        queries += [qo, qp]
        same = qo["rows"] == qp["rows"]
        verified.append(f"report: {'same rows' if same else 'DIFFERENT rows'} ({len(qo['rows'])} incl. the totals)")
        results["moto"] = {"peak_rss_mb": moto.rss_mb()}
        moto.stop()  # the disk runs get the CPU without it

        # 6. the same on a disk lake (the same staging files, read in place)
        if not args.no_disk:
            print(f"\nseller_daily_sales, {first}..{last}, on local disk:")
            out_disk = f"file://{work / 'pandas-out'}"
            r = step("pandas-disk", "pandas-disk", {"lake": f"file://{folder / 'lake'}", "first": first,
                                                   "last": last, "output": out_disk})  # fmt: skip
            r["label"] = "pandas (pd.read_parquet / to_parquet)"
            rows.append(r)
            show(r)
            for variant in variants:
                name, label = variant["name"], variant["label"]
                disk = work / f"lake-disk-{len(rows)}"
                disk.mkdir()
                (disk / "stg").symlink_to(folder / "lake" / "stg")
                cfg = {"lake": f"file://{disk}", "first": first, "last": last, **engine_cfg,
                       **{k: v for k, v in variant.items() if k not in ("name", "label")}}  # fmt: skip
                r = step(name.replace("-s3-", "-disk-"), "ours", cfg)
                r["label"] = label
                rows.append(r)
                show(r)
                v = step(f"verify-{name}-disk", "verify", {"lake": f"file://{disk}", "output": out_disk})
                verified.append(f"disk, {label}: {'equal' if v['equal'] else 'DIFFERENT'}")
                print(f"    equal to pandas', row for row: {v['equal']}", flush=True)
            qd = step("query-ours-disk", "query-ours", {"lake": f"file://{disk}", **q, **engine_cfg})
            qd["label"] = "ours on local disk"
            queries.append(qd)
        for r in queries:
            print(
                f"  {r['label']:<36} cold {r['cold']:.3f}s  warm {r['warm']:.3f}s"
                + (f"  new engine {r['new_engine']:.3f}s" if "new_engine" in r else "")
                + f"  peak {r['peak_rss_mb']:.0f} MB"
                + (
                    f"  S3 requests: {r['cold_requests']} cold, {r['warm_requests']:.0f} warm"
                    if "cold_requests" in r
                    else f"  {r['requests'] / r['queries']:.0f} S3 requests a query"
                    if r.get("requests")
                    else ""
                ),
                flush=True,
            )
    finally:
        for proc in reversed(procs):
            proc.stop()
        for path in [*work.glob("lake-disk-*"), work / "pandas-out", work / "home"]:
            shutil.rmtree(path, ignore_errors=True)

    load_end = os.getloadavg()
    print(f"\n## seller_daily_sales, {first}..{last} ({meta['lines']:,} sales lines)\n")
    header = ["approach", "lake", "wall s", "CPU s", "peak RSS MB", "base MB", "S3 requests"]
    print(
        table(
            [
                [
                    r["label"],
                    "moto S3" if r.get("requests") else "disk",
                    f"{r['wall']:.1f}",
                    f"{r['cpu_s']:.1f}",
                    f"{r['peak_rss_mb']:.0f}",
                    f"{r['baseline_rss_mb']:.0f}",
                    f"{r.get('requests', 0):,}",
                ]  # fmt: skip
                for r in rows
            ],
            header,
        )
    )
    pandas_s3 = results["pandas-s3"]
    ratios = []
    for variant in variants:
        name, label = variant["name"], variant["label"]
        o = results[name]
        speed, mem = pandas_s3["wall"] / o["wall"], o["peak_rss_mb"] / pandas_s3["peak_rss_mb"]
        ratios.append([f"S3 build, {label}: awswrangler wall / ours", f"{speed:.1f}", ">= 10",
                       "met" if speed >= 10 else "MISSED"])  # fmt: skip
        ratios.append([f"S3 build, {label}: ours peak / awswrangler peak", f"{mem:.2f}", "<= 0.33",
                       "met" if mem <= 1 / 3 else "MISSED"])  # fmt: skip
    if "pandas-disk" in results:
        for variant in variants:
            name, label = variant["name"], variant["label"]
            o, pd_disk = results[name.replace("-s3-", "-disk-")], results["pandas-disk"]
            ratios.append([f"disk build, {label}: pandas wall / ours", f"{pd_disk['wall'] / o['wall']:.1f}", "", ""])
            ratios.append([f"disk build, {label}: ours peak / pandas peak",
                           f"{o['peak_rss_mb'] / pd_disk['peak_rss_mb']:.2f}", "", ""])  # fmt: skip
    ratios += [
        ["report on S3: ours cold (s)", f"{qo['cold']:.3f}", "< 1", "met" if qo["cold"] < 1 else "MISSED"],
        ["report on S3: ours warm (s)", f"{qo['warm']:.3f}", "< 1", "met" if qo["warm"] < 1 else "MISSED"],
        [
            "report on S3: ours, a new engine in a warm process (s)",
            f"{qo['new_engine']:.3f}",
            "< 1",
            "met" if qo["new_engine"] < 1 else "MISSED",
        ],  # fmt: skip
        ["report on S3: awswrangler cold / ours cold", f"{qp['cold'] / qo['cold']:.1f}", "", ""],
        ["report on S3: awswrangler warm / ours warm", f"{qp['warm'] / qo['warm']:.1f}", "", ""],
    ]
    if "query-ours-disk" in results:
        ratios.append(["report on disk: ours cold / warm (s)", f"{qd['cold']:.3f} / {qd['warm']:.3f}", "< 1",
                       "met" if qd["cold"] < 1 else "MISSED"])  # fmt: skip
    print()
    print(table(ratios, ["ratio", "value", "goal", ""]))
    print("\nchecks: " + "; ".join(verified))
    print(
        f"\ntotal {time.perf_counter() - started:.0f}s; load average at the start {load_start[0]:.2f}, "
        f"at the end {load_end[0]:.2f} (2 cores: above ~0.5 other work shared the machine); logs in {work}"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "args": {k: str(x) for k, x in vars(args).items()},
                    "load": [load_start, load_end],
                    "meta": meta,
                    "results": results,
                    "ratios": ratios,
                    "checks": verified,
                },  # fmt: skip
                indent=1,
            )
        )
    return 0 if all("DIFFERENT" not in c for c in verified) else 1


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.exit(main())
