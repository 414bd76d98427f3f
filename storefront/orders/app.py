"""The order service (port 5002): validates and places orders, reads them back with their
receipt token, and applies lifecycle changes."""

from __future__ import annotations

from typing import Any

from flask import Flask

from gitgoods import aws
from gitgoods.settings import Settings
from storefront.common.openapi import JSON, OpenApiBuilder
from storefront.common.pii import PiiProtector
from storefront.common.service import base_app, serve_openapi
from storefront.orders import funnel, schemas
from storefront.orders.notify import StockNotifier
from storefront.orders.repo import OrdersRepo
from storefront.orders.routes import bp, internal
from storefront.orders.service import OrderService


def openapi_document() -> dict[str, Any]:
    doc = OpenApiBuilder(
        "Git Goods orders",
        "1.0.0",
        "Places orders exactly once (Idempotency-Key) and reads them back with the receipt token.",
    )
    doc.health()
    doc.self_document()
    doc.add(
        "/orders",
        "post",
        {
            "operationId": "placeOrder",
            "description": (
                "Prices come from the catalog. 400 for products that do not exist or are not on "
                "sale, a product on two lines, or a `currency` other than the products'; 409 for "
                "stock that ran out and for an Idempotency-Key already used with another body. "
                "The same key with the same body answers the first order again. The body is strict "
                "UTF-8 JSON (no byte order mark, no duplicate keys, no NaN, at most 32 levels "
                "deep; 400 `invalid_json` otherwise) of at most 64 KiB (413)."
            ),
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,128}$"},
                }
            ],
            "requestBody": {"required": True, "content": {JSON: {"schema": doc.model(schemas.OrderIn)}}},
            "responses": {
                "201": doc.returns(
                    "Placed (or the first answer to the same key and body)",
                    schemas.OrderCreated,
                    headers={
                        "Location": {
                            "description": "The order, to read with its receipt token",
                            "required": True,
                            "schema": {"type": "string", "pattern": "^/orders/ord_[0-9A-HJKMNP-TV-Z]{26}$"},
                        },
                        "Idempotent-Replayed": {
                            "description": "Present when this answers an earlier request with the same key",
                            "required": False,
                            "schema": {"const": "true"},
                        },
                    },
                ),
                **doc.error_responses(400, 409, 413, 415, 429),
            },
        },
    )
    doc.add(
        "/orders/{order_id}",
        "get",
        {
            "operationId": "getOrder",
            "parameters": [
                {"name": "order_id", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "X-Receipt-Token", "in": "header", "required": False, "schema": {"type": "string"}},
            ],
            "responses": {
                "200": doc.returns("The order", schemas.OrderOut),
                **doc.error_responses(404, 429),
            },
        },
    )
    return doc.doc


def create_app(config: dict[str, Any] | None = None, settings: Settings | None = None) -> Flask:
    app = base_app("orders", settings, config)
    settings = app.config["SETTINGS"]
    pii = PiiProtector(
        aws.client("kms", settings),
        settings.pii_key_alias,
        settings.lookup_hmac_key_alias,
        settings.pseudonym_hmac_key_alias,
    )
    notifier = app.config.get("STOCK_NOTIFIER") or StockNotifier(
        settings.catalog_url, app.config["INTERNAL_TOKEN"]
    )
    app.extensions["order_service"] = OrderService(
        OrdersRepo(aws.client("dynamodb", settings), settings), pii, notifier
    )
    limiter = app.extensions["limiter_obj"]
    limiter.limit(settings.rate_limit_orders, methods=["POST"])(bp)
    limiter.limit(settings.rate_limit_reads, methods=["GET"])(bp)
    app.register_blueprint(bp)
    app.register_blueprint(internal)
    app.register_blueprint(funnel.bp)  # the shop's funnel events, internal token
    serve_openapi(app, openapi_document())
    return app
