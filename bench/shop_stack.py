"""A private storefront stack for the shop's load benchmark, and the audit after its fault run.

`PrivateStack` starts what `make up` starts for the shop (DynamoDB Local, moto, the catalog,
order and web services, the order events relay with its notification consumer) with the same
code (`gitgoods.local.stack`), on free loopback ports under its own home, seeds the catalog
`make up` seeds (seed 42: 60 sellers, 1,200 products) and stops everything on exit. Order events
go over RabbitMQ when `AMQP_URL` is set (to an exchange and queue of the benchmark's own, purged
first), in-process otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections import Counter
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from benchlib import free_port

from gitgoods import aws
from gitgoods.local import stack as local_stack
from gitgoods.settings import Settings
from storefront.common.pii import PiiProtector
from storefront.simulate import seed

BENCH_EXCHANGE = "gitgoods-bench.orders"
BENCH_QUEUE = "gitgoods-bench.notifications"


class PrivateStack:
    def __init__(self, home: Path, overrides: dict[str, str] | None = None):
        self.home = home
        self.env = {
            "GITGOODS_HOME": str(home),
            "GITGOODS_DYNAMODB_PORT": str(free_port()),
            "GITGOODS_MOTO_PORT": str(free_port()),
            "GITGOODS_CATALOG_PORT": str(free_port()),
            "GITGOODS_ORDERS_PORT": str(free_port()),
            "GITGOODS_WEB_PORT": str(free_port()),
            **(overrides or {}),
        }
        if os.environ.get("AMQP_URL"):
            self.env |= {"GITGOODS_EVENTS_EXCHANGE": BENCH_EXCHANGE, "GITGOODS_NOTIFICATIONS_QUEUE": BENCH_QUEUE}
        self._saved: dict[str, str | None] = {}
        self.settings: Settings

    def __enter__(self) -> PrivateStack:
        for key, value in self.env.items():
            self._saved[key] = os.environ.get(key)
            os.environ[key] = value
        self.settings = Settings()
        if self.settings.amqp_url:
            _purge_bench_queue(self.settings.amqp_url)
        try:
            local_stack.start_emulators(self.settings)
            s = self.settings
            pii = PiiProtector(aws.client("kms", s), s.pii_key_alias, s.lookup_hmac_key_alias,
                               s.pseudonym_hmac_key_alias)
            self.catalog = seed.generate(42, n_sellers=60, n_products=1200)
            seed.write(aws.client("dynamodb", s), self.catalog, s.table("catalog"), s.table("sellers"), pii)
            local_stack.start_services(self.settings)
            local_stack.start_events(self.settings)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        with contextlib.suppress(Exception):
            local_stack.stop_all(self.settings)
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.web_port}"

    @property
    def catalog_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.catalog_port}"

    def log(self, name: str) -> Path:
        return self.settings.log_dir / f"{name}.log"

    def groups(self) -> dict[str, int]:
        out = {}
        for name in ("dynamodb", "moto", "catalog", "orders", "web", "events"):
            with contextlib.suppress(OSError, ValueError):
                out[name] = os.getpgid(int((self.settings.run_dir / f"{name}.pid").read_text().strip()))
        return out

    def kill_worker_later(self, name: str, delay: float) -> Future[dict[str, Any]]:
        """After `delay` seconds, SIGKILL one worker process of a service (a child of its
        supervisor; the supervisor itself when the service runs a single process)."""
        done: Future[dict[str, Any]] = Future()

        def kill() -> None:
            time.sleep(delay)
            parent = int((self.settings.run_dir / f"{name}.pid").read_text().strip())
            children = _children(parent)
            victim = children[0] if children else parent
            os.kill(victim, signal.SIGKILL)
            done.set_result({"service": name, "pid": victim, "supervisor": parent, "was_child": bool(children),
                             "at": time.strftime("%H:%M:%S")})

        threading.Thread(target=kill, daemon=True).start()
        return done


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _purge_bench_queue(url: str) -> None:
    import pika

    with contextlib.suppress(Exception):
        conn = pika.BlockingConnection(pika.URLParameters(url))
        ch = conn.channel()
        for queue in (BENCH_QUEUE, BENCH_QUEUE + ".dead"):
            with contextlib.suppress(Exception):
                ch.queue_purge(queue)
        conn.close()


def _scan(ddb: Any, table: str, **kwargs: Any) -> list[dict[str, Any]]:
    items, start = [], None
    while True:
        page = ddb.scan(TableName=table, ConsistentRead=True, **({"ExclusiveStartKey": start} if start else {}),
                        **kwargs)
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def audit(stack: PrivateStack, placed_path: Path, drain_s: float = 60.0) -> dict[str, Any]:
    """Read back what the run left: see the module docstring of bench/shop_load.py."""
    s = stack.settings
    ddb = aws.client("dynamodb", s)
    shown = [json.loads(line) for line in placed_path.read_text().splitlines()] if placed_path.exists() else []
    orders = {i["order_id"]["S"]: i for i in _scan(ddb, s.table("orders"))}
    idem = _scan(ddb, s.table("idempotency"))
    events = _scan(ddb, s.table("order_events"))
    placed_events = Counter(e["order_id"]["S"] for e in events if e["event_type"]["S"] == "order_placed")
    sales = Counter(i["order_id"]["S"] for i in _scan(ddb, s.table("sales")) if "order_id" in i)
    catalog = {i["product_id"]["S"]: int(i["stock"]["N"]) for i in _scan(ddb, s.table("catalog"))}
    # Every order ever placed took its units from the seeded stock: the sum must match exactly.
    initial = {p["product_id"]: p["stock"] for p in stack.catalog.products}
    ordered: Counter[str] = Counter()
    for e in events:
        if e["event_type"]["S"] == "order_placed":
            for line in e["lines"]["L"]:
                ordered[line["M"]["product_id"]["S"]] += int(line["M"]["qty"]["N"])
    stock_mismatch = [pid for pid, n in initial.items() if catalog.get(pid, n) != n - ordered[pid]]
    # The relay and the consumer catch up after the load stops: wait for the outbox to drain.
    deadline = time.monotonic() + drain_s
    outbox_left = 0
    while time.monotonic() < deadline:
        outbox_left = ddb.scan(TableName=s.table("order_outbox"), Select="COUNT", ConsistentRead=True)["Count"]
        if outbox_left == 0:
            break
        time.sleep(1)
    mailbox = Path(s.mailbox_dir or s.state_dir / "mailbox")
    deadline = time.monotonic() + 30
    notices: Counter[str] = Counter()
    while time.monotonic() < deadline:
        notices = Counter()
        for path in mailbox.glob("*.json"):
            with contextlib.suppress(OSError, ValueError):
                notice = json.loads(path.read_text())
                if notice.get("kind") == "order_confirmation":
                    notices[notice["order_id"]] += 1
        if all(notices[o] >= 1 for o in placed_events):
            break
        time.sleep(1)
    keys_shown = Counter(p["checkout_key"] for p in shown)
    by_key: dict[str, set[str]] = {}
    for p in shown:
        by_key.setdefault(p["checkout_key"], set()).add(p["order_id"])
    duplicates_in_log = _count_lines(stack.log("events"), "duplicate")
    return {
        "orders_confirmed_to_shoppers": len({p["order_id"] for p in shown}),
        "retried_checkouts_confirmed": sum(1 for p in shown if p["retried"]),
        "orders_in_table": len(orders),
        "idempotency_records": len(idem),
        "confirmed_orders_missing": sorted({p["order_id"] for p in shown} - set(orders))[:10],
        "keys_with_two_orders": [k for k, ids in by_key.items() if len(ids) > 1][:10],
        "orders_without_one_placed_event": [o for o in orders if placed_events[o] != 1][:10],
        "orders_without_sales_lines": [o for o in orders if sales[o] == 0][:10],
        "orders_not_from_one_key": len(orders) - len(idem),
        "negative_stock": [pid for pid, n in catalog.items() if n < 0],
        "stock_not_conserved": stock_mismatch[:10],
        "outbox_left": outbox_left,
        "confirmation_notices": sum(notices.values()),
        "orders_without_notice": [o for o in placed_events if notices[o] == 0][:10],
        "orders_with_two_notices": [o for o, n in notices.items() if n > 1][:10],
        "duplicate_deliveries_ignored": duplicates_in_log,
        "repeated_keys_shown": sum(1 for k, n in keys_shown.items() if n > 1),
    }


def _count_lines(path: Path, needle: str) -> int:
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text(errors="replace").splitlines() if needle in line)
