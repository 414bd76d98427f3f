"""The shop under load: N concurrent shoppers on the pages (locust), p50/p95/p99 per page and for
the order service's `POST /orders`, throughput, errors and where the CPU went; and a fault run.

    .venv/bin/python bench/shop_load.py --users 1000                # against a private stack
    .venv/bin/python bench/shop_load.py --users 1000,1400,1800      # find where p99 crosses 500 ms
    .venv/bin/python bench/shop_load.py --users 1000 --fault        # retries + a SIGKILLed worker, then the audit

By default the benchmark starts its own stack (DynamoDB Local, moto, catalog, orders, web and the
order events relay, as `make up` starts them, on free loopback ports under a temporary home) and
seeds the catalog `make up` seeds, so it neither needs nor disturbs a running `make up`;
`--web-url` targets a running stack instead. Each step ramps the users up (`--spawn-rate` per
second), then measures for `--measure` seconds (locust's statistics are reset when the ramp
ends), and stops by itself. Only loopback addresses are accepted.

Every run prints the figures of the same load against the competing approach in the same run
(`--compare`): by default the shop as it was first built, one waitress process per service and
no catalog cache in the web app (`FIRST_BUILD` below).

The fault run (`--fault`): 20 % of checkouts post their form twice (a retried checkout, same
idempotency key), and one worker process of the order service is killed with SIGKILL in the
middle of the measured window (its supervisor starts a new one). Afterwards the audit reads
DynamoDB and the mailbox: every order whose confirmation a shopper saw exists exactly once,
with its sales lines and one `order_placed` event; no idempotency key placed two orders; no
product's stock is negative; every placed order's confirmation notice was written exactly once.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import storefront_load  # noqa: E402
from shop_stack import PrivateStack, audit  # noqa: E402
from storefront_load import group_cpu, loopback_only, machine_busy  # noqa: E402

ACCESS = re.compile(r'\[(?P<ts>[^\]]+)\] "(?P<method>\S+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) .* (?P<secs>[\d.]+)s$')
# The shop as it was first built: one process per service, every page asking the catalog.
FIRST_BUILD = {"GITGOODS_WEB_CACHE_TTL_S": "0", "GITGOODS_WEB_WORKERS": "1"}
ORDER_PAGES = ("home", "search", "product", "cart add", "cart", "checkout form", "place order",
               "place order (retry)", "confirmation")


def start_locust(web_url: str, users: int, spawn_rate: float, measure: float, env: dict[str, str],
                 out_dir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """Start locust headless (it stops by itself after the ramp and `measure` seconds)."""
    ramp = users / spawn_rate
    prefix = out_dir / f"locust-{users}"
    cmd = [
        sys.executable, "-m", "locust", "-f", str(REPO / "bench" / "shop_locustfile.py"), "--headless",
        "-u", str(users), "-r", str(spawn_rate), "--run-time", f"{int(ramp + measure)}s", "--host", web_url,
        "--csv", str(prefix), "--reset-stats", "--only-summary", "--stop-timeout", "10",
        "--loglevel", "WARNING",
    ]
    with open(out_dir / f"locust-{users}.log", "wb") as log:
        proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    return proc, Path(f"{prefix}_stats.csv")


def sleep_until(t: float, proc: subprocess.Popen[bytes]) -> None:
    while time.time() < t and proc.poll() is None:
        time.sleep(min(1.0, max(0.0, t - time.time())))


def read_stats(path: Path) -> dict[str, dict[str, Any]]:
    out = {}
    with open(path) as fh:
        for row in csv.DictReader(fh):
            out[row["Name"]] = {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "rps": float(row["Requests/s"]),
                "p50": float(row["50%"] or "nan"),
                "p95": float(row["95%"] or "nan"),
                "p99": float(row["99%"] or "nan"),
                "max": float(row["Max Response Time"] or "nan"),
            }
    return out


def service_latencies(log: Path, method: str, path: str, since: float, until: float) -> dict[str, Any]:
    """Percentiles of one route from a service's access log (waitress, gitgoods.local.serve)."""
    times, statuses = [], Counter()
    if not log.exists():
        return {}
    for line in log.read_text(errors="replace").splitlines():
        m = ACCESS.search(line)
        if not m or m["method"] != method or m["path"].split("?")[0] != path:
            continue
        ts = datetime.strptime(m["ts"], "%d/%b/%Y:%H:%M:%S %z").timestamp()
        if since <= ts <= until:
            times.append(float(m["secs"]) * 1000)
            statuses[int(m["status"])] += 1
    if not times:
        return {}
    times.sort()

    def pct(p: float) -> float:
        return times[max(0, int(len(times) * p / 100 + 0.999999) - 1)]

    return {"requests": len(times), "p50": pct(50), "p95": pct(95), "p99": pct(99), "statuses": dict(statuses)}


