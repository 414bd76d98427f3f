"""The seller portal's application factory (served as `portal.app:create_app()`, see docs/serving.md)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from gitgoods.identity import Identities
from gitgoods.settings import Settings, get_settings
from gitgoods.web import browser_app_config, configure_logging
from portal import auth, health, views
from portal.context import Portal
from portal.embed import Embedder
from portal.errors import register_error_handlers
from portal.reports import Reports
from portal.security import register_security_headers
from portal.tokens import TokenVerifier


def default_reports(settings: Settings) -> Reports:
    """The reports of the environment: rendered from the local QuickSight in the embedded default;
    in `aws` mode QuickSight's own dashboard is embedded and the portal only lists sellers."""
    if settings.env != "local":
        from portal.embedded import EmbeddedReports

        return EmbeddedReports(settings)
    from portal.render.local import local_reports

    return local_reports(settings)


def create_app(
    config: dict[str, Any] | None = None, settings: Settings | None = None, reports: Reports | None = None
) -> Flask:
    settings = settings or get_settings()
    app = Flask(__name__)
    secret_key = settings.resolved_portal_secret_key()
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=secret_key,
        **browser_app_config(settings, "gitgoods_portal"),
        JWKS_COOLDOWN_S=30.0,
    )
    app.config.update(config or {})
    if not app.config["SECRET_KEY"]:
        raise RuntimeError(
            "the portal has no session key: set GITGOODS_PORTAL_SECRET_KEY "
            "(locally `gitgoods.local.secrets.ensure_local_secrets` generates one)"
        )
    configure_logging()

    identities = Identities(settings)
    app.extensions["portal"] = Portal(
        settings=settings,
        identities=identities,
        verifier=TokenVerifier(identities, jwks_cooldown_s=app.config["JWKS_COOLDOWN_S"]),
        reports=reports if reports is not None else default_reports(settings),
        embedder=Embedder(settings) if settings.env == "aws" else None,
    )
    CSRFProtect(app)
    register_error_handlers(app)
    register_security_headers(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(views.bp)
    return app
