"""Executes the planned visits (`browsing.build_visits`) against the shop's pages over HTTP.

Each thread keeps one `requests.Session` and empties its cookie jar for every visit, so a visit
is one shop session (cart cookie, visit cookie) while the connections are reused. Every request
carries the signed clock header with its planned time. A step answered with a 429, a 5xx or no
answer at all is sent again (`ATTEMPTS` in all); a visit that still fails is counted and the run
carries on. A 400 on a product page can only be the shop refusing the clock header (a shop of
another stack, or one without the clock key): the run stops at once.

Progress is kept by day: `on_day_done(day)` is called, in order, for each day all of whose
visits (and those of every earlier day) went through, so a run that is stopped resumes after
the last such day (`done_through`) and sends again only that day's visits.
"""

from __future__ import annotations

import random
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests

from storefront.common.clock import signed_headers
from storefront.simulate.browsing import BROWSE_DAYS, Step, Visit, build_visits, describe_visits
from storefront.simulate.order_client import SimulatorClient
from storefront.simulate.plan import Plan
from storefront.simulate.pool import run_all
from storefront.simulate.seed import Catalog

ATTEMPTS = 4
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


class VisitFailed(Exception):
    pass


class ClockRefused(Exception):
    """The shop does not take the simulator's clock: every request would fail the same way."""


@dataclass
class BrowseOutcome:
    visits: int = 0
    steps: Counter[str] = field(default_factory=Counter)  # by kind, answered as planned
    skipped: Counter[str] = field(default_factory=Counter)  # product gone or out of stock, empty cart
    failed: int = 0  # visits given up after retries
    errors: list[str] = field(default_factory=list)
    aborted: str | None = None
    done_through: str | None = None


