"""Reading a partition's current version (or a given run) whole (`read_partition`), or a table's current files as a
dataset snapshot (`dataset`; `snapshot_dataset` for files already resolved)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import pyarrow as pa

from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.current import CurrentFile, CurrentFiles, TableFiles
from pipelines.lake.partitions.layout import check_dt, run_rel
from pipelines.lake.partitions.manifest import current_manifest, current_run_id, read_manifest, schema_from_b64

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
    run_id: str | None = None,
) -> pa.Table:
    """The partition's current version, whole (through the symlink or pointer, never a listing);
    with `run_id`, that run instead (e.g. one staged for its audit, not yet current).

    If the version read is garbage-collected while it is being read (only possible when the
    partition was switched at least twice meanwhile), the read starts again on the new version.
    """
    import pyarrow.dataset as ds  # here, not at the top: it weighs ~40 MB and writers never read

    dt = check_dt(dt)
    last_exc: BaseException | None = None
    for _ in range(5):
        if run_id is None:
            manifest = current_manifest(lake, table, dt, zone=zone)
        else:
            manifest = read_manifest(lake, table, dt, run_id, zone=zone)
        if manifest is None:
            raise PartitionNotFound(f"{zone}/{table}/dt={dt}" + (f"/run={run_id}" if run_id else ""))
        rel = run_rel(zone, table, dt, manifest["run_id"])
        paths = [lake.path(rel, f["name"]) for f in manifest["files"]]
        schema = schema_from_b64(manifest["schema"])
        try:
            dataset_ = ds.dataset(paths, schema=schema, format="parquet", filesystem=lake.fs)
            return dataset_.to_table(columns=list(columns) if columns is not None else None, filter=filter)
        except OSError as exc:
            if not _is_not_found(exc) or run_id or current_run_id(lake, table, dt, zone=zone) == manifest["run_id"]:
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
    when this is called (`current.CurrentFiles`): the dataset is a snapshot and never mixes two
    versions of a day. The schema is `schema` or the newest partition's, plus `dt`.
    """
    found = CurrentFiles(lake).files(zone, table, list(dts) if dts is not None else None)
    if schema is None and found.schema is None:
        raise PartitionNotFound(f"{zone}/{table}: no partitions and no schema given")
    return snapshot_dataset(lake, found, schema=schema)


def snapshot_dataset(
    lake: LakeFS,
    found: TableFiles,
    *,
    schema: pa.Schema | None = None,
    fmt: ds.ParquetFileFormat | None = None,
    fetched: Mapping[CurrentFile, bytes] | None = None,
    cls: type[ds.FileSystemDataset] | None = None,
) -> ds.Dataset:
    """A dataset of exactly the files `found` names (their sizes from the manifests: no HEAD per
    file on S3), `dt` a string partition column; the schema `schema` or the newest partition's,
    plus `dt`. A file in `fetched` is read from those bytes instead of the file system."""
    import pyarrow.dataset as ds

    fmt = fmt or ds.ParquetFileFormat()
    fragments = []
    for f in found.files:
        partition = ds.scalar(True) if f.packed else ds.field("dt") == f.dt  # a pack holds its `dt`
        data = fetched.get(f) if fetched else None
        if data is not None:
            fragments.append(fmt.make_fragment(pa.BufferReader(data), partition_expression=partition))
        else:
            path = lake.path(f.run, f.name)
            fragments.append(fmt.make_fragment(path, lake.fs, partition, file_size=f.bytes))
    base = schema or found.schema
    if base is None:
        raise PartitionNotFound("no files and no schema given")
    if "dt" not in base.names:
        base = base.append(pa.field("dt", pa.string()))
    return (cls or ds.FileSystemDataset)(fragments, base, fmt, lake.fs)


__all__ = [
    "PartitionNotFound",
    "dataset",
    "read_partition",
    "snapshot_dataset",
]
