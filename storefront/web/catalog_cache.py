"""The pages' short-lived copy of what the catalog answered (products, sellers, listings).

Every page asks the catalog one to three questions, and most are the same questions other
shoppers asked a moment ago (popular products, the home page's featured games, the first page
of a platform). Asked over HTTP each time, they cost the web process a request and a JSON parse
and the catalog process a request, a JSON encoding and its own cache look-up: under load that was
most of the CPU a page took (docs/benchmarks.md, "The shop under load"). Here answers are kept
for `web_cache_ttl_s` seconds (5 by default) in the same DAX-like cache the catalog uses
(`storefront.common.cache`), so a popular page costs one catalog call per process every few
seconds instead of one per view.

What a shopper may see is at most that many seconds old: a price or stock shown on a page. The
order service prices and checks every line itself when the order is placed, and the shop turns
its refusal into a message, so a stale page never places a wrong order. Failures are not kept:
a catalog that is down is asked again on the next page. `web_cache_ttl_s = 0` turns the copy off.
"""

from __future__ import annotations

from typing import Any

from storefront.common.cache import DaxLikeCache
from storefront.web.services import CatalogClient


class CachedCatalogClient(CatalogClient):
    def __init__(self, base_url: str, timeout_s: float, ttl_s: float, max_items: int = 20_000):
        super().__init__(base_url, timeout_s)
        self.cache = DaxLikeCache(item_ttl_s=ttl_s, query_ttl_s=ttl_s, max_items=max_items)

    def products(self, params: dict[str, Any]) -> dict[str, Any]:
        fetch = super().products
        return self.cache.query(tuple(sorted((k, str(v)) for k, v in params.items())), lambda: fetch(params))

    def product(self, product_id: str) -> dict[str, Any] | None:
        fetch = super().product
        return self.cache.get_item(("product", product_id), lambda: fetch(product_id))

    def seller(self, seller_id: str) -> dict[str, Any] | None:
        fetch = super().seller
        return self.cache.get_item(("seller", seller_id), lambda: fetch(seller_id))


def catalog_client(base_url: str, timeout_s: float, ttl_s: float) -> CatalogClient:
    """The pages' catalog client: with the short-lived copy unless `ttl_s` is 0."""
    return CachedCatalogClient(base_url, timeout_s, ttl_s) if ttl_s > 0 else CatalogClient(base_url, timeout_s)
