"""The Parquet lake: streamed partition writes, the atomic switch (symlink on disk, Glue location and
pointer on S3) and its loud failure when another writer switched first, garbage collection, crash
safety, readers that never see a mix, and the Glue catalog (explicit types, partition switch,
rebuild from the lake) on a moto server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from gitgoods import aws
from gitgoods.settings import REPO_ROOT, Settings
from pipelines.ingest.schemas import QUARANTINE, RAW_ORDER_EVENTS, RAW_SALES
from pipelines.lake.catalog import GlueCatalog, glue_columns, glue_type, rebuild_catalog
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.gc import collect_garbage
from pipelines.lake.partitions.layout import new_run_id, pointer_rel, run_rel, runs_rel
from pipelines.lake.partitions.manifest import (
    PartitionInfo,
    current_location,
    current_run_id,
    list_partitions,
    list_tables,
    partition_info,
    read_manifest,
)
from pipelines.lake.partitions.reading import PartitionNotFound, read_partition
from pipelines.lake.partitions.reading import dataset as lake_dataset
from pipelines.lake.partitions.switch import PartitionRaceLost, switch_for
from pipelines.lake.partitions.writer import PartitionWriter, write_partition

DAY = "2024-05-01"
BASE_MS = 1_714_521_600_000  # 2024-05-01T00:00:00Z

# -- data --------------------------------------------------------------------------------------


def _strings(prefix: str, values: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(values), pa.string()), "")


def sales_batch(start: int, n: int, version: int = 0) -> pa.RecordBatch:
    """`n` rows of RAW_SALES, vectorised (no per-row Python objects)."""
    idx = np.arange(start, start + n, dtype=np.int64)
    order = _strings("ord_", idx // 3)
    line = (idx % 3 + 1).astype(np.int32)
    sold = pa.array(BASE_MS + idx * 37 + version).cast(RAW_SALES.field("sold_at").type)
    qty = (idx % 4 + 1).astype(np.int32)
    unit = 499 + (idx % 50) * 100 + version
    kinds = pa.array(["game", "dlc", "merch", "gift_card"]).take(pa.array(idx % 4))
    cols = {
        "seller_id": _strings("sel_", idx % 997),
        "sk": _strings(f"{DAY}T00:00:00Z#", idx),
        "order_id": order,
        "line": pa.array(line),
        "sold_at": sold,
        "product_id": _strings("prd_", idx % 4001),
        "kind": kinds,
        "platform": pa.array(["pc", "ps5", "switch", None]).take(pa.array(idx % 4)),
        "genre": pa.array(["rpg", "shooter", "puzzle"]).take(pa.array(idx % 3)),
        "qty": pa.array(qty),
        "unit_cents": pa.array(unit),
        "amount_cents": pa.array(unit * qty),
        "currency": pa.array(["EUR", "USD"]).take(pa.array(idx % 2)),
        "country": pa.array(["DE", "FR", "US", "JP", None]).take(pa.array(idx % 5)),
        "customer": _strings("cus_", idx % 50_021),
        "status": pa.array(["placed", "refunded"]).take(pa.array((idx % 17 == 0).astype(np.int64))),
        "updated_at": sold,
        "day_shard": _strings(f"{DAY}#", idx % 8),
    }
    return pa.RecordBatch.from_arrays([cols[f.name] for f in RAW_SALES], schema=RAW_SALES)


def sales_batches(n: int, batch_rows: int, version: int = 0):
    for start in range(0, n, batch_rows):
        yield sales_batch(start, min(batch_rows, n - start), version)


def sales_table(n: int, batch_rows: int = 1000, version: int = 0) -> pa.Table:
    return pa.Table.from_batches(list(sales_batches(n, batch_rows, version)), schema=RAW_SALES)


def events_table(n: int) -> pa.Table:
    rows = []
    for i in range(n):
        lines = [
            {
                "line": j + 1,
                "seller_id": f"sel_{i % 7}",
                "product_id": f"prd_{i + j}",
                "qty": 1 + j,
                "unit_cents": 999,
                "amount_cents": 999 * (1 + j),
                "kind": "game",
                "platform": None if j else "pc",
            }
            for j in range(i % 3)
        ]
        rows.append(
            {
                "event_id": f"evt_{i:06d}",
                "event_type": "order_placed" if i % 4 else "product_viewed",
                "schema_version": 1,
                "occurred_at": BASE_MS + i,
                "order_id": f"ord_{i}" if i % 4 else None,
                "session_id": None if i % 4 else f"ses_{i}",
                "customer": f"cus_{i % 11}",
                "country": "DE",
                "currency": "EUR" if i % 4 else None,
                "amount_cents": sum(x["amount_cents"] for x in lines) if i % 4 else None,
                "lines": lines if i % 4 else None,
                "day_shard": f"{DAY}#{i % 8}",
            }
        )
    return pa.Table.from_pylist(rows, schema=RAW_ORDER_EVENTS)


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture()
def lake_settings(tmp_path: Path, moto_server: int) -> Settings:
    # Only the moto server (S3, Glue) is needed, not DynamoDB Local: no `settings` fixture.
    return Settings(env="local", home=tmp_path, moto_port=moto_server)


def _make_lake(kind: str, tmp_path: Path, settings: Settings) -> LakeFS:
    if kind == "local":
        return LakeFS.from_uri(f"file://{tmp_path}/lake", settings)
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    aws.client("s3", settings).create_bucket(Bucket=bucket)
    return LakeFS.from_uri(f"s3://{bucket}/gitgoods", settings)


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path, lake_settings: Settings) -> LakeFS:
    return _make_lake(request.param, tmp_path, lake_settings)


@pytest.fixture()
def local_lake(tmp_path: Path, lake_settings: Settings) -> LakeFS:
    return _make_lake("local", tmp_path, lake_settings)


@pytest.fixture()
def s3_lake(tmp_path: Path, lake_settings: Settings) -> LakeFS:
    return _make_lake("s3", tmp_path, lake_settings)


@pytest.fixture()
def glue(lake_settings: Settings) -> GlueCatalog:
    return GlueCatalog(aws.client("glue", lake_settings), database=f"lake_{uuid.uuid4().hex[:10]}")


def run_ids(lake: LakeFS, table: str, dt: str, zone: str = "raw") -> list[str]:
    return sorted(n[4:] for n in lake.list_names(runs_rel(zone, table, dt)) if n.startswith("run="))


# -- fs ----------------------------------------------------------------------------------------


def test_lake_uris(tmp_path: Path, lake_settings: Settings) -> None:
    plain = LakeFS.from_uri(str(tmp_path / "a"), lake_settings)
    assert plain.is_local and plain.uri == f"file://{tmp_path}/a" and (tmp_path / "a").is_dir()
    assert plain.uri_of("raw", "t") == f"file://{tmp_path}/a/raw/t"
    assert plain.rel_of(f"file://{tmp_path}/a/raw/t/x.parquet") == "raw/t/x.parquet"
    s3 = LakeFS.from_uri("s3://bucket/some/prefix/", lake_settings)
    assert (s3.scheme, s3.root, s3.uri) == ("s3", "bucket/some/prefix", "s3://bucket/some/prefix")
    assert s3.path("raw", "t") == "bucket/some/prefix/raw/t"
    with pytest.raises(ValueError):
        plain.path("raw", "..", "etc")
    with pytest.raises(ValueError):
        LakeFS.from_uri("gs://bucket/x", lake_settings)
    default = LakeFS.from_uri(None, lake_settings)
    assert default.uri == f"file://{tmp_path.resolve()}/lake"
    assert GlueCatalog(glue=object(), settings=lake_settings).database == "gitgoods_lake"
    # an empty table is still a dataset when the schema is known
    assert lake_dataset(plain, "raw_sales", schema=RAW_SALES).to_table().num_rows == 0


def test_fs_helpers(lake: LakeFS) -> None:
    lake.write_bytes(b"one", "x", "y", "a.json")
    lake.write_bytes(b"two", "x", "y", "b.json")
    assert lake.exists("x", "y", "a.json") and lake.read_bytes("x", "y", "b.json") == b"two"
    assert lake.list_names("x", "y") == ["a.json", "b.json"]
    lake.write_bytes(b"three", "x", "y", "a.json")  # overwrite whole
    assert lake.read_bytes("x", "y", "a.json") == b"three"
    lake.delete_prefix("x", "y")
    assert not lake.exists("x", "y", "a.json") and lake.list_names("x", "y") == []
    lake.delete_prefix("nothing", "here")  # no error


# -- round trip --------------------------------------------------------------------------------


def test_round_trip(lake: LakeFS) -> None:
    expected = sales_table(5000, batch_rows=700)
    writer = PartitionWriter(lake, "raw_sales", RAW_SALES, row_group_rows=1000, max_file_rows=2000)
    info = writer.write(DAY, sales_batches(5000, 700))

    assert (info.table, info.dt, info.zone, info.rows) == ("raw_sales", DAY, "raw", 5000)
    assert len(info.files) == 3 and info.row_groups == 5 and info.bytes > 0
    assert info.location == lake.uri_of("raw/raw_sales/_runs", f"dt={DAY}", f"run={info.run_id}") + "/"
    assert info.schema.equals(RAW_SALES)
    assert current_location(lake, "raw_sales", DAY) == info.location
    assert list_partitions(lake, "raw_sales") == [DAY]
    assert list_tables(lake, "raw") == ["raw_sales"]

    got = read_partition(lake, "raw_sales", DAY)
    assert got.schema.equals(RAW_SALES) and got.equals(expected)
    assert read_partition(lake, "raw_sales", DAY, columns=["order_id"]).num_rows == 5000

    # Parquet details: zstd, statistics, row groups as configured, no `dt` column in the files.
    with lake.fs.open_input_file(lake.path(lake.rel_of(info.files[0]))) as fh:
        meta = pq.ParquetFile(fh).metadata
        assert meta.num_rows == 2000 and meta.num_row_groups == 2
        col = meta.row_group(0).column(meta.schema.names.index("amount_cents"))
        assert col.compression == "ZSTD" and col.statistics is not None and col.statistics.has_min_max
        assert "dt" not in meta.schema.names

    if lake.is_local:
        link = lake.local_path("raw/raw_sales", f"dt={DAY}")
        assert link.is_symlink() and os.readlink(link) == f"_runs/dt={DAY}/run={info.run_id}"
    else:
        pointer = json.loads(lake.read_bytes(pointer_rel("raw", "raw_sales", DAY)))
        assert pointer["run_id"] == info.run_id and pointer["rows"] == 5000

    # a second day, an empty day, and the whole table as one dataset with `dt` as a string column
    write_partition(lake, "raw_sales", RAW_SALES, "2024-05-02", sales_batches(300, 100))
    empty = write_partition(lake, "raw_sales", RAW_SALES, "2024-05-03", [])
    assert empty.rows == 0 and len(empty.files) == 1
    assert read_partition(lake, "raw_sales", "2024-05-03").num_rows == 0
    dataset = lake_dataset(lake, "raw_sales")
    assert dataset.schema.field("dt").type == pa.string()
    counts = dataset.to_table(columns=["dt"]).group_by("dt").aggregate([("dt", "count")])
    assert dict(zip(counts["dt"].to_pylist(), counts["dt_count"].to_pylist(), strict=True)) == {
        DAY: 5000,
        "2024-05-02": 300,
    }
    import pyarrow.dataset as pds

    assert dataset.to_table(filter=pds.field("dt") == "2024-05-02").num_rows == 300

    import duckdb

    con = duckdb.connect()
    con.register("raw_sales", dataset)
    rows = con.execute("select dt, count(*), sum(amount_cents) from raw_sales group by dt order by dt").fetchall()
    assert rows[0] == (DAY, 5000, pc.sum(expected["amount_cents"]).as_py())

    with pytest.raises(PartitionNotFound):
        read_partition(lake, "raw_sales", "2024-06-01")


def test_nested_and_quarantine_round_trip(local_lake: LakeFS) -> None:
    events = events_table(500)
    write_partition(local_lake, "raw_order_events", RAW_ORDER_EVENTS, DAY, [events], row_group_rows=128)
    assert read_partition(local_lake, "raw_order_events", DAY).equals(events)
    bad = pa.Table.from_pylist(
        [{"source_table": "sales", "item_key": "k", "reasons": ["bad qty"], "amount_cents": 5, "item_json": "{}"}],
        schema=QUARANTINE,
    )
    info = write_partition(local_lake, "sales", QUARANTINE, DAY, [bad], zone="quarantine")
    assert info.location.startswith(local_lake.uri + "/quarantine/sales/_runs/")
    assert read_partition(local_lake, "sales", DAY, zone="quarantine").equals(bad)


def test_input_checks(local_lake: LakeFS) -> None:
    writer = PartitionWriter(local_lake, "raw_sales", RAW_SALES)
    with pytest.raises(ValueError, match="required"):
        batch = sales_batch(0, 10)
        writer.write(DAY, [batch.set_column(0, "seller_id", pa.array([None] * 10, pa.string()))])
    with pytest.raises(ValueError, match="columns"):
        writer.write(DAY, [pa.record_batch({"x": [1]})])
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        writer.write("2024-5-1", [])
    with pytest.raises(ValueError):
        writer.write("2024-02-30", [])
    with pytest.raises(ValueError):
        PartitionWriter(local_lake, "Raw-Sales", RAW_SALES)
    # nothing was switched in, and the failed runs left nothing behind
    assert list_partitions(local_lake, "raw_sales") == []
    assert run_ids(local_lake, "raw_sales", DAY) == []
    # compatible types are cast (int64 qty -> int32), nullable inputs accepted when they hold no nulls
    loose = sales_table(10).cast(pa.schema([pa.field(f.name, f.type) for f in RAW_SALES]))
    loose = loose.set_column(loose.schema.get_field_index("qty"), "qty", pc.cast(loose["qty"], pa.int64()))
    assert writer.write(DAY, [loose]).rows == 10
    assert read_partition(local_lake, "raw_sales", DAY).equals(sales_table(10))


# -- idempotent replace and garbage collection ----------------------------------------------------


def test_same_data_twice_gives_same_rows(lake: LakeFS) -> None:
    writer = PartitionWriter(lake, "raw_sales", RAW_SALES, row_group_rows=512, grace_s=0)
    first = writer.write(DAY, sales_batches(3000, 333))
    rows1 = read_partition(lake, "raw_sales", DAY)
    second = writer.write(DAY, sales_batches(3000, 333))
    rows2 = read_partition(lake, "raw_sales", DAY)
    assert first.run_id != second.run_id and first.location != second.location
    assert rows1.equals(rows2) and (first.rows, first.row_groups) == (second.rows, second.row_groups)
    assert run_ids(lake, "raw_sales", DAY) == [first.run_id, second.run_id]  # previous kept (keep_previous=1)
    third = writer.write(DAY, sales_batches(3000, 333))
    assert run_ids(lake, "raw_sales", DAY) == [second.run_id, third.run_id]  # the oldest collected
    assert read_partition(lake, "raw_sales", DAY).equals(rows1)


def test_gc_grace_period(local_lake: LakeFS) -> None:
    writer = PartitionWriter(local_lake, "raw_sales", RAW_SALES, grace_s=3600)
    infos = [writer.write(DAY, sales_batches(10, 10, version=v)) for v in range(4)]
    assert run_ids(local_lake, "raw_sales", DAY) == [i.run_id for i in infos]  # all superseded < 1 h ago
    deleted = collect_garbage(local_lake, "raw_sales", DAY, grace_s=3600, now=time.time() + 7200)
    assert sorted(deleted) == [infos[0].run_id, infos[1].run_id]
    assert run_ids(local_lake, "raw_sales", DAY) == [infos[2].run_id, infos[3].run_id]
    assert read_partition(local_lake, "raw_sales", DAY).equals(sales_table(10, version=3))


# -- bounded memory ------------------------------------------------------------------------------


def test_bounded_memory_2m_rows(local_lake: LakeFS) -> None:
    n, batch_rows, group_rows = 2_000_000, 16_384, 128 * 1024
    baseline = pa.total_allocated_bytes()
    peak = [0]
    produced = [0, 0]  # rows, Arrow bytes
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], pa.total_allocated_bytes() - baseline)
            time.sleep(0.0005)

    def source():
        for batch in sales_batches(n, batch_rows):
            produced[0] += batch.num_rows
            produced[1] += batch.nbytes
            peak[0] = max(peak[0], pa.total_allocated_bytes() - baseline)
            yield batch

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    info = PartitionWriter(local_lake, "raw_sales", RAW_SALES, row_group_rows=group_rows).write(DAY, source())
    elapsed = time.perf_counter() - t0
    stop.set()
    sampler.join()

    data_bytes = produced[1]
    assert info.rows == n == produced[0] and info.row_groups == -(-n // group_rows)
    print(
        f"\nlake write: {n:,} rows, {data_bytes / 1e6:.0f} MB Arrow -> {info.bytes / 1e6:.1f} MB Parquet "
        f"in {elapsed:.2f} s ({n / elapsed:,.0f} rows/s, {data_bytes / 1e6 / elapsed:.0f} MB/s Arrow in); "
        f"peak Arrow memory {peak[0] / 1e6:.1f} MB ({peak[0] / data_bytes:.1%} of the data)"
    )
    # Bounded by one row group (plus the writer's encoding buffers and one input batch), not by the day.
    group_bytes = data_bytes / n * group_rows
    assert peak[0] < 2 * group_bytes and peak[0] < data_bytes / 8, (peak[0], group_bytes, data_bytes)
    meta = partition_info(local_lake, "raw_sales", DAY)
    assert meta is not None and meta.rows == n
    total = pc.sum(read_partition(local_lake, "raw_sales", DAY, columns=["qty"])["qty"]).as_py()
    assert total == int(np.sum(np.arange(n) % 4 + 1))


# -- crash safety ----------------------------------------------------------------------------------

CRASHING_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from gitgoods.settings import Settings
    from pipelines.ingest.schemas import RAW_SALES
    from pipelines.lake.fs import LakeFS
    from pipelines.lake.partitions.writer import PartitionWriter
    from tests.test_lake import sales_batch

    uri, home, port, signal_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    lake = LakeFS.from_uri(uri, Settings(env="local", home=home, moto_port=port))

    def batches():
        for i in range(1000):
            if i == 3:  # two row groups are in the file by now
                signal_file.write_text("mid-write")
                time.sleep(120)
            yield sales_batch(i * 500, 500, version=2)

    PartitionWriter(lake, "raw_sales", RAW_SALES, row_group_rows=1000).write("2024-05-01", batches())
    """
)


