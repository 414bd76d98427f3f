"""The shopper model: a deterministic plan of every order the simulator will place (`build_plan`;
the plan's data types are in `storefront.simulate.plan`).

The whole plan (who buys what, when, and what happens to each order afterwards) is computed
up front from one `random.Random(seed)` and the end of the simulated window, before a single
request is sent. Running it with any number of threads therefore always produces the same
orders, and a rerun after an interruption sends exactly the same requests again.

The model, in short (docs/simulation.md has the reasoning):

- Order arrivals are a Poisson process per country and hour, with an intensity made of the
  shopper's *local* hour of day (evening peak, quiet night), day of week (weekend uplift), a
  gentle growth trend over the window and a few promotion days; it is scaled so that the
  expected number of orders is `orders_per_day * days`.
- A shopper pays in their country's currency and buys from sellers selling in it; sellers are
  chosen by popularity (the long tail the seed gives them), products by a per-product appeal.
- Customers come from a growing pool: an order is either a new customer's first or a returning
  customer's next, returning customers chosen by a heavy-tailed loyalty weight.
- After placing, an order is paid minutes later, shipped after 0.5-3 days and delivered 1-5
  days after that; a few are cancelled before shipping and a few delivered ones are refunded,
  some only for some lines. Events that would happen after the end of the window are dropped,
  so the newest orders are still paid or shipped.
"""

from __future__ import annotations

import math
import random
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

from storefront.simulate.plan import UTC_OFFSET_HOURS, Customer, Plan, PlannedEvent, PlannedOrder
from storefront.simulate.seed import COUNTRY_CURRENCY, COUNTRY_WEIGHTS, Catalog

# -- arrival model ---------------------------------------------------------------------------
# ~5,000 orders over the default 90 days.
DEFAULT_ORDERS_PER_DAY = 5000 / 90

# Relative order intensity by the shopper's local hour (0-23): a quiet night, a lunch bump and
# an evening peak around 20:00.
HOURLY = (
    0.35, 0.22, 0.14, 0.10, 0.09, 0.11, 0.20, 0.38, 0.55, 0.68, 0.78, 0.88,
    1.00, 0.98, 0.90, 0.88, 0.92, 1.05, 1.30, 1.60, 1.85, 1.80, 1.35, 0.75,
)
# Monday .. Sunday: Friday a little up, the weekend clearly up.
WEEKDAY = (0.92, 0.90, 0.94, 0.98, 1.08, 1.32, 1.26)
# Growth of the daily volume, compounded: about +25% over 90 days.
GROWTH_PER_DAY = 0.0025
# A promotion day roughly every four weeks; the whole (local) day sells this many times more.
PROMO_EVERY_DAYS = 28
PROMO_UPLIFT = (2.0, 3.0)

# -- basket model ----------------------------------------------------------------------------
LINES_PER_ORDER = {1: 56, 2: 25, 3: 12, 4: 7}
UNITS_PER_LINE = {1: 78, 2: 16, 3: 6}
SAME_SELLER_SHARE = 0.5  # an extra line comes from the first line's seller this often
STOCK_HEADROOM = 0.85  # never plan to sell more than this share of a product's seeded stock

# -- customers -------------------------------------------------------------------------------
RETURNING_SHARE = 0.5  # share of orders from a customer who bought before (once there are any)

# -- lifecycle -------------------------------------------------------------------------------
CANCEL_SHARE = 0.04  # cancelled before shipping ...
CANCEL_UNPAID_SHARE = 0.35  # ... of which this share before payment (payment failed)
REFUND_SHARE = 0.05  # of delivered orders
PARTIAL_REFUND_SHARE = 0.4  # of refunds of multi-line orders: only some lines

EMAIL_DOMAINS = ("mail.example", "inbox.example", "post.example", "webmail.example",
                 "shopper.example")
