"""Storefront load benchmark: latency (p50/p99) and throughput at N concurrent clients.

Runs against the services `make up` started (catalog http://127.0.0.1:5001, orders
http://127.0.0.1:5002; `--catalog-url` / `--orders-url` to change them), loopback only, and
always runs a competing approach in the same run, so every figure comes with a ratio:

- `GET /products/<id>` and `GET /products` (a fixed mix of first pages, filters, searches, seller
  listings and later pages): the catalog service with its DAX-like cache, against a second
  catalog started here with the *same* server command line as `make up` but both cache TTLs at
  0 (`GITGOODS_CACHE_ITEM_TTL_S=0 GITGOODS_CACHE_QUERY_TTL_S=0`), i.e. every request reads
  DynamoDB. Both get the same requests in the same order.
- `POST /orders`: real products on sale (listed through `GET /products`), quantity 1, a unique
  `Idempotency-Key` per request; then a per-order cost breakdown measured in-process on a few
  orders through the same `OrderService` code (every DynamoDB and KMS call timed, the
  transaction's items sized with AWS's capacity rules and with what DynamoDB Local reports).

Each scenario sends at most `--requests` requests in at most `--duration` seconds after a warm-up
of `--warmup` requests. The competing catalog is stopped at the end. It reads the stack's
DynamoDB through the usual `GITGOODS_*` settings, so run the benchmark with the same environment
as the stack (nothing to set for `make up`).

    .venv/bin/python bench/storefront_load.py --clients 50 --requests 2000 --duration 60
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import ipaddress
import json
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchlib import free_port  # noqa: E402

from gitgoods.settings import Settings  # noqa: E402

# -- HTTP load generator ------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class Result:
    scenario: str
    target: str
    clients: int
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0
    wall_s: float = 0.0
    client_cpu_s: float = 0.0
    stopped_by: str = "count"
    expected: tuple[int, ...] = (200,)
    cpu: dict[str, float] = field(default_factory=dict)  # component -> CPUs busy on average
    rounds: int = 1

    def merge(self, other: Result) -> None:
        """Pool another run of the same scenario and target (rounds)."""
        total = self.wall_s + other.wall_s
        names = set(self.cpu) | set(other.cpu)
        self.cpu = {k: (self.cpu.get(k, 0) * self.wall_s + other.cpu.get(k, 0) * other.wall_s) / total for k in names}
        self.latencies_ms += other.latencies_ms
        self.statuses.update(other.statuses)
        self.transport_errors += other.transport_errors
        self.wall_s, self.client_cpu_s = total, self.client_cpu_s + other.client_cpu_s
        self.rounds += 1
        if other.stopped_by == "time":
            self.stopped_by = "time"

    @property
    def sent(self) -> int:
        return len(self.latencies_ms)

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.statuses.items() if s in self.expected)

    @property
    def throughput(self) -> float:
        return self.ok / self.wall_s if self.wall_s else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return math.nan
        data = sorted(self.latencies_ms)
        # nearest-rank percentile
        return data[max(0, math.ceil(p / 100 * len(data)) - 1)]


class Client(threading.Thread):
    """One client: a keep-alive connection, one request at a time."""

    def __init__(self, base: urllib.parse.SplitResult, work: WorkQueue, out: list[tuple[float, int]]):
        super().__init__(daemon=True)
        self.host, self.port = base.hostname or "127.0.0.1", base.port or 80
        self.work, self.out = work, out
        self.conn: http.client.HTTPConnection | None = None

    def _send(self, req: Request) -> int:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                headers = dict(req.headers)
                if req.body is not None:
                    headers["Content-Type"] = "application/json"
                self.conn.request(req.method, req.path, body=req.body, headers=headers)
                resp = self.conn.getresponse()
                resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return resp.status
            except (ConnectionError, http.client.HTTPException, OSError):
                # the server closed an idle keep-alive connection: reconnect once
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 2 or req.method != "GET":
                    return -1
        return -1

    def run(self) -> None:
        while (req := self.work.next()) is not None:
            started = time.perf_counter()
            status = self._send(req)
            self.out.append(((time.perf_counter() - started) * 1000, status))
        if self.conn is not None:
            self.conn.close()


class WorkQueue:
    """Hands out requests until `count` are taken or the deadline passes."""

    def __init__(self, requests: list[Request], count: int, deadline: float):
        self.requests, self.count, self.deadline = requests, count, deadline
        self.taken = 0
        self.lock = threading.Lock()
        self.expired = False

    def next(self) -> Request | None:
        with self.lock:
            if self.taken >= self.count:
                return None
            if time.perf_counter() >= self.deadline:
                self.expired = True
                return None
            req = self.requests[self.taken % len(self.requests)]
            self.taken += 1
            return req


GROUPS: dict[str, int] = {}  # component -> process group id (each service runs in its own)


def group_cpu() -> dict[str, float]:
    """CPU seconds used so far by each component's process group (Linux /proc; else empty)."""
    out: dict[str, float] = defaultdict(float)
    if not GROUPS or not os.path.isdir("/proc"):
        return out
    by_pgid = {pgid: name for name, pgid in GROUPS.items()}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        name = by_pgid.get(int(fields[2]))
        if name:
            out[name] += (int(fields[11]) + int(fields[12])) / tick
    return out


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (all processes; Linux /proc/stat)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return math.nan
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def find_groups(settings: Settings) -> None:
    for name in ("dynamodb", "moto", "catalog", "orders"):
        path = settings.run_dir / f"{name}.pid"
        with contextlib.suppress(OSError, ValueError):
            GROUPS[name] = os.getpgid(int(path.read_text().strip()))


