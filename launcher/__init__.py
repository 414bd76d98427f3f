"""`make up`, `make down`, `make status`: the local stack, started and filled from above the layers.

The only package that imports the storefront and the pipelines together (`gitgoods/` is the
foundation both build on, and imports neither). `python -m launcher up|down|status`.
"""
