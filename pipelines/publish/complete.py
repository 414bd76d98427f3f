"""A mart's new columns reach its data set without editing `quicksight/` first.

The data set files name the columns they dress (friendly names, descriptions, folders). A column
the mart's `models.yml` has but the file does not is published as it is: an input column of the
documented type, its description as a column tag, kept by the projection. So adding a column to a
mart shows up in `plan` as a change of its data set; renaming or dropping one that a file names
fails the definitions' check instead (`definitions.check_against_models`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pipelines.marts.models import Model
from pipelines.publish.definitions import DefinitionError, quicksight_type


def complete_dataset(request: dict[str, Any], model: Model) -> dict[str, Any]:
    """A copy of the CreateDataSet request with the model's columns it lacks added."""
    out = copy.deepcopy(request)
    (physical_id, physical), = out["PhysicalTableMap"].items()
    table = physical["RelationalTable"]
    known = {c["Name"] for c in table["InputColumns"]}
    missing = [c for c in model.columns if c.name not in known]
    if not missing:
        return out
    logical = next(
        (lt for lt in out["LogicalTableMap"].values() if lt.get("Source", {}).get("PhysicalTableId") == physical_id),
        None,
    )
    if logical is None:
        raise DefinitionError(f"data set {out.get('DataSetId')}: no logical table reads {physical_id}")
    transforms = logical.setdefault("DataTransforms", [])
    project = next((t["ProjectOperation"] for t in transforms if "ProjectOperation" in t), None)
    added = []
    for column in missing:
        kind = quicksight_type(column.type)
        if kind is None:
            raise DefinitionError(f"{model.name}.{column.name}: type {column.type} has no QuickSight type")
        table["InputColumns"].append({"Name": column.name, "Type": kind})
        added.append(
            {"TagColumnOperation": {"ColumnName": column.name, "Tags": [
                {"ColumnDescription": {"Text": column.description or column.name}}]}}
        )
        if project is not None:
            project["ProjectedColumns"].append(column.name)
    at = next((i for i, t in enumerate(transforms) if "ProjectOperation" in t), len(transforms))
    transforms[at:at] = added
    return out


def complete(datasets: Mapping[str, dict[str, Any]], models: Mapping[str, Model]) -> dict[str, dict[str, Any]]:
    """Every mart's data set request completed from its model (data sets of unknown marts as they are)."""
    return {mart: complete_dataset(req, models[mart]) if mart in models else req for mart, req in datasets.items()}