def run_load(
    scenario: str,
    target: str,
    url: str,
    requests: list[Request],
    clients: int,
    count: int,
    duration: float,
    warmup: int,
    expected: tuple[int, ...] = (200,),
) -> Result:
    base = urllib.parse.urlsplit(url)
    if warmup:
        _drive(base, requests[-warmup:] if len(requests) > warmup else requests, clients, warmup, duration)
    cpu0, groups0, busy0 = time.process_time(), group_cpu(), machine_busy()
    started = time.perf_counter()
    out, queue = _drive(base, requests, clients, count, duration)
    result = Result(scenario, target, clients, expected=expected)
    result.wall_s = time.perf_counter() - started
    result.client_cpu_s = time.process_time() - cpu0
    groups1, busy1 = group_cpu(), machine_busy()
    result.cpu = {name: (groups1[name] - groups0.get(name, 0.0)) for name in groups1}
    result.cpu["load generator"] = result.client_cpu_s
    # Whatever else kept the machine busy meanwhile (other users of a shared machine).
    result.cpu["other processes"] = max(0.0, (busy1 - busy0) - sum(result.cpu.values()))
    result.cpu = {k: v / result.wall_s for k, v in result.cpu.items()}
    result.stopped_by = "time" if queue.expired else "count"
    for latency, status in out:
        result.latencies_ms.append(latency)
        if status < 0:
            result.transport_errors += 1
        else:
            result.statuses[status] += 1
    return result


