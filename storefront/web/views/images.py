"""Product art: an SVG per product drawn from its title and platform (`placeholders`)."""

from __future__ import annotations

from flask import Blueprint, Response

from storefront.web.placeholders import product_svg, unknown_svg
from storefront.web.services import ServiceUnavailable, catalog
from storefront.web.shopfront import PRODUCT_ID

bp = Blueprint("images", __name__)

SVG = "image/svg+xml"


@bp.get("/images/products/<product_id>.svg")
def product_image(product_id: str) -> Response:
    product = None
    try:
        product = catalog().product(product_id) if PRODUCT_ID.match(product_id) else None
    except ServiceUnavailable:
        # A missing picture must not break the page around it: a plain tile, not cached.
        return Response(unknown_svg(), mimetype=SVG, headers={"Cache-Control": "no-store"})
    if product is None:
        return Response(unknown_svg(), status=404, mimetype=SVG, headers={"Cache-Control": "no-store"})
    svg = product_svg(product["product_id"], product["title"], product["platform"], product["kind"])
    return Response(svg, mimetype=SVG, headers={"Cache-Control": "public, max-age=3600"})
