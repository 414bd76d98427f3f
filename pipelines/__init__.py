"""The Dagster pipeline: ingest into the lake, SQL marts, checks, publishing, operations.

It shares only the data contract (`gitgoods.contract`) with the storefront and never imports it.
Importing it has no side effects: the processes that want Arrow on the system allocator set it
themselves (`pipelines.arrow_memory`).
"""
