"""HTTP routes of the catalog service: products, sellers, and stock-change notices."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from flask import Blueprint, current_app, jsonify
from flask.blueprints import BlueprintSetupState

from storefront.catalog.cursors import CursorCodec
from storefront.catalog.repo import CatalogRepo
from storefront.catalog.schemas import ProductQuery, StockNotice, id_pattern
from storefront.common import deadline
from storefront.common.errors import ApiError
from storefront.common.web import json_body, query_args, require_internal_token

bp = Blueprint("catalog", __name__)


@bp.record_once
def _serve_requests(state: BlueprintSetupState) -> None:
    """Serving HTTP: DynamoDB calls bounded by the request's deadline."""
    catalog_repo: CatalogRepo = state.app.extensions["catalog_repo"]
    timeout = state.app.config["SETTINGS"].request_read_timeout_s
    catalog_repo.ddb = deadline.bounded(catalog_repo.ddb, timeout)


def repo() -> CatalogRepo:
    return current_app.extensions["catalog_repo"]


def _filter_hash(query: ProductQuery) -> str:
    fields = query.model_dump(exclude={"cursor", "limit"})
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def cursors() -> CursorCodec:
    return current_app.extensions["cursor_codec"]


def _matches(p: dict[str, Any], q: ProductQuery, words: list[str]) -> bool:
    if q.platform and p["platform"].lower() != q.platform.lower():
        return False
    if q.genre and p["genre"].lower() != q.genre.lower():
        return False
    if q.kind and p["kind"] != q.kind:
        return False
    if q.currency and p["currency"] != q.currency:
        return False
    if q.min_price_cents is not None and p["price_cents"] < q.min_price_cents:
        return False
    if q.max_price_cents is not None and p["price_cents"] > q.max_price_cents:
        return False
    if q.in_stock and p["stock"] <= 0:
        return False
    title = p["title"].lower()
    return all(w in title for w in words)


@bp.get("/products")
def list_products():  # type: ignore[no-untyped-def]
    query = query_args(ProductQuery)
    if (
        query.min_price_cents is not None
        and query.max_price_cents is not None
        and query.min_price_cents > query.max_price_cents
    ):
        raise ApiError(400, "invalid_range", "min_price_cents is above max_price_cents", "min_price_cents")
    fhash = _filter_hash(query)
    after = cursors().decode(query.cursor, fhash) if query.cursor else ""
    # A seller filter is a key Query on the seller index; everything else is served from the
    # cached full listing (a few thousand products), filtered in memory.
    products = repo().products_of_seller(query.seller_id) if query.seller_id else repo().all_products()
    words = query.q.lower().split() if query.q else []
    page: list[dict[str, Any]] = []
    more = False
    for pid in sorted(products) if query.seller_id else products:
        if pid <= after:
            continue
        product = products[pid]
        if product.get("active") is False and not query.seller_id:
            continue
        if _matches(product, query, words):
            if len(page) == query.limit:
                more = True
                break
            page.append(product)
    next_cursor = cursors().encode(page[-1]["product_id"], fhash) if more else None
    return jsonify({"items": page, "next_cursor": next_cursor})


@bp.get("/products/<product_id>")
def get_product(product_id: str):  # type: ignore[no-untyped-def]
    product = repo().product(product_id) if _is_id(product_id, "prd") else None
    if product is None:
        raise ApiError(404, "not_found", "no such product", "product_id")
    return jsonify(product)


@bp.get("/sellers")
def list_sellers():  # type: ignore[no-untyped-def]
    return jsonify({"items": repo().sellers()})


@bp.get("/sellers/<seller_id>")
def get_seller(seller_id: str):  # type: ignore[no-untyped-def]
    seller = repo().seller(seller_id) if _is_id(seller_id, "sel") else None
    if seller is None:
        raise ApiError(404, "not_found", "no such seller", "seller_id")
    return jsonify(seller)


@bp.post("/internal/stock-changed")
def stock_changed():  # type: ignore[no-untyped-def]
    require_internal_token(current_app.config["INTERNAL_TOKEN"])
    notice = json_body(StockNotice)
    ids = [pid for pid in notice.product_ids if _is_id(pid, "prd")]
    return jsonify({"refreshed": repo().refresh_products(ids)})


def _is_id(value: str, prefix: str) -> bool:
    return re.fullmatch(id_pattern(prefix), value) is not None
