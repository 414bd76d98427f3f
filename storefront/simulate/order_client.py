"""The simulator's HTTP client of the order service: its two calls and their retries.

`OrderClient.place` (POST /orders with the plan's Idempotency-Key) and `OrderClient.event`
(POST /internal/orders/<id>/events), each backdated with the signed clock and retried with
tenacity on 429, 5xx, a 409 `conflict`, connection errors and timeouts; the exceptions say what
a refusal means to the run (`OutOfStock`, `OrderFailed`, `Fatal`).
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import requests
from tenacity import (
    RetryCallState,
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from storefront.common.clock import signed_headers
from storefront.simulate.plan import PlannedEvent, PlannedOrder

_RETRY_WAIT = wait_random_exponential(multiplier=0.2, max=8)


class Retryable(Exception):
    """A 429, a 5xx or a 409 `conflict`: worth the same request again."""

    def __init__(self, message: str, retry_after: float = 0.0):
        super().__init__(message)
        self.retry_after = retry_after


class OrderFailed(Exception):
    """The service refused a request for good (the plan or the service has a bug)."""


class Fatal(Exception):
    """A refusal that every request will meet (wrong token or clock key): stop the run."""


class OutOfStock(Exception):
    pass


def _wait(state: RetryCallState) -> float:
    base = _RETRY_WAIT(state)
    exc = state.outcome.exception() if state.outcome else None
    return max(base, exc.retry_after) if isinstance(exc, Retryable) else base


_retrying = retry(
    retry=retry_if_exception_type((Retryable, requests.ConnectionError, requests.Timeout)),
    wait=_wait,
    stop=stop_after_attempt(12) | stop_after_delay(180),
    reraise=True,
)


def _error(resp: requests.Response) -> tuple[str, str | None]:
    try:
        err = resp.json()["error"]
        return err.get("code", ""), err.get("field")
    except (ValueError, KeyError, TypeError):
        return "", None


def _raise_transient(resp: requests.Response) -> None:
    if resp.status_code == 429 or resp.status_code >= 500:
        try:
            retry_after = float(resp.headers.get("Retry-After", "0"))
        except ValueError:
            retry_after = 0.0
        raise Retryable(f"HTTP {resp.status_code}", min(retry_after, 30.0))


class SimulatorClient:
    """What the simulator's HTTP clients share: a base URL, the signed clock's key, timeouts, and
    one `requests.Session` per thread (sessions are not thread-safe)."""

    def __init__(self, base_url: str, clock_key: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.clock_key = clock_key
        self.timeout = (5.0, timeout)
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session


class OrderClient(SimulatorClient):
    """The two calls the simulator makes, each retried on transient failures."""

    def __init__(self, base_url: str, internal_token: str, clock_key: str, timeout: float = 30.0):
        super().__init__(base_url, clock_key, timeout)
        self.internal_token = internal_token

    def _post(self, path: str, body: dict[str, Any], at: datetime, headers: dict[str, str]
              ) -> requests.Response:
        headers = {**headers, **signed_headers(self.clock_key, "POST", path, at)}
        return self.session.post(self.base_url + path, json=body, headers=headers,
                                 timeout=self.timeout)

    @_retrying
    def place(self, order: PlannedOrder) -> tuple[dict[str, Any], bool]:
        """(the order as the service returns it, whether it was a replay)."""
        resp = self._post("/orders", order.body(), order.at,
                          {"Idempotency-Key": order.idempotency_key})
        if resp.status_code == 201:
            return resp.json(), resp.headers.get("Idempotent-Replayed") == "true"
        _raise_transient(resp)
        code, field = _error(resp)
        if resp.status_code == 409 and code == "conflict":
            raise Retryable("order conflict")
        if resp.status_code == 409 and code == "insufficient_stock":
            raise OutOfStock(field or "")
        if code == "clock_not_settable":
            raise Fatal("the order service does not accept the simulator's clock key "
                        "(is it running with the same GITGOODS_HOME?)")
        raise OrderFailed(f"POST /orders #{order.index}: HTTP {resp.status_code} {code} {field}")

    @_retrying
    def event(self, order_id: str, event: PlannedEvent) -> bool:
        """Apply one lifecycle event; False when it had already been applied."""
        path = f"/internal/orders/{order_id}/events"
        resp = self._post(path, event.body(), event.at, {"X-Internal-Token": self.internal_token})
        if resp.status_code == 200:
            return True
        _raise_transient(resp)
        code, field = _error(resp)
        if resp.status_code == 409 and code == "conflict":
            raise Retryable("lifecycle conflict")
        if resp.status_code == 409 and code == "invalid_transition":
            return False  # an earlier attempt got through
        if resp.status_code == 400 and code == "invalid_field" and field == "lines" and event.lines:
            return False  # this partial refund was applied by an earlier attempt
        if resp.status_code == 401 or code == "clock_not_settable":
            raise Fatal(f"the order service refused the simulator ({resp.status_code} {code})")
        raise OrderFailed(f"POST {path} {event.type}: HTTP {resp.status_code} {code} {field}")
