"""Nightly build of one day: the incremental marts against the full-history query and awswrangler.

Issue 12: on the generated year of 10,000,000 sales lines (the marts benchmark's data and staging,
bench/marts_world.py, cached), build the day 2025-12-31 of `seller_daily_sales` three ways, each in a
fresh child process on moto S3 (the lake's S3 layout, as the marts benchmark copies it there):

- **ours, incremental**: `build(state_first_purchase)` then `build(seller_daily_sales)` for the day,
  as the nightly run's assets do; the state's earlier partitions (2025-01-01..12-30) are built and
  packed once before, as the nights before would have (timed on its own, not part of the night);
  the state's packs asset, which the nightly job runs beside the marts, is timed on its own after;
- **full-history query**: the previous `seller_daily_sales.sql` (bench/full_history/), which reads
  every earlier day of `stg_sales` to tell new from returning buyers, on the same runner and engine;
- **awswrangler + pandas**: `wr.s3.read_parquet` of the day's staging rows and of (seller, buyer) of
  every earlier day, the same figures with pandas (`marts_bench._pandas_mart`), `wr.s3.to_parquet`.

Ours and awswrangler + pandas each run `--repeat` nights (3), alternating, so that a busy moment of the
machine falls on both; the median wall of each is compared, and the highest peak memory.

Then the open month of `buyer_cohorts` (2025-12-01) incrementally and with the previous SQL. Every
output is compared row for row. Staging is upstream and the same for every approach: not timed.

    .venv/bin/python bench/nightly_bench.py            # 10,000,000 lines (+ ~2 min generation and
                                                       # ~4 min staging once, cached with the marts bench)
    .venv/bin/python bench/nightly_bench.py --quick    # 1,000,000 lines
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import pkgutil
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import Proc, add_run_args, child_env, free_port, run_child_main, wait_http
from benchlib import rss_mb as _rss_mb

BENCH = Path(__file__).resolve().parent
sys.path.append(str(BENCH.parent))

import marts_bench as mb  # noqa: E402
from marts_world import DATA_VERSION  # noqa: E402

FULL_HISTORY = BENCH / "full_history"
HISTORY_MEMORY_LIMIT = "2GB"  # DuckDB's, for the previous SQL (the pipeline's default is 1 GB)


def child_build(cfg: dict[str, Any]) -> dict[str, Any]:
    """The runner's builds of `cfg["steps"]` ([model, start, end, previous SQL file or None]), one
    engine for all as in one asset run; then the packs assets of `cfg["packs"]` ([model, start, end]),
    timed on their own (they run beside the marts, the figures do not wait for them); then
    (untimed) each built partition dumped for the checks."""
    from dataclasses import replace

    # the modules a build loads on first use, loaded before the clock starts, as the awswrangler child
    # imports awswrangler and pandas first (a Dagster step process pays them once either way)
    import duckdb  # noqa: F401
    import pyarrow.dataset  # noqa: F401
    import pyarrow.parquet as pq
    import sqlglot.optimizer  # noqa: F401

    import pipelines.marts.suite  # noqa: F401
    import pipelines.s3_http  # noqa: F401
    import pipelines.sql.duckdb_engine  # noqa: F401
    import pipelines.sql.functions
    import pipelines.sql.joda  # noqa: F401

    for module in pkgutil.iter_modules(pipelines.sql.functions.__path__):  # the families the first transpile imports
        importlib.import_module(f"pipelines.sql.functions.{module.name}")
    from pipelines.lake.fs import LakeFS
    from pipelines.lake.partitions.reading import read_partition
    from pipelines.marts.models import discover
    from pipelines.marts.runner import build, pack

    models = discover()
    lake = LakeFS.from_uri(cfg["lake"])
    base = _rss_mb()
    out: dict[str, Any] = {"baseline_rss_mb": base, "steps": {}}
    t0 = time.perf_counter()
    with mb._engine(cfg, lake) as engine:
        for name, start, end, sql_file in cfg["steps"]:
            model = models[name] if not sql_file else replace(models[name], sql=Path(sql_file).read_text())
            t = time.perf_counter()
            r = build(model, start, end, engine=engine, lake=lake)
            out["steps"][name] = {"wall": time.perf_counter() - t, "rows": r.rows, "query_s": r.query_s}
    out["wall"] = time.perf_counter() - t0
    for name, start, end in cfg.get("packs") or []:
        t = time.perf_counter()
        written = pack(models[name], lake, start, end)
        out.setdefault("packs", {})[name] = {"wall": time.perf_counter() - t, "months": [p.month for p in written]}
    for name, path in (cfg.get("dump") or {}).items():
        m = models[name]
        pq.write_table(read_partition(lake, m.name, cfg["steps"][-1][2], zone=m.zone), path)
    return out


def child_pandas_day(cfg: dict[str, Any]) -> dict[str, Any]:
    """The awswrangler + pandas way for one day: the day's sales and returns, (seller, buyer) of every
    earlier day to tell new buyers from returning ones, the figures, one partition written."""
    import awswrangler as wr
    import boto3
    import pandas as pd

    wr.config.s3_endpoint_url = cfg["s3_endpoint"]
    session = boto3.Session()
    day, first = cfg["day"], cfg["first"]
    base = _rss_mb()
    timings: dict[str, float] = {}

    def read(table: str, columns: list[str], start: str, end: str) -> pd.DataFrame:
        paths, root = _current_files(session.client("s3"), cfg["lake"], table, start, end)
        df = wr.s3.read_parquet(paths, path_root=root, dataset=True, columns=columns, dtype_backend="pyarrow",
                                boto3_session=session)  # fmt: skip
        return df.drop(columns=["run"]).assign(dt=lambda d: d["dt"].astype(str))

    t0 = t = time.perf_counter()
    sales = read("stg_sales", mb.PANDAS_SALES, day, day)
    events = mb._only_returns(read("stg_event_lines", mb.PANDAS_EVENTS, day, day))
    timings["read_day"] = time.perf_counter() - t
    t = time.perf_counter()
    before = (dt.date.fromisoformat(day) - dt.timedelta(days=1)).isoformat()
    history = read("stg_sales", ["seller_id", "buyer"], first, before).drop(columns=["dt"]).drop_duplicates()
    timings["read_history"] = time.perf_counter() - t
    t = time.perf_counter()
    seen = sales[["seller_id", "buyer"]].merge(history.assign(seen=True), how="left", on=["seller_id", "buyer"])
    del history
    df = mb._pandas_mart(sales, events, bought_before=seen["seen"].fillna(False).astype(bool).to_numpy())
    timings["compute"] = time.perf_counter() - t
    t = time.perf_counter()
    wr.s3.to_parquet(df, path=cfg["output"], dataset=True, partition_cols=["dt"], mode="overwrite_partitions",
                     boto3_session=session)  # fmt: skip
    timings["write"] = time.perf_counter() - t
    return {"wall": time.perf_counter() - t0, "baseline_rss_mb": base, "rows": len(df), **timings}


def _current_files(s3: Any, lake: str, table: str, start: str, end: str) -> tuple[list[str], str]:
    """The current files of the partitions start..end, from the table's pointers (one GET each)."""
    from concurrent.futures import ThreadPoolExecutor

    bucket, prefix = mb._s3_parts(lake)
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/stg/{table}/_current/"):
        for o in page.get("Contents", []):
            name = o["Key"].rsplit("/", 1)[1]
            if name.startswith("dt=") and name.endswith(".json") and start <= name[3:13] <= end:
                keys.append(o["Key"])
    with ThreadPoolExecutor(16) as pool:
        manifests = list(pool.map(lambda k: json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read()), keys))
    root = f"s3://{bucket}/{prefix}/stg/{table}/_runs/"
    return [f"{root}dt={m['dt']}/run={m['run_id']}/{f['name']}" for m in manifests for f in m["files"]], root


