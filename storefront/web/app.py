"""The shop's application factory (port 8080; served as `storefront.web.app:create_app()`, see docs/serving.md)."""

from __future__ import annotations

import atexit
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from gitgoods.settings import Settings, get_settings
from gitgoods.web import browser_app_config, configure_logging
from storefront.web import cart, visits
from storefront.web.catalog_cache import catalog_client
from storefront.web.config import ensure_secret_key, web_config
from storefront.web.errors import register_error_handlers
from storefront.web.funnel import FunnelEmitter
from storefront.web.security import register_security_headers
from storefront.web.services import OrdersClient
from storefront.web.shopfront import KINDS, money
from storefront.web.views import basket, browse, checkout, health, images


def create_app(config: dict[str, Any] | None = None, settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    app = Flask(__name__)
    app.config.update(
        SETTINGS=settings,
        **browser_app_config(settings, "gitgoods_shop"),
        # The checkout form is good for a shopping session, not only an hour.
        WTF_CSRF_TIME_LIMIT=4 * 3600,
        **web_config(settings),
    )
    app.config.update(config or {})
    ensure_secret_key(app.config, settings)
    configure_logging()

    timeout = app.config["SERVICE_TIMEOUT_S"]
    app.extensions["web_catalog"] = catalog_client(
        app.config["CATALOG_URL"], timeout, app.config["CATALOG_CACHE_TTL_S"]
    )
    app.extensions["web_orders"] = OrdersClient(app.config["ORDERS_URL"], timeout)
    emitter = FunnelEmitter(
        app.config["ORDERS_URL"],
        app.config["INTERNAL_TOKEN"],
        max_queue=app.config["FUNNEL_QUEUE_MAX"],
        max_batch=app.config["FUNNEL_BATCH_MAX"],
        flush_interval_s=app.config["FUNNEL_FLUSH_S"],
        timeout_s=timeout,
    )
    app.extensions["web_funnel"] = emitter
    atexit.register(emitter.close)  # best effort: what is queued when the server stops

    CSRFProtect(app)
    register_error_handlers(app)
    visits.register(app)
    register_security_headers(app, https=settings.env != "local")
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.filters["money"] = money
    app.jinja_env.globals.update(cart_count=cart.count, kind_labels=KINDS)
    for blueprint in (health.bp, browse.bp, images.bp, basket.bp, checkout.bp):
        app.register_blueprint(blueprint)
    return app
