"""Tiny WSGI apps for the server tests (served by `gitgoods.local.serve` in a subprocess)."""

from __future__ import annotations

import os
import time
from typing import Any


def pid_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Answers with the pid of the process that served the request; `?sleep=S` waits first."""
    if environ.get("QUERY_STRING", "").startswith("sleep="):
        time.sleep(float(environ["QUERY_STRING"].split("=", 1)[1]))
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def broken() -> Any:
    """An app factory that fails, as an app whose configuration is wrong does at start."""
    raise RuntimeError("this app cannot start")
