"""Flask plumbing that the shop, the seller portal and the services share: the log format, the
session cookie of an app used in a browser, and the headers an HTTP error keeps."""

from __future__ import annotations

import logging
from typing import Any

from werkzeug.exceptions import HTTPException

from gitgoods.settings import Settings


def configure_logging() -> None:
    """Log INFO and above to stderr, one line a record (a no-op when logging is set up already)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


def browser_app_config(settings: Settings, cookie_name: str) -> dict[str, Any]:
    """Flask config of an app people use in a browser: a session cookie of its own that scripts
    cannot read and other sites' forms do not carry, sent over HTTPS only beyond a local stack;
    request bodies no larger than a form needs."""
    return {
        "SESSION_COOKIE_NAME": cookie_name,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": settings.env != "local",
        "MAX_CONTENT_LENGTH": 16 * 1024,
    }


def error_headers(exc: HTTPException) -> dict[str, str]:
    """The headers of an HTTP error that a handler answering with its own body must keep: `Allow`,
    the methods a 405's resource does take."""
    return {name: value for name, value in exc.get_headers() if name == "Allow"}
