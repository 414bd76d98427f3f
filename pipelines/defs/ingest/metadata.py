"""Metadata of the ingest's results, from the plain form the load builds (Dagster Pipes' format,
`pipelines.ingest.load`) to Dagster's values, for the in-process path: the worker's results go
through Pipes, which does the same conversion."""

from typing import Any

import dagster as dg


def dagster_metadata(plain: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Metadata in Pipes' format (`load.partition_metadata`) as Dagster's values, in process."""
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
        elif kind == "path":
            out[key] = dg.MetadataValue.path(value)
        elif kind == "md":
            out[key] = dg.MetadataValue.md(value)
        elif kind == "json":
            out[key] = dg.MetadataValue.json(value)
        elif kind == "text":
            out[key] = dg.MetadataValue.text(value)
        elif kind == "bool":
            out[key] = dg.MetadataValue.bool(value)
        elif kind == "int":
            out[key] = dg.MetadataValue.int(value)
        elif kind == "float":
            out[key] = dg.MetadataValue.float(value)
        else:
            out[key] = value
    return out