def _drive(base, requests, clients, count, duration):  # type: ignore[no-untyped-def]
    queue = WorkQueue(requests, count, time.perf_counter() + duration)
    outs: list[list[tuple[float, int]]] = [[] for _ in range(clients)]
    threads = [Client(base, queue, outs[i]) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [x for o in outs for x in o], queue


# -- workloads ---------------------------------------------------------------------------------


def get_json(url: str) -> Any:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET {url}: {resp.status} {body[:200]!r}")
        return json.loads(body)
    finally:
        conn.close()


def list_catalog(catalog_url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    products, cursor = [], None
    while True:
        query = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = get_json(f"{catalog_url}/products?{urllib.parse.urlencode(query)}")
        products += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    sellers = get_json(f"{catalog_url}/sellers")["items"]
    return products, sellers


def product_queries(products, sellers, catalog_url: str, rng: random.Random, n: int) -> list[Request]:  # type: ignore[no-untyped-def]
    """A fixed mix: first pages, filters, title searches, seller listings, later pages."""
    platforms = sorted({p["platform"] for p in products})
    genres = sorted({p["genre"] for p in products})
    kinds = sorted({p["kind"] for p in products})
    currencies = sorted({p["currency"] for p in products})
    words = sorted({w for p in products for w in p["title"].split() if len(w) > 3 and w.isalpha()})

    def filters() -> dict[str, Any]:
        pick = rng.sample(["platform", "genre", "kind", "currency", "in_stock", "price"], rng.choice([1, 2]))
        q: dict[str, Any] = {}
        for f in pick:
            if f == "platform":
                q["platform"] = rng.choice(platforms)
            elif f == "genre":
                q["genre"] = rng.choice(genres)
            elif f == "kind":
                q["kind"] = rng.choice(kinds)
            elif f == "currency":
                q["currency"] = rng.choice(currencies)
            elif f == "in_stock":
                q["in_stock"] = "true"
            else:
                lo = rng.choice([0, 500, 1000, 2000])
                q["min_price_cents"], q["max_price_cents"] = lo, lo + rng.choice([1000, 3000, 6000])
        return q

    # Later pages: cursors are handed out by the service for one query; fetch a few up front.
    later: list[dict[str, Any]] = []
    for _ in range(40):
        q = rng.choice([{}, {"kind": rng.choice(kinds)}, {"platform": rng.choice(platforms)}])
        q["limit"] = 20
        page = get_json(f"{catalog_url}/products?{urllib.parse.urlencode(q)}")
        if page["next_cursor"]:
            later.append({**q, "cursor": page["next_cursor"]})

    mix = [("first page", 25), ("filters", 25), ("search", 20), ("seller", 15), ("later page", 15)]
    out = []
    for _ in range(n):
        kind = rng.choices([m for m, _ in mix], weights=[w for _, w in mix])[0]
        if kind == "first page":
            q = {"limit": rng.choice([20, 50])}
        elif kind == "filters":
            q = {**filters(), "limit": 20}
        elif kind == "search":
            q = {"q": " ".join(rng.sample(words, rng.choice([1, 1, 2]))), "limit": 20}
            if rng.random() < 0.3:
                q.update(filters())
        elif kind == "seller":
            q = {"seller_id": rng.choice(sellers)["seller_id"], "limit": 20}
        else:
            q = rng.choice(later) if later else {"limit": 20}
        out.append(Request("GET", "/products?" + urllib.parse.urlencode(q)))
    return out


def product_reads(products, rng: random.Random, n: int, dist: str) -> list[Request]:  # type: ignore[no-untyped-def]
    """Product pages as shoppers open them: a few popular products, a long tail (Zipf, s=1),
    popularity in a random order of the catalog; or every product alike (`uniform`)."""
    ranked = list(products)
    rng.shuffle(ranked)
    weights = [1.0 / (rank + 1) for rank in range(len(ranked))] if dist == "zipf" else None
    picks = rng.choices(ranked, weights=weights, k=n)
    return [Request("GET", f"/products/{p['product_id']}") for p in picks]


def order_requests(products, rng: random.Random, n: int) -> list[Request]:  # type: ignore[no-untyped-def]
    on_sale = [p for p in products if p["active"] and p["stock"] >= 100]
    customers = [
        {
            "email": f"bench.shopper{i}@mail.example",
            "name": f"Bench Shopper {i}",
            "address": f"{i} Benchmark Road, Springfield",
            "phone": f"+1 555 {1000 + i}",
            "country": rng.choice(["US", "GB", "DE", "FR", "JP", "CA"]),
        }
        for i in range(1000)
    ]
    out = []
    for _ in range(n):
        product = rng.choice(on_sale)
        body = {
            "customer": rng.choice(customers),
            "lines": [{"product_id": product["product_id"], "qty": 1}],
            "currency": product["currency"],
        }
        key = f"bench-{uuid.uuid4()}"
        out.append(Request("POST", "/orders", json.dumps(body).encode(), (("Idempotency-Key", key),)))
    return out


# -- the competing catalog (no cache) ----------------------------------------------------------


class UncachedCatalog:
    """The catalog app with both cache TTLs at 0, served exactly as `make up` serves it."""

    def __init__(self, settings: Settings, log_dir: Path):
        from gitgoods.local.stack import _server, _service_env  # the same command line as `make up`

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            **_service_env(settings),
            "GITGOODS_CACHE_ITEM_TTL_S": "0",
            "GITGOODS_CACHE_QUERY_TTL_S": "0",
        }
        self.cmd = _server(settings, "storefront.catalog.app:create_app()", self.port)
        self.log = log_dir / "uncached-catalog.log"
        self.proc = subprocess.Popen(  # noqa: S603
            self.cmd,
            env=env,
            cwd=REPO,
            stdout=open(self.log, "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if get_json(f"{self.url}/health")["status"] == "ok":
                    return
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the uncached catalog did not start; see {self.log}") from None
                time.sleep(0.3)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


# -- per-order cost breakdown (in-process, same OrderService code) -----------------------------

TX_UNIT, READ_UNIT = 1024, 4096


def attr_size(value: dict[str, Any]) -> int:
    """Size of an attribute value per DynamoDB's item-size rules (approximate for numbers)."""
    ((kind, v),) = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        digits = v.lstrip("-").replace(".", "").lstrip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(attr_size(x) + 1 for x in v)
    if kind == "M":
        return 3 + sum(len(k.encode()) + attr_size(x) + 1 for k, x in v.items())
    if kind in ("SS", "NS", "BS"):
        return sum(attr_size({kind[0]: x}) for x in v)
    raise TypeError(kind)


def item_size(item: dict[str, Any]) -> int:
    return sum(len(k.encode()) + attr_size(v) for k, v in item.items())


def order_breakdown(settings: Settings, products: list[dict[str, Any]], n: int, rng: random.Random) -> dict[str, Any]:
    from gitgoods import aws
    from storefront.common.pii import PiiProtector
    from storefront.orders.repo import OrdersRepo
    from storefront.orders.schemas import OrderIn
    from storefront.orders.service import OrderService

    ddb = aws.client("dynamodb", settings)
    kms = aws.client("kms", settings)
    key_names = {}
    for t in ("idempotency", "orders", "customers", "catalog", "sales", "order_events"):
        schema = ddb.describe_table(TableName=settings.table(t))["Table"]["KeySchema"]
        key_names[settings.table(t)] = [k["AttributeName"] for k in schema]
    calls: list[tuple[str, float]] = []
    local_units: dict[str, float] = defaultdict(float)
    tx_items: list[list[tuple[str, str, str]]] = []  # per order: (action, table, key json)
    local = threading.local()

    def before(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.service_model.service_name == "dynamodb" and model.name in (
            "GetItem",
            "BatchGetItem",
            "TransactWriteItems",
            "Query",
            "UpdateItem",
            "PutItem",
        ):
            params["ReturnConsumedCapacity"] = "TOTAL"
        if model.name == "TransactWriteItems":
            actions = []
            for a in params["TransactItems"]:
                ((action, body),) = a.items()
                key = body.get("Key") or {k: body["Item"][k] for k in key_names[body["TableName"]]}
                actions.append((action, body["TableName"], json.dumps(key, sort_keys=True)))
            tx_items.append(actions)
        local.started = time.perf_counter()

    def after(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        service_name = "KMS" if model.service_model.service_name == "kms" else "DynamoDB"
        name = f"{service_name} {model.name}"
        calls.append((name, (time.perf_counter() - local.started) * 1000))
        consumed = parsed.get("ConsumedCapacity")
        for c in consumed if isinstance(consumed, list) else [consumed] if consumed else []:
            local_units[model.name] += c.get("CapacityUnits", 0)

    for client in (ddb, kms):
        client.meta.events.register("provide-client-params.*.*", before)
        client.meta.events.register("after-call.*.*", after)

    service = OrderService(
        OrdersRepo(ddb, settings),
        PiiProtector(kms, settings.pii_key_alias, settings.lookup_hmac_key_alias, settings.pseudonym_hmac_key_alias),
    )
    on_sale = [p for p in products if p["active"] and p["stock"] >= 100]
    service.pii.email_lookup("warm-up")  # the data key and KMS connection, not counted
    calls.clear()
    local_units.clear()
    totals = []
    for i in range(n):
        product = rng.choice(on_sale)
        order = OrderIn.model_validate(
            {
                "customer": {
                    "email": f"bench.breakdown{i}.{uuid.uuid4().hex[:6]}@mail.example",
                    "name": "Bench Breakdown",
                    "address": "1 Cost Street",
                    "phone": "+1 555 2000",
                    "country": "US",
                },
                "lines": [{"product_id": product["product_id"], "qty": 1}],
                "currency": product["currency"],
            }
        )
        started = time.perf_counter()
        service.place(order, f"bench-breakdown-{uuid.uuid4()}", datetime.now(UTC))
        totals.append((time.perf_counter() - started) * 1000)

    for client in (ddb, kms):
        client.meta.events.unregister("provide-client-params.*.*", before)
        client.meta.events.unregister("after-call.*.*", after)
    # Size the transaction's items as they are now (after the write), per AWS's rules.
    per_item: dict[tuple[str, str], list[int]] = defaultdict(list)
    for actions in tx_items:
        for action, table, key in actions:
            got = ddb.get_item(TableName=table, Key=json.loads(key), ConsistentRead=True).get("Item", {})
            per_item[(action, table.removeprefix(settings.table_prefix))].append(item_size(got))
    by_call: dict[str, list[float]] = defaultdict(list)
    for name, ms in calls:
        by_call[name].append(ms)
    return {
        "orders": n,
        "total_ms": totals,
        "calls": {name: {"count": len(v) / n, "ms": sum(v) / n} for name, v in sorted(by_call.items())},
        "tx_items": {
            f"{action} {table}": {
                "count": len(sizes) / n,
                "bytes": statistics.mean(sizes),
                "wru": statistics.mean(2 * max(1, math.ceil(s / TX_UNIT)) for s in sizes),
            }
            for (action, table), sizes in sorted(per_item.items())
        },
        "local_units_per_order": {k: v / n for k, v in local_units.items()},
    }


# -- reporting ---------------------------------------------------------------------------------


def fmt(x: float, unit: str = "") -> str:
    return "n/a" if math.isnan(x) else f"{x:,.1f}{unit}"


def print_results(results: list[Result], pairs: list[tuple[str, str, str]]) -> None:
    head = (
        f"{'scenario':<22} {'target':<18} {'sent':>6} {'ok':>6} {'other':>14} {'req/s':>8} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'stop':>5} {'rounds':>6}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        other = {s: n for s, n in r.statuses.items() if s not in r.expected}
        if r.transport_errors:
            other["conn"] = r.transport_errors
        other_s = ",".join(f"{k}:{v}" for k, v in other.items()) or "-"
        print(
            f"{r.scenario:<22} {r.target:<18} {r.sent:>6} {r.ok:>6} {other_s:>14} {r.throughput:>8.1f} "
            f"{fmt(r.pct(50)):>8} {fmt(r.pct(99)):>8} {r.stopped_by:>5} {r.rounds:>6}"
        )
    print(f"\nCPU busy during each run (1.00 = one core fully; the machine has {os.cpu_count()}):")
    for r in results:
        if r.cpu:
            parts = ", ".join(f"{k} {v:.2f}" for k, v in sorted(r.cpu.items(), key=lambda kv: -kv[1]) if v >= 0.01)
            print(f"  {r.scenario:<20} {r.target:<18} {parts}")
    print()
    by = {(r.scenario, r.target): r for r in results}
    for scenario, a, b in pairs:
        ra, rb = by.get((scenario, a)), by.get((scenario, b))
        if ra and rb and rb.throughput and ra.pct(50):
            print(
                f"  ratio {scenario} {a} / {b}: throughput x{ra.throughput / rb.throughput:.1f}, "
                f"p50 x{rb.pct(50) / ra.pct(50):.1f} lower, p99 x{rb.pct(99) / ra.pct(99):.1f} lower"
            )


def print_breakdown(b: dict[str, Any]) -> None:
    total = statistics.mean(b["total_ms"])
    print(
        f"\nPOST /orders, cost of one order (mean of {b['orders']} orders placed one at a time "
        f"through OrderService in-process; {total:.1f} ms each):"
    )
    print(f"  {'call':<34} {'per order':>9} {'ms/order':>9} {'share':>6}")
    accounted = 0.0
    for name, v in b["calls"].items():
        accounted += v["ms"]
        print(f"  {name:<34} {v['count']:>9.1f} {v['ms']:>9.1f} {v['ms'] / total:>6.0%}")
    rest = total - accounted
    print(f"  {'Python (validation, crypto, JSON)':<34} {'':>9} {rest:>9.1f} {rest / total:>6.0%}")
    print("  TransactWriteItems items (sized after the write; AWS: 2 write units per KB per item):")
    wru = 0.0
    for name, v in b["tx_items"].items():
        wru += v["count"] * v["wru"]
        print(f"    {name:<32} {v['count']:>4.1f} x {v['bytes']:>6.0f} B  {v['wru']:>4.1f} WRU")
    print(f"    {'total':<32} {wru:>27.1f} WRU per order (AWS rules)")
    local = b["local_units_per_order"]
    print("  capacity DynamoDB Local reports per order: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(local.items())))


# -- main ----------------------------------------------------------------------------------------


def loopback_only(url: str) -> str:
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = host == "localhost"
    if not ok:
        raise SystemExit(f"refusing {url}: this benchmark only runs against loopback addresses")
    return url.rstrip("/")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--catalog-url", default="http://127.0.0.1:5001")
    p.add_argument("--orders-url", default="http://127.0.0.1:5002")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--requests", type=int, default=2000, help="per scenario and target")
    p.add_argument("--duration", type=float, default=60, help="seconds, per scenario and target")
    p.add_argument("--warmup", type=int, default=200, help="requests before each measured run")
    p.add_argument(
        "--rounds", type=int, default=1, help="alternate cache / no-cache runs this many times and pool them"
    )
    p.add_argument("--breakdown-orders", type=int, default=30)
    p.add_argument("--scenarios", default="item,list,orders", help="comma list of item, list, orders")
    p.add_argument(
        "--item-dist", choices=["zipf", "uniform"], default="zipf", help="which products GET /products/<id> asks for"
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    catalog_url, orders_url = loopback_only(args.catalog_url), loopback_only(args.orders_url)
    scenarios = set(args.scenarios.split(","))
    settings = Settings()
    rng = random.Random(args.seed)
    find_groups(settings)

    products, sellers = list_catalog(catalog_url)
    if not products:
        raise SystemExit(f"{catalog_url} lists no products: seed the catalog first")
    print(
        f"catalog: {len(products)} products, {len(sellers)} sellers; {args.clients} clients, at most "
        f"{args.requests} requests or {args.duration:.0f} s per run, {args.warmup} warm-up requests; "
        f"{os.cpu_count()} CPUs (clients, services and DynamoDB Local share them)"
    )
    n = max(args.requests, 1)
    item_reqs = product_reads(products, rng, n, args.item_dist)
    list_reqs = product_queries(products, sellers, catalog_url, rng, n)
    results: list[Result] = []
    pairs: list[tuple[str, str, str]] = []
    log_dir = Path(tempfile.mkdtemp(prefix="storefront-bench-"))

    if scenarios & {"item", "list"}:
        twin = UncachedCatalog(settings, log_dir)
        GROUPS["catalog (no cache)"] = twin.proc.pid
        try:
            a = get_json(f"{catalog_url}/products?limit=5")["items"]
            b = get_json(f"{twin.url}/products?limit=5")["items"]
            if [x["product_id"] for x in a] != [x["product_id"] for x in b]:
                raise SystemExit(
                    "the uncached catalog does not see the same tables as "
                    f"{catalog_url}: run with the stack's GITGOODS_* environment"
                )
            for key, name, reqs in (
                ("item", "GET /products/<id>", item_reqs),
                ("list", "GET /products mix", list_reqs),
            ):
                if key not in scenarios:
                    continue
                pooled: dict[str, Result] = {}
                for round_no in range(args.rounds):
                    # Alternate which side goes first, so slow drifts in background load even out.
                    sides = [("cache (service)", catalog_url), ("no cache (TTL 0)", twin.url)]
                    for target, url in sides if round_no % 2 == 0 else sides[::-1]:
                        r = run_load(name, target, url, reqs, args.clients, args.requests, args.duration, args.warmup)
                        print(
                            f"  round {round_no + 1}: {name:<20} {target:<18} {r.throughput:8.1f} req/s  "
                            f"p50 {r.pct(50):7.1f} ms  other processes {r.cpu.get('other processes', 0):.2f} CPU",
                            flush=True,
                        )
                        if target in pooled:
                            pooled[target].merge(r)
                        else:
                            pooled[target] = r
                results += [pooled["cache (service)"], pooled["no cache (TTL 0)"]]
                pairs.append((name, "cache (service)", "no cache (TTL 0)"))
        finally:
            twin.stop()

    breakdown = None
    if "orders" in scenarios:
        order_reqs = order_requests(products, rng, args.requests + args.warmup)
        r = run_load(
            "POST /orders",
            "orders service",
            orders_url,
            order_reqs[args.warmup :] + order_reqs[: args.warmup],
            args.clients,
            args.requests,
            args.duration,
            args.warmup,
            expected=(201,),
        )
        results.append(r)
        print(
            f"  POST /orders {r.throughput:8.1f} orders/s  p50 {r.pct(50):7.1f} ms  "
            f"other processes {r.cpu.get('other processes', 0):.2f} CPU",
            flush=True,
        )
        if args.breakdown_orders:
            breakdown = order_breakdown(settings, products, args.breakdown_orders, rng)

    print()
    print_results(results, pairs)
    if breakdown:
        print_breakdown(breakdown)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "results": [
                        {
                            "scenario": r.scenario,
                            "target": r.target,
                            "clients": r.clients,
                            "sent": r.sent,
                            "ok": r.ok,
                            "statuses": dict(r.statuses),
                            "transport_errors": r.transport_errors,
                            "wall_s": r.wall_s,
                            "throughput": r.throughput,
                            "p50_ms": r.pct(50),
                            "p99_ms": r.pct(99),
                            "stopped_by": r.stopped_by,
                            "cpu": r.cpu,
                            "rounds": r.rounds,
                        }
                        for r in results
                    ],
                    "order_breakdown": breakdown,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