def test_kill_9_mid_write_leaves_old_partition(lake: LakeFS, tmp_path: Path, lake_settings: Settings) -> None:
    old = write_partition(lake, "raw_sales", RAW_SALES, DAY, sales_batches(1500, 500, version=1))
    old_rows = read_partition(lake, "raw_sales", DAY)

    script = tmp_path / "crashing_writer.py"
    script.write_text(CRASHING_WRITER)
    signal_file = tmp_path / "mid-write"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    args = [sys.executable, str(script), lake.uri, str(tmp_path), str(lake_settings.moto_port), str(signal_file)]
    child = subprocess.Popen(args, env=env, cwd=REPO_ROOT)
    try:
        deadline = time.monotonic() + 30
        while not signal_file.exists():
            assert child.poll() is None, "the writer exited before the crash point"
            assert time.monotonic() < deadline, "the writer never reached the crash point"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()

    # The old version is still the partition, complete and readable.
    assert current_run_id(lake, "raw_sales", DAY) == old.run_id
    assert read_partition(lake, "raw_sales", DAY).equals(old_rows)
    leftovers = [r for r in run_ids(lake, "raw_sales", DAY) if r != old.run_id]
    if lake.is_local:  # the half-written run is there (on S3 the unfinished upload is not an object)
        assert len(leftovers) == 1
        part = next(lake.local_path(run_rel("raw", "raw_sales", DAY, leftovers[0])).glob("part-*.parquet"))
        assert part.stat().st_size > 0
        assert read_manifest(lake, "raw_sales", DAY, leftovers[0]) is None

    # The next write succeeds (the dead writer's lock is gone) and cleans up its leftovers.
    new = write_partition(
        lake, "raw_sales", RAW_SALES, DAY, sales_batches(700, 100, version=3), stale_s=0, grace_s=0
    )
    assert read_partition(lake, "raw_sales", DAY).equals(sales_table(700, version=3))
    assert run_ids(lake, "raw_sales", DAY) == [old.run_id, new.run_id]


