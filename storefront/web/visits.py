"""Who is browsing, and when: the visit cookie, the request's time, and the funnel events a page
records (`record`).

**The visit cookie** (`gitgoods_visit`, signed with the app's secret key, HttpOnly, SameSite=Lax,
no expiry: it ends with the browser session) holds two random ids and a time, nothing else: the
visitor id, which the order service turns into the events' `customer` pseudonym and never
stores, and the session id, which the events carry and which is renewed after `IDLE` without a
funnel event, as analytics sessions are. It is a cookie of its own, not a key of the cart's
session cookie: that one holds the cart only (ids and quantities), and it is made only when a
page records an event, so a shopper who never opens a product page gets none.

**The request's time** is the server's clock, except on a local stack, where the simulator may
backdate a page request with the signed clock header exactly as it does a service request
(`storefront.common.clock`; the signature names the shop's own method and path). Such a request's
events carry that time, with the simulator's signature over each event for the order service to
accept it, and its order is placed at that time (`services.forwarded_clock`). Without the clock
key (any `aws` deployment) a time header is refused with a 400, as by the services.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, abort, after_this_request, current_app, g, request
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.wrappers import Response

from gitgoods.contract.ids import new_id, parse_utc, utc_iso
from storefront.common.clock import TIME_HEADER, request_time, sign
from storefront.common.errors import ApiError
from storefront.web.funnel import FunnelEmitter

log = logging.getLogger(__name__)

COOKIE = "gitgoods_visit"
IDLE = timedelta(minutes=30)
SIM_PURPOSE = "FUNNEL"  # as storefront/orders/funnel.py checks it


def register(app: Flask) -> None:
    """The request-time hook (before any view runs, so a refused clock header changes nothing)."""

    @app.before_request
    def _request_time() -> None:
        g.sim_time = None
        if TIME_HEADER not in request.headers:
            return
        try:
            g.sim_time = request_time(app.config.get("SIM_CLOCK_KEY"))
        except ApiError as exc:
            log.info("refused a clock header: %s", exc.code)
            abort(400)


def now() -> datetime:
    """When this request happens (the simulated time of a backdated request)."""
    return getattr(g, "sim_time", None) or datetime.now(UTC)


def backdated() -> bool:
    return getattr(g, "sim_time", None) is not None


def emitter() -> FunnelEmitter:
    return current_app.extensions["web_funnel"]


# -- the visit cookie ------------------------------------------------------------------------------
def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="gitgoods-visit")


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(16)


def _read_cookie() -> dict[str, Any] | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        visit = _serializer().loads(raw)
        parse_utc(visit["t"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    if not (isinstance(visit.get("v"), str) and isinstance(visit.get("s"), str)):
        return None
    return visit


def current_visit(at: datetime) -> dict[str, str]:
    """This browser's visit as of `at` ({"v": visitor id, "s": session id, "t": last event});
    a new session after `IDLE`, a new visitor without a (valid) cookie. Sets the cookie."""
    visit = g.get("visit") or _read_cookie()
    if visit is None:
        visit = {"v": _new_id("vis_"), "s": _new_id("ses_")}
    elif at - parse_utc(visit["t"]) > IDLE:
        visit = {"v": visit["v"], "s": _new_id("ses_")}
    visit = {**visit, "t": utc_iso(at)}
    if "visit" not in g:

        @after_this_request
        def _set_cookie(response: Response) -> Response:
            config = current_app.config
            response.set_cookie(
                COOKIE,
                _serializer().dumps(g.visit),
                httponly=True,
                samesite="Lax",
                secure=bool(config.get("SESSION_COOKIE_SECURE")),
            )
            return response

    g.visit = visit
    return visit


# -- events -----------------------------------------------------------------------------------------
def _line(product: dict[str, Any], qty: int) -> dict[str, Any]:
    line = {
        "seller_id": product["seller_id"],
        "product_id": product["product_id"],
        "qty": qty,
        "unit_cents": product["price_cents"],
    }
    for name in ("kind", "platform"):
        if product.get(name):
            line[name] = product[name]
    return line


def record(event_type: str, lines: list[tuple[dict[str, Any], int]]) -> None:
    """Queue a funnel event about `lines` ((catalog product, qty) pairs) for this visit; the page
    does not wait for it (storefront/web/funnel.py)."""
    if not lines:
        return
    at = now()
    visit = current_visit(at)
    event: dict[str, Any] = {
        "event_id": new_id("evt", at),
        "event_type": event_type,
        "occurred_at": utc_iso(at),
        "session_id": visit["s"],
        "visitor_id": visit["v"],
        "currency": lines[0][0]["currency"],
        "lines": [_line(product, qty) for product, qty in lines],
    }
    key = current_app.config.get("SIM_CLOCK_KEY")
    if backdated() and key:
        event["sim_signature"] = sign(key, SIM_PURPOSE, event["event_id"], event["occurred_at"])
    emitter().emit(event)
