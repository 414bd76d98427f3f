"""The data contract shared by the storefront and the pipeline: tables, events, ids, money."""
