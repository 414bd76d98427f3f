"""Publishing the marts to QuickSight: the definitions in `quicksight/` and their checks
(`pipelines.publish.definitions`). See docs/seller-insights.md, "QuickSight as code"."""