def measure(stack: PrivateStack, users: int, args: argparse.Namespace, env: dict[str, str], label: str,
            fault: bool = False) -> dict[str, Any]:
    out_dir = stack.home / "bench"
    out_dir.mkdir(exist_ok=True)
    placed = out_dir / f"placed-{label}-{users}.jsonl"
    placed.unlink(missing_ok=True)
    env = env | {"SHOP_PLACED": str(placed), "SHOP_RETRY_SHARE": "0.2" if fault else "0"}
    storefront_load.GROUPS.clear()
    storefront_load.GROUPS.update(stack.groups())
    ramp = users / args.spawn_rate
    killer = None
    if fault:
        killer = stack.kill_worker_later("orders", delay=ramp + args.measure / 2)
    proc, csv_path = start_locust(stack.web_url, users, args.spawn_rate, args.measure, env, out_dir)
    storefront_load.GROUPS["load generator (locust)"] = proc.pid
    # CPU is sampled over the measured window only (the ramp excluded, as locust's statistics).
    since = time.time() + ramp
    sleep_until(since, proc)
    cpu0, busy0 = group_cpu(), machine_busy()
    sleep_until(since + args.measure - 2, proc)
    cpu1, busy1 = group_cpu(), machine_busy()
    until = time.time()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise SystemExit("locust did not stop by itself") from None
    wall = until - since
    cpu = {k: (cpu1[k] - cpu0.get(k, 0.0)) / wall for k in cpu1}
    cpu["other processes"] = max(0.0, (busy1 - busy0) / wall - sum(cpu.values()))
    result = {
        "label": label,
        "users": users,
        "pages": read_stats(csv_path),
        "orders_service": service_latencies(stack.log("orders"), "POST", "/orders", since, until + 2),
        "cpu": cpu,
        "placed": placed,
        "killed": killer.result() if killer else None,
    }
    return result


def print_result(r: dict[str, Any]) -> None:
    print(f"\n== {r['label']}: {r['users']} users ==")
    print(f"{'page':<22}{'requests':>9}{'fail':>6}{'req/s':>8}{'p50':>7}{'p95':>7}{'p99':>7}{'max':>8}  (ms)")
    for name in (*ORDER_PAGES, "Aggregated"):
        s = r["pages"].get(name)
        if s:
            print(f"{name:<22}{s['requests']:>9}{s['failures']:>6}{s['rps']:>8.1f}{s['p50']:>7.0f}{s['p95']:>7.0f}"
                  f"{s['p99']:>7.0f}{s['max']:>8.0f}")
    o = r["orders_service"]
    if o:
        print(f"{'POST /orders (service)':<22}{o['requests']:>9}{'':>6}{'':>8}{o['p50']:>7.0f}{o['p95']:>7.0f}"
              f"{o['p99']:>7.0f}{'':>8}  statuses {o['statuses']}")
    print("CPU (cores busy on average; 2.0 = the whole machine): "
          + ", ".join(f"{k} {v:.2f}" for k, v in sorted(r["cpu"].items(), key=lambda kv: -kv[1])))
    rps = r["pages"].get("Aggregated", {}).get("rps", 0.0)
    if rps:
        print("CPU per page request (ms): " + ", ".join(
            f"{k} {v * 1000 / rps:.1f}" for k, v in sorted(r["cpu"].items(), key=lambda kv: -kv[1])))
    if r["killed"]:
        print(f"killed: {r['killed']}")


def products_and_words(catalog_url: str) -> tuple[list[str], list[str]]:
    products, _sellers = storefront_load.list_catalog(catalog_url)
    ids = [p["product_id"] for p in products if p.get("active") and p.get("stock", 0) > 0]
    random.Random(7).shuffle(ids)
    words = sorted({w.lower() for p in products for w in p["title"].split() if len(w) > 3 and w.isalpha()})
    return ids, words[:200]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", default="1000", help="comma list: one measured step each")
    p.add_argument("--spawn-rate", type=float, default=50.0, help="users started per second")
    p.add_argument("--measure", type=float, default=120.0, help="seconds measured after the ramp")
    p.add_argument("--fault", action="store_true", help="retried checkouts and a SIGKILLed worker, then the audit")
    p.add_argument("--compare", choices=["first-build", "none"], default="first-build")
    p.add_argument("--json", type=Path)
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="a GITGOODS_ setting for the measured stack (repeatable), e.g. WEB_WORKERS=4")
    args = p.parse_args(argv)
    steps = [int(u) for u in args.users.split(",")]

    variants = [("shop", {f"GITGOODS_{kv.split('=', 1)[0].upper()}": kv.split("=", 1)[1] for kv in args.set})]
    if args.compare == "first-build":
        variants.append(("first build", FIRST_BUILD))
    results = []
    for label, overrides in variants:
        with PrivateStack(Path(tempfile.mkdtemp(prefix="shop-load-")), overrides) as stack:
            loopback_only(stack.web_url)
            ids, words = products_and_words(stack.catalog_url)
            env = {"SHOP_PRODUCTS": json.dumps(ids), "SHOP_WORDS": json.dumps(words)}
            print(f"{label}: stack at {stack.web_url} ({len(ids)} products on sale); "
                  f"{os.cpu_count()} CPUs shared by the stack and the load generator")
            for users in steps:
                r = measure(stack, users, args, env, label, fault=args.fault and label == "shop")
                print_result(r)
                if args.fault and label == "shop":
                    r["audit"] = audit(stack, r["placed"])
                    print("audit: " + json.dumps(r["audit"], indent=1))
                r["placed"] = str(r["placed"])
                results.append(r)
            if args.fault:
                break
    if len(variants) > 1 and not args.fault:
        print("\n== ratios (shop / first build), p99 and throughput ==")
        by = {(r["label"], r["users"]): r for r in results}
        for users in steps:
            a, b = by.get(("shop", users)), by.get(("first build", users))
            if a and b:
                sa, sb = a["pages"]["Aggregated"], b["pages"]["Aggregated"]
                print(f"{users} users: p99 {sa['p99']:.0f} vs {sb['p99']:.0f} ms "
                      f"({sb['p99'] / max(sa['p99'], 1):.1f}x lower); throughput {sa['rps']:.0f} vs {sb['rps']:.0f} "
                      f"req/s ({sa['rps'] / max(sb['rps'], 0.1):.2f}x)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
