"""The cart in Flask's signed session cookie: product ids and quantities only. Prices, titles and
stock are always read from the catalog, so a cookie can never set a price.

The checkout snapshot (`session["checkout"]`) fixes the idempotency key of one checkout: the
lines and currency being ordered and the key, made when the checkout form is shown. Every submit
of that form sends the same key and the same lines, so the order service places one order however
often it arrives; after the order is placed the snapshot keeps the order id and receipt token."""

from __future__ import annotations

import secrets
from typing import Any

from flask import session

MAX_LINES = 20  # the order service's limits
MAX_QTY = 10


def lines() -> dict[str, int]:
    raw = session.get("cart", {})
    return {pid: qty for pid, qty in raw.items() if isinstance(qty, int) and 1 <= qty <= MAX_QTY}


def save(cart: dict[str, int]) -> None:
    session["cart"] = cart


def count() -> int:
    return sum(lines().values())


def checkout_snapshot() -> dict[str, Any] | None:
    return session.get("checkout")


def start_checkout(currency: str) -> dict[str, Any]:
    """The snapshot of the current cart: kept if it describes the same lines and is not placed
    yet (a reload of the form keeps its key), else a new one with a new key."""
    current = [[pid, qty] for pid, qty in sorted(lines().items())]
    snap = checkout_snapshot()
    if snap and snap["lines"] == current and snap["currency"] == currency and not snap.get("placed"):
        return snap
    snap = {"key": "chk_" + secrets.token_urlsafe(24), "lines": current, "currency": currency}
    session["checkout"] = snap
    return snap


def mark_placed(order_id: str, receipt_token: str) -> None:
    snap = dict(session["checkout"])
    snap["placed"] = {"order_id": order_id, "token": receipt_token}
    session["checkout"] = snap
    session["cart"] = {}
