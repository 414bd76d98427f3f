"""Arrow on the system allocator, for the processes that run the ingest.

glibc malloc instead of mimalloc: the 8 converter threads of the ingest leave mimalloc holding
~100-150 MB more at peak (measured with `bench/ingest_bench.py`, see docs/benchmarks-ingest.md);
throughput is the same. `ARROW_DEFAULT_MEMORY_POOL` reaches Arrow's C++ side (JSON reader, compute
kernels, Parquet, S3) only when it is set before pyarrow loads; `set_memory_pool` covers the
Python side when pyarrow came first.

The entry points that load partitions call `use_system_allocator` (the ingest worker's `main`,
the ingest assets when they load in process, the benchmarks' children); importing the pipeline's
code changes no allocator.
"""

from __future__ import annotations

import os

POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"


def use_system_allocator() -> None:
    """Arrow's default pool becomes the system allocator (unless the environment chose another
    for the C++ side), and so does the pool of the Python bindings."""
    os.environ.setdefault(POOL_VARIABLE, "system")
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
