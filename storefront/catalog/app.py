"""The catalog service (port 5001): products, sellers, search, filters and stock."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Flask

from gitgoods import aws
from gitgoods.settings import Settings
from storefront.catalog import schemas
from storefront.catalog.cursors import CursorCodec
from storefront.catalog.repo import CatalogRepo
from storefront.catalog.routes import bp
from storefront.common.cache import DaxLikeCache
from storefront.common.openapi import OpenApiBuilder, query_parameters
from storefront.common.service import base_app, serve_openapi

log = logging.getLogger(__name__)


def openapi_document() -> dict[str, Any]:
    doc = OpenApiBuilder(
        "Git Goods catalog",
        "1.0.0",
        "Products of the shop's sellers: search, filters, cursor pagination, stock.",
    )
    doc.health()
    doc.self_document()
    doc.add(
        "/products",
        "get",
        {
            "operationId": "listProducts",
            "summary": "Search and filter products, a page at a time",
            "description": (
                "Products on sale (inactive ones only with `seller_id`), in product id order. "
                "Unknown parameters, a parameter given twice, `min_price_cents` above "
                "`max_price_cents`, and a `cursor` that is not the `next_cursor` of the same "
                "query are answered 400."
            ),
            "parameters": query_parameters(schemas.ProductQuery),
            "responses": {
                "200": doc.returns("A page", schemas.ProductPage),
                **doc.error_responses(400, 429),
            },
        },
    )
    id_param = {"name": "product_id", "in": "path", "required": True, "schema": {"type": "string"}}
    doc.add(
        "/products/{product_id}",
        "get",
        {
            "operationId": "getProduct",
            "parameters": [id_param],
            "responses": {
                "200": doc.returns("The product", schemas.Product),
                **doc.error_responses(404, 429),
            },
        },
    )
    doc.add(
        "/sellers",
        "get",
        {
            "operationId": "listSellers",
            "responses": {
                "200": doc.returns("All sellers", schemas.SellerPage),
                **doc.error_responses(429),
            },
        },
    )
    doc.add(
        "/sellers/{seller_id}",
        "get",
        {
            "operationId": "getSeller",
            "parameters": [{**id_param, "name": "seller_id"}],
            "responses": {
                "200": doc.returns("The seller", schemas.Seller),
                **doc.error_responses(404, 429),
            },
        },
    )
    return doc.doc


def create_app(config: dict[str, Any] | None = None, settings: Settings | None = None) -> Flask:
    app = base_app("catalog", settings, config)
    settings = app.config["SETTINGS"]
    cache = DaxLikeCache(settings.cache_item_ttl_s, settings.cache_query_ttl_s)
    app.extensions["catalog_repo"] = CatalogRepo(
        aws.client("dynamodb", settings),
        settings.table("catalog"),
        settings.table("sellers"),
        cache,
    )
    cursor_key = settings.resolved_cursor_key()
    if cursor_key is None:
        log.warning(
            "no cursor key and no internal token: cursors are signed with a key of this process "
            "only and will not work across instances or restarts"
        )
        cursor_key = secrets.token_bytes(32)
    app.extensions["cursor_codec"] = CursorCodec(cursor_key)
    limiter = app.extensions["limiter_obj"]
    limiter.limit(settings.rate_limit_reads)(bp)
    app.register_blueprint(bp)
    serve_openapi(app, openapi_document())
    return app