FIRST_NAMES = (
    "Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn",
    "Emma", "Olivia", "Liam", "Noah", "Mia", "Lucas", "Sofia", "Leon", "Hannah", "Felix",
    "Chloé", "Zoë", "José", "Lena", "Marco", "Giulia", "Pablo", "Lucía", "Daan", "Sanne",
    "Oliver", "Amelia", "Jack", "Isla", "Ethan", "Ava", "Chloe", "Max", "Noor", "Ruby",
)
LAST_NAMES = (
    "Smith", "Johnson", "Brown", "Miller", "Davis", "Wilson", "Taylor", "Clark", "Walker",
    "Young", "Müller", "Schmidt", "Fischer", "Martin", "Bernard", "Dubois", "García",
    "Fernández", "Rossi", "Bianchi", "de Vries", "Jansen", "Evans", "Hughes", "Murphy",
    "O'Brien", "Campbell", "Tremblay", "Roy", "Nguyen", "Patel", "Kelly", "Harris", "Lopez",
)
JP_FIRST_NAMES = ("Haruto", "Yui", "Sota", "Aoi", "Ren", "Hina", "Yuto", "Sakura", "Kaito", "Mei")
JP_LAST_NAMES = ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto",
                 "Nakamura", "Kobayashi", "Kato")
STREETS = ("Quarry Lane", "Maple Street", "Harbour Road", "Station Road", "Mill Lane",
           "Church Street", "Park Avenue", "Elm Grove", "Victoria Road", "Canal Walk",
           "Orchard Way", "High Street", "Lake View", "Cedar Court", "Bridge Street")
CITIES = {
    "US": ("Springfield", "Riverton", "Fairview", "Lakewood", "Greenville"),
    "CA": ("Maplewood", "Northbridge", "Port Alder"),
    "GB": ("Ashford", "Kingsbridge", "Millbrook", "Oakham"),
    "DE": ("Lindenau", "Bergheim", "Neustadt"),
    "FR": ("Villeneuve", "Beaulieu", "Montclair"),
    "ES": ("Villanueva", "Puerto Claro"),
    "IT": ("Borgo Verde", "Castelnuovo"),
    "NL": ("Nieuwdorp", "Havenstad"),
    "JP": ("Minato", "Aobadai", "Sakuragaoka"),
    "AU": ("Bayside", "Kingsford", "Wattle Creek"),
}
CALLING_CODES = {"US": "1", "CA": "1", "GB": "44", "DE": "49", "FR": "33", "ES": "34",
                 "IT": "39", "NL": "31", "JP": "81", "AU": "61"}


# -- helpers ---------------------------------------------------------------------------------
def _weighted(rng: random.Random, table: dict[Any, float]) -> Any:
    return rng.choices(list(table), weights=list(table.values()))[0]


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method: fine for the small per-hour rates used here."""
    if lam <= 0:
        return 0
    if lam > 30:  # normal approximation, never reached with the default volumes
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


def idempotency_key(seed: int, end: datetime, index: int) -> str:
    # The window's end is part of the key, so a simulation over another window (after its
    # marker was removed) never collides with an earlier one's keys.
    return f"sim-{seed}-{end:%Y%m%dT%H%M%S}-{index:06d}"


# -- the plan --------------------------------------------------------------------------------
class _CustomerPool:
    """New customers appear as needed; returning ones are picked by a heavy-tailed loyalty."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.by_country: dict[str, list[Customer]] = {}
        self.cum_weights: dict[str, list[float]] = {}
        self.count = 0

    def pick(self, country: str) -> Customer:
        pool = self.by_country.setdefault(country, [])
        weights = self.cum_weights.setdefault(country, [])
        if pool and self.rng.random() < RETURNING_SHARE:
            return self.rng.choices(pool, cum_weights=weights)[0]
        customer = self._new(country)
        loyalty = min(self.rng.paretovariate(1.3), 40.0)
        pool.append(customer)
        weights.append((weights[-1] if weights else 0.0) + loyalty)
        return customer

    def _new(self, country: str) -> Customer:
        rng = self.rng
        self.count += 1
        n = self.count
        if country == "JP":
            first, last = rng.choice(JP_FIRST_NAMES), rng.choice(JP_LAST_NAMES)
        else:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = rng.choice((f"{_ascii(first)}.{_ascii(last)}{n}", f"{_ascii(first)[0]}{_ascii(last)}{n}",
                            f"{_ascii(first)}{n}"))
        email = f"{local}@{rng.choice(EMAIL_DOMAINS)}"
        number = rng.randint(1, 240)
        postcode = f"{rng.randint(10000, 99999)}"
        address = f"{number} {rng.choice(STREETS)}, {postcode} {rng.choice(CITIES[country])}"
        phone = f"+{CALLING_CODES[country]} {rng.randint(20, 99)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"
        return Customer(email, f"{first} {last}", address, phone, country)