def test_crash_during_switch(local_lake: LakeFS, monkeypatch: pytest.MonkeyPatch) -> None:
    write_partition(local_lake, "raw_sales", RAW_SALES, DAY, sales_batches(100, 50, version=1))
    real_replace = os.replace

    def crash(src, dst, *a, **kw):  # type: ignore[no-untyped-def]
        if Path(dst).name.startswith("dt="):
            raise OSError("simulated crash between symlink() and rename()")
        return real_replace(src, dst, *a, **kw)

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        write_partition(local_lake, "raw_sales", RAW_SALES, DAY, sales_batches(100, 50, version=2))
    monkeypatch.undo()
    folder = local_lake.local_path("raw/raw_sales")
    assert list(folder.glob(f".dt={DAY}.tmp-*"))  # the stray temp symlink of the crashed switch
    assert read_partition(local_lake, "raw_sales", DAY).equals(sales_table(100, 50, version=1))

    write_partition(local_lake, "raw_sales", RAW_SALES, DAY, sales_batches(100, 50, version=3), grace_s=0)
    assert not list(folder.glob(f".dt={DAY}.tmp-*"))
    assert read_partition(local_lake, "raw_sales", DAY).equals(sales_table(100, 50, version=3))
    assert len(run_ids(local_lake, "raw_sales", DAY)) == 2


