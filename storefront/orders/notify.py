"""Tells the catalog service which products' stock changed, so its cache updates at once.

Best effort and off the request path: if the catalog is down, its cache TTL still bounds how
stale it can be.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import requests

log = logging.getLogger(__name__)


class StockNotifier:
    def __init__(self, catalog_url: str, token: str | None):
        self.url = catalog_url.rstrip("/") + "/internal/stock-changed"
        self.token = token
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="stock-notify")
        self.session = requests.Session()
        self.session.trust_env = False  # an internal address: no proxy or .netrc look-ups per call

    def __call__(self, product_ids: list[str]) -> None:
        if self.token:
            self.pool.submit(self._send, list(dict.fromkeys(product_ids)))

    def _send(self, product_ids: list[str]) -> None:
        try:
            self.session.post(
                self.url,
                json={"product_ids": product_ids[:100]},
                headers={"X-Internal-Token": self.token or ""},
                timeout=2,
            )
        except requests.RequestException as exc:
            log.warning("catalog stock notice failed: %s", type(exc).__name__)
