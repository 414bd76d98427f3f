"""The Python heap of a pipeline process: what it loads once is kept out of the garbage collector's way.

A step process imports Dagster, pyarrow, DuckDB, sqlglot and the models before its first build:
about a million long-lived objects. Python's cyclic collector walks all of them in every full
collection, and a build allocates enough (sqlglot copies its syntax trees many times) to set off
one or two: ~35-50 ms each on this project's benchmark machine, most of the cost of transpiling a
mart's query (docs/benchmarks.md). `settle` moves what is alive at the first build to the
collector's permanent generation (`gc.freeze`), once per process: those objects are never
scanned again, and what the builds allocate is collected as before. Nothing is collected first (a
full collection is the cost being saved); whatever garbage exists at that moment stays, once.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_settled = False


def settle() -> bool:
    """Freeze the process's heap as it is now, the first time this is called; whether it did."""
    global _settled
    with _lock:
        if _settled:
            return False
        _settled = True
    gc.freeze()
    return True


__all__ = ["settle"]
