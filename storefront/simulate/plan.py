"""The shopper plan's data types: the planned orders, their customers and lifecycle events.

`shoppers.build_plan` computes a `Plan` (every order of the simulated window, up front); the run
(`storefront.simulate.execute`) and the browsing (`storefront.simulate.pages`) read it. `describe`,
`local_hour_counts` and `weekend_share` give a few figures about a plan.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gitgoods.contract.ids import utc_iso

# Fixed UTC offsets (no daylight saving) standing in for each country's shoppers.
UTC_OFFSET_HOURS = {
    "US": -6, "CA": -5, "GB": 0, "DE": 1, "FR": 1, "ES": 1, "IT": 1, "NL": 1, "JP": 9, "AU": 10,
}

LIFECYCLE_EVENTS = ("payment_captured", "order_shipped", "order_delivered", "order_cancelled",
                    "order_refunded")


@dataclass(frozen=True)
class Customer:
    email: str
    name: str
    address: str
    phone: str
    country: str

    def as_body(self) -> dict[str, str]:
        return {"email": self.email, "name": self.name, "address": self.address,
                "phone": self.phone, "country": self.country}


@dataclass(frozen=True)
class PlannedEvent:
    type: str
    at: datetime
    lines: tuple[int, ...] | None = None  # only for a partial refund

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type}
        if self.lines is not None:
            body["lines"] = list(self.lines)
        return body


@dataclass(frozen=True)
class PlannedOrder:
    index: int
    idempotency_key: str
    at: datetime
    customer: Customer
    currency: str
    lines: tuple[tuple[str, int], ...]  # (product_id, qty)
    events: tuple[PlannedEvent, ...]  # lifecycle events due by the end of the window, in order
    promo: bool = False

    def body(self) -> dict[str, Any]:
        return {
            "customer": self.customer.as_body(),
            "lines": [{"product_id": pid, "qty": qty} for pid, qty in self.lines],
            "currency": self.currency,
        }

    @property
    def local_time(self) -> datetime:
        """The shopper's wall-clock time (naive), used by the arrival model."""
        offset = timedelta(hours=UTC_OFFSET_HOURS[self.customer.country])
        return (self.at + offset).replace(tzinfo=None)


@dataclass
class Plan:
    seed: int
    days: int
    start: datetime
    end: datetime
    orders: list[PlannedOrder]
    customers: int
    promo_days: list[str] = field(default_factory=list)  # local dates, ISO
    unfillable: int = 0  # arrivals dropped because no product in their currency had stock left

    def event_counts(self) -> dict[str, int]:
        counts = Counter({"order_placed": len(self.orders)})
        counts.update(e.type for o in self.orders for e in o.events)
        return {t: counts.get(t, 0) for t in ("order_placed", *LIFECYCLE_EVENTS)}


def describe(plan: Plan) -> dict[str, Any]:
    """A few figures about a plan, for the summary and the docs."""
    per_customer = Counter(o.customer.email for o in plan.orders)
    return {
        "window": [utc_iso(plan.start), utc_iso(plan.end)],
        "orders": len(plan.orders),
        "customers": len(per_customer),
        "returning_customers": sum(1 for n in per_customer.values() if n > 1),
        "lines": sum(len(o.lines) for o in plan.orders),
        "units": sum(q for o in plan.orders for _, q in o.lines),
        "promo_days": plan.promo_days,
        "events": plan.event_counts(),
    }


def local_hour_counts(orders: list[PlannedOrder]) -> list[int]:
    counts = [0] * 24
    for order in orders:
        counts[order.local_time.hour] += 1
    return counts


def weekend_share(orders: list[PlannedOrder]) -> float:
    weekend = sum(1 for o in orders if o.local_time.weekday() >= 5)
    return weekend / len(orders) if orders else 0.0


__all__ = [
    "LIFECYCLE_EVENTS", "UTC_OFFSET_HOURS", "Customer", "PlannedEvent", "PlannedOrder", "Plan",
    "describe", "local_hour_counts", "weekend_share",
]
