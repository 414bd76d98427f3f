"""Publish everything once (what `make up` does after the marts): one Dagster run of the group
`publish`, so the UI shows it with its metadata."""

from __future__ import annotations

import dagster as dg

from pipelines.defs.publish.assets import ASSETS
from pipelines.resources import resources_for


def publish_all(instance: dg.DagsterInstance | None = None) -> dict[str, object]:
    """Returns {"success": bool, "ingestions": {asset: what happened to its SPICE data}}."""
    instance = instance or dg.DagsterInstance.get()
    result = dg.materialize(
        ASSETS, resources=resources_for(), instance=instance, raise_on_error=False,
        tags={"gitgoods/reason": "initial-publish"},
    )
    ingestions = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        value = materialization.metadata.get("ingestion")
        if value is not None:
            ingestions[materialization.asset_key.to_user_string()] = value.value
    return {"success": result.success, "ingestions": ingestions}
