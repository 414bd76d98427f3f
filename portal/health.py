"""`GET /health`: the process answers (no sign-in, no emulator calls)."""

from __future__ import annotations

from flask import Blueprint, jsonify

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():  # type: ignore[no-untyped-def]
    return jsonify({"status": "ok"})
