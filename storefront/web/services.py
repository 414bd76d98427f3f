"""HTTP clients of the catalog and order services. Every call has a short timeout and draws on the
page's time budget; a service that is down, slow or failing raises `ServiceUnavailable`, which the
app answers with a friendly 503 page. A 4xx answer of a service is a `ServiceError`."""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import quote

import requests
from flask import current_app, g

from storefront.common.clock import signed_headers


class ServiceUnavailable(Exception):
    def __init__(self, service: str, reason: str):
        super().__init__(f"{service}: {reason}")
        self.service = service


class ServiceError(Exception):
    """A 4xx of a service, with its `{"error": {"code", "message", "field"}}`."""

    def __init__(self, status: int, code: str, message: str, field: str | None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def _remaining_budget() -> float:
    """Seconds left for service calls in this request (the budget starts at the first call)."""
    budget = current_app.config["PAGE_BUDGET_S"]
    started = g.setdefault("service_calls_started", time.monotonic())
    return budget - (time.monotonic() - started)


class ServiceClient:
    def __init__(self, name: str, base_url: str, timeout_s: float):
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._local = threading.local()  # requests.Session is not documented as thread-safe

    @property
    def session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            session = requests.Session()
            # Internal addresses: no proxy, no .netrc. Left on, requests looks both up in the
            # environment and on disk for every call (a measurable share of a page's CPU).
            session.trust_env = False
            self._local.session = session
        return self._local.session

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        timeout = min(self.timeout_s, _remaining_budget())
        if timeout <= 0.05:
            raise ServiceUnavailable(self.name, "page time budget spent")
        try:
            resp = self.session.request(method, self.base_url + path, timeout=timeout, **kwargs)
        except requests.RequestException as exc:
            raise ServiceUnavailable(self.name, type(exc).__name__) from exc
        if resp.status_code >= 500 or resp.status_code == 429:
            raise ServiceUnavailable(self.name, f"HTTP {resp.status_code}")
        return resp

    def json_or_error(self, resp: requests.Response) -> Any:
        try:
            body = resp.json()
        except ValueError as exc:
            raise ServiceUnavailable(self.name, "answer is not JSON") from exc
        if resp.status_code >= 400:
            err = body.get("error", {}) if isinstance(body, dict) else {}
            raise ServiceError(
                resp.status_code, str(err.get("code", "error")), str(err.get("message", "")), err.get("field")
            )
        return body


class CatalogClient(ServiceClient):
    def __init__(self, base_url: str, timeout_s: float):
        super().__init__("catalog", base_url, timeout_s)

    def products(self, params: dict[str, Any]) -> dict[str, Any]:
        """A page of `GET /products`: `{"items", "next_cursor"}`."""
        return self.json_or_error(self.call("GET", "/products", params=params))

    def product(self, product_id: str) -> dict[str, Any] | None:
        resp = self.call("GET", f"/products/{quote(product_id, safe='')}")
        if resp.status_code == 404:
            return None
        return self.json_or_error(resp)

    def seller(self, seller_id: str) -> dict[str, Any] | None:
        resp = self.call("GET", f"/sellers/{quote(seller_id, safe='')}")
        if resp.status_code == 404:
            return None
        return self.json_or_error(resp)


class OrdersClient(ServiceClient):
    def __init__(self, base_url: str, timeout_s: float):
        super().__init__("orders", base_url, timeout_s)

    def place(self, body: dict[str, Any], idempotency_key: str) -> tuple[dict[str, Any], bool]:
        """(the order with its receipt token, whether it answers an earlier identical request)."""
        headers = {"Idempotency-Key": idempotency_key, **forwarded_clock("POST", "/orders")}
        resp = self.call("POST", "/orders", json=body, headers=headers)
        return self.json_or_error(resp), resp.headers.get("Idempotent-Replayed") == "true"

    def order(self, order_id: str, receipt_token: str) -> dict[str, Any] | None:
        """The order, or None when it does not exist or the token is not its receipt token."""
        resp = self.call(
            "GET", f"/orders/{quote(order_id, safe='')}", headers={"X-Receipt-Token": receipt_token}
        )
        if resp.status_code == 404:
            return None
        return self.json_or_error(resp)


def forwarded_clock(method: str, path: str) -> dict[str, str]:
    """The signed clock header for a service call made while serving a request the simulator
    backdated (storefront/web/visits.py), so that the service acts at that time too; else none."""
    at = getattr(g, "sim_time", None)
    key = current_app.config.get("SIM_CLOCK_KEY")
    return signed_headers(key, method, path, at) if at is not None and key else {}


def catalog() -> CatalogClient:
    return current_app.extensions["web_catalog"]


def orders() -> OrdersClient:
    return current_app.extensions["web_orders"]
