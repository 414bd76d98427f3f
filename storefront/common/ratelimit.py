"""Per-client rate limits (Flask-Limiter); a client that floods gets a JSON 429."""

from __future__ import annotations

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address


def make_limiter(app: Flask, storage_uri: str) -> Limiter:
    limiter = Limiter(
        key_func=get_remote_address,
        app=app,
        storage_uri=storage_uri,
        headers_enabled=True,
        strategy="moving-window",
    )
    return limiter
