"""The versioned order-event schema, loaded from the one JSON file both sides read."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

SCHEMA_VERSION = 1
ORDER_EVENT_TYPES = (
    "order_placed",
    "payment_captured",
    "order_shipped",
    "order_delivered",
    "order_cancelled",
    "order_refunded",
)
# Shop pages (storefront/web/funnel.py): carry a session_id, no order.
FUNNEL_EVENT_TYPES = ("product_viewed", "cart_added", "checkout_started")


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    text = resources.files("gitgoods.contract").joinpath("events.schema.json").read_text()
    return json.loads(text)


@lru_cache(maxsize=1)
def validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator  # here: the ingest reads the schema without validating

    return Draft202012Validator(schema())


def errors(event: dict[str, Any]) -> list[str]:
    """Every way `event` breaks the schema, as readable reasons (empty when it is valid)."""
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator().iter_errors(event)]
