"""Shared foundation of the Git Goods platform: settings, AWS clients and the data contract.

The storefront and the pipelines both build on this package and never import each other.
"""
