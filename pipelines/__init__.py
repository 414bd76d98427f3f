"""The Dagster pipeline: ingest into the lake, SQL marts, checks, publishing, operations.

It shares only the data contract (`gitgoods.contract`) with the storefront and never imports it.
"""

import pyarrow as _pa

# glibc malloc instead of mimalloc: the 8 converter threads of the ingest leave mimalloc holding
# ~100-150 MB more at peak (measured with bench/ingest_bench.py); throughput is the same.
_pa.set_memory_pool(_pa.system_memory_pool())
