"""`POST /internal/funnel-events`: the shop's funnel events (product views, cart additions,
checkout starts), written into `order_events` in batches.

The shop's pages (storefront/web/funnel.py) queue their events and send them here in the
background, with the internal token. A batch is checked whole before anything is written: every
event must become a valid contract event (`events.schema.json`), or the answer is a 400 naming the
first bad one and nothing is written. No PII crosses: the page sends an opaque random visitor id,
and the `customer` the event carries is its pseudonym, made here with the same keyed HMAC as a
customer's (`PiiProtector.pseudonym`); the visitor id itself is not stored.

The batch is one `TransactWriteItems` (all or nothing), each put conditional on the event id
being new or already holding this same funnel event. The page makes the event ids, so a batch
sent again after a lost answer writes the same items again (the item is a pure function of what
was sent) and nothing twice, while an id that already names another event, an order event above
all, is a 409 and overwrites nothing.

Times: an event happens when the page was served, so `occurred_at` may be at most
`MAX_EVENT_AGE` old (the page's queue flushes within seconds) and not in the future. An older
time is accepted only with `sim_signature`, the simulator's clock signature of the event
(`storefront.common.clock.sign(key, "FUNNEL", event_id, occurred_at)`): the page adds it when the
request it served was backdated with the signed clock header, which only a local stack accepts.
"""

from __future__ import annotations

import hmac
import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from flask import Blueprint, current_app, jsonify
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from gitgoods.contract import events as contract
from gitgoods.contract.events import FUNNEL_EVENT_TYPES, SCHEMA_VERSION
from gitgoods.contract.ids import day_shard, parse_utc
from gitgoods.contract.tables import TABLES
from storefront.common.clock import sign
from storefront.common.ddb import to_item
from storefront.common.errors import ApiError, Unavailable
from storefront.common.web import json_body, require_internal_token
from storefront.orders.repo import TransactionCancelled
from storefront.orders.service import OrderService

log = logging.getLogger(__name__)
bp = Blueprint("orders_funnel", __name__)

# Events in one batch: one TransactWriteItems holds at most 100 actions.
MAX_BATCH = 100
MAX_EVENT_AGE = timedelta(hours=1)
MAX_CLOCK_SKEW = timedelta(minutes=5)
# A random id the page keeps in its visit cookie; never stored, only its pseudonym.
VISITOR_ID = r"^vis_[A-Za-z0-9_-]{16,64}$"
SIM_PURPOSE = "FUNNEL"  # the "method" of the simulator's signature over an event
# Fields of the item made here rather than sent.
_COMPUTED = frozenset({"line", "amount_cents", "day_shard", "customer", "schema_version"})


class FunnelLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seller_id: StrictStr
    product_id: StrictStr
    qty: StrictInt
    unit_cents: StrictInt
    kind: StrictStr | None = None
    platform: StrictStr | None = None


class FunnelEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: StrictStr
    event_type: Literal[FUNNEL_EVENT_TYPES]  # type: ignore[valid-type]
    occurred_at: StrictStr
    session_id: StrictStr
    visitor_id: Annotated[StrictStr, Field(pattern=VISITOR_ID)]
    currency: StrictStr | None = None
    lines: Annotated[list[FunnelLineIn], Field(min_length=1, max_length=20)]
    sim_signature: StrictStr | None = None


class FunnelBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: Annotated[list[FunnelEventIn], Field(min_length=1, max_length=MAX_BATCH)]


def event_item(event: FunnelEventIn, customer: str) -> dict[str, Any]:
    """The `order_events` item of a funnel event: lines numbered, amounts computed, the day key
    made from the event's own time and id (so the same event always gives the same item)."""
    lines = [
        {
            "line": n,
            "seller_id": line.seller_id,
            "product_id": line.product_id,
            "qty": line.qty,
            "unit_cents": line.unit_cents,
            "amount_cents": line.qty * line.unit_cents,
            **({"kind": line.kind} if line.kind is not None else {}),
            **({"platform": line.platform} if line.platform is not None else {}),
        }
        for n, line in enumerate(event.lines, start=1)
    ]
    item: dict[str, Any] = {
        "event_id": event.event_id,
        "event_type": event.event_type,
        "schema_version": SCHEMA_VERSION,
        "occurred_at": event.occurred_at,
        "session_id": event.session_id,
        "customer": customer,
        "lines": lines,
    }
    if event.currency is not None:
        item["currency"] = event.currency
        item["amount_cents"] = sum(line["amount_cents"] for line in lines)
    item["day_shard"] = day_shard(parse_utc(event.occurred_at), event.event_id)
    return item


