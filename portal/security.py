"""Security headers on every response: a strict Content-Security-Policy (no inline scripts, the
QuickSight origin framed in aws mode), no sniffing, no framing of the portal, no caching."""

from __future__ import annotations

from flask import Flask, g, request
from werkzeug.wrappers import Response

from portal.context import portal


def content_security_policy(frame_src: list[str], form_action: list[str]) -> str:
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'", *form_action],
        "frame-src": frame_src or ["'none'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response: Response) -> Response:
        p = portal()
        frame_src: list[str] = []
        form_action: list[str] = []
        if p.embedder is not None:
            frame_src.append(p.embedder.default_origin())
            embedded = g.get("frame_origin")
            if embedded and embedded not in frame_src:
                frame_src.append(embedded)
        if not p.local and p.settings.cognito_domain:
            from portal.auth import hosted_ui_base

            # Sign-out posts to the portal, which redirects to the hosted UI's /logout.
            form_action.append(hosted_ui_base(p.settings.cognito_domain))
        h = response.headers
        h["Content-Security-Policy"] = content_security_policy(frame_src, form_action)
        h["X-Content-Type-Options"] = "nosniff"
        h["X-Frame-Options"] = "DENY"
        # strict-origin rather than no-referrer: Flask-WTF checks the Referer of HTTPS form posts.
        h["Referrer-Policy"] = "strict-origin"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        if not p.local:
            h["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if request.endpoint != "static":
            h["Cache-Control"] = "no-store"
            h["Pragma"] = "no-cache"
        return response
