"""`GET /health`: the web app is up (it does not ask the services; their pages say so)."""

from __future__ import annotations

from flask import Blueprint, jsonify

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():  # type: ignore[no-untyped-def]
    return jsonify({"status": "ok"})
