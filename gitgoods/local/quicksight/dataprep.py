"""A data set's data preparation as the local SPICE supports it: the single logical table and the
physical table it reads (a RelationalTable), the transforms (project, cast, rename, tag; any other
fails the ingestion naming it), the OutputColumns they give, and their application to the rows read.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from gitgoods.local.quicksight.casts import convert, drop_unconverted
from gitgoods.local.quicksight.errors import IngestionError

# OutputColumn.Type has no BOOLEAN: such columns are reported as STRING (their snapshot column is bool).
OUTPUT_TYPES = {"BIT": "INTEGER", "BOOLEAN": "STRING", "JSON": "STRING"}
SUPPORTED = ("ProjectOperation", "CastColumnTypeOperation", "RenameColumnOperation", "TagColumnOperation")


def source_table(definition: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(RelationalTable, DataTransforms) of the data set's single logical table."""
    physical = definition.get("PhysicalTableMap") or {}
    logical = definition.get("LogicalTableMap") or {}
    if logical:
        if len(logical) != 1:
            raise IngestionError("INVALID_DATAPREP_SYNTAX", "several logical tables (joins) are not supported locally")
        table = next(iter(logical.values()))
        source = table.get("Source", {})
        if "PhysicalTableId" not in source:
            kind = next(iter(source), "an empty Source")
            raise IngestionError("INVALID_DATAPREP_SYNTAX", f"logical table source {kind} is not supported locally")
        if source["PhysicalTableId"] not in physical:
            raise IngestionError("INVALID_DATAPREP_SYNTAX", f"unknown PhysicalTableId {source['PhysicalTableId']!r}")
        chosen, transforms = physical[source["PhysicalTableId"]], table.get("DataTransforms") or []
    elif len(physical) == 1:
        chosen, transforms = next(iter(physical.values())), []
    else:
        raise IngestionError("INVALID_DATAPREP_SYNTAX", "one physical table is needed when there is no LogicalTableMap")
    if "RelationalTable" not in chosen:
        kind = next(iter(chosen), "an empty physical table")
        raise IngestionError("INVALID_DATAPREP_SYNTAX", f"physical table {kind} is not supported locally")
    return chosen["RelationalTable"], transforms


def unsupported_transform(transforms: list[dict[str, Any]]) -> str | None:
    for op in transforms:
        for name in op:
            if name not in SUPPORTED:
                return name
    return None


def output_columns(definition: dict[str, Any]) -> list[dict[str, Any]] | None:
    """OutputColumns computed from the input columns and the supported transforms; None when the
    data set uses something else (joins, other transforms). Raises ValueError naming a column the
    transforms refer to but that does not exist at that point."""
    try:
        relational, transforms = source_table(definition)
    except IngestionError:
        return None
    if unsupported_transform(transforms):
        return None
    cols: dict[str, dict[str, Any]] = {}
    for c in relational.get("InputColumns", []):
        cols[c["Name"]] = {"Name": c["Name"], "Type": OUTPUT_TYPES.get(c["Type"], c["Type"])}
        if c.get("SubType"):
            cols[c["Name"]]["SubType"] = c["SubType"]

    def need(name: str, op: str) -> dict[str, Any]:
        if name not in cols:
            raise ValueError(f"{op}: column {name!r} does not exist at this point")
        return cols[name]

    for op in transforms:
        ((kind, body),) = op.items()
        if kind == "ProjectOperation":
            cols = {n: need(n, kind) for n in body["ProjectedColumns"]}
        elif kind == "RenameColumnOperation":
            col = need(body["ColumnName"], kind)
            if body["NewColumnName"] in cols and body["NewColumnName"] != body["ColumnName"]:
                raise ValueError(f"{kind}: column {body['NewColumnName']!r} exists already")
            cols = {(body["NewColumnName"] if n == body["ColumnName"] else n): c for n, c in cols.items()}
            col["Name"] = body["NewColumnName"]
        elif kind == "CastColumnTypeOperation":
            col = need(body["ColumnName"], kind)
            col["Type"] = body["NewColumnType"]
            col.pop("SubType", None)
            if body.get("SubType"):
                col["SubType"] = body["SubType"]
        elif kind == "TagColumnOperation":
            col = need(body["ColumnName"], kind)
            for tag in body.get("Tags", []):
                if "ColumnDescription" in tag and "Text" in tag["ColumnDescription"]:
                    col["Description"] = tag["ColumnDescription"]["Text"]
    return list(cols.values())


def problem(definition: dict[str, Any]) -> str | None:
    """Why the definition is invalid (a transform naming a missing column...), or None."""
    try:
        output_columns(definition)
    except ValueError as exc:
        return str(exc)
    return None


def apply_transforms(data: pa.Table, transforms: list[dict[str, Any]]) -> tuple[pa.Table, int]:
    dropped = 0
    for op in transforms:
        ((kind, body),) = op.items()
        names = data.column_names
        if kind == "ProjectOperation":
            missing = [c for c in body["ProjectedColumns"] if c not in names]
            if missing:
                raise IngestionError("INVALID_DATAPREP_SYNTAX", f"{kind}: no column {missing[0]!r}")
            data = data.select(body["ProjectedColumns"])
        elif kind in ("RenameColumnOperation", "CastColumnTypeOperation", "TagColumnOperation"):
            if body["ColumnName"] not in names:
                raise IngestionError("INVALID_DATAPREP_SYNTAX", f"{kind}: no column {body['ColumnName']!r}")
            i = names.index(body["ColumnName"])
            if kind == "RenameColumnOperation":
                if body["NewColumnName"] in names and body["NewColumnName"] != body["ColumnName"]:
                    raise IngestionError("DUPLICATE_COLUMN_NAMES_FOUND", f"{kind}: {body['NewColumnName']!r} exists")
                data = data.rename_columns([body["NewColumnName"] if j == i else n for j, n in enumerate(names)])
            elif kind == "CastColumnTypeOperation":
                out, bad = convert(data.column(i), body["NewColumnType"], body.get("Format"))
                data, lost = drop_unconverted(data.set_column(i, names[i], out), bad)
                dropped += lost
        else:
            raise IngestionError("INVALID_DATAPREP_SYNTAX", f"transform {kind} is not supported by the local SPICE")
    return data, dropped
