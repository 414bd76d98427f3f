"""Freshness benchmark: how long an order takes from its `201` to its seller's figures.

Starts a private stack (`bench/shop_stack.PrivateStack`: DynamoDB Local, moto, the catalog, order
and web services, the catalog `make up` seeds) on free loopback ports under a temporary home, plus
the change-capture consumer exactly as `make up` starts it (`python -m pipelines.stream.consumer`).
Then, for each order rate, shoppers place single-line orders of products on sale at that steady
rate for `--duration` seconds (POST /orders, a fresh Idempotency-Key each), and a poller reads
today's `seller_daily_sales` through the embedded engine every `--poll` seconds: an order counts as
visible when its seller's `orders` for today reach the number of that seller's orders placed up
to and including it. The lag of an order is the time from its 201 to the poll that first saw it;
an order not seen `--drain` seconds after the last one was placed counts as not seen.

Prints, per rate: orders placed, p50 / p95 / max lag, orders not seen, and the first rate whose p95
passes 60 s. Bounded in time: about `len(rates) * (duration + drain)` seconds at most.

    .venv/bin/python bench/freshness.py --rates 0.5,1,2,4 --duration 60 --drain 120
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import requests  # noqa: E402
from shop_stack import PrivateStack  # noqa: E402

GOAL_S = 60.0


class Order:
    def __init__(self, seller_id: str, placed: float) -> None:
        self.seller_id = seller_id
        self.placed = placed  # time.monotonic() at its 201
        self.seen: float | None = None


def visible_orders(engine: Any, day: str) -> dict[str, int]:
    sql = (
        "SELECT seller_id, CAST(sum(orders) AS BIGINT) AS n FROM marts_seller_daily_sales "
        f"WHERE dt = '{day}' GROUP BY seller_id"
    )
    try:
        rows = engine.query(sql).to_pylist()
    except Exception:  # no partition of today yet
        return {}
    return {r["seller_id"]: r["n"] for r in rows}


def run_rate(stack: PrivateStack, engine: Any, products: list[dict[str, Any]], rate: float,
             args: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    day = datetime.now(UTC).date().isoformat()
    baseline = visible_orders(engine, day)
    orders: dict[str, list[Order]] = {}
    placed: list[Order] = []
    lock = threading.Lock()
    done = threading.Event()
    result: dict[str, Any] = {"rate_per_s": rate}
    url = f"http://127.0.0.1:{stack.settings.orders_port}/orders"

    def shop(worker: int, workers: int, start: float) -> None:
        session = requests.Session()
        rng = random.Random(f"{rate}-{worker}")
        i = worker
        while (due := start + i / rate) - start < args.duration:
            time.sleep(max(0.0, due - time.monotonic()))
            product = rng.choice(products)
            body = {
                "customer": {"email": f"fresh{i % 500}@mail.example", "name": f"Fresh Shopper {i % 500}",
                             "address": "1 Stream Road", "phone": "+1 555 0199", "country": "US"},
                "lines": [{"product_id": product["product_id"], "qty": 1}],
                "currency": product["currency"],
            }  # fmt: skip
            resp = session.post(url, json=body, headers={"Idempotency-Key": f"fresh-{uuid.uuid4()}"}, timeout=30)
            if resp.status_code == 201:
                order = Order(product["seller_id"], time.monotonic())
                with lock:
                    orders.setdefault(order.seller_id, []).append(order)
                    placed.append(order)
            i += workers

    def shoppers() -> None:
        # enough shoppers for the rate (an order takes tens of ms), each on its share of the timeline
        workers = max(1, int(rate // 4) + 1)
        start = time.monotonic()
        threads = [threading.Thread(target=shop, args=(w, workers, start), daemon=True) for w in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with lock:
            result["placed_s"] = round(time.monotonic() - start, 1)
        done.set()

    shopper = threading.Thread(target=shoppers, daemon=True)
    shopper.start()
    deadline: float | None = None
    while True:
        time.sleep(args.poll)
        now_visible = visible_orders(engine, day)
        now = time.monotonic()
        with lock:
            for seller_orders in orders.values():
                seller_orders.sort(key=lambda o: o.placed)  # the shoppers' 201s, in time order
            for seller, seller_orders in orders.items():
                seen = now_visible.get(seller, 0) - baseline.get(seller, 0)
                for order in seller_orders[: max(0, seen)]:
                    if order.seen is None:
                        order.seen = now
            pending = sum(1 for o in placed if o.seen is None)
        if done.is_set():
            deadline = deadline or now + args.drain
            if not pending or now > deadline:
                break
    lags = sorted(o.seen - o.placed for o in placed if o.seen is not None)
    result |= {"orders": len(placed), "not_seen": sum(1 for o in placed if o.seen is None)}
    result["achieved_per_s"] = round(len(placed) / max(result.get("placed_s", args.duration), 1e-9), 1)
    if lags:
        cuts = statistics.quantiles(lags, n=100, method="inclusive") if len(lags) > 1 else lags * 99
        result |= {"p50_s": round(cuts[49], 1), "p95_s": round(cuts[94], 1), "max_s": round(lags[-1], 1)}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="0.5,1,2,4", help="orders per second, comma-separated")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of orders per rate")
    parser.add_argument("--drain", type=float, default=120.0, help="seconds to wait for the last orders")
    parser.add_argument("--poll", type=float, default=0.5)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--home", type=Path, help="the stack's home (kept, with its logs); a temporary one by default")
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]

    from gitgoods.local import stack as local_stack
    from pipelines.lake.fs import LakeFS
    from pipelines.sql.duckdb_engine import DuckDBEngine

    results = []
    with tempfile.TemporaryDirectory(prefix="freshness-") as tmp:
        home = args.home or tmp
        start_day = (datetime.now(UTC).date() - timedelta(days=7)).isoformat()
        with PrivateStack(Path(home), {"GITGOODS_PIPELINE_START": start_day}) as stack:
            local_stack.start_stream(stack.settings)
            products = [p for p in stack.catalog.products if p["active"] and p["stock"] >= 1000]
            lake = LakeFS.from_uri(stack.settings.lake, stack.settings)
            with DuckDBEngine(stack.settings, lake=lake, dynamodb=False) as engine:
                for rate in rates:
                    result = run_rate(stack, engine, products, rate, args)
                    results.append(result)
                    print(json.dumps(result), flush=True)
    print(f"\n{'orders/s':>9} {'achieved':>9} {'orders':>7} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'not seen':>9}")
    for r in results:
        print(f"{r['rate_per_s']:>9} {r['achieved_per_s']:>9} {r['orders']:>7} {r.get('p50_s', '-'):>7} "
              f"{r.get('p95_s', '-'):>7} {r.get('max_s', '-'):>7} {r['not_seen']:>9}")  # fmt: skip
    over = next((r["rate_per_s"] for r in results if r["not_seen"] or r.get("p95_s", 1e9) > GOAL_S), None)
    print(f"p95 passes {GOAL_S:.0f} s at: " + (f"{over} orders/s" if over else "none of the rates measured"))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
