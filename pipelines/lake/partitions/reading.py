"""Reading a partition's current version: whole (`read_partition`) or as a dataset snapshot."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import pyarrow as pa

from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.layout import check_dt, run_rel
from pipelines.lake.partitions.manifest import current_manifest, current_run_id, list_partitions, schema_from_b64

if TYPE_CHECKING:
    import pyarrow.dataset as ds


class PartitionNotFound(LookupError):
    pass


def _is_not_found(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, FileNotFoundError) or "NO_SUCH_KEY" in text or "Path does not exist" in text


def read_partition(
    lake: LakeFS,
    table: str,
    dt: str,
    *,
    zone: str = "raw",
    columns: Sequence[str] | None = None,
    filter: ds.Expression | None = None,  # noqa: A002
) -> pa.Table:
    """The partition's current version, whole (through the symlink or pointer, never a listing).

    If the version read is garbage-collected while it is being read (only possible when the
    partition was switched at least twice meanwhile), the read starts again on the new version.
    """
    import pyarrow.dataset as ds  # here, not at the top: it weighs ~40 MB and writers never read

    dt = check_dt(dt)
    last_exc: BaseException | None = None
    for _ in range(5):
        manifest = current_manifest(lake, table, dt, zone=zone)
        if manifest is None:
            raise PartitionNotFound(f"{zone}/{table}/dt={dt}")
        rel = run_rel(zone, table, dt, manifest["run_id"])
        paths = [lake.path(rel, f["name"]) for f in manifest["files"]]
        schema = schema_from_b64(manifest["schema"])
        try:
            dataset_ = ds.dataset(paths, schema=schema, format="parquet", filesystem=lake.fs)
            return dataset_.to_table(columns=list(columns) if columns is not None else None, filter=filter)
        except OSError as exc:
            if not _is_not_found(exc) or current_run_id(lake, table, dt, zone=zone) == manifest["run_id"]:
                raise
            last_exc = exc  # switched and collected under us: read the new version
    raise RuntimeError(f"{zone}/{table}/dt={dt} kept changing while being read") from last_exc


def dataset(
    lake: LakeFS,
    table: str,
    *,
    zone: str = "raw",
    schema: pa.Schema | None = None,
    dts: Iterable[str] | None = None,
) -> ds.Dataset:
    """A `pyarrow.dataset` over the current version of every partition (or of `dts`).

    `dt` is a string partition column (not stored in the files). Each partition is resolved once,
    when this is called: the dataset is a snapshot and never mixes two versions of a day. The
    schema is `schema` or the newest partition's, plus `dt`.
    """
    import pyarrow.dataset as ds

    days = sorted(check_dt(d) for d in dts) if dts is not None else list_partitions(lake, table, zone=zone)
    paths: list[str] = []
    partitions: list[ds.Expression] = []
    newest_schema: pa.Schema | None = None
    for day in days:
        manifest = current_manifest(lake, table, day, zone=zone)
        if manifest is None:
            continue
        rel = run_rel(zone, table, day, manifest["run_id"])
        for f in manifest["files"]:
            paths.append(lake.path(rel, f["name"]))
            partitions.append(ds.field("dt") == day)
        newest_schema = schema_from_b64(manifest["schema"])
    base = schema or newest_schema
    if base is None:
        raise PartitionNotFound(f"{zone}/{table}: no partitions and no schema given")
    if "dt" not in base.names:
        base = base.append(pa.field("dt", pa.string()))
    return ds.FileSystemDataset.from_paths(
        paths, schema=base, format=ds.ParquetFileFormat(), filesystem=lake.fs, partitions=partitions
    )


__all__ = [
    "PartitionNotFound",
    "dataset",
    "read_partition",
]
