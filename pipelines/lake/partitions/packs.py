"""Month packs: the rows of a month's day partitions of a table in one Parquet file, so that a query
reading a long history (a state table's look-up of every earlier day) opens one file per month
instead of one per day. On S3 each object costs a request or two whatever its size: a year of daily
state files is ~730 requests, twelve packs ~24 (docs/incremental.md, docs/benchmarks.md).

A pack is an accelerator, never the truth. It records the version (run id) of every day it was made
from (`sources`), and a reader uses it in place of those days' files only when it asks for every
one of those days and each is still current at that version; otherwise the days are read one by
one, as without packs. So a day rebuilt after its month was packed is never read from the old pack,
and the day partitions, their pointers and Glue stay what readers and Athena use (Athena reads the
day partitions; packs only speed up the embedded engine).

Layout (relative to the table):

    _packs/month=YYYY-MM/pack-<run id>.parquet   immutable; every column plus `dt`
    _packs/month=YYYY-MM/keys-<run id>.parquet   with `pack_keys`: those columns alone, sorted
    _packs/_current/month=YYYY-MM.json           the month's pack: its files, sources, rows, bytes

A table that is looked up by a few columns (the state's `pair_key`: `pack_keys` in the model's YAML)
also gets a key file beside each pack: those columns alone, sorted, delta-encoded and small enough
to be fetched whole. A query that reads nothing else of a pack reads its key file instead
(`pipelines/sql/lake_snapshot.py`): on S3 one GET of ~3 MB per month rather than a footer and a
column of a ~12 MB pack (docs/benchmarks.md).

Written by `refresh_packs`, which the packs asset of a packed table (`packs: month` in the model's
YAML, `pipelines.marts.runner.pack`) calls after the table's build, and a build of many chunks
between its chunks: each month of the days given is packed again, from the previous pack plus the
days added or rebuilt since (a night adds one day: one pack read, one day read, one pack written).
Only days that have ended are packed. The previous pack file is kept for readers
that resolved it just before; older ones are deleted.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from pipelines.lake import s3_cache
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.layout import new_run_id, run_rel, table_rel

if TYPE_CHECKING:
    from pipelines.lake.partitions.current import CurrentFiles

log = logging.getLogger(__name__)

PACKS_DIR = "_packs"
PACK_FORMAT = 1
# A read of fewer days than this never looks for packs (a report's month, a mart's day): one LIST saved.
PACK_MIN_DAYS = 28
POINTER_THREADS = 16  # pack pointers fetched at once on S3
# A pack's rows in as few row groups as a month allows (a month of first purchases is ~500,000 rows):
# a reader of a few columns then asks for one byte range per file rather than one per row group
# (docs/benchmarks.md: 12 packs' look-up column 0.36 s -> 0.21 s on the emulator).
ROW_GROUP_ROWS = 1 << 20
_POINTER = re.compile(r"month=(\d{4}-\d{2})\.json$")


@dataclass(frozen=True)
class Pack:
    """A month's pack: its file (under `_packs/month=YYYY-MM/`) and the day versions it holds."""

    month: str  # YYYY-MM
    file: str
    sources: dict[str, str]  # dt -> run id
    rows: int
    bytes: int
    format: int = PACK_FORMAT
    keys: dict[str, Any] | None = None  # the key file: {"file", "columns", "bytes"} (`pack_keys`)

    def rel(self, zone: str, table: str) -> str:
        return LakeFS.join(month_rel(zone, table, self.month), self.file)

    @property
    def key_columns(self) -> tuple[str, ...]:
        return tuple(self.keys["columns"]) if self.keys else ()

    def current_for(self, runs: dict[str, str]) -> bool:
        """Whether every day of the pack is among `runs` (dt -> current run id) at the same run."""
        return bool(self.sources) and all(runs.get(day) == run for day, run in self.sources.items())


def month_rel(zone: str, table: str, month: str) -> str:
    return LakeFS.join(table_rel(zone, table), PACKS_DIR, f"month={month}")


def _pointers_rel(zone: str, table: str) -> str:
    return LakeFS.join(table_rel(zone, table), PACKS_DIR, "_current")


