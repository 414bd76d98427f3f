"""Seed a local stack and replay a few months of shoppers through the real order API.

`seed_and_simulate` is what `make up` runs: it writes the seeded sellers and products, builds
the deterministic shopper plan (`shoppers.build_plan`) and executes it against the order
service over HTTP, with a pool of threads. Every request is backdated with the local-only
signed clock (`storefront.common.clock.signed_headers`), so the orders land on the simulated
days.

It runs once per seed: a marker in the state folder records the window and, when finished,
the counts. An interrupted run resumes with the same window, and so the same plan; POST /orders
is replayed safely through its Idempotency-Key, and lifecycle events already applied are
skipped (the replayed order shows its current status) or answered with a 409
`invalid_transition`, which counts as done.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from tenacity import (
    RetryCallState,
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)
from tqdm import tqdm

from gitgoods import aws
from gitgoods.contract.ids import parse_utc, utc_iso
from gitgoods.settings import Settings
from storefront.common.clock import signed_headers
from storefront.common.pii import PiiProtector
from storefront.orders.service import TRANSITIONS
from storefront.simulate import seed as seeding
from storefront.simulate.pages import browse_pages, wait_until_healthy
from storefront.simulate.plan import LIFECYCLE_EVENTS, Plan, PlannedEvent, PlannedOrder, describe
from storefront.simulate.shoppers import DEFAULT_ORDERS_PER_DAY, build_plan

DEFAULT_WORKERS = 12
# Give up on the whole run after this many orders in a row failed for good (service down).
MAX_CONSECUTIVE_FAILURES = 20
_RETRY_WAIT = wait_random_exponential(multiplier=0.2, max=8)


class Retryable(Exception):
    """A 429, a 5xx or a 409 `conflict`: worth the same request again."""

    def __init__(self, message: str, retry_after: float = 0.0):
        super().__init__(message)
        self.retry_after = retry_after


class OrderFailed(Exception):
    """The service refused a request for good (the plan or the service has a bug)."""


class Fatal(Exception):
    """A refusal that every request will meet (wrong token or clock key): stop the run."""


class OutOfStock(Exception):
    pass


def _wait(state: RetryCallState) -> float:
    base = _RETRY_WAIT(state)
    exc = state.outcome.exception() if state.outcome else None
    return max(base, exc.retry_after) if isinstance(exc, Retryable) else base


_retrying = retry(
    retry=retry_if_exception_type((Retryable, requests.ConnectionError, requests.Timeout)),
    wait=_wait,
    stop=stop_after_attempt(12) | stop_after_delay(180),
    reraise=True,
)


def _error(resp: requests.Response) -> tuple[str, str | None]:
    try:
        err = resp.json()["error"]
        return err.get("code", ""), err.get("field")
    except (ValueError, KeyError, TypeError):
        return "", None


def _raise_transient(resp: requests.Response) -> None:
    if resp.status_code == 429 or resp.status_code >= 500:
        try:
            retry_after = float(resp.headers.get("Retry-After", "0"))
        except ValueError:
            retry_after = 0.0
        raise Retryable(f"HTTP {resp.status_code}", min(retry_after, 30.0))


class OrderClient:
    """The two calls the simulator makes, each retried on transient failures.

    One `requests.Session` per thread (sessions are not thread-safe)."""

    def __init__(self, base_url: str, internal_token: str, clock_key: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.internal_token = internal_token
        self.clock_key = clock_key
        self.timeout = (5.0, timeout)
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _post(self, path: str, body: dict[str, Any], at: datetime, headers: dict[str, str]
              ) -> requests.Response:
        headers = {**headers, **signed_headers(self.clock_key, "POST", path, at)}
        return self.session.post(self.base_url + path, json=body, headers=headers,
                                 timeout=self.timeout)

    @_retrying
    def place(self, order: PlannedOrder) -> tuple[dict[str, Any], bool]:
        """(the order as the service returns it, whether it was a replay)."""
        resp = self._post("/orders", order.body(), order.at,
                          {"Idempotency-Key": order.idempotency_key})
        if resp.status_code == 201:
            return resp.json(), resp.headers.get("Idempotent-Replayed") == "true"
        _raise_transient(resp)
        code, field = _error(resp)
        if resp.status_code == 409 and code == "conflict":
            raise Retryable("order conflict")
        if resp.status_code == 409 and code == "insufficient_stock":
            raise OutOfStock(field or "")
        if code == "clock_not_settable":
            raise Fatal("the order service does not accept the simulator's clock key "
                        "(is it running with the same GITGOODS_HOME?)")
        raise OrderFailed(f"POST /orders #{order.index}: HTTP {resp.status_code} {code} {field}")

    @_retrying
    def event(self, order_id: str, event: PlannedEvent) -> bool:
        """Apply one lifecycle event; False when it had already been applied."""
        path = f"/internal/orders/{order_id}/events"
        resp = self._post(path, event.body(), event.at, {"X-Internal-Token": self.internal_token})
        if resp.status_code == 200:
            return True
        _raise_transient(resp)
        code, field = _error(resp)
        if resp.status_code == 409 and code == "conflict":
            raise Retryable("lifecycle conflict")
        if resp.status_code == 409 and code == "invalid_transition":
            return False  # an earlier attempt got through
        if resp.status_code == 400 and code == "invalid_field" and field == "lines" and event.lines:
            return False  # this partial refund was applied by an earlier attempt
        if resp.status_code == 401 or code == "clock_not_settable":
            raise Fatal(f"the order service refused the simulator ({resp.status_code} {code})")
        raise OrderFailed(f"POST {path} {event.type}: HTTP {resp.status_code} {code} {field}")


def _statuses(events: tuple[PlannedEvent, ...]) -> list[str]:
    """The order's status after 0, 1, ... of its planned events (for skipping done ones)."""
    statuses, status = ["placed"], "placed"
    for event in events:
        status = TRANSITIONS.get(status, {}).get(event.type, status)
        if event.type == "order_refunded" and event.lines:
            status = "partially_refunded"
        statuses.append(status)
    return statuses


