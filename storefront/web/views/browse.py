"""Browsing: the home page, search with filters and cursor pages, and the product page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request

from storefront.web import visits
from storefront.web.forms import AddToCartForm
from storefront.web.services import catalog
from storefront.web.shopfront import CONSOLES, GENRES, KINDS, PLATFORMS, PRODUCT_ID, SYMBOLS, to_minor_units

bp = Blueprint("browse", __name__)

PAGE_SIZE = 12
FEATURED = 8


@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    featured = catalog().products({"kind": "game", "in_stock": "true", "limit": FEATURED})["items"]
    return render_template("home.html", featured=featured, platforms=CONSOLES, kinds=KINDS)


def _search_filters(args: Any) -> tuple[dict[str, str], dict[str, Any], dict[str, str]]:
    """(the shopper's filters as given, the catalog's query parameters, errors by filter)."""
    given = {name: (args.get(name) or "").strip() for name in
             ("q", "platform", "genre", "kind", "currency", "min_price", "max_price")}
    params: dict[str, Any] = {"limit": PAGE_SIZE, "in_stock": "true"}
    errors: dict[str, str] = {}
    if given["q"]:
        params["q"] = given["q"][:100]
    for name, allowed in (("platform", PLATFORMS), ("genre", GENRES), ("kind", KINDS), ("currency", SYMBOLS)):
        if given[name]:
            if given[name] in allowed:
                params[name] = given[name]
            else:
                errors[name] = "Choose one of the options."
    bounds = {}
    for name in ("min_price", "max_price"):
        if given[name]:
            if given[name].isdigit() and int(given[name]) <= 100_000:
                bounds[name] = int(given[name])
                params[f"{name}_cents"] = to_minor_units(int(given[name]), params.get("currency"))
            else:
                errors[name] = "Enter a whole amount, like 20."
    if len(bounds) == 2 and bounds["min_price"] > bounds["max_price"]:
        errors["max_price"] = "The highest price must not be below the lowest."
    return given, params, errors


@bp.get("/search")
def search():  # type: ignore[no-untyped-def]
    given, params, errors = _search_filters(request.args)
    cursor = request.args.get("cursor")
    items: list[dict[str, Any]] = []
    next_cursor = None
    if not errors:
        if cursor:
            params["cursor"] = cursor[:400]
        page = catalog().products(params)
        items, next_cursor = page["items"], page["next_cursor"]
    status = 400 if errors else 200
    return (
        render_template(
            "search.html",
            given=given,
            errors=errors,
            items=items,
            next_cursor=next_cursor,
            first_page=not cursor,
            filters_without_cursor={name: value for name, value in given.items() if value},
            platforms=PLATFORMS,
            genres=GENRES,
            kinds=KINDS,
            currencies=list(SYMBOLS),
        ),
        status,
    )


@bp.get("/products/<product_id>")
def product(product_id: str):  # type: ignore[no-untyped-def]
    if not PRODUCT_ID.match(product_id):
        abort(404)
    item = catalog().product(product_id)
    if item is None or not item.get("active"):
        abort(404)
    seller = catalog().seller(item["seller_id"])
    form = AddToCartForm(product_id=product_id)
    visits.record("product_viewed", [(item, 0)])
    return render_template("product.html", product=item, seller=seller, form=form, kinds=KINDS)
