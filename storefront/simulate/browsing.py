"""The shoppers' browsing: visits to the shop's pages before (and without) buying.

The order plan (`shoppers.build_plan`) says what is bought; this module adds what shoppers look
at, so that the `funnel` mart has views, carts and checkouts to set against the orders. Visits go
through the shop's own pages on port 8080 (storefront/web), like a browser: they open product
pages, post the add-to-cart form with the CSRF token the page carried, and open the checkout form.
The pages record the funnel events themselves (storefront/web/funnel.py); nothing is written
behind their back. Every request is backdated with the signed clock header, as the orders are.

Two kinds of visit, both planned up front from the seed, like the orders:

- **buyer visits**: the shopper views each product of an order, adds it to the cart with the
  order's quantity and opens the checkout, in the minutes before the order is placed; the order
  itself is then placed by the simulator's buying, as before. For a share (`BUYER_SHARE`) of the
  orders of the browsed days, and for the last `MIN_BUYER_VISITS_PER_SELLER` orders of every
  seller whenever they were placed, so that every seller with orders has them in the funnel.
- **browsing visits** on each of the last `browse_days` days of the window (`browsers_per_day`,
  by default one per seller with products on sale, so every seller's products are viewed every
  one of those days): one to `MAX_VIEWS` product pages, the first of a seller taken in turn, the
  others mostly from the same seller; some add the last product to the cart (`CART_SHARE`) and
  some of those open the checkout and leave (`CHECKOUT_SHARE`).

Only the last days are browsed because pages cost far more than orders to simulate: a visit is
two to five page requests, each of which reads the catalog over HTTP, and `make up` should stay
quick (docs/simulation.md has the figures). `browse_days` covers the whole window when asked to.

A visit is one cookie jar (one visit cookie, so one funnel session). The redirect after adding
to the cart is not followed (the cart page records nothing), which saves a request per addition.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from storefront.simulate.plan import UTC_OFFSET_HOURS, Plan, PlannedOrder
from storefront.simulate.seed import COUNTRY_WEIGHTS, Catalog
from storefront.simulate.shoppers import HOURLY

BROWSE_DAYS = 14
BUYER_SHARE = 0.15
MIN_BUYER_VISITS_PER_SELLER = 2
MAX_VIEWS = 4
MORE_VIEWS = 0.45  # after each view, another one this often (up to MAX_VIEWS)
SAME_SELLER = 0.6  # another view stays with the seller this often
CART_SHARE = 0.3
CHECKOUT_SHARE = 0.35
TWO_UNITS = 0.1  # a browsing visit adds two units instead of one this often

Kind = Literal["view", "cart", "checkout"]


@dataclass(frozen=True)
class Step:
    kind: Kind
    at: datetime
    product_id: str | None = None
    qty: int = 0


@dataclass(frozen=True)
class Visit:
    index: int
    steps: tuple[Step, ...]
    buyer: bool

    @property
    def day(self) -> str:
        return self.steps[0].at.date().isoformat()


# -- the plan --------------------------------------------------------------------------------------
class _Shelf:
    """Active products by seller, with an appeal each (drawn for every product, so the draws do not
    depend on the active flags)."""

    def __init__(self, catalog: Catalog, rng: random.Random):
        popularity = {s["seller_id"]: float(s.get("popularity", 1.0)) for s in catalog.sellers}
        self.by_seller: dict[str, list[str]] = {}
        self.appeal: dict[str, float] = {}
        for product in catalog.products:
            appeal = rng.paretovariate(1.5)
            if product.get("active", True) and product["seller_id"] in popularity:
                self.by_seller.setdefault(product["seller_id"], []).append(product["product_id"])
                self.appeal[product["product_id"]] = appeal
        self.sellers = sorted(self.by_seller)
        self.popularity = [popularity[s] for s in self.sellers]

    def product_of(self, rng: random.Random, seller: str) -> str:
        choices = self.by_seller[seller]
        return rng.choices(choices, weights=[self.appeal[p] for p in choices])[0]

    def popular_seller(self, rng: random.Random) -> str:
        return rng.choices(self.sellers, weights=self.popularity)[0]


def _visit_start(rng: random.Random, day: datetime) -> datetime:
    """A time on `day` (UTC midnight) shaped like the order arrivals: a shopper's country, then
    their local hour of day."""
    country = rng.choices(list(COUNTRY_WEIGHTS), weights=list(COUNTRY_WEIGHTS.values()))[0]
    local_hour = rng.choices(range(24), weights=HOURLY)[0]
    hour = (local_hour - UTC_OFFSET_HOURS[country]) % 24
    return day + timedelta(hours=hour, seconds=rng.uniform(0, 3600))


def _browsing_steps(rng: random.Random, shelf: _Shelf, seller: str, start: datetime) -> list[Step]:
    steps = [Step("view", start, shelf.product_of(rng, seller))]
    at = start
    while len(steps) < MAX_VIEWS and rng.random() < MORE_VIEWS:
        at += timedelta(seconds=rng.uniform(15, 180))
        if rng.random() >= SAME_SELLER:
            seller = shelf.popular_seller(rng)
        steps.append(Step("view", at, shelf.product_of(rng, seller)))
    if rng.random() < CART_SHARE:
        at += timedelta(seconds=rng.uniform(10, 90))
        steps.append(Step("cart", at, steps[-1].product_id, 2 if rng.random() < TWO_UNITS else 1))
        if rng.random() < CHECKOUT_SHARE:
            steps.append(Step("checkout", at + timedelta(seconds=rng.uniform(10, 120))))
    return steps


def _buyer_steps(rng: random.Random, order: PlannedOrder) -> list[Step]:
    """View and add each line of `order`, then open the checkout, ending shortly before it is placed."""
    gaps: list[tuple[Kind, str | None, int, float]] = []
    for pid, qty in order.lines:
        gaps.append(("view", pid, 0, rng.uniform(20, 150)))  # seconds to the step after this one
        gaps.append(("cart", pid, qty, rng.uniform(10, 60)))
    gaps.append(("checkout", None, 0, rng.uniform(30, 240)))  # filling in the form
    at = order.at - timedelta(seconds=sum(g[3] for g in gaps))
    steps = []
    for kind, pid, qty, gap in gaps:
        steps.append(Step(kind, at, pid, qty))
        at += timedelta(seconds=gap)
    return steps


def build_visits(catalog: Catalog, plan: Plan, browsers_per_day: int | None = None,
                 browse_days: int = BROWSE_DAYS, buyer_share: float = BUYER_SHARE) -> list[Visit]:
    """Every visit of the plan's window, sorted by time: a pure function of its arguments."""
    rng = random.Random(plan.seed * 1_000_003 + 17)
    shelf = _Shelf(catalog, rng)
    if not shelf.sellers:
        return []
    per_day = len(shelf.sellers) if browsers_per_day is None else browsers_per_day
    seller_of = {p["product_id"]: p["seller_id"] for p in catalog.products}
    planned: list[tuple[list[Step], bool]] = []

    browse_from = max(plan.start, plan.end - timedelta(days=browse_days))

    # Buyer visits: every seller's last orders, and a share of those of the browsed days.
    by_seller: dict[str, list[int]] = {}
    for order in plan.orders:
        for seller in dict.fromkeys(seller_of[pid] for pid, _ in order.lines):
            by_seller.setdefault(seller, []).append(order.index)
    chosen = {i for indexes in by_seller.values() for i in indexes[-MIN_BUYER_VISITS_PER_SELLER:]}
    for order in plan.orders:
        # drawn for every order, so that the choice of one does not shift the others'
        picked = (rng.random() < buyer_share and order.at >= browse_from) or order.index in chosen
        steps = _buyer_steps(rng, order)
        if picked and steps[0].at >= plan.start:
            planned.append((steps, True))

    # Browsing visits: each day, the sellers in turn (in a new order every day) for the first view.
    day = browse_from.replace(hour=0, minute=0, second=0, microsecond=0)
    while day < plan.end:
        turn = list(shelf.sellers)
        rng.shuffle(turn)
        for k in range(per_day):
            steps = _browsing_steps(rng, shelf, turn[k % len(turn)], _visit_start(rng, day))
            if browse_from <= steps[0].at and steps[-1].at <= plan.end:
                planned.append((steps, False))
        day += timedelta(days=1)

    planned.sort(key=lambda visit: visit[0][0].at)
    return [Visit(i, tuple(steps), buyer) for i, (steps, buyer) in enumerate(planned)]


def describe_visits(visits: list[Visit]) -> dict[str, int]:
    steps = Counter(step.kind for visit in visits for step in visit.steps)
    return {
        "visits": len(visits),
        "buyer_visits": sum(1 for v in visits if v.buyer),
        "page_views": steps["view"],
        "cart_adds": steps["cart"],
        "checkouts": steps["checkout"],
    }
