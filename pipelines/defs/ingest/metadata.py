"""Metadata of the ingest's results, from the plain form the load builds (Dagster Pipes' format,
`pipelines.ingest.load`) to Dagster's values, for the in-process path: the worker's results go
through Pipes, which does the same conversion."""

from typing import Any

import dagster as dg

# Pipes' metadata types used by the load, and Dagster's constructor of each.
_VALUES = {
    "path": dg.MetadataValue.path,
    "md": dg.MetadataValue.md,
    "json": dg.MetadataValue.json,
    "text": dg.MetadataValue.text,
    "bool": dg.MetadataValue.bool,
    "int": dg.MetadataValue.int,
    "float": dg.MetadataValue.float,
}


def dagster_metadata(plain: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Metadata in Pipes' format (`load.partition_metadata`, `load.check_metadata`) as Dagster's
    values, in process."""
    out: dict[str, Any] = {}
    for key, entry in plain.items():
        kind, value = entry["type"], entry["raw_value"]
        if kind == "table_schema":
            out[key] = dg.TableSchema(
                columns=[
                    dg.TableColumn(c["name"], c["type"], constraints=dg.TableColumnConstraints(**c["constraints"]))
                    for c in value["columns"]
                ]
            )
        else:
            out[key] = _VALUES[kind](value) if kind in _VALUES else value
    return out