class _Shelf:
    """What can be bought in each currency, with the stock the plan has not yet used."""

    def __init__(self, catalog: Catalog, rng: random.Random):
        popularity = {s["seller_id"]: float(s.get("popularity", 1.0)) for s in catalog.sellers}
        self.left: dict[str, int] = {}
        self.appeal: dict[str, float] = {}
        self.by_seller: dict[str, list[str]] = {}
        self.sellers_by_currency: dict[str, list[str]] = {}
        self.currency_of_seller: dict[str, str] = {}
        self.seller_of: dict[str, str] = {}
        for product in catalog.products:
            # Drawn for every product, active or not, so the draws do not depend on the flags.
            appeal = rng.paretovariate(1.5)
            if not product.get("active", True) or product["seller_id"] not in popularity:
                continue
            pid, seller = product["product_id"], product["seller_id"]
            self.left[pid] = int(product["stock"] * STOCK_HEADROOM)
            self.appeal[pid] = appeal
            self.by_seller.setdefault(seller, []).append(pid)
            self.seller_of[pid] = seller
            if seller not in self.currency_of_seller:
                self.currency_of_seller[seller] = product["currency"]
                self.sellers_by_currency.setdefault(product["currency"], []).append(seller)
        self.popularity = popularity

    def currencies(self) -> set[str]:
        return set(self.sellers_by_currency)

    def _available(self, seller: str, qty: int, exclude: set[str]) -> list[str]:
        return [p for p in self.by_seller.get(seller, []) if self.left[p] >= qty and p not in exclude]

    def pick(self, rng: random.Random, currency: str, qty: int, exclude: set[str],
             prefer_seller: str | None = None) -> str | None:
        if prefer_seller is not None:
            choices = self._available(prefer_seller, qty, exclude)
            if choices:
                return self._take(rng, choices, qty)
        sellers = [s for s in self.sellers_by_currency.get(currency, [])
                   if self._available(s, qty, exclude)]
        if not sellers:
            return None
        seller = rng.choices(sellers, weights=[self.popularity[s] for s in sellers])[0]
        return self._take(rng, self._available(seller, qty, exclude), qty)

    def _take(self, rng: random.Random, choices: list[str], qty: int) -> str:
        pid = rng.choices(choices, weights=[self.appeal[p] for p in choices])[0]
        self.left[pid] -= qty
        return pid


def _arrivals(rng: random.Random, countries: dict[str, float], start: datetime, days: int,
              orders_per_day: float) -> tuple[list[tuple[datetime, str, bool]], list[str]]:
    """(time, country, promo) of every order in the window, sorted by time."""
    hours = days * 24
    dates = sorted({(start + timedelta(hours=h)).date() for h in range(hours)})
    n_promos = max(1, round(days / PROMO_EVERY_DAYS)) if days >= 7 else 0
    # A promotion is a calendar date, honoured on each shopper's local date; never on the
    # window's first or last two days, so every promotion is seen whole.
    candidates = dates[1:-2]
    promo_days = sorted(rng.sample(candidates, min(n_promos, len(candidates))))
    uplift = {d: rng.uniform(*PROMO_UPLIFT) for d in promo_days}

    cells: list[tuple[int, str, float, bool]] = []
    for h in range(hours):
        slot = start + timedelta(hours=h)
        trend = (1 + GROWTH_PER_DAY) ** (h / 24)
        for country, weight in countries.items():
            local = slot + timedelta(hours=UTC_OFFSET_HOURS[country])
            promo = local.date() in uplift
            intensity = (weight * HOURLY[local.hour] * WEEKDAY[local.weekday()] * trend
                         * (uplift[local.date()] if promo else 1.0))
            cells.append((h, country, intensity, promo))
    scale = orders_per_day * days / sum(c[2] for c in cells)

    arrivals = []
    for h, country, intensity, promo in cells:
        for _ in range(_poisson(rng, intensity * scale)):
            at = start + timedelta(hours=h, milliseconds=rng.randrange(3_600_000))
            arrivals.append((at, country, promo))
    arrivals.sort(key=lambda a: a[0])  # stable: ties keep their (deterministic) draw order
    return arrivals, [d.isoformat() for d in promo_days]


