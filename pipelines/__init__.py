"""The Dagster pipeline: ingest into the lake, SQL marts, checks, publishing, operations.

It shares only the data contract (`gitgoods.contract`) with the storefront and never imports it.
"""