def test_failed_write_keeps_old_partition(lake: LakeFS) -> None:
    old = write_partition(lake, "raw_sales", RAW_SALES, DAY, sales_batches(100, 50, version=1))

    def broken():
        yield sales_batch(0, 50)
        raise RuntimeError("source failed")

    with pytest.raises(RuntimeError, match="source failed"):
        write_partition(lake, "raw_sales", RAW_SALES, DAY, broken(), row_group_rows=10)
    assert current_run_id(lake, "raw_sales", DAY) == old.run_id
    assert run_ids(lake, "raw_sales", DAY) == [old.run_id]  # the failed run removed itself
    assert read_partition(lake, "raw_sales", DAY).num_rows == 100


# -- readers never see a mix -------------------------------------------------------------------------

VERSIONED = pa.schema(
    [pa.field("version", pa.int32(), nullable=False), pa.field("i", pa.int64(), nullable=False), ("s", pa.string())]
)


def versioned(v: int) -> pa.Table:
    n = 1000 + 97 * v
    return pa.table(
        {"version": pa.array([v] * n, pa.int32()), "i": pa.array(range(n)), "s": [f"v{v}-{i}" for i in range(n)]},
        schema=VERSIONED,
    )


@pytest.mark.parametrize("kind,versions", [("local", 20), ("s3", 8)])
def test_readers_never_see_a_mix(kind: str, versions: int, tmp_path: Path, lake_settings: Settings) -> None:
    lake = _make_lake(kind, tmp_path, lake_settings)
    expected = {v: versioned(v) for v in range(versions)}
    # small files so every version spans several: a reader mixing two versions would be caught
    writer = PartitionWriter(lake, "versions", VERSIONED, row_group_rows=200, max_file_rows=400, grace_s=0)
    writer.write(DAY, [expected[0]])
    stop = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            while not stop.is_set():
                got = read_partition(lake, "versions", DAY)
                found = set(got["version"].to_pylist())
                assert len(found) == 1, f"a read mixed versions {found}"
                v = found.pop()
                assert got.equals(expected[v]), f"version {v} read incompletely"
                seen.append(v)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for v in range(1, versions):
        writer.write(DAY, expected[v].to_batches(max_chunksize=150))
        time.sleep(0.01)
    time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(30)
    assert not errors, errors[0]
    assert len(seen) > versions and len(set(seen)) > 2
    assert read_partition(lake, "versions", DAY).equals(expected[versions - 1])