def _lifecycle(rng: random.Random, placed: datetime, n_lines: int, end: datetime
               ) -> tuple[PlannedEvent, ...]:
    """Every decision is drawn whatever the window's end, then the future is cut off."""
    events: list[PlannedEvent] = []
    paid = placed + timedelta(seconds=30 + min(rng.expovariate(1 / 240), 3600))
    cancel = rng.random() < CANCEL_SHARE
    unpaid = rng.random() < CANCEL_UNPAID_SHARE
    shipped = paid + timedelta(days=rng.triangular(0.5, 3.0, 1.0))
    delivered = shipped + timedelta(days=rng.triangular(1.0, 5.0, 2.0))
    refund = rng.random() < REFUND_SHARE
    refunded = delivered + timedelta(days=rng.triangular(1.0, 14.0, 3.0))
    partial = n_lines > 1 and rng.random() < PARTIAL_REFUND_SHARE
    refund_lines = tuple(sorted(rng.sample(range(1, n_lines + 1), rng.randint(1, n_lines - 1)))) \
        if partial else None
    cancel_delay = rng.uniform(0.02, 0.25)  # share of the time to the planned shipment

    if cancel and unpaid:
        # Payment failed or the shopper gave up: cancelled within a few hours, never paid.
        events.append(PlannedEvent("order_cancelled", paid + timedelta(minutes=rng.uniform(20, 180))))
    elif cancel:
        events += [PlannedEvent("payment_captured", paid),
                   PlannedEvent("order_cancelled", paid + (shipped - paid) * cancel_delay)]
    else:
        events += [PlannedEvent("payment_captured", paid), PlannedEvent("order_shipped", shipped),
                   PlannedEvent("order_delivered", delivered)]
        if refund:
            events.append(PlannedEvent("order_refunded", refunded, refund_lines))
    due = []
    for event in events:
        if event.at > end:
            break
        due.append(event)
    return tuple(due)


def build_plan(catalog: Catalog, seed: int, days: int, end: datetime,
               orders_per_day: float = DEFAULT_ORDERS_PER_DAY) -> Plan:
    """Every order of a `days`-long window ending at `end`: a pure function of its arguments."""
    if end.tzinfo is None:
        raise ValueError("end must be timezone-aware")
    end = end.astimezone(UTC)
    start = end - timedelta(days=days)
    rng = random.Random(seed)
    shelf = _Shelf(catalog, rng)
    currencies = shelf.currencies()
    countries = {c: float(w) for c, w in COUNTRY_WEIGHTS.items() if COUNTRY_CURRENCY[c] in currencies}
    if not countries:
        raise ValueError("the catalog has no active product to sell")
    arrivals, promo_days = _arrivals(rng, countries, start, days, orders_per_day)
    pool = _CustomerPool(rng)

    orders: list[PlannedOrder] = []
    unfillable = 0
    for at, country, promo in arrivals:
        currency = COUNTRY_CURRENCY[country]
        customer = pool.pick(country)
        n_lines = _weighted(rng, LINES_PER_ORDER)
        lines: list[tuple[str, int]] = []
        first_seller: str | None = None
        for _ in range(n_lines):
            qty = _weighted(rng, UNITS_PER_LINE)
            same = first_seller if rng.random() < SAME_SELLER_SHARE else None
            pid = shelf.pick(rng, currency, qty, {p for p, _ in lines}, same)
            if pid is None:
                continue
            if first_seller is None:
                first_seller = shelf.seller_of[pid]
            lines.append((pid, qty))
        if not lines:
            unfillable += 1
            continue
        index = len(orders)
        orders.append(PlannedOrder(
            index=index,
            idempotency_key=idempotency_key(seed, end, index),
            at=at,
            customer=customer,
            currency=currency,
            lines=tuple(lines),
            events=_lifecycle(rng, at, len(lines), end),
            promo=promo,
        ))
    return Plan(seed, days, start, end, orders, pool.count, promo_days, unfillable)


__all__ = ["DEFAULT_ORDERS_PER_DAY", "build_plan", "idempotency_key"]
