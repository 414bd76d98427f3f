"""The time a request happens at.

Always the server's clock, except on a local stack, where the shopper simulator may backdate a
request by signing the time it wants with a key that only exists in the local state folder.
In `aws` mode there is no key, so no request can choose its own timestamp.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from flask import request

from gitgoods.contract.ids import parse_utc, utc_iso
from storefront.common.errors import ApiError

TIME_HEADER = "X-Sim-Time"
SIGNATURE_HEADER = "X-Sim-Signature"


def sign(key: str, method: str, path: str, at: str) -> str:
    message = f"{method.upper()} {path} {at}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(key: str, method: str, path: str, at: datetime) -> dict[str, str]:
    stamp = utc_iso(at)
    return {TIME_HEADER: stamp, SIGNATURE_HEADER: sign(key, method, path, stamp)}


def request_time(sim_key: str | None) -> datetime:
    now = datetime.now(UTC)
    stamp = request.headers.get(TIME_HEADER)
    if stamp is None:
        return now
    signature = request.headers.get(SIGNATURE_HEADER, "")
    expected = sign(sim_key, request.method, request.path, stamp) if sim_key else None
    if expected is None or not hmac.compare_digest(signature, expected):
        raise ApiError(400, "clock_not_settable", "this request may not set its own time", TIME_HEADER)
    try:
        at = parse_utc(stamp)
    except ValueError as exc:
        raise ApiError(400, "invalid_field", "not an ISO-8601 time", TIME_HEADER) from exc
    if at > now + timedelta(minutes=5):
        raise ApiError(400, "invalid_field", "the simulated time is in the future", TIME_HEADER)
    return at
