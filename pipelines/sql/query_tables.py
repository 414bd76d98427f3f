"""The lake tables a query of the embedded engine names, resolved to snapshots: the days each
reference asks for (its `dt` predicates) and their current files (`pipelines.sql.lake_snapshot`).

On S3 the query's tables are resolved at once, one thread per table - each waits mostly on
listings and GETs - and a table named twice is resolved in turn on its thread, by the query's one
resolver of current files, so both references read the same versions."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
from sqlglot import exp

from gitgoods.settings import Settings
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.current import CurrentFiles
from pipelines.sql.duckdb_ddl import ExternalTable
from pipelines.sql.engine import SqlError
from pipelines.sql.lake_snapshot import _dt_matches, dt_bounds, snapshot
from pipelines.sql.pushdown import table_predicates

TABLE_THREADS = 4  # tables of one query resolved at once on S3


@dataclass(frozen=True)
class LakeTable:
    zone: str
    table: str  # folder name under the zone
    glue_name: str


def resolve(current: CurrentFiles, refs: list[tuple[str, exp.Table, LakeTable]],
            engine: str) -> dict[str, tuple[list[str], ds.Dataset | pa.Table]]:  # fmt: skip
    """For each reference (its registered name, its node in the query, its table): the days it reads
    and their snapshot."""
    by_table: dict[str, list[tuple[str, exp.Table, LakeTable]]] = {}
    for ref in refs:
        by_table.setdefault(ref[2].glue_name, []).append(ref)

    def one_table(group: list[tuple[str, exp.Table, LakeTable]]) -> list[tuple[str, list[str], Any]]:
        out = []
        for registered, node, lake_table in group:
            predicates = [p for p in table_predicates(node) if p.column == "dt"]
            days = current.days(lake_table.zone, lake_table.table, *dt_bounds(predicates))
            if predicates:
                days = [d for d in days if _dt_matches(d, predicates)]
            out.append((registered, days, lake_source(current, lake_table, days, engine)))
        return out

    groups = list(by_table.values())
    if len(groups) > 1 and not current.lake.is_local:
        _ = current.lake.objects  # made here, not by every thread at once
        with ThreadPoolExecutor(min(len(groups), TABLE_THREADS), thread_name_prefix="lake-tables") as pool:
            resolved = [r for rs in pool.map(one_table, groups) for r in rs]
    else:
        resolved = [r for group in groups for r in one_table(group)]
    return {registered: (days, source) for registered, days, source in resolved}


def lake_source(current: CurrentFiles, lake_table: LakeTable, days: list[str], engine: str) -> ds.Dataset | pa.Table:
    """A snapshot of the partitions `days`; with none, an empty table of the newest schema."""
    zone, table = lake_table.zone, lake_table.table
    if days and current.manifests(zone, table, days):
        return snapshot(current, zone, table, days)
    newest = current.days(zone, table)[-1:]
    if not newest:
        raise SqlError(f"lake table {lake_table.glue_name} has no partitions yet", engine=engine)
    return snapshot(current, zone, table, newest).schema.empty_table()


def external_source(external: ExternalTable, settings: Settings) -> ds.Dataset:
    """A table made by CTAS with a location: its files, partitioned Hive-style by its columns."""
    target = LakeFS.from_uri(external.location, settings)
    partitioning = (
        ds.partitioning(pa.schema([(c, pa.string()) for c in external.partitioned_by]), flavor="hive")
        if external.partitioned_by
        else None
    )
    return ds.dataset(target.root, filesystem=target.fs, format="parquet", partitioning=partitioning)


__all__ = ["LakeTable", "external_source", "lake_source", "resolve"]