def pending_events(order: PlannedOrder, current_status: str) -> tuple[PlannedEvent, ...]:
    """The planned events not yet reflected in the order's current status."""
    statuses = _statuses(order.events)
    if current_status in statuses:
        return order.events[statuses.index(current_status):]
    return order.events  # unexpected: send all, the state machine answers for the done ones


@dataclass
class Outcome:
    placed_new: int = 0
    replayed: int = 0
    out_of_stock: int = 0
    failed: int = 0
    events: Counter[str] = field(default_factory=Counter)  # in the store, by type
    events_written: Counter[str] = field(default_factory=Counter)  # by this run
    errors: list[str] = field(default_factory=list)
    aborted: str | None = None

    @property
    def orders(self) -> int:
        return self.placed_new + self.replayed


def execute(plan: Plan, orders_url: str, internal_token: str, clock_key: str,
            workers: int = DEFAULT_WORKERS, progress: bool = True) -> Outcome:
    """Place every planned order and apply its due lifecycle events, `workers` at a time."""
    client = OrderClient(orders_url, internal_token, clock_key)
    outcome = Outcome()
    lock = threading.Lock()
    stop = threading.Event()
    consecutive_failures = 0

    def run_one(order: PlannedOrder) -> None:
        nonlocal consecutive_failures
        if stop.is_set():
            return
        try:
            created, replayed = client.place(order)
            written: list[str] = []
            for event in pending_events(order, created["status"]):
                if client.event(created["order_id"], event):
                    written.append(event.type)
        except OutOfStock:
            with lock:
                outcome.out_of_stock += 1
            return
        except Fatal as exc:
            with lock:
                outcome.aborted = str(exc)
            stop.set()
            return
        except Exception as exc:  # retries exhausted or a refusal: record, go on
            with lock:
                outcome.failed += 1
                consecutive_failures += 1
                if len(outcome.errors) < 20:
                    outcome.errors.append(f"order #{order.index}: {type(exc).__name__}: {exc}")
                if consecutive_failures >= MAX_CONSECUTIVE_FAILURES and not stop.is_set():
                    outcome.aborted = f"{consecutive_failures} orders in a row failed"
                    stop.set()
            return
        with lock:
            consecutive_failures = 0
            if replayed:
                outcome.replayed += 1
            else:
                outcome.placed_new += 1
                outcome.events_written["order_placed"] += 1
            outcome.events["order_placed"] += 1
            outcome.events.update(e.type for e in order.events)
            outcome.events_written.update(written)

    # `disable=None`: a bar on a terminal, nothing in a log file.
    bar = tqdm(total=len(plan.orders), unit="order", desc="shoppers",
               disable=None if progress else True, smoothing=0.05, file=sys.stderr)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shopper") as pool:
        futures = [pool.submit(run_one, order) for order in plan.orders]
        try:
            for future in as_completed(futures):
                future.result()
                bar.update(1)
        except KeyboardInterrupt:
            stop.set()
            for future in futures:
                future.cancel()
            raise
        finally:
            bar.close()
    return outcome


