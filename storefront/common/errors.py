"""JSON errors everywhere: `{"error": {"code", "message", "field"}}` with a 4xx for anything a
client sent, never a 500."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


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
        return jsonify(error_body(exc.code, exc.message, exc.field)), exc.status

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
        for name, value in exc.get_headers():
            if name == "Allow":
                response.headers[name] = value
        return response, status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error: %s", type(exc).__name__)
        return jsonify(error_body("internal", "internal error")), 500