def child_compare(cfg: dict[str, Any]) -> dict[str, Any]:
    """The dumped outputs (and the competitor's partition) against each other, row for row."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    def load(path: str, names: list[str] | None = None) -> pa.Table:
        table = pq.read_table(path) if names is None else ds.dataset(path, format="parquet").to_table()
        cols = names or [c for c in table.column_names if c != "dt"]
        table = table.select(cols)
        cols_sorted = sorted(cols)
        table = table.cast(pa.schema([pa.field(c, pa.int64() if pa.types.is_integer(table.schema.field(c).type)
                                               else table.schema.field(c).type) for c in cols]))  # fmt: skip
        return table.sort_by([(c, "ascending") for c in cols_sorted])

    out: dict[str, Any] = {"baseline_rss_mb": 0.0, "wall": 0.0}
    for label, (a, b) in cfg["pairs"].items():
        ta = load(a)
        tb = load(b, ta.column_names if Path(b).is_dir() else None)
        out[label] = {"equal": ta.equals(tb), "rows": [ta.num_rows, tb.num_rows]}
    return out


CHILDREN = {"build": child_build, "pandas-day": child_pandas_day, "compare": child_compare, "upload": mb.child_upload}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mb.add_year_args(parser)
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (ours and the full-history query)")
    parser.add_argument("--no-disk", action="store_true", help="skip the runs on a disk lake")
    parser.add_argument("--repeat", type=int, default=3,
                        help="nights of ours and of awswrangler + pandas, alternating; the median of each is reported")
    add_run_args(parser, timeout=1800.0, profile="night's `ours` (moto S3)")
    args = parser.parse_args(argv)
    if args.child:
        return run_child_main(CHILDREN, args.child, args.config, system_allocator={"build"})
    if args.quick:
        args.lines = 1_000_000
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="gitgoods-nightly-bench-"))
    folder = args.cache / f"raw-{args.lines}-{args.days}-{args.seed}-v{DATA_VERSION}"
    env = child_env({"GITGOODS_HOME": str(work / "home")})
    engine_cfg = {"threads": args.threads, "memory_limit": None}
    results: dict[str, dict[str, Any]] = {}

    def step(name: str, kind: str, cfg: dict[str, Any], step_env: dict[str, str] | None = None,
             script: Path = Path(__file__)) -> dict[str, Any]:  # fmt: skip
        results[name] = mb.run_child(kind, cfg, step_env or env, work, args.timeout, script=script)
        return results[name]

    # the year and its staging, as the marts benchmark caches them
    meta = step("generate", "generate", {"folder": str(folder), "lines": args.lines, "days": args.days,
                                         "seed": args.seed}, script=BENCH / "marts_bench.py")["meta"]  # fmt: skip
    first, last = meta["first"], meta["last"]
    if not (folder / "staging.json").exists():
        print("building stg_sales and stg_event_lines ...", flush=True)
        s = step("staging", "staging", {"lake": f"file://{folder / 'lake'}", "first": first, "last": last,
                                        **engine_cfg}, script=BENCH / "marts_bench.py")  # fmt: skip
        (folder / "staging.json").write_text(json.dumps(s, indent=1))
    day = last
    month = day[:8] + "01"
    before = (dt.date.fromisoformat(day) - dt.timedelta(days=1)).isoformat()
    print(f"{meta['lines']:,} sales lines, {meta['buyers']:,} buyers, {meta['sellers']} sellers, {first}..{last}")
    load_start = os.getloadavg()
    print(f"cpus: {os.cpu_count()}, load average: {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}")
    rows: list[dict[str, Any]] = []
    procs: list[Proc] = []
    try:
        port = free_port()
        moto = Proc([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                    work / "moto.log", env=child_env({}))  # fmt: skip
        procs.append(moto)
        moto_url = f"http://127.0.0.1:{port}"
        wait_http(moto_url + "/moto-api/", 60)
        bucket = f"nightly-bench-{os.getpid()}"
        mb.create_bucket(moto_url, bucket)
        s3_env = child_env({"GITGOODS_HOME": str(work / "home"), "AWS_ENDPOINT_URL": moto_url})
        lake = f"s3://{bucket}/lake"
        up = step("upload", "upload", {"source": f"file://{folder / 'lake'}", "lake": lake,
                                       "tables": ["stg_sales", "stg_event_lines"]}, s3_env)  # fmt: skip
        print(f"staging copied to moto S3: {up['files']} partitions, {up['bytes'] / 1e6:,.0f} MB in {up['wall']:.0f}s")
        base = {"lake": lake, **engine_cfg}

        def build(name: str, steps: list[list[Any]], label: str, dump: dict[str, str] | None = None,
                  packs: list[list[str]] | None = None) -> dict:  # fmt: skip
            profile = {"profile": str(args.profile)} if args.profile and name == "ours-0" else {}
            # the previous SQL gets twice the engine's memory limit: at 1 GB it sometimes runs out on this year
            memory = {"memory_limit": HISTORY_MEMORY_LIMIT} if "history" in name else {}
            r = step(name, "build", {**base, "steps": steps, "dump": dump or {}, "packs": packs or [], **profile,
                                     **memory}, s3_env)  # fmt: skip
            r["label"] = label
            if not steps:  # packs only: their own time is the step's
                r["wall"] = sum(v["wall"] for v in r["packs"].values())
            print(f"  {label:<58} {r['wall']:7.2f}s  cpu {r['cpu_s']:6.1f}s  peak {r['peak_rss_mb']:6.0f} MB  "
                  + ", ".join([f"{k} {v['wall']:.2f}s (query {v['query_s']:.2f}s, {v['rows']:,} rows)"
                               for k, v in r["steps"].items()]
                              + [f"{k} packs {v['wall']:.2f}s (months {', '.join(v['months']) or 'none'})"
                                 for k, v in r.get("packs", {}).items()]),
                  flush=True)  # fmt: skip
            return r

        print("\nthe nights before (once):")
        build("state-before", [["state_first_purchase", first, before, None]],
              f"state_first_purchase {first}..{before}, one query, then packed",
              packs=[["state_first_purchase", first, before]])
        dumps = {k: str(work / f"{k}.parquet") for k in ("ours", "history", "cohorts-ours", "cohorts-history")}
        print(f"\nthe night of {day} (seller_daily_sales), on moto S3:")
        rows.append(build("history", [["seller_daily_sales", day, day, str(FULL_HISTORY / "seller_daily_sales.sql")]],
                          "full-history query (previous SQL)", {"seller_daily_sales": dumps["history"]}))
        output = f"s3://{bucket}/pandas/seller_daily_sales"
        runs: dict[str, list[dict[str, Any]]] = {"pandas": [], "ours": []}
        for i in range(args.repeat):  # alternating, so that a busy moment of the machine falls on both
            r = step(f"pandas-{i}", "pandas-day", {"lake": lake, "first": first, "day": day, "s3_endpoint": moto_url,
                                                   "output": output}, s3_env)  # fmt: skip
            r["label"] = "awswrangler + pandas"
            print(f"  {r['label']:<58} {r['wall']:7.2f}s  cpu {r['cpu_s']:6.1f}s  peak {r['peak_rss_mb']:6.0f} MB  "
                  f"(read day {r['read_day']:.1f}s, history {r['read_history']:.1f}s, compute {r['compute']:.1f}s, "
                  f"write {r['write']:.1f}s)", flush=True)  # fmt: skip
            runs["pandas"].append(r)
            runs["ours"].append(build(f"ours-{i}", [["state_first_purchase", day, day, None],
                                                    ["seller_daily_sales", day, day, None]],
                                      "ours, incremental (state, then the mart)",
                                      {"seller_daily_sales": dumps["ours"]}))  # fmt: skip
        for name, found in runs.items():  # the run of median wall stands for the approach; the peak is the highest
            results[name] = {**sorted(found, key=lambda r: r["wall"])[len(found) // 2],
                             "peak_rss_mb": max(r["peak_rss_mb"] for r in found),
                             "walls": [round(r["wall"], 3) for r in found]}  # fmt: skip
            rows.append(results[name])
        print(f"  median of {args.repeat}: awswrangler + pandas {results['pandas']['wall']:.2f}s "
              f"{results['pandas']['walls']}, ours {results['ours']['wall']:.2f}s {results['ours']['walls']}")
        rows.append(build("ours-packs", [], "ours: the state's packs asset (after the state, beside the mart)",
                          packs=[["state_first_purchase", day, day]]))  # fmt: skip
        print(f"\nthe open month {month} (buyer_cohorts), on moto S3:")
        rows.append(build("cohorts-history", [["buyer_cohorts", month, month, str(FULL_HISTORY / "buyer_cohorts.sql")]],
                          "buyer_cohorts, full-history query", {"buyer_cohorts": dumps["cohorts-history"]}))
        rows.append(build("cohorts-ours", [["buyer_cohorts", month, month, None]], "buyer_cohorts, ours (state)",
                          {"buyer_cohorts": dumps["cohorts-ours"]}))  # fmt: skip
        pandas_out = work / "pandas-out"
        _download(moto_url, bucket, "pandas/", pandas_out)
        moto.stop()  # the disk runs get the CPU without it
        if not args.no_disk:  # the same builds on a disk lake (the same staging files, read in place)
            disk = work / "lake-disk"
            disk.mkdir()
            (disk / "stg").symlink_to(folder / "lake" / "stg")
            base = {"lake": f"file://{disk}", **engine_cfg}
            print(f"\nthe same on local disk (state {first}..{before} built first, as above):")
            build("state-before-disk", [["state_first_purchase", first, before, None]], "state, the nights before",
                  packs=[["state_first_purchase", first, before]])  # fmt: skip
            rows.append(build("history-disk", [["seller_daily_sales", day, day,
                                                str(FULL_HISTORY / "seller_daily_sales.sql")]],
                              "disk: full-history query (previous SQL)"))  # fmt: skip
            rows.append(build("ours-disk", [["state_first_purchase", day, day, None],
                                            ["seller_daily_sales", day, day, None]],
                              "disk: ours, incremental"))  # fmt: skip
            rows.append(build("ours-packs-disk", [], "disk: ours, the state's packs asset",
                              packs=[["state_first_purchase", day, day]]))  # fmt: skip
        checks = step("compare", "compare", {"pairs": {
            "ours = full-history query": [dumps["ours"], dumps["history"]],
            "ours = awswrangler + pandas": [dumps["ours"], str(pandas_out / "seller_daily_sales")],
            "cohorts: ours = full-history query": [dumps["cohorts-ours"], dumps["cohorts-history"]],
        }})  # fmt: skip
    finally:
        for proc in reversed(procs):
            proc.stop()
        for path in (work / "home", work / "lake-disk", work / "pandas-out"):
            shutil.rmtree(path, ignore_errors=True)
    load_end = os.getloadavg()
    ours, hist, pandas = results["ours"], results["history"], results["pandas"]
    print(f"\n## the night of {day}: seller_daily_sales ({meta['lines']:,} sales lines, moto S3 unless disk)\n")
    print(mb.table([[r["label"], f"{r['wall']:.2f}", f"{r['cpu_s']:.1f}", f"{r['peak_rss_mb']:.0f}",
                     f"{r['baseline_rss_mb']:.0f}"] for r in rows],
                   ["approach", "wall s", "CPU s", "peak RSS MB", "base MB"]))  # fmt: skip
    speed, mem = pandas["wall"] / ours["wall"], ours["peak_rss_mb"] / pandas["peak_rss_mb"]
    ratios = [
        ["awswrangler + pandas wall / ours", f"{speed:.1f}", ">= 20", "met" if speed >= 20 else "MISSED"],
        ["ours peak / awswrangler + pandas peak", f"{mem:.2f}", "<= 0.33", "met" if mem <= 1 / 3 else "MISSED"],
        ["full-history query wall / ours", f"{hist['wall'] / ours['wall']:.1f}", "", ""],
        ["ours peak / full-history query peak", f"{ours['peak_rss_mb'] / hist['peak_rss_mb']:.2f}", "", ""],
        *([["disk: full-history query wall / ours",
            f"{results['history-disk']['wall'] / results['ours-disk']['wall']:.1f}", "", ""]]
          if "ours-disk" in results else []),
        ["cohorts: full-history wall / ours",
         f"{results['cohorts-history']['wall'] / results['cohorts-ours']['wall']:.1f}", "", ""],
    ]  # fmt: skip
    print()
    print(mb.table(ratios, ["ratio", "value", "goal", ""]))
    verified = [f"{k}: {'equal' if v['equal'] else 'DIFFERENT'} ({v['rows'][0]:,} rows)"
                for k, v in checks.items() if isinstance(v, dict)]  # fmt: skip
    print("\nchecks: " + "; ".join(verified))
    print(f"\ntotal {time.perf_counter() - started:.0f}s; load average at the start {load_start[0]:.2f}, at the end "
          f"{load_end[0]:.2f} (2 cores: above ~0.5 other work shared the machine); logs in {work}")
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "results": results, "ratios": ratios, "checks": verified,
                                         "load": [load_start, load_end]}, indent=1))  # fmt: skip
    return 0 if all("DIFFERENT" not in c for c in verified) else 1


def _download(moto_url: str, bucket: str, prefix: str, to: Path) -> None:
    import boto3

    s3 = boto3.resource("s3", endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="bench",
                        aws_secret_access_key="bench")  # fmt: skip
    for obj in s3.Bucket(bucket).objects.filter(Prefix=prefix):
        path = to / obj.key[len(prefix):]
        path.parent.mkdir(parents=True, exist_ok=True)
        s3.Bucket(bucket).download_file(obj.key, str(path))


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.exit(main())