# -- two writers of one partition ----------------------------------------------------------------


@pytest.mark.parametrize("existing", [True, False], ids=["replacing", "first-version"])
def test_a_lost_race_fails_loudly(
    lake: LakeFS, glue: GlueCatalog, existing: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two writers start from the same version of a partition; the first to switch wins, the
    other's switch raises - the pointer, the data and the Glue partition stay the winner's."""
    base = write_partition(lake, "raw_sales", RAW_SALES, DAY, sales_batches(30, 10), catalog=glue) if existing else None
    kind = type(switch_for(lake))
    real_start = kind.start
    noted = threading.Semaphore(0)

    def start(self, writer, dt):  # type: ignore[no-untyped-def]
        version = real_start(self, writer, dt)
        noted.release()
        return version

    monkeypatch.setattr(kind, "start", start)
    go_first, first_done = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def batches(wait_for: threading.Event, version: int):  # type: ignore[no-untyped-def]
        assert wait_for.wait(30)
        yield from sales_batches(100, 50, version=version)

    def run(name: str, wait_for: threading.Event, version: int, run_id: str, done: threading.Event | None) -> None:
        writer = PartitionWriter(lake, "raw_sales", RAW_SALES, catalog=glue, grace_s=0)
        try:
            results[name] = writer.write(DAY, batches(wait_for, version), run_id=run_id)
        except BaseException as exc:
            results[name] = exc
        finally:
            if done is not None:
                done.set()

    first_id, second_id = new_run_id(), new_run_id()
    # The first writer starts and waits (on disk holding the partition's lock); the second starts
    # from the same version and waits (on disk for the lock, on S3 for the first to finish).
    first = threading.Thread(target=run, args=("first", go_first, 1, first_id, first_done))
    first.start()
    assert noted.acquire(timeout=30)
    second = threading.Thread(target=run, args=("second", first_done, 2, second_id, None))
    second.start()
    assert noted.acquire(timeout=30)
    go_first.set()
    first.join(60)
    second.join(60)

    won, lost = results["first"], results["second"]
    assert isinstance(won, PartitionInfo) and won.run_id == first_id
    assert isinstance(lost, PartitionRaceLost)
    assert (lost.table, lost.dt, lost.run_id) == ("raw/raw_sales", DAY, second_id)
    assert (lost.expected, lost.found) == (base.run_id if base else None, first_id)
    assert second_id in str(lost) and first_id in str(lost)
    assert current_run_id(lake, "raw_sales", DAY) == first_id
    assert read_partition(lake, "raw_sales", DAY).equals(sales_table(100, 50, version=1))
    assert glue.get_partition_location("raw_sales", DAY) == won.location
    # the losing run is complete but not current: it stays until garbage collection
    assert read_manifest(lake, "raw_sales", DAY, second_id) is not None

    # A writer starting from the winner's version switches as usual.
    monkeypatch.undo()
    last = write_partition(lake, "raw_sales", RAW_SALES, DAY, sales_batches(10, 10, version=3), catalog=glue)
    assert current_run_id(lake, "raw_sales", DAY) == last.run_id
    assert glue.get_partition_location("raw_sales", DAY) == last.location


def test_a_retried_switch_whose_first_put_landed_is_no_lost_race(
    s3_lake: LakeFS, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pointer's PUT lands but its answer is lost: the retry's condition fails on the write's
    own pointer, and that is a switch, not a lost race."""
    from pipelines.aws_http import RetryableError, SignedHttp

    old = write_partition(s3_lake, "raw_sales", RAW_SALES, DAY, sales_batches(30, 10))
    real_send = SignedHttp.send
    lost_answers: list[str] = []

    def send(self, method, url, body, headers, *args):  # type: ignore[no-untyped-def]
        response = real_send(self, method, url, body, headers, *args)
        if method == "PUT" and not lost_answers:
            lost_answers.append(url)
            raise RetryableError("ConnectionReset", "the answer was lost")
        return response

    monkeypatch.setattr(SignedHttp, "send", send)
    new = write_partition(s3_lake, "raw_sales", RAW_SALES, DAY, sales_batches(20, 10, version=2))
    assert lost_answers and new.run_id != old.run_id
    assert current_run_id(s3_lake, "raw_sales", DAY) == new.run_id


# -- Glue catalog ----------------------------------------------------------------------------------


def test_glue_types() -> None:
    columns = {c["Name"]: c["Type"] for c in glue_columns(RAW_ORDER_EVENTS)}
    assert columns == {
        "event_id": "string",
        "event_type": "string",
        "schema_version": "int",
        "occurred_at": "timestamp",
        "order_id": "string",
        "session_id": "string",
        "customer": "string",
        "country": "string",
        "currency": "string",
        "amount_cents": "bigint",
        "lines": "array<struct<line:int,seller_id:string,product_id:string,qty:int,"
        "unit_cents:bigint,amount_cents:bigint,kind:string,platform:string>>",
        "day_shard": "string",
    }
    assert glue_type(pa.list_(pa.string())) == "array<string>"
    assert glue_type(pa.decimal128(12, 2)) == "decimal(12,2)"
    assert glue_type(pa.map_(pa.string(), pa.int64())) == "map<string,bigint>"
    assert glue_type(pa.dictionary(pa.int32(), pa.string())) == "string"
    assert glue_type(pa.bool_()) == "boolean" and glue_type(pa.float64()) == "double"
    assert glue_type(pa.date32()) == "date" and glue_type(pa.int16()) == "smallint"
    with pytest.raises(TypeError):
        glue_type(pa.uint64())
    with pytest.raises(ValueError):
        glue_columns(pa.schema([("Amount", pa.int64())]))


def test_glue_registration_and_switch(s3_lake: LakeFS, glue: GlueCatalog) -> None:
    writer = PartitionWriter(s3_lake, "raw_order_events", RAW_ORDER_EVENTS, catalog=glue, grace_s=0)
    first = writer.write(DAY, [events_table(50)])

    table = glue.get_table("raw_order_events")
    assert table is not None and table["TableType"] == "EXTERNAL_TABLE"
    sd = table["StorageDescriptor"]
    assert sd["Location"] == s3_lake.uri_of("raw/raw_order_events") + "/"
    assert sd["InputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    assert {c["Name"]: c["Type"] for c in sd["Columns"]}["lines"].startswith("array<struct<line:int,")
    assert {c["Name"]: c["Type"] for c in sd["Columns"]}["occurred_at"] == "timestamp"
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert table["Parameters"]["classification"] == "parquet"

    assert glue.get_partition_location("raw_order_events", DAY) == first.location
    second = writer.write(DAY, [events_table(60)])
    assert (
        glue.get_partition_location("raw_order_events", DAY)
        == second.location
        == current_location(s3_lake, "raw_order_events", DAY)
    )
    writer.write("2024-05-02", [events_table(5)])
    assert list(glue.list_partitions("raw_order_events")) == [DAY, "2024-05-02"]
    assert glue.get_partition_location("raw_order_events", "2024-06-01") is None
    # the same definition again changes nothing; a new column updates the table
    location = s3_lake.uri_of("raw/raw_order_events") + "/"
    assert glue.ensure_table("raw_order_events", RAW_ORDER_EVENTS, location) == "unchanged"
    wider = RAW_ORDER_EVENTS.append(pa.field("channel", pa.string()))
    assert glue.ensure_table("raw_order_events", wider, location) == "updated"


def test_rebuild_catalog(lake: LakeFS, glue: GlueCatalog) -> None:
    write_partition(lake, "raw_sales", RAW_SALES, DAY, sales_batches(100, 50))
    write_partition(lake, "raw_sales", RAW_SALES, "2024-05-02", sales_batches(10, 5))
    write_partition(lake, "raw_order_events", RAW_ORDER_EVENTS, DAY, [events_table(20)])
    bad = pa.Table.from_pylist(
        [{"source_table": "sales", "item_key": "k", "reasons": ["x"], "amount_cents": None, "item_json": "{}"}],
        schema=QUARANTINE,
    )
    write_partition(lake, "sales", QUARANTINE, DAY, [bad], zone="quarantine")

    # A fresh (restarted) moto has an empty catalog: rebuild it from the lake's pointers.
    summary = rebuild_catalog(lake, glue)
    assert summary == {"raw_order_events": 1, "raw_sales": 2, "quarantine_sales": 1}
    for name, zone, table, schema, days in [
        ("raw_sales", "raw", "raw_sales", RAW_SALES, [DAY, "2024-05-02"]),
        ("raw_order_events", "raw", "raw_order_events", RAW_ORDER_EVENTS, [DAY]),
        ("quarantine_sales", "quarantine", "sales", QUARANTINE, [DAY]),
    ]:
        assert glue.list_partitions(name) == {d: current_location(lake, table, d, zone=zone) for d in days}
        got = glue.get_table(name)
        assert got is not None and got["StorageDescriptor"]["Columns"] == glue_columns(schema)
        assert got["StorageDescriptor"]["Location"] == lake.uri_of(zone, table) + "/"

    # The lake moved on without the catalog (e.g. written while moto was down): rebuild switches it.
    newer = write_partition(lake, "raw_sales", RAW_SALES, DAY, sales_batches(30, 10))
    glue.set_partition("raw_sales", "2024-04-30", lake.uri_of("raw/raw_sales/gone") + "/", schema=RAW_SALES)
    rebuild_catalog(lake, glue, prune=True)
    assert glue.list_partitions("raw_sales") == {
        DAY: newer.location,
        "2024-05-02": current_location(lake, "raw_sales", "2024-05-02"),
    }
    assert rebuild_catalog(lake, glue) == summary  # idempotent


# -- previews ----------------------------------------------------------------------------------


def test_a_preview_shows_the_first_rows_as_markdown() -> None:
    from pipelines.lake.preview import PREVIEW_ROWS, markdown_preview

    batch = sales_batch(0, PREVIEW_ROWS + 5)
    text = markdown_preview(batch, omit=["order_id"])
    header, rule, *rows = text.splitlines()
    names = [n for n in RAW_SALES.names if n != "order_id"]
    assert header == "| " + " | ".join(names) + " |" and rule == "|" + "---|" * len(names)
    assert len(rows) == PREVIEW_ROWS  # never more, whatever the table's size
    first = batch.to_pylist()[0]
    assert rows[0] == "| " + " | ".join(str(first[n]) for n in names) + " |"
    assert markdown_preview(pa.Table.from_batches([batch])).count("\n") == PREVIEW_ROWS + 1
    assert markdown_preview(None) == markdown_preview(batch.slice(0, 0)) == "_no rows_"


def test_a_staged_run_is_invisible_until_published(lake: LakeFS, glue: GlueCatalog) -> None:
    writer = PartitionWriter(lake, "raw_sales", RAW_SALES, catalog=glue, grace_s=0)
    first = writer.write(DAY, [sales_table(300)])
    staged = writer.stage(DAY, [sales_table(500, version=1)])
    run = staged.info
    assert run.run_id != first.run_id and run.rows == 500 and staged.manifest["rows"] == 500
    # complete, readable by its id, and nobody else sees it: readers, the dataset, Glue
    assert read_partition(lake, "raw_sales", DAY, run_id=run.run_id).num_rows == 500
    assert current_run_id(lake, "raw_sales", DAY) == first.run_id
    assert read_partition(lake, "raw_sales", DAY).num_rows == 300
    assert lake_dataset(lake, "raw_sales").count_rows() == 300
    assert glue.get_partition_location("raw_sales", DAY) == first.location
    assert set(run_ids(lake, "raw_sales", DAY)) == {first.run_id, run.run_id}

    published = writer.publish(staged)
    assert published.run_id == run.run_id and published.location == run.location
    assert current_run_id(lake, "raw_sales", DAY) == run.run_id
    assert read_partition(lake, "raw_sales", DAY).equals(sales_table(500, version=1))
    assert glue.get_partition_location("raw_sales", DAY) == run.location
    with pytest.raises(PartitionNotFound):
        read_partition(lake, "raw_sales", DAY, run_id="20240101T000000000000Z-00000000")
    with pytest.raises(ValueError):
        PartitionWriter(lake, "raw_order_events", RAW_ORDER_EVENTS).publish(staged)

    # a staged run does not replace a version written after it was staged
    late = writer.stage(DAY, [sales_table(10, version=2)])
    newer = writer.write(DAY, [sales_table(20, version=3)])
    with pytest.raises(PartitionRaceLost):
        writer.publish(late)
    assert current_run_id(lake, "raw_sales", DAY) == newer.run_id
    assert glue.get_partition_location("raw_sales", DAY) == newer.location
