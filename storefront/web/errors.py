"""Error pages: a friendly HTML page for every error, a 503 when a service is down or slow, and
never a stack trace (a 500 is logged without request data)."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from gitgoods.web import error_headers
from storefront.web.services import ServiceError, ServiceUnavailable

log = logging.getLogger(__name__)

_TITLES = {
    400: "That request did not work",
    404: "We couldn't find that page",
    405: "That is not allowed here",
    413: "That was too much at once",
    500: "Something went wrong on our side",
    503: "The shop is taking a short break",
}
_MESSAGES = {
    400: "Something in the request was not right. Please go back and try again.",
    404: "The page or product you asked for does not exist, or is no longer on sale.",
    405: "Please use the shop's links and buttons.",
    413: "Please try again with less.",
    500: "Please try again in a moment.",
    503: "Part of the shop is not answering right now. Nothing was lost: please try again in a moment.",
}


def error_page(status: int, message: str | None = None, title: str | None = None):  # type: ignore[no-untyped-def]
    if request.path == "/health":
        return jsonify({"status": "error"}), status
    return (
        render_template(
            "error.html",
            status=status,
            title=title or _TITLES.get(status, "Error"),
            message=message or _MESSAGES.get(status, _MESSAGES[500]),
        ),
        status,
    )


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ServiceUnavailable)
    def _unavailable(exc: ServiceUnavailable):  # type: ignore[no-untyped-def]
        log.warning("service unavailable: %s", exc)
        body, status = error_page(503)
        return body, status, {"Retry-After": "10"}

    @app.errorhandler(ServiceError)
    def _service_error(exc: ServiceError):  # type: ignore[no-untyped-def]
        # A 4xx a view did not expect (e.g. a cursor from an old link): the shopper's request.
        log.info("service refused: %s %s (%s)", exc.status, exc.code, exc.field)
        if exc.code == "invalid_cursor":
            return error_page(400, "That results page has expired. Please start your search again.")
        return error_page(404 if exc.status == 404 else 400)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):  # type: ignore[no-untyped-def]
        return error_page(
            400,
            "This form has expired or was not sent by the shop. Please go back, reload the page and try again.",
            "Please try that again",
        )

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):  # type: ignore[no-untyped-def]
        body, status = error_page(exc.code or 500)
        return body, status, error_headers(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        log.error("unexpected error on %s %s: %s", request.method, request.endpoint, type(exc).__name__, exc_info=exc)
        return error_page(500)
