"""Security headers on every response: a strict Content-Security-Policy (the shop runs no script at
all and loads nothing from elsewhere), no sniffing, no framing, and no caching of pages (the cart,
checkout and receipts are personal); static files and product art may be cached."""

from __future__ import annotations

from flask import Flask, request
from werkzeug.wrappers import Response

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-src 'none'",
        "frame-ancestors 'none'",
    ]
)
CACHEABLE_ENDPOINTS = {"static", "images.product_image"}


def register_security_headers(app: Flask, https: bool) -> None:
    @app.after_request
    def _headers(response: Response) -> Response:
        h = response.headers
        h["Content-Security-Policy"] = CSP
        h["X-Content-Type-Options"] = "nosniff"
        h["X-Frame-Options"] = "DENY"
        # strict-origin: the receipt token in an order link never leaves in a Referer, while
        # Flask-WTF can still check the Referer's origin on HTTPS form posts.
        h["Referrer-Policy"] = "strict-origin"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        if https:
            h["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if request.endpoint not in CACHEABLE_ENDPOINTS and "Cache-Control" not in h:
            h["Cache-Control"] = "no-store"
        return response
