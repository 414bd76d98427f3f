"""Cover art drawn from a product's title and platform: one SVG per product, the same every time
(the colours come from a hash of the product id). Text is XML-escaped and the SVG uses attributes
only (no <style>, no script), so it passes the page's CSP and cannot carry markup."""

from __future__ import annotations

import hashlib
import textwrap
from xml.sax.saxutils import escape

KIND_LABELS = {"game": "GAME", "dlc": "DLC", "merch": "MERCH", "gift_card": "GIFT CARD"}


def _hues(seed: str) -> tuple[int, int]:
    digest = hashlib.sha256(seed.encode()).digest()
    first = int.from_bytes(digest[:2], "big") % 360
    return first, (first + 40 + digest[2] % 80) % 360


def product_svg(product_id: str, title: str, platform: str, kind: str) -> str:
    h1, h2 = _hues(product_id)
    lines = textwrap.wrap(title, 16)[:4] or [""]
    first_y = 200 - (len(lines) - 1) * 22
    text = "\n".join(
        f'  <text x="160" y="{first_y + i * 44}" text-anchor="middle" font-size="34" '
        f'font-weight="700" fill="#ffffff">{escape(line)}</text>'
        for i, line in enumerate(lines)
    )
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="320" height="400" viewBox="0 0 320 400" role="img">
  <defs>
    <linearGradient id="bg" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="hsl({h1}, 62%, 34%)"/>
      <stop offset="1" stop-color="hsl({h2}, 70%, 18%)"/>
    </linearGradient>
  </defs>
  <rect width="320" height="400" fill="url(#bg)"/>
  <circle cx="270" cy="60" r="110" fill="#ffffff" fill-opacity="0.07"/>
  <circle cx="40" cy="360" r="90" fill="#000000" fill-opacity="0.15"/>
  <text x="24" y="44" font-size="15" font-weight="700" letter-spacing="2" fill="#ffffff"
        fill-opacity="0.8">{escape(KIND_LABELS.get(kind, ""))}</text>
{text}
  <rect x="24" y="336" width="272" height="40" rx="8" fill="#000000" fill-opacity="0.35"/>
  <text x="160" y="362" text-anchor="middle" font-size="17" fill="#ffffff">{escape(platform)}</text>
</svg>
""".replace("<svg ", '<svg font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" ', 1)


def unknown_svg() -> str:
    """The tile shown when a product cannot be read (missing, or the catalog is down)."""
    return """<svg xmlns="http://www.w3.org/2000/svg" width="320" height="400" viewBox="0 0 320 400" role="img">
  <rect width="320" height="400" fill="#2b2d42"/>
  <text x="160" y="210" text-anchor="middle" font-size="30" font-family="system-ui, sans-serif"
        fill="#8d99ae">Git Goods</text>
</svg>
"""
