"""The Dagster pipeline: ingest into the lake, SQL marts, checks, publishing, operations.

It shares only the data contract (`gitgoods.contract`) with the storefront and never imports it.
"""

import os as _os

# glibc malloc instead of mimalloc: the 8 converter threads of the ingest leave mimalloc holding
# ~100-150 MB more at peak (measured with bench/ingest_bench.py); throughput is the same. The
# variable reaches Arrow's C++ side (JSON reader, compute kernels, Parquet, S3) when it is set
# before pyarrow loads; `set_memory_pool` covers the Python side when pyarrow came first.
_os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

import pyarrow as _pa  # noqa: E402

_pa.set_memory_pool(_pa.system_memory_pool())
