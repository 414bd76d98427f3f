"""Sellers' display names for the portal's pages (the sellers table; names are not PII)."""

from __future__ import annotations

import threading

from cachetools import TTLCache

from gitgoods import aws
from gitgoods.settings import Settings

NAMES_TTL_S = 300.0


class SellerNames:
    """seller_id -> display name from the sellers table (not PII), read at most every 5 minutes."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._cache: TTLCache = TTLCache(maxsize=1, ttl=NAMES_TTL_S)
        self._lock = threading.Lock()

    def __call__(self) -> dict[str, str]:
        with self._lock:
            if "names" not in self._cache:
                ddb = aws.client("dynamodb", self._settings)
                names = {}
                for page in ddb.get_paginator("scan").paginate(
                    TableName=self._settings.table("sellers"), ProjectionExpression="seller_id, display_name"
                ):
                    for item in page["Items"]:
                        names[item["seller_id"]["S"]] = item.get("display_name", {}).get("S") or item["seller_id"]["S"]
                self._cache["names"] = names
            return self._cache["names"]