class PageClient(SimulatorClient):
    """The shop's pages, as a browser asks for them (backdated by the signed clock)."""

    def _send(self, method: str, path: str, at: datetime, data: dict[str, str] | None = None
              ) -> requests.Response:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                resp = self.session.request(
                    method, self.base_url + path, data=data, allow_redirects=False, timeout=self.timeout,
                    headers=signed_headers(self.clock_key, method, path, at),
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                reason = type(exc).__name__
            else:
                if resp.status_code != 429 and resp.status_code < 500:
                    return resp
                reason = f"HTTP {resp.status_code}"
            if attempt < ATTEMPTS:
                time.sleep(random.uniform(0.1, 0.4) * 2 ** attempt)
        raise VisitFailed(f"{method} {path}: {reason}")

    def visit(self, visit: Visit) -> Counter[str]:
        """Walk through the visit's steps in one fresh shop session: the steps done by kind, and
        `<kind>_skipped` for those the shop could not do (a product gone or out of stock)."""
        self.session.cookies.clear()
        done: Counter[str] = Counter()
        token: str | None = None
        for step in visit.steps:
            ok, token = self._step(step, token)
            done[step.kind if ok else f"{step.kind}_skipped"] += 1
        return done

    def _step(self, step: Step, token: str | None) -> tuple[bool, str | None]:
        """(whether the shop did it, the CSRF token for the next form)."""
        if step.kind == "view":
            resp = self._send("GET", f"/products/{step.product_id}", step.at)
            if resp.status_code == 404:
                return False, token  # no longer on sale
            if resp.status_code == 400:
                raise ClockRefused("the shop refused the simulator's clock header "
                                   "(is it running with the same GITGOODS_HOME?)")
            if resp.status_code != 200:
                raise VisitFailed(f"GET /products/...: HTTP {resp.status_code}")
            match = CSRF.search(resp.text)  # no form when the product is out of stock
            return True, match.group(1) if match else token
        if step.kind == "cart":
            if token is None:
                return False, token
            data = {"csrf_token": token, "product_id": step.product_id or "", "qty": str(step.qty)}
            resp = self._send("POST", "/cart/add", step.at, data)
            if resp.status_code != 303:
                raise VisitFailed(f"POST /cart/add: HTTP {resp.status_code}")
            # To the cart when added; back to the product page when it is out of stock.
            return resp.headers.get("Location", "").endswith("/cart"), token
        resp = self._send("GET", "/checkout", step.at)
        if resp.status_code == 303:
            return False, token  # the cart was empty (nothing could be added)
        if resp.status_code != 200:
            raise VisitFailed(f"GET /checkout: HTTP {resp.status_code}")
        return True, token


def execute_visits(visits: list[Visit], web_url: str, clock_key: str, *, workers: int = 12,
                   done_through: str | None = None, on_day_done: Callable[[str], None] = lambda day: None,
                   progress: bool = True) -> BrowseOutcome:
    todo = [v for v in visits if done_through is None or v.day > done_through]
    client = PageClient(web_url, clock_key)
    outcome = BrowseOutcome(done_through=done_through)
    lock = threading.Lock()
    stop = threading.Event()
    left = Counter(v.day for v in todo)
    days = sorted(left)
    failed_days: set[str] = set()
    next_day = 0

    def run_one(visit: Visit) -> None:
        if stop.is_set():
            return
        try:
            done = client.visit(visit)
        except ClockRefused as exc:
            with lock:
                outcome.aborted = str(exc)
            stop.set()
            raise
        except Exception as exc:  # retries exhausted: record, go on
            with lock:
                outcome.failed += 1
                failed_days.add(visit.day)
                if len(outcome.errors) < 20:
                    outcome.errors.append(f"visit #{visit.index}: {type(exc).__name__}: {exc}")
            raise
        with lock:
            outcome.visits += 1
            for name, n in done.items():
                if name.endswith("_skipped"):
                    outcome.skipped[name.removesuffix("_skipped")] += n
                else:
                    outcome.steps[name] += n

    def day_bookkeeping(visit: Visit, _future: object) -> None:
        nonlocal next_day
        left[visit.day] -= 1
        # Days are done in order: a day with a failed visit (or after a stop) is not.
        while (next_day < len(days) and left[days[next_day]] == 0 and not stop.is_set()
               and days[next_day] not in failed_days):
            outcome.done_through = days[next_day]
            on_day_done(days[next_day])
            next_day += 1

    run_all(todo, run_one, workers=workers, stop=stop, desc="browsing", unit="visit", progress=progress,
            on_done=day_bookkeeping)
    return outcome


# -- a whole window, resumable ------------------------------------------------------------------------
def shop_metrics(web_url: str, workers: int = 1, timeout: float = 30.0, idle: bool = False
                 ) -> dict[int, dict[str, int]]:
    """The funnel-event counters of each of the shop's `workers` processes (`GET /metrics`), by
    process id; with `idle`, once each has sent (or dropped) every event it queued.

    Every poll opens a new connection, which the kernel hands to whichever worker accepts first,
    so all of them answer after a few polls. Gives up after `timeout` with what it has."""
    latest: dict[int, dict[str, int]] = {}
    deadline = time.monotonic() + timeout
    while True:
        resp = requests.get(web_url.rstrip("/") + "/metrics", headers={"Connection": "close"}, timeout=5)
        resp.raise_for_status()
        body = resp.json()
        latest[body.get("worker", 0)] = body["funnel_events"]
        settled = not idle or all(m["waiting"] == 0 and m["in_flight"] == 0 for m in latest.values())
        if (len(latest) >= workers and settled) or time.monotonic() > deadline:
            return latest
        time.sleep(0.02 if len(latest) < workers else 0.2)


def _delta(after: dict[int, dict[str, int]], before: dict[int, dict[str, int]], name: str) -> int:
    return sum(max(0, m[name] - before.get(worker, {}).get(name, 0)) for worker, m in after.items())


def wait_until_healthy(base_url: str, what: str, timeout: float = 30.0) -> None:
    """Fail at once with a clear message rather than after minutes of retries."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(base_url.rstrip("/") + "/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} does not answer at {base_url}/health")
        time.sleep(0.5)


def browse_pages(plan: Plan, catalog: Catalog, web_url: str, clock_key: str, marker: dict[str, Any],
                 save: Callable[[dict[str, Any]], None], *, browsers_per_day: int | None = None,
                 browse_days: int = BROWSE_DAYS, web_workers: int = 1, workers: int = 12,
                 progress: bool = True) -> dict[str, Any]:
    """Browse the plan's window on the shop's pages after its orders (`marker["counts"]`), resuming
    after `marker["browsed_through"]` (each finished day is saved there). Returns the orders'
    counts with the browsing's added (`"browsing"`), saved into the marker once every visit went
    through (a later call then has nothing left to do)."""
    wait_until_healthy(web_url, "the shop")
    marker.setdefault("browsers_per_day", browsers_per_day)
    marker.setdefault("browse_days", browse_days)
    visits = build_visits(catalog, plan, marker["browsers_per_day"], marker["browse_days"])
    planned = describe_visits(visits)
    print(f"Browsing the shop: {planned['visits']} visits ({planned['buyer_visits']} before an order), "
          f"{planned['page_views']} product pages, {planned['cart_adds']} cart additions, "
          f"{planned['checkouts']} checkouts ...")

    def day_done(day: str) -> None:
        marker["browsed_through"] = day
        save(marker)

    before = shop_metrics(web_url, web_workers)
    started = time.monotonic()
    outcome = execute_visits(visits, web_url, clock_key, workers=workers, progress=progress,
                             done_through=marker.get("browsed_through"), on_day_done=day_done)
    after = shop_metrics(web_url, web_workers, timeout=60.0, idle=True)
    counts = {
        **planned,
        "visits_done": outcome.visits,
        "steps_done": dict(outcome.steps),
        "steps_skipped": sum(outcome.skipped.values()),
        "visits_failed": outcome.failed,
        "funnel_events_sent": _delta(after, before, "sent"),
        "funnel_events_dropped": _delta(after, before, "dropped"),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(f"Browsed {outcome.visits} visits in {counts['seconds']:.0f}s; funnel events sent "
          f"{counts['funnel_events_sent']}, dropped {counts['funnel_events_dropped']}.")
    if counts["funnel_events_dropped"]:
        print("warning: the shop dropped funnel events (see its log and GET /metrics)", file=sys.stderr)
    result = {**marker["counts"], "browsing": counts}
    if outcome.failed == 0 and outcome.aborted is None:
        save({**marker, "counts": result})
    else:
        print(f"warning: the browsing is incomplete ({outcome.failed} visits failed"
              + (f"; stopped: {outcome.aborted}" if outcome.aborted else "")
              + "); run it again to resume.\n  " + "\n  ".join(outcome.errors[:5]), file=sys.stderr)
    return result
