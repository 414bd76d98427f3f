"""`GET /health`: the web app is up (it does not ask the services; their pages say so).
`GET /metrics`: this worker process's counters, as JSON (funnel events queued, sent and dropped):
each worker of the shop (gitgoods/local/workers.py) counts its own, and says which it is."""

from __future__ import annotations

import os

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():  # type: ignore[no-untyped-def]
    return jsonify({"status": "ok"})


@bp.get("/metrics")
def metrics():  # type: ignore[no-untyped-def]
    return jsonify({"worker": os.getpid(), "funnel_events": current_app.extensions["web_funnel"].stats()})
