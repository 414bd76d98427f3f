"""Errors: an HTML page for browsers, `{"error": {"code", "message"}}` for clients that ask for JSON
(and for the CSV and PDF downloads). Never a stack trace; a 500 is logged without request data."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from gitgoods.web import error_headers
from portal.auth import SignInRequired, login_page

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    503: "unavailable",
}
_MESSAGES = {
    401: "Sign in to see this page.",
    404: "No such page.",
    405: "Method not allowed.",
    500: "Something went wrong on our side.",
}


def wants_json() -> bool:
    if request.path.endswith((".csv", ".pdf")) or request.path == "/health":
        return True
    if request.headers.get("Authorization"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(status: int, code: str, message: str):  # type: ignore[no-untyped-def]
    if wants_json():
        return jsonify({"error": {"code": code, "message": message}}), status
    return render_template("error.html", status=status, message=message), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):  # type: ignore[no-untyped-def]
        status = exc.code or 500
        if status == 401 and not wants_json():
            target = request.full_path.rstrip("?") if isinstance(exc, SignInRequired) else None
            return login_page(next_url=target, status=401)
        # 404s all say the same, so a seller cannot tell a foreign seller from a missing one.
        message = _MESSAGES.get(status) if status in (401, 404, 405) else (exc.description or _MESSAGES.get(status))
        body, code = error_response(status, _CODES.get(status, "http_error"), message or "Error.")
        return body, code, error_headers(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        # The type and the route only: the request (form, cookies, tokens) stays out of the logs.
        log.error("unhandled %s in %s", type(exc).__name__, request.endpoint, exc_info=exc)
        return error_response(500, "internal", _MESSAGES[500])
