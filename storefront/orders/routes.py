"""HTTP routes of the order service."""

from __future__ import annotations

import logging
import re

from flask import Blueprint, current_app, jsonify, request
from flask.blueprints import BlueprintSetupState

from storefront.common import deadline
from storefront.common.clock import request_time
from storefront.common.errors import ApiError
from storefront.common.replay import ReplaySeal, replay_key
from storefront.common.web import json_body, require_internal_token
from storefront.orders.schemas import LifecycleIn, OrderIn
from storefront.orders.service import OrderService

log = logging.getLogger(__name__)
bp = Blueprint("orders", __name__)
internal = Blueprint("orders_internal", __name__)

ORDER_ID = re.compile(r"^ord_[0-9A-HJKMNP-TV-Z]{26}$")
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")


@bp.record_once
def _serve_requests(state: BlueprintSetupState) -> None:
    """Serving HTTP: AWS calls bounded by the request's deadline, and replays answered without KMS
    (the replay key derived from the internal token, which every instance shares)."""
    order_service: OrderService = state.app.extensions["order_service"]
    timeout = state.app.config["SETTINGS"].request_read_timeout_s
    order_service.use_request_clients(lambda client: deadline.bounded(client, timeout))
    token = state.app.config["INTERNAL_TOKEN"]
    if token:
        order_service.replay = ReplaySeal(replay_key(token))
    else:
        log.warning("no internal token: replays of orders need KMS")


def service() -> OrderService:
    return current_app.extensions["order_service"]


def _now():  # type: ignore[no-untyped-def]
    return request_time(current_app.config["SETTINGS"].resolved_sim_clock_key())


def _idempotency_key(required: bool) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        if required:
            raise ApiError(400, "missing_field", "the Idempotency-Key header is required", "Idempotency-Key")
        return None
    if not IDEMPOTENCY_KEY.match(key):
        raise ApiError(400, "invalid_field", "1 to 128 visible ASCII characters", "Idempotency-Key")
    return key


@bp.post("/orders")
def place_order():  # type: ignore[no-untyped-def]
    key = _idempotency_key(required=True)
    assert key is not None
    order = json_body(OrderIn)
    now = _now()
    created, replayed = service().place(order, key, now)
    response = jsonify(created)
    response.status_code = 201
    response.headers["Location"] = f"/orders/{created['order_id']}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/orders/<order_id>")
def get_order(order_id: str):  # type: ignore[no-untyped-def]
    token = request.headers.get("X-Receipt-Token")
    if not ORDER_ID.match(order_id):
        raise ApiError(404, "not_found", "no such order", "order_id")
    return jsonify(service().get(order_id, token))


@internal.post("/internal/orders/<order_id>/events")
def lifecycle(order_id: str):  # type: ignore[no-untyped-def]
    require_internal_token(current_app.config["INTERNAL_TOKEN"])
    if not ORDER_ID.match(order_id):
        raise ApiError(404, "not_found", "no such order", "order_id")
    # Optional: with it, a retry of a change that committed (its answer lost) gets the same answer.
    key = _idempotency_key(required=False)
    change = json_body(LifecycleIn)
    result, replayed = service().apply(order_id, change, _now(), key)
    response = jsonify(result)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response
