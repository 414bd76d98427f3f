"""What every storefront service shares at start-up: logging, errors, rate limits, health and
the OpenAPI document."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, jsonify

from gitgoods.settings import Settings, get_settings
from gitgoods.web import configure_logging
from storefront.common import deadline
from storefront.common.errors import register_error_handlers
from storefront.common.ratelimit import make_limiter


def base_app(name: str, settings: Settings | None, config: dict[str, Any] | None) -> Flask:
    settings = settings or get_settings()
    settings.require_safe_for_aws()  # before anything is created or called
    app = Flask(name)
    app.config.update(
        SETTINGS=settings,
        INTERNAL_TOKEN=settings.resolved_internal_token(),
        MAX_CONTENT_LENGTH=64 * 1024,
        JSON_SORT_KEYS=False,
        RATELIMIT_ENABLED=True,
        AWS_BUDGET_S=settings.request_budget_s,
    )
    app.config.update(config or {})
    configure_logging()
    register_error_handlers(app)
    limiter = make_limiter(app, settings.rate_limit_store)
    app.extensions["limiter_obj"] = limiter

    # Every request's AWS calls share one deadline (see `storefront.common.deadline`).
    @app.before_request
    def _start_deadline() -> None:
        g.aws_deadline = deadline.budget(app.config["AWS_BUDGET_S"])
        g.aws_deadline.__enter__()

    @app.teardown_request
    def _end_deadline(_exc: BaseException | None) -> None:
        budget = g.pop("aws_deadline", None)
        if budget is not None:
            budget.__exit__(None, None, None)

    @app.get("/health")
    @limiter.exempt
    def health():  # type: ignore[no-untyped-def]
        return jsonify({"status": "ok"})

    return app


def serve_openapi(app: Flask, document: dict[str, Any]) -> None:
    limiter = app.extensions["limiter_obj"]

    @app.get("/openapi.json")
    @limiter.exempt
    def openapi():  # type: ignore[no-untyped-def]
        return jsonify(document)
