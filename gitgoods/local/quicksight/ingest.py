"""The local SPICE ingestion: a data set's physical table, read through moto's Glue catalog in this
process (`glue_read.py`), with the data set's input column types (`casts.py`) and transforms
(`dataprep.py`) applied: the snapshot to write, and what it says about its source.

Values that do not convert to a column's type drop their row (counted, as SPICE does). Supported
transforms: docs/seller-insights.md; any other fails the ingestion naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from gitgoods.local.quicksight.casts import ARROW_TYPES
from gitgoods.local.quicksight.dataprep import SUPPORTED, apply_transforms, source_table, unsupported_transform
from gitgoods.local.quicksight.errors import IngestionError
from gitgoods.local.quicksight.glue_read import completed_at, glue_locations, list_location, read_file


@dataclass
class Result:
    data: pa.Table
    dropped: int
    table: str
    partitions: int
    last_partition: str | None
    built_at: datetime | None


def run(definition: dict[str, Any], account: str, region: str) -> Result:
    """Read and transform a SPICE data set's source: the snapshot to write."""
    relational, transforms = source_table(definition)
    bad_op = unsupported_transform(transforms)
    if bad_op:
        raise IngestionError(
            "INVALID_DATAPREP_SYNTAX",
            f"transform {bad_op} is not supported by the local SPICE (only {', '.join(SUPPORTED)})",
        )
    database, name = relational.get("Schema"), relational["Name"]
    if not database:
        raise IngestionError("SQL_TABLE_NOT_FOUND", f"RelationalTable {name!r} names no Schema (Glue database)")
    inputs = relational["InputColumns"]
    columns, locations = glue_locations(account, region, database, name)
    known = {c.lower() for c in columns}
    missing = [c["Name"] for c in inputs if c["Name"].lower() not in known]
    if missing:
        raise IngestionError("SQL_SCHEMA_MISMATCH_ERROR", f"Glue table {database}.{name} has no column {missing[0]!r}")
    parts, dropped, built = [], 0, []
    for values, location in locations:
        files, manifest = list_location(account, location)
        if (stamp := completed_at(manifest)) is not None:
            built.append(stamp)
        for uri, source in files:
            table, lost = read_file(uri, source, inputs, values)
            parts.append(table)
            dropped += lost
    schema = pa.schema([(c["Name"], ARROW_TYPES[c["Type"]]) for c in inputs])
    data = pa.concat_tables(parts) if parts else schema.empty_table()
    data, lost = apply_transforms(data.combine_chunks(), transforms)
    partitioned = bool(locations and locations[0][0])
    key = "dt" if partitioned and "dt" in locations[0][0] else (next(iter(locations[0][0])) if partitioned else None)
    last = max((v[key] for v, _ in locations if v.get(key) is not None), default=None) if key else None
    return Result(
        data=data,
        dropped=dropped + lost,
        table=name,
        partitions=len(locations) if partitioned else 0,
        last_partition=last,
        built_at=max(built) if built else None,
    )