def contract_problem(item: dict[str, Any]) -> tuple[str, str] | None:
    """(field, reason) of the first way `item` breaks the event schema, without its values; a
    field the caller sent is named before one made of it here (a line's amount from its price)."""
    errors = sorted(contract.validator().iter_errors(item),
                    key=lambda e: bool(e.absolute_path) and e.absolute_path[-1] in _COMPUTED)
    for error in errors:
        field = ".".join(str(p) for p in error.absolute_path) or None
        if error.validator == "required":
            return field or "event", "a required field is missing"
        return field or "event", f"breaks the event schema ({error.validator})"
    return None


def check_time(event: FunnelEventIn, now: datetime, sim_key: str | None) -> str | None:
    """Why `occurred_at` is not acceptable now, or None."""
    at = parse_utc(event.occurred_at)
    if at > now + MAX_CLOCK_SKEW:
        return "in the future"
    if at >= now - MAX_EVENT_AGE:
        return None
    signed = event.sim_signature is not None and sim_key is not None and hmac.compare_digest(
        event.sim_signature, sign(sim_key, SIM_PURPOSE, event.event_id, event.occurred_at)
    )
    return None if signed else f"older than {int(MAX_EVENT_AGE.total_seconds() // 60)} minutes"


def _put(table: str, item: dict[str, Any]) -> dict[str, Any]:
    key = TABLES["order_events"].hash_key
    return {
        "Put": {
            "TableName": table,
            "Item": to_item(item),
            # New, or this very funnel event written by an earlier attempt: never another event.
            "ConditionExpression": "attribute_not_exists(#k) OR (event_type = :t AND session_id = :s)",
            "ExpressionAttributeNames": {"#k": key},
            "ExpressionAttributeValues": {":t": {"S": item["event_type"]}, ":s": {"S": item["session_id"]}},
        }
    }


@bp.post("/internal/funnel-events")
def record_funnel_events():  # type: ignore[no-untyped-def]
    require_internal_token(current_app.config["INTERNAL_TOKEN"])
    batch = json_body(FunnelBatchIn)
    settings = current_app.config["SETTINGS"]
    sim_key = settings.resolved_sim_clock_key()
    now = datetime.now(UTC)
    orders: OrderService = current_app.extensions["order_service"]

    seen: set[str] = set()
    items = []
    for i, event in enumerate(batch.events):
        if event.event_id in seen:
            raise ApiError(400, "invalid_field", "the same event id twice in one batch", f"events.{i}.event_id")
        seen.add(event.event_id)
        try:
            parse_utc(event.occurred_at)
        except ValueError as exc:
            raise ApiError(400, "invalid_field", "not an ISO-8601 time", f"events.{i}.occurred_at") from exc
        item = event_item(event, "0" * 32)  # checked before any KMS call; the pseudonym comes after
        problem = contract_problem(item)
        if problem:
            raise ApiError(400, "invalid_event", problem[1], f"events.{i}.{problem[0]}")
        reason = check_time(event, now, sim_key)
        if reason:
            raise ApiError(400, "invalid_field", f"the event's time is {reason}", f"events.{i}.occurred_at")
        items.append((event, item))

    table = orders.repo.t["order_events"]
    actions = [_put(table, {**item, "customer": orders.pii.pseudonym(event.visitor_id)}) for event, item in items]
    try:
        orders.repo.transact(actions)
    except TransactionCancelled as exc:
        taken = exc.conditions_failed("order_events")
        if taken:  # named by the failed action's own key, not by its place in the batch
            at = next(i for i, (event, _) in enumerate(items) if event.event_id == taken[0].key["event_id"])
            raise ApiError(409, "event_id_taken", "an event id of this batch names another event",
                           f"events.{at}.event_id") from exc
        if "TransactionConflict" in exc.reasons:
            raise Unavailable() from exc
        raise
    log.debug("funnel events written: %d", len(actions))
    return jsonify({"written": len(actions)})
