"""JSON errors everywhere: `{"error": {"code", "message", "field"}}` with a 4xx for anything a
client sent, never a 500; a 503 with `Retry-After` when DynamoDB or KMS cannot serve in time."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from gitgoods.web import error_headers
from storefront.common.deadline import is_outage

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


# Seconds a client is asked to wait after a 503: long enough for throttling to ease, short
# enough that a shopper retries soon.
RETRY_AFTER_S = 3


class Unavailable(ApiError):
    """A backend (DynamoDB, KMS) is down, slow or throttling: 503 with Retry-After."""

    def __init__(self, message: str = "the service is briefly unavailable, try again shortly"):
        super().__init__(503, "unavailable", message)


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def from_validation_error(exc: ValidationError) -> ApiError:
    """The first problem of a pydantic error, without echoing the input (it may be PII)."""
    first = exc.errors(include_input=False, include_url=False)[0]
    field = ".".join(str(p) for p in first["loc"]) or None
    kind = first["type"]
    code = {
        "missing": "missing_field",
        "extra_forbidden": "unknown_field",
    }.get(kind, "invalid_field")
    message = first["msg"]
    if kind == "extra_forbidden":
        message = "unknown field"
    return ApiError(400, code, message, field)


_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):  # type: ignore[no-untyped-def]
        response = jsonify(error_body(exc.code, exc.message, exc.field))
        if isinstance(exc, Unavailable):
            response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response, exc.status

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError):  # type: ignore[no-untyped-def]
        return _api_error(from_validation_error(exc))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):  # type: ignore[no-untyped-def]
        status = exc.code or 500
        code = _HTTP_CODES.get(status, "http_error")
        message = "too many requests, slow down" if status == 429 else (exc.description or code)
        response = jsonify(error_body(code, message))
        if status == 429:
            response.headers["Retry-After"] = "1"
        response.headers.update(error_headers(exc))
        return response, status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        if is_outage(exc):
            # Expected in an outage and not a bug: one line, no traceback.
            log.warning("backend unavailable: %s: %s", type(exc).__name__, exc)
            return _api_error(Unavailable())
        log.exception("unhandled error: %s", type(exc).__name__)
        return jsonify(error_body("internal", "internal error")), 500