def read_packs(lake: LakeFS, zone: str, table: str) -> dict[str, Pack]:
    """The table's current packs by month (empty when it has none): one LIST, and on S3 a GET of
    each pointer the process has not seen at its listed ETag."""
    folder = _pointers_rel(zone, table)
    if lake.is_local:
        docs = {}
        for name in lake.list_names(folder):
            if _POINTER.fullmatch(name):
                try:
                    docs[name] = json.loads(lake.read_bytes(folder, name))
                except FileNotFoundError:
                    continue
    else:
        bucket, prefix = lake.bucket_key(folder)
        listed = {}
        for key, etag in lake.objects.list(bucket, prefix + "/"):
            name = key.rsplit("/", 1)[1]
            if _POINTER.fullmatch(name):
                listed[name] = (key, etag)
        _ = lake.objects  # made once here, not by every thread at once
        with ThreadPoolExecutor(max(1, min(POINTER_THREADS, len(listed)))) as pool:  # a month each: 12 a year
            docs = dict(zip(listed, pool.map(lambda item: _s3_pointer(lake, bucket, *item), listed.values()),
                            strict=True))  # fmt: skip
    packs = {}
    for doc in docs.values():
        if doc is None or doc.get("format") != PACK_FORMAT:
            continue  # gone meanwhile, or written by another version: the days are read instead
        pack = Pack(**doc)
        packs[pack.month] = pack
    return packs


def _s3_pointer(lake: LakeFS, bucket: str, key: str, etag: str) -> dict[str, Any] | None:
    from pipelines.lake.partitions.manifest import fetch_json

    cached = s3_cache._S3_CACHE.pointer(lake.uri, key, etag)
    if cached is not None:
        return cached
    found = fetch_json(lake, bucket, key)
    if found is None:
        return None
    s3_cache._S3_CACHE.put_pointer(lake.uri, key, *found)
    return found[1]


def usable(packs: dict[str, Pack], manifests: list[dict[str, Any]]) -> list[Pack]:
    """The packs that may stand in for some of `manifests` (the current manifests of the days a
    reader asked for): each of their days is asked for, at the version the pack holds."""
    runs = {m["dt"]: m["run_id"] for m in manifests}
    return [p for _, p in sorted(packs.items()) if p.current_for(runs)]


# -- writing ---------------------------------------------------------------------------------------


def utc_today() -> str:
    return datetime.now(UTC).date().isoformat()


def refresh_packs(lake: LakeFS, zone: str, table: str, days: Iterable[str], current: CurrentFiles,
                  today: str | None = None, keys: tuple[str, ...] = ()) -> list[Pack]:  # fmt: skip
    """Pack again each month of `days` (the days a build wrote) whose pack is missing, not current or
    without the key file of the columns `keys` (the model's `pack_keys`); the packs written. Only
    days that have ended are packed (`today`, default the UTC date, and the days after it are left
    out): the open day changes with every micro-batch of the stream and is read from its partition.
    `current` resolves the table's current days (made after the build)."""
    today = today or utc_today()
    months = sorted({d[:7] for d in days if d < today})
    if not months:
        return []
    packs = read_packs(lake, zone, table)
    all_days = current.days(zone, table)
    written = []
    for month in months:
        manifests = current.manifests(zone, table, [d for d in all_days if d[:7] == month and d < today])
        runs = {m["dt"]: m["run_id"] for m in manifests}
        old = packs.get(month)
        if not runs or (old is not None and old.sources == runs and old.key_columns == tuple(keys)):
            continue
        kept = {d for d, run in old.sources.items() if runs.get(d) == run} if old is not None else set()
        pack = _write_pack(lake, zone, table, month, manifests, old, kept, tuple(keys))
        if pack is not None:
            written.append(pack)
            _collect(lake, zone, table, month, keep={f for p in (pack, old) if p is not None for f in _files(p)})
    return written


