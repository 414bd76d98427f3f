"""Seller portal benchmark: how fast a seller's report answers, as shipped and against the
competing approach, over HTTP on loopback.

Setup (all local, in a temporary folder): the moto server with the local QuickSight (the
project's launcher), generated marts for N sellers over 90 days (`bench/portal_world.py`) in a lake
on disk registered in Glue, a Cognito pool with every seller, the RLS rules, and everything
published through the project's publish code (SPICE ingested). Then, for each variant, the portal
runs under gunicorn as `make up` runs it (2 workers x 16 threads) and is measured:

- `spice`: the portal as shipped (local SPICE snapshots, render cache);
- `live`: no snapshots, no render cache: each request reads the seller's rows from the lake and
  renders (bench/portal_app.py).

Figures: the first request for the largest seller's 90-day report on a fresh portal (cold), 30
more (warm: median, p95), and 50 concurrent sellers (the 50 largest) each asking for its report
10 times (p50, p95, p99 over all 500; p99 over the repeated ones; each seller's first request).
Every answer is checked to be 200 with the seller's name in it.

    .venv/bin/python bench/portal_bench.py [--sellers 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import Proc, child_env, free_port, wait_http  # noqa: E402
from portal_world import Sizes, World, seller_id, write  # noqa: E402

from gitgoods import aws  # noqa: E402
from gitgoods.identity import Identities  # noqa: E402
from gitgoods.local.secrets import ensure_local_secrets  # noqa: E402
from gitgoods.settings import Settings  # noqa: E402
from pipelines.lake.catalog import GlueCatalog  # noqa: E402
from pipelines.lake.fs import LakeFS  # noqa: E402
from pipelines.publish import rls  # noqa: E402
from pipelines.publish.api import QuickSight  # noqa: E402
from pipelines.publish.plan import apply, plan_one  # noqa: E402
from pipelines.publish.refresh import refresh_dataset  # noqa: E402
from pipelines.publish.wanted import publication  # noqa: E402

PYTHON = sys.executable
CONCURRENT = 50
# Requests per seller in the concurrent phase: the live competitor renders every request from
# scratch (seconds each), so it gets fewer to keep the run bounded; percentiles are per variant.
PER_SELLER = {"spice": 10, "live": 3}
WARM = {"spice": 30, "live": 5}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def settings_env(home: Path, moto_port: int) -> dict[str, str]:
    return {
        "GITGOODS_HOME": str(home),
        "GITGOODS_MOTO_PORT": str(moto_port),
        "GITGOODS_DYNAMODB_PORT": "9",  # not used: names come from a file
        "GITGOODS_LAKE_URI": f"file://{home / 'lake'}",
        "GITGOODS_GLUE_DATABASE": "bench_portal",
        "GITGOODS_QUICKSIGHT_PREFIX": "bench-",
        "GITGOODS_COGNITO_POOL_NAME": "bench-sellers",
    }


def setup(home: Path, moto_port: int, sizes: Sizes) -> tuple[Settings, World, dict[str, int]]:
    s = Settings(env="local", home=home, moto_port=moto_port, dynamodb_port=9, lake_uri=f"file://{home / 'lake'}",
                 glue_database="bench_portal", quicksight_prefix="bench-", cognito_pool_name="bench-sellers")
    ensure_local_secrets(s)
    world = World(sizes, end=dt.date.today() - dt.timedelta(days=1))
    lake = LakeFS.from_uri(s.lake, s)
    catalog = GlueCatalog(settings=s)
    catalog.ensure_database()
    started = time.monotonic()
    counts = write(world, lake, catalog)
    print(f"marts written in {time.monotonic() - started:.0f} s: {counts}", flush=True)
    identities = Identities(s)
    identities.ensure_pool()
    sellers = [seller_id(k) for k in range(sizes.sellers)]
    identities.ensure_sellers(sellers)
    rules = rls.rules(((sid, sid, True) for sid in sellers), s.analysts_group)
    rls.write_rules(lake, rules)
    catalog.ensure_table(rls.GLUE_TABLE, rls.SCHEMA, rls.location(lake), partition_keys=())
    qs = QuickSight(aws.client("quicksight", s), s.quicksight_account_id)
    pub = publication(s)
    started = time.monotonic()
    apply(qs, plan_one(qs, pub.data_source))
    for wanted in [pub.rls, *pub.datasets.values()]:
        refresh_dataset(qs, wanted, region=s.region, version="bench", blockers=[], timeout_s=600)
    apply(qs, plan_one(qs, pub.dashboard))
    print(f"published and ingested in {time.monotonic() - started:.0f} s", flush=True)
    return s, world, counts


def largest_rows(lake: LakeFS) -> dict[str, int]:
    import pyarrow.dataset as ds

    from pipelines.lake.partitions.reading import dataset

    marts = ("seller_daily_sales", "seller_daily_segments", "product_performance", "funnel", "buyer_cohorts")
    return {m: dataset(lake, m, zone="marts").count_rows(filter=ds.field("seller_id") == seller_id(0))
            for m in marts}


def tokens(s: Settings, users: list[str]) -> dict[str, str]:
    identities = Identities(s)
    cognito = aws.client("cognito-idp", s)
    out = {}
    for user in users:
        answer = cognito.initiate_auth(ClientId=identities.client_id(), AuthFlow="USER_PASSWORD_AUTH",
                                       AuthParameters={"USERNAME": user, "PASSWORD": identities.local_password(user)})
        out[user] = answer["AuthenticationResult"]["IdToken"]
    return out


def workers_peak_mb(master_pid: int) -> float:
    """The gunicorn workers' peak RSS (VmHWM), added up."""
    total = 0.0
    try:
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    except OSError:
        return 0.0
    for pid in children:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def get(session: requests.Session, url: str, token: str, expect: str) -> float:
    started = time.perf_counter()
    response = session.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=120)
    elapsed = time.perf_counter() - started
    if response.status_code != 200 or expect not in response.text:
        raise RuntimeError(f"{url}: {response.status_code} {response.text[:300]}")
    return elapsed * 1000


