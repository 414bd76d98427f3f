"""Small helpers shared by tests."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

from gitgoods import aws
from gitgoods.settings import Settings


def customer(n: int = 0, country: str = "US") -> dict[str, str]:
    return {
        "email": f"shopper{n}.{uuid.uuid4().hex[:6]}@mail.example",
        "name": f"Shopper Number{n} Testperson",
        "address": f"{100 + n} Quarry Lane, Springfield",
        "phone": f"+1 555 {1000 + n}",
        "country": country,
    }


def order_body(product: dict[str, Any], qty: int = 1, n: int = 0) -> dict[str, Any]:
    return {
        "customer": customer(n),
        "lines": [{"product_id": product["product_id"], "qty": qty}],
        "currency": product["currency"],
    }


RESERVED = 40  # the last products of the test catalog are kept for tests that change stock


def pick(catalog, kind: str | None = None, rng: random.Random | None = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A random active product, never one of the reserved ones."""
    rng = rng or random.Random(0)
    candidates = [p for p in catalog.products[:-RESERVED] if p["active"] and (kind is None or p["kind"] == kind)]
    return rng.choice(candidates)


def reserved(catalog, n: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The n-th reserved product: each stock-changing test uses its own."""
    products = [p for p in catalog.products[-RESERVED:] if p["active"]]
    return products[n]


def patient(settings: Settings, **update: Any) -> Settings:
    """Settings whose requests wait for a slow backend (a loaded test machine) instead of answering
    503 past the two-second budget; the budget itself is tested on its own."""
    return settings.model_copy(update={"request_budget_s": 60.0, "request_read_timeout_s": 30.0, **update})


def stock_of(settings: Settings, product_id: str) -> int:
    item = aws.client("dynamodb", settings).get_item(
        TableName=settings.table("catalog"), Key={"product_id": {"S": product_id}}, ConsistentRead=True
    )["Item"]
    return int(item["stock"]["N"])


def set_stock(settings: Settings, product_id: str, stock: int) -> None:
    aws.client("dynamodb", settings).update_item(
        TableName=settings.table("catalog"),
        Key={"product_id": {"S": product_id}},
        UpdateExpression="SET stock = :s",
        ExpressionAttributeValues={":s": {"N": str(stock)}},
    )


def scan_all(settings: Settings, table: str) -> list[dict[str, Any]]:
    ddb = aws.client("dynamodb", settings)
    items, kwargs = [], {"TableName": settings.table(table)}
    while True:
        resp = ddb.scan(**kwargs)
        items.extend(resp["Items"])
        if "LastEvaluatedKey" not in resp:
            return items
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def count_where(settings: Settings, table: str, attr: str, value: str) -> int:
    return sum(1 for i in scan_all(settings, table) if i.get(attr, {}).get("S") == value)


def missing_prerequisite(reason: str) -> None:
    """Skip a test whose prerequisite is missing, saying why; under CI=true (where every
    prerequisite is installed) fail instead, so a broken install never passes as skipped."""
    import os

    import pytest

    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"prerequisite missing under CI: {reason}")
    pytest.skip(reason)


def earlier_today(now: dt.datetime, minutes: float) -> dt.datetime:
    """A moment `minutes` (up to 60) before `now`, kept inside `now`'s day: in the first hour after
    midnight UTC the hour is squeezed into the time since midnight, order kept. Tests that place
    "today's" orders in the recent past use it, so they pass at 00:05 as at noon."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    room = min(now - midnight, dt.timedelta(minutes=60)) * 0.99
    return now - room * (minutes / 60)