# -- the once-only, resumable run ------------------------------------------------------------
def marker_path(settings: Settings, seed: int) -> Path:
    return settings.state_dir / f"simulation-{seed}.json"


def _write_marker(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _seed_catalog(settings: Settings, catalog: seeding.Catalog) -> None:
    pii = PiiProtector(aws.client("kms", settings), settings.pii_key_alias,
                       settings.lookup_hmac_key_alias, settings.pseudonym_hmac_key_alias)
    seeding.write(aws.client("dynamodb", settings), catalog, settings.table("catalog"),
                  settings.table("sellers"), pii)


def _counts(plan: Plan, catalog: seeding.Catalog, outcome: Outcome, seconds: float
            ) -> dict[str, Any]:
    figures = describe(plan)
    return {
        "seed": plan.seed,
        "days": plan.days,
        "window": figures["window"],
        "sellers": len(catalog.sellers),
        "products": len(catalog.products),
        "customers": figures["customers"],
        "returning_customers": figures["returning_customers"],
        "orders": outcome.orders,
        "orders_new": outcome.placed_new,
        "orders_replayed": outcome.replayed,
        "orders_out_of_stock": outcome.out_of_stock,
        "orders_failed": outcome.failed,
        "order_lines": figures["lines"],
        "promo_days": figures["promo_days"],
        "events": {t: outcome.events.get(t, 0) for t in ("order_placed", *LIFECYCLE_EVENTS)},
        "events_written": sum(outcome.events_written.values()),
        "seconds": round(seconds, 1),
    }


def _summary(counts: dict[str, Any]) -> str:
    events = counts["events"]
    return (
        f"Simulated {counts['orders']} orders over {counts['days']} days "
        f"({counts['window'][0][:10]} to {counts['window'][1][:10]}) from "
        f"{counts['customers']} customers ({counts['returning_customers']} returning), "
        f"{counts['sellers']} sellers, {counts['products']} products, in {counts['seconds']:.0f}s.\n"
        f"  events: " + ", ".join(f"{k} {v}" for k, v in events.items())
    )


def seed_and_simulate(
    settings: Settings,
    seed: int = 42,
    days: int = 90,
    *,
    orders_url: str | None = None,
    orders_per_day: float = DEFAULT_ORDERS_PER_DAY,
    n_sellers: int = 60,
    n_products: int = 1200,
    workers: int = DEFAULT_WORKERS,
    progress: bool = True,
    end: datetime | None = None,
    web_url: str | None = None,
    browse: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Seed the catalog and simulate `days` of shoppers ending now (or at `end`), once per seed.

    Returns the counts (also stored in `state/simulation-<seed>.json`); when that marker says
    the run finished, returns its counts at once, and when it says the run was interrupted,
    resumes it with the parameters it recorded (the arguments given now are ignored).
    `orders_url` defaults to the local order service on `settings.orders_port`. Then shoppers
    browse the shop's pages (`pages.browse_pages`, options in `browse`) at `web_url`: by default
    the local shop on `settings.web_port`, unless `orders_url` was given alone (then no browsing)."""
    clock_key = settings.resolved_sim_clock_key()
    token = settings.resolved_internal_token()
    if not clock_key or not token:
        raise RuntimeError("the simulator needs a local stack (its clock key and internal token)")
    path = marker_path(settings, seed)
    marker = json.loads(path.read_text()) if path.exists() else None
    browse = {"web_workers": 1 if web_url else settings.web_workers, **(browse or {})}
    web_url = web_url or (None if orders_url else f"http://127.0.0.1:{settings.web_port}")
    orders_done = bool(marker) and marker.get("status") == "done"
    if orders_done and (web_url is None or "browsing" in marker["counts"]):
        print(f"Already seeded and simulated (seed {seed}): {path}")
        return marker["counts"]

    orders_url = orders_url or f"http://127.0.0.1:{settings.orders_port}"
    wait_until_healthy(orders_url, "the order service")
    started = time.monotonic()
    if marker:
        # Resume exactly the interrupted run: same window, same volumes, so the same plan.
        days, orders_per_day = marker["days"], marker["orders_per_day"]
        n_sellers, n_products = marker["n_sellers"], marker["n_products"]
        end = parse_utc(marker["end"])
        print(f"Resuming the shopper simulation (seed {seed}, window ending {marker['end']})")
    catalog = seeding.generate(seed, n_sellers=n_sellers, n_products=n_products)
    if not marker:
        print(f"Seeding {len(catalog.sellers)} sellers and {len(catalog.products)} products ...")
        _seed_catalog(settings, catalog)
        end = (end or datetime.now(UTC)).astimezone(UTC)
        marker = {"seed": seed, "days": days, "orders_per_day": orders_per_day,
                  "n_sellers": n_sellers, "n_products": n_products, "end": utc_iso(end),
                  "status": "seeded"}
        _write_marker(path, marker)
    assert end is not None

    plan = build_plan(catalog, seed, days, end, orders_per_day)
    if orders_done and web_url:  # simulated before the shoppers browsed: add the browsing
        return browse_pages(plan, catalog, web_url, clock_key, marker, lambda m: _write_marker(path, m),
                            workers=workers, progress=progress, **browse)
    print(f"Simulating {len(plan.orders)} orders over {days} days with {workers} shoppers at once ...")
    try:
        outcome = execute(plan, orders_url, token, clock_key, workers=workers, progress=progress)
    except KeyboardInterrupt:
        print(f"\nInterrupted: run it again to resume (state in {path}).", file=sys.stderr)
        raise
    counts = _counts(plan, catalog, outcome, time.monotonic() - started)
    complete = outcome.aborted is None and outcome.failed == 0
    marker = {**marker, "status": "done" if complete else "incomplete", "counts": counts}
    _write_marker(path, marker)
    print(_summary(counts))
    if not complete:
        print(
            f"warning: the simulation is incomplete ({outcome.failed} orders failed"
            + (f"; stopped: {outcome.aborted}" if outcome.aborted else "")
            + "); run it again to resume.\n  " + "\n  ".join(outcome.errors[:5]),
            file=sys.stderr,
        )
    if not complete or web_url is None:
        return counts
    return browse_pages(plan, catalog, web_url, clock_key, marker, lambda m: _write_marker(path, m),
                        workers=workers, progress=progress, **browse)