def _write_pack(lake: LakeFS, zone: str, table: str, month: str, manifests: list[dict[str, Any]],
                base: Pack | None, kept: set[str], keys: tuple[str, ...] = ()) -> Pack | None:  # fmt: skip
    """The month's pack (and key file, with `keys`) from the days `kept` of the `base` pack (still
    current) and the other days' partitions; None when the days' columns differ (the days are then
    read one by one)."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    from pipelines.lake.partitions.manifest import schema_from_b64

    parts = []
    if base is not None and kept:
        packed = pq.read_table(lake.path(base.rel(zone, table)), filesystem=lake.fs)
        parts.append(packed.filter(pc.is_in(packed["dt"], pa.array(sorted(kept), pa.string()))))
    for m in manifests:
        if m["dt"] in kept:
            continue
        rel = run_rel(zone, table, m["dt"], m["run_id"])
        day = ds.dataset([lake.path(rel, f["name"]) for f in m["files"]], schema=schema_from_b64(m["schema"]),
                         format="parquet", filesystem=lake.fs).to_table()  # fmt: skip
        parts.append(day.append_column("dt", pa.array([m["dt"]] * day.num_rows, pa.string())))
    try:
        rows = pa.concat_tables(parts).combine_chunks()
    except pa.ArrowInvalid as exc:
        if kept:  # the pack was written with other columns: from the days alone
            return _write_pack(lake, zone, table, month, manifests, None, set(), keys)
        log.warning("%s/%s: month %s not packed, its days' columns differ: %s", zone, table, month, exc)
        return None
    run_id = new_run_id()
    name = f"pack-{run_id}.parquet"
    folder = month_rel(zone, table, month)
    if lake.is_local:
        lake.makedirs(folder)
    with lake.fs.open_output_stream(lake.path(folder, name)) as sink:
        pq.write_table(rows, sink, row_group_size=ROW_GROUP_ROWS, compression="zstd",
                       use_dictionary=_repetitive(rows), write_statistics=True)  # fmt: skip
    size = lake.info(folder, name).size
    key_file = _write_keys(lake, folder, run_id, rows, keys) if keys else None
    pack = Pack(month, name, {m["dt"]: m["run_id"] for m in manifests}, rows.num_rows, size, keys=key_file)
    lake.write_bytes(json.dumps(asdict(pack)).encode(), _pointers_rel(zone, table), f"month={month}.json",
                     content_type="application/json")  # fmt: skip
    log.info("%s/%s: month %s packed (%d days, %d rows, %d bytes; %d days from the previous pack)", zone, table,
             month, len(manifests), rows.num_rows, size, len(kept))  # fmt: skip
    return pack


def _write_keys(lake: LakeFS, folder: str, run_id: str, rows: pa.Table, keys: tuple[str, ...]) -> dict[str, Any]:
    """The key file of a pack: the columns `keys` of its `rows` alone, sorted (a sorted integer column
    delta-encoded is ~2/3 of its plain size, ~3 MB for a month of first purchases), one row group."""
    import pyarrow.parquet as pq

    if missing := [k for k in keys if k not in rows.column_names]:
        raise ValueError(f"pack keys {missing} are not columns of the table ({', '.join(rows.column_names)})")
    table = rows.select(list(keys)).sort_by([(k, "ascending") for k in keys])
    delta = {k: "DELTA_BINARY_PACKED" for k in keys if pa.types.is_integer(table.schema.field(k).type)}
    name = f"keys-{run_id}.parquet"
    with lake.fs.open_output_stream(lake.path(folder, name)) as sink:
        pq.write_table(table, sink, row_group_size=ROW_GROUP_ROWS, use_dictionary=False, column_encoding=delta or None,
                       compression={k: "none" if k in delta else "zstd" for k in keys})  # fmt: skip
    return {"file": name, "columns": list(keys), "bytes": lake.info(folder, name).size}


def _files(pack: Pack) -> list[str]:
    return [pack.file, *([pack.keys["file"]] if pack.keys else [])]


def _repetitive(rows: pa.Table) -> list[str]:
    """The columns worth a dictionary: those the lake's writer would encode so
    (`run_files.dictionary_columns`) whose values repeat (a month of pairs: the sellers and days, not
    the buyers or keys, whose dictionaries would only grow to the page limit and be dropped)."""
    import pyarrow.compute as pc

    from pipelines.lake.partitions.run_files import dictionary_columns

    return [c for c in dictionary_columns(rows.schema)
            if c in rows.column_names and pc.count_distinct(rows[c]).as_py() * 4 <= rows.num_rows]  # fmt: skip


def _collect(lake: LakeFS, zone: str, table: str, month: str, keep: set[str]) -> None:
    """Delete the month's pack and key files other than `keep` (the new ones and those they replaced)."""
    folder = month_rel(zone, table, month)
    for name in lake.list_names(folder):
        if name.startswith(("pack-", "keys-")) and name not in keep:
            lake.delete_file(folder, name)


__all__ = ["PACK_MIN_DAYS", "Pack", "read_packs", "refresh_packs", "usable"]
