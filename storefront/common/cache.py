"""A read cache in front of DynamoDB that behaves like DAX.

- **Item cache**: `GetItem` results by key, read-through with a TTL. Writes made through the
  cache (or announced to it, for writes another service made) update the cached item at once
  (write-through), so stock a shopper sees changes as soon as an order takes it.
- **Query cache**: results of queries and scans by their full parameters, with a shorter TTL.
  Like DAX it is not invalidated by item writes on its own; unlike DAX, `patch_queries` lets the
  owner update an item inside cached result lists, which the catalog does on stock changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache

_MISSING = object()


@dataclass
class CacheStats:
    item_hits: int = 0
    item_misses: int = 0
    query_hits: int = 0
    query_misses: int = 0


class DaxLikeCache:
    def __init__(self, item_ttl_s: float, query_ttl_s: float, max_items: int = 100_000):
        self._items: TTLCache[Hashable, Any] = TTLCache(maxsize=max_items, ttl=item_ttl_s)
        self._queries: TTLCache[Hashable, Any] = TTLCache(maxsize=1024, ttl=query_ttl_s)
        self._lock = threading.RLock()
        self.stats = CacheStats()

    def get_item(self, key: Hashable, load: Callable[[], Any]) -> Any:
        with self._lock:
            value = self._items.get(key, _MISSING)
            if value is not _MISSING:
                self.stats.item_hits += 1
                return value
            self.stats.item_misses += 1
        value = load()  # outside the lock: a slow read never blocks other keys
        with self._lock:
            self._items[key] = value
        return value

    def query(self, key: Hashable, load: Callable[[], Any]) -> Any:
        with self._lock:
            value = self._queries.get(key, _MISSING)
            if value is not _MISSING:
                self.stats.query_hits += 1
                return value
            self.stats.query_misses += 1
        value = load()
        with self._lock:
            self._queries[key] = value
        return value

    def write_through(self, key: Hashable, item: Any) -> None:
        with self._lock:
            self._items[key] = item

    def patch_queries(self, patch: Callable[[Any], None]) -> None:
        """Apply `patch` to every cached query result (in place)."""
        with self._lock:
            for value in list(self._queries.values()):
                patch(value)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._queries.clear()
