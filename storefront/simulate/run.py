"""Seed a local stack and replay a few months of shoppers through the real order API.

`seed_and_simulate` is what `make up` runs: it writes the seeded sellers and products, builds
the deterministic shopper plan (`shoppers.build_plan`) and executes it against the order
service over HTTP, with a pool of threads (`execute.execute`, through `order_client.OrderClient`).
Every request is backdated with the local-only signed clock
(`storefront.common.clock.signed_headers`), so the orders land on the simulated days.

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
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from gitgoods import aws
from gitgoods.contract.ids import parse_utc, utc_iso
from gitgoods.settings import Settings
from storefront.common.pii import PiiProtector
from storefront.simulate import seed as seeding
from storefront.simulate.execute import DEFAULT_WORKERS, Outcome, execute
from storefront.simulate.pages import browse_pages, wait_until_healthy
from storefront.simulate.plan import LIFECYCLE_EVENTS, Plan, describe
from storefront.simulate.shoppers import DEFAULT_ORDERS_PER_DAY, build_plan


# -- the once-only, resumable run ------------------------------------------------------------
def marker_path(settings: Settings, seed: int) -> Path:
    return settings.state_dir / f"simulation-{seed}.json"


def simulated_first_day(settings: Settings) -> date | None:
    """The first day any simulation in this home wrote (its window's start), None without one."""
    starts = []
    for marker in sorted(settings.state_dir.glob("simulation-*.json")):
        try:
            data = json.loads(marker.read_text())
            starts.append((parse_utc(data["end"]) - timedelta(days=int(data["days"]))).date())
        except (OSError, ValueError, KeyError):
            continue
    return min(starts, default=None)


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
