"""Build a model's partitions: run its SELECT for a range of partitions, write each partition.

The query runs once per chunk of partitions (`chunk` keys at a time, from the call, the model's
YAML or the default: one scan of the history a mart needs serves many days). Its rows are
conformed to the documented schema and split by `dt`; each partition is written with
`PartitionWriter` (new run prefix, atomic switch, Glue). Every partition of the range is written,
empty when the query returned no row for it, so a day without sales reads as zero rows rather
than as missing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.lake.catalog import GlueCatalog
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions import PartitionInfo, PartitionWriter
from pipelines.marts.models import Model, ModelError
from pipelines.sql.engine import SqlEngine

log = logging.getLogger(__name__)

DEFAULT_CHUNK = {"day": 31, "month": 12}


def partition_keys(model: Model, start: str, end: str) -> list[str]:
    """Every partition key of `model` from `start` to `end` (inclusive)."""
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    if last < first:
        raise ValueError(f"empty range {start}..{end}")
    if model.partitioned_by == "month":
        if first.day != 1 or last.day != 1:
            raise ValueError(f"{model.name} is partitioned by month: keys are first days of months")
        keys, d = [], first
        while d <= last:
            keys.append(d.isoformat())
            d = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
        return keys
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def conform(model: Model, table: pa.Table) -> pa.Table:
    """The query's rows with the documented columns, in order and with their types (dt last)."""
    if "dt" not in table.column_names:
        raise ModelError(f"{model.name} returns no dt column")
    schema = model.schema
    if schema is None:
        names = [n for n in table.column_names if n != "dt"]
        return table.select([*names, "dt"]).cast(pa.schema([*(table.schema.field(n) for n in names),
                                                             pa.field("dt", pa.string())]))
    got, want = set(table.column_names) - {"dt"}, set(schema.names)
    if got != want:
        raise ModelError(
            f"{model.name} returns columns that differ from its YAML: "
            f"missing {sorted(want - got)}, undocumented {sorted(got - want)}"
        )
    columns = []
    for f in schema:
        col = table[f.name]
        if col.type != f.type:
            try:
                col = col.cast(f.type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise ModelError(f"{model.name}.{f.name}: {col.type} does not fit {f.type}: {exc}") from exc
        columns.append(col)
    columns.append(table["dt"].cast(pa.string()))
    return pa.Table.from_arrays(columns, schema=schema.append(pa.field("dt", pa.string())))


def _split(table: pa.Table) -> Iterator[tuple[str, pa.Table]]:
    if not table.num_rows:
        return
    table = table.sort_by("dt")
    dts = table["dt"].combine_chunks()
    ends = pc.not_equal(dts[1:], dts[:-1]).to_numpy(zero_copy_only=False).nonzero()[0] + 1
    starts = [0, *ends.tolist()]
    stops = [*ends.tolist(), table.num_rows]
    for a, b in zip(starts, stops, strict=True):
        yield dts[a].as_py(), table.slice(a, b - a).drop_columns(["dt"])


@dataclass
class BuildResult:
    model: str
    partitions: list[PartitionInfo]
    query_s: float
    write_s: float

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.partitions)


def build(
    model: Model,
    start: str,
    end: str,
    *,
    engine: SqlEngine,
    lake: LakeFS,
    catalog: GlueCatalog | None = None,
    chunk: int | None = None,
    run_id: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> BuildResult:
    """Write every partition of `model` from `start` to `end` and switch each to its new version."""
    keys = partition_keys(model, start, end)
    chunk = chunk or model.chunk or DEFAULT_CHUNK[model.partitioned_by]
    writer: PartitionWriter | None = None
    written: list[PartitionInfo] = []
    query_s = write_s = 0.0
    for i in range(0, len(keys), chunk):
        part = keys[i : i + chunk]
        t0 = time.perf_counter()
        table = conform(model, engine.query(model.sql, {"start": part[0], "end": part[-1]}))
        t1 = time.perf_counter()
        query_s += t1 - t0
        if writer is None:
            writer = PartitionWriter(
                lake, model.name, table.schema.remove(table.schema.get_field_index("dt")),
                zone=model.zone, catalog=catalog,
            )
        rows_by_dt = dict(_split(table))
        stray = set(rows_by_dt) - set(part)
        if stray:
            raise ModelError(f"{model.name} returned rows for partitions outside {part[0]}..{part[-1]}: "
                             f"{sorted(stray)[:5]}")
        del table
        for key in part:
            rows = rows_by_dt.pop(key, None)
            written.append(writer.write(key, [rows] if rows is not None else [], run_id=run_id))
            if progress:
                progress(key, len(written), len(keys))
        write_s += time.perf_counter() - t1
        log.info("%s: %s..%s, %d partitions", model.name, part[0], part[-1], len(part))
    return BuildResult(model.name, written, query_s, write_s)