def measure(variant: str, home: Path, env: dict[str, str], world: World, ids: dict[str, str]) -> dict:
    port = free_port()
    cmd = [PYTHON, "-m", "gunicorn", "--worker-class", "gthread", "--workers", "2", "--threads", "16",
           "--bind", f"127.0.0.1:{port}", "--pythonpath", str(Path(__file__).parent), "portal_app:app()"]
    proc = Proc(cmd, home / f"portal-{variant}.log", env=child_env({**env, "BENCH_VARIANT": variant}))
    try:
        wait_http(f"http://127.0.0.1:{port}/health", 60)
        first, last = world.days[0], world.days[-1]
        url = f"http://127.0.0.1:{port}/sellers/{{}}/report?from={first}&to={last}"
        largest = seller_id(0)
        name = world.names[largest]
        with requests.Session() as session:
            cold = [get(session, url.format(largest), ids[largest], name)]
            warm = [get(session, url.format(largest), ids[largest], name) for _ in range(WARM[variant])]

        def one_seller(k: int) -> list[float]:
            sid = seller_id(k)
            with requests.Session() as session:
                return [get(session, url.format(sid), ids[sid], world.names[sid]) for _ in range(PER_SELLER[variant])]

        started = time.monotonic()
        with ThreadPoolExecutor(CONCURRENT) as pool:
            per_seller = list(pool.map(one_seller, range(CONCURRENT)))
        wall = time.monotonic() - started
        everything = [t for times in per_seller for t in times]
        warm_only = [t for times in per_seller for t in times[1:]]
        firsts = [times[0] for times in per_seller]
        return {
            "variant": variant,
            "cold_ms": round(cold[0], 1),
            "warm_median_ms": round(statistics.median(warm), 1),
            "warm_p95_ms": round(pct(warm, 95), 1),
            "concurrent_p50_ms": round(pct(everything, 50), 1),
            "concurrent_p95_ms": round(pct(everything, 95), 1),
            "concurrent_p99_ms": round(pct(everything, 99), 1),
            "concurrent_warm_p99_ms": round(pct(warm_only, 99), 1),
            "concurrent_first_p50_ms": round(pct(firsts, 50), 1),
            "concurrent_first_max_ms": round(max(firsts), 1),
            "concurrent_requests": len(everything),
            "concurrent_requests_per_s": round(len(everything) / wall, 1),
            "workers_peak_rss_mb": round(workers_peak_mb(proc.popen.pid), 1),
        }
    finally:
        proc.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sellers", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp:
        home = Path(tmp)
        moto_port = free_port()
        moto = Proc([PYTHON, "-m", "gitgoods.local.moto_server", "--port", str(moto_port), "--state",
                     str(home / "state" / "moto")], home / "moto.log", env=child_env({}))
        try:
            wait_http(f"http://127.0.0.1:{moto_port}/moto-api/data.json", 60)
            env = settings_env(home, moto_port)
            s, world, counts = setup(home, moto_port, Sizes(sellers=args.sellers))
            largest = largest_rows(LakeFS.from_uri(s.lake, s))
            print(f"largest seller's rows over 90 days: {largest}", flush=True)
            names = home / "names.json"
            names.write_text(json.dumps(world.names))
            env["BENCH_NAMES"] = str(names)
            ids = tokens(s, [seller_id(k) for k in range(CONCURRENT)])
            results = []
            for variant in ("spice", "live"):
                results.append(measure(variant, home, env, world, ids))
                print(f"{variant}: {results[-1]}", flush=True)
        finally:
            moto.stop()
    spice, live = results
    print(f"\n{args.sellers} sellers, 90 days; marts rows: {counts}")
    print(f"{'':32}{'spice (shipped)':>18}{'live lake':>14}{'ratio':>8}")
    for key in ("cold_ms", "warm_median_ms", "warm_p95_ms", "concurrent_p50_ms", "concurrent_p95_ms",
                "concurrent_p99_ms", "concurrent_warm_p99_ms", "concurrent_first_p50_ms", "concurrent_first_max_ms",
                "concurrent_requests_per_s", "workers_peak_rss_mb"):
        ratio = live[key] / spice[key] if spice[key] else float("nan")
        print(f"{key:32}{spice[key]:>18}{live[key]:>14}{ratio:>8.1f}")
    if args.json:
        args.json.write_text(json.dumps({"sellers": args.sellers, "rows": counts, "largest": largest,
                                         "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
