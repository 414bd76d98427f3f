"""Data access for the catalog and sellers tables, behind the DAX-like cache."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from storefront.common.cache import DaxLikeCache
from storefront.common.ddb import from_item
from storefront.common.deadline import carry

PRODUCT_FIELDS = (
    "product_id",
    "seller_id",
    "title",
    "kind",
    "platform",
    "genre",
    "price_cents",
    "currency",
    "stock",
    "active",
)
SELLER_FIELDS = ("seller_id", "display_name", "country", "currency", "category")
SCAN_SEGMENTS = 4


def _public(item: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: item[f] for f in fields if f in item}


class CatalogRepo:
    def __init__(self, ddb: Any, catalog_table: str, sellers_table: str, cache: DaxLikeCache):
        self.ddb = ddb
        self.catalog_table = catalog_table
        self.sellers_table = sellers_table
        self.cache = cache

    def _get(self, table: str, key: dict[str, Any], consistent: bool = False) -> dict[str, Any] | None:
        resp = self.ddb.get_item(TableName=table, Key=key, ConsistentRead=consistent)
        return from_item(resp["Item"]) if "Item" in resp else None

    def product(self, product_id: str) -> dict[str, Any] | None:
        item = self.cache.get_item(
            ("product", product_id),
            lambda: self._get(self.catalog_table, {"product_id": {"S": product_id}}),
        )
        return _public(item, PRODUCT_FIELDS) if item else None

    def _scan(self, table: str) -> list[dict[str, Any]]:
        def segment(n: int) -> list[dict[str, Any]]:
            out, kwargs = [], {"TableName": table, "Segment": n, "TotalSegments": SCAN_SEGMENTS}
            while True:
                resp = self.ddb.scan(**kwargs)
                out.extend(from_item(i) for i in resp["Items"])
                if "LastEvaluatedKey" not in resp:
                    return out
                kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

        with ThreadPoolExecutor(SCAN_SEGMENTS) as pool:
            # `carry`: the segments run under the request's deadline too.
            return [item for part in pool.map(carry(segment), range(SCAN_SEGMENTS)) for item in part]

    def all_products(self) -> dict[str, dict[str, Any]]:
        """Every product by id, sorted by id (the order of the cursor pagination)."""

        def load() -> dict[str, dict[str, Any]]:
            items = sorted(self._scan(self.catalog_table), key=lambda i: i["product_id"])
            return {i["product_id"]: _public(i, PRODUCT_FIELDS) for i in items}

        return self.cache.query(("scan", self.catalog_table), load)

    def products_of_seller(self, seller_id: str) -> dict[str, dict[str, Any]]:
        def load() -> dict[str, dict[str, Any]]:
            out, kwargs = (
                {},
                {
                    "TableName": self.catalog_table,
                    "IndexName": "by_seller",
                    "KeyConditionExpression": "seller_id = :s",
                    "ExpressionAttributeValues": {":s": {"S": seller_id}},
                },
            )
            while True:
                resp = self.ddb.query(**kwargs)
                for raw in resp["Items"]:
                    item = from_item(raw)
                    out[item["product_id"]] = _public(item, PRODUCT_FIELDS)
                if "LastEvaluatedKey" not in resp:
                    return out
                kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

        return self.cache.query(("seller", seller_id), load)

    def sellers(self) -> list[dict[str, Any]]:
        def load() -> list[dict[str, Any]]:
            items = sorted(self._scan(self.sellers_table), key=lambda i: i["seller_id"])
            return [_public(i, SELLER_FIELDS) for i in items]

        return self.cache.query(("scan", self.sellers_table), load)

    def seller(self, seller_id: str) -> dict[str, Any] | None:
        item = self.cache.get_item(
            ("seller", seller_id),
            lambda: self._get(self.sellers_table, {"seller_id": {"S": seller_id}}),
        )
        return _public(item, SELLER_FIELDS) if item else None

    def refresh_products(self, product_ids: list[str]) -> int:
        """Re-read products whose stock changed elsewhere; update item and query caches."""
        fresh = {}
        for pid in product_ids:
            item = self._get(self.catalog_table, {"product_id": {"S": pid}}, consistent=True)
            self.cache.write_through(("product", pid), item)
            if item:
                fresh[pid] = _public(item, PRODUCT_FIELDS)

        def patch(result: Any) -> None:
            if isinstance(result, dict):
                for pid, item in fresh.items():
                    if pid in result:
                        result[pid] = item

        self.cache.patch_queries(patch)
        return len(fresh)
