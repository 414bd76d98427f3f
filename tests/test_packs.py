"""Month packs (pipelines/lake/partitions/packs.py): a month's days in one file stand in for the days'
files only while every one of those days is asked for and still current at the packed version; on
disk and on S3 (moto)."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pyarrow as pa
import pytest

from gitgoods import aws
from gitgoods.settings import Settings
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions import packs
from pipelines.lake.partitions.current import CurrentFiles
from pipelines.lake.partitions.reading import dataset
from pipelines.lake.partitions.writer import write_partition

SCHEMA = pa.schema([("k", pa.int64()), ("name", pa.string())])
ZONE, TABLE = "state", "pairs"
JAN = [(dt.date(2024, 1, 1) + dt.timedelta(days=i)).isoformat() for i in range(31)]
FEB = ["2024-02-01", "2024-02-02", "2024-02-03"]


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path, moto_server: int) -> LakeFS:
    settings = Settings(env="local", home=tmp_path, moto_port=moto_server)
    if request.param == "local":
        return LakeFS.from_uri(f"file://{tmp_path}/lake", settings)
    bucket = f"packs-{uuid.uuid4().hex[:12]}"
    aws.client("s3", settings).create_bucket(Bucket=bucket)
    return LakeFS.from_uri(f"s3://{bucket}/lake", settings)


def _rows(day: str, version: int = 0) -> pa.Table:
    n = int(day[-2:])  # day d has d rows: every day differs
    return pa.table({"k": list(range(n)), "name": [f"{day}/{i}/v{version}" for i in range(n)]}, schema=SCHEMA)


def _write(lake: LakeFS, day: str, version: int = 0) -> None:
    write_partition(lake, TABLE, SCHEMA, day, [_rows(day, version)], zone=ZONE)


def _expected(days: list[str], versions: dict[str, int] | None = None) -> list[tuple]:
    versions = versions or {}
    return sorted((k, n, d) for d in days for k, n in zip(*_rows(d, versions.get(d, 0)).to_pydict().values(),
                                                          strict=True))  # fmt: skip


def _read(lake: LakeFS, days: list[str]) -> tuple[list[tuple], int]:
    """The rows of `days` as a reader sees them, and how many packs stood in for days."""
    found = CurrentFiles(lake).files(ZONE, TABLE, days)
    table = dataset(lake, TABLE, zone=ZONE, dts=days).to_table()
    rows = sorted(zip(table["k"].to_pylist(), table["name"].to_pylist(), table["dt"].to_pylist(), strict=True))
    return rows, sum(f.packed for f in found.files)


def _refresh(lake: LakeFS, days: list[str], today: str = "2024-06-01") -> list[packs.Pack]:
    return packs.refresh_packs(lake, ZONE, TABLE, days, CurrentFiles(lake), today=today)


def test_a_packed_month_is_read_from_one_file_with_the_same_rows(lake: LakeFS) -> None:
    for day in JAN + FEB:
        _write(lake, day)
    written = _refresh(lake, JAN + FEB)
    assert [(p.month, len(p.sources), p.rows) for p in written] == [
        ("2024-01", 31, sum(range(1, 32))),  # 1 + 2 + ... + 31 rows
        ("2024-02", 3, 6),
    ]
    rows, used = _read(lake, JAN + FEB[:2])  # all of January, part of February
    assert used == 1  # January's pack; February's holds a day not asked for, so its days are read
    assert rows == _expected(JAN + FEB[:2])
    found = CurrentFiles(lake).files(ZONE, TABLE, JAN + FEB[:2])
    assert len(found.files) == 1 + 2 and found.files[0].packed and found.schema == SCHEMA
    assert _refresh(lake, JAN) == []  # up to date: nothing written


def test_a_day_rebuilt_after_packing_is_never_read_from_the_pack(lake: LakeFS) -> None:
    for day in JAN:
        _write(lake, day)
    (first,) = _refresh(lake, JAN)
    _write(lake, "2024-01-15", version=1)  # a late change to one day of the packed month
    rows, used = _read(lake, JAN)
    assert used == 0 and rows == _expected(JAN, {"2024-01-15": 1})
    (second,) = _refresh(lake, ["2024-01-15"])  # 30 days from the first pack, one read again
    assert second.sources["2024-01-15"] != first.sources["2024-01-15"]
    rows, used = _read(lake, JAN)
    assert used == 1 and rows == _expected(JAN, {"2024-01-15": 1})
    # the pack it replaced is kept for readers that resolved it; the one before is deleted
    _write(lake, "2024-01-20", version=1)
    (third,) = _refresh(lake, ["2024-01-20"])
    names = lake.list_names(packs.month_rel(ZONE, TABLE, "2024-01"))
    assert sorted(names) == sorted([second.file, third.file])
    assert _read(lake, JAN) == (_expected(JAN, {"2024-01-15": 1, "2024-01-20": 1}), 1)


def test_a_short_read_or_a_read_missing_a_packed_day_reads_the_days(lake: LakeFS) -> None:
    for day in JAN:
        _write(lake, day)
    _refresh(lake, JAN)
    assert _read(lake, JAN[1:]) == (_expected(JAN[1:]), 0)  # the 1st not asked for: the pack holds it
    assert _read(lake, JAN[:10]) == (_expected(JAN[:10]), 0)  # fewer than PACK_MIN_DAYS: no look-up


def test_the_open_day_is_not_packed(lake: LakeFS) -> None:
    for day in JAN:
        _write(lake, day)
    (pack,) = _refresh(lake, JAN, today="2024-01-30")
    assert sorted(pack.sources) == JAN[:29]  # the 30th is today, the 31st after it
    assert _refresh(lake, ["2024-01-30"], today="2024-01-30") == []  # the stream's refresh of today: no pack
    rows, used = _read(lake, JAN)
    assert used == 1 and rows == _expected(JAN)


def test_a_pack_pointer_of_another_format_is_ignored(lake: LakeFS) -> None:
    for day in JAN:
        _write(lake, day)
    _refresh(lake, JAN)
    pointer = (LakeFS.join(ZONE, TABLE, packs.PACKS_DIR, "_current"), "month=2024-01.json")
    lake.write_bytes(lake.read_bytes(*pointer).replace(b'"format": 1', b'"format": 99'), *pointer)
    assert _read(lake, JAN) == (_expected(JAN), 0)


def test_a_bounded_listing_returns_exactly_the_days_in_between(lake: LakeFS) -> None:
    from pipelines.lake.partitions.manifest import list_partitions, list_pointers
    from pipelines.sql.lake_snapshot import dt_bounds
    from pipelines.sql.pushdown import Predicate

    for day in JAN[25:] + FEB:
        _write(lake, day)
    current = CurrentFiles(lake)
    assert current.days(ZONE, TABLE, "2024-01-30", "2024-02-02") == ["2024-01-30", "2024-01-31", "2024-02-01",
                                                                     "2024-02-02"]  # fmt: skip
    assert current.days(ZONE, TABLE, "2024-02-02", None) == ["2024-02-02", "2024-02-03"]
    assert current.days(ZONE, TABLE, None, "2024-01-27") == ["2024-01-26", "2024-01-27"]
    assert current.days(ZONE, TABLE, "2024-01-29", "2024-01-29") == ["2024-01-29"]
    assert current.days(ZONE, TABLE) == JAN[25:] + FEB
    assert list_partitions(lake, TABLE, zone=ZONE, limit=1) == ["2024-01-26"]
    if not lake.is_local:
        assert list(list_pointers(lake, ZONE, TABLE, "2024-01-31", "2024-02-01")) == ["2024-01-31", "2024-02-01"]
    # the bounds the engine lists by, from a query's predicates on dt
    assert dt_bounds([Predicate("dt", "between", ("2024-01-01", "2024-01-31"))]) == ("2024-01-01", "2024-01-31")
    assert dt_bounds([Predicate("dt", "lt", ("2024-02-01",)), Predicate("dt", "ge", ("2024-01-10",))]) == (
        "2024-01-10", "2024-02-01")  # fmt: skip
    assert dt_bounds([Predicate("dt", "in", ("2024-01-05", "2024-01-02"))]) == ("2024-01-02", "2024-01-05")


def test_the_engine_drops_a_dt_filter_its_snapshot_already_satisfies_and_keeps_the_others(
    lake: LakeFS, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A query's `dt` predicates chose its snapshot's days, so a filter DuckDB pushes down that holds
    for each of those days is true for every row: dropped, a pack's `dt` column is not read. A filter
    on another column is applied - the answers say so."""
    import pyarrow.dataset as ds

    from pipelines.sql import lake_snapshot
    from pipelines.sql.duckdb_engine import DuckDBEngine

    for day in JAN + FEB:
        _write(lake, day)
    _refresh(lake, JAN + FEB)
    decisions: list[bool] = []
    holds = lake_snapshot._holds_for_every_day
    monkeypatch.setattr(lake_snapshot, "_holds_for_every_day",
                        lambda condition, days: decisions.append(holds(condition, days)) or decisions[-1])  # fmt: skip
    with DuckDBEngine(lake.settings, lake=lake, dynamodb=False) as engine:

        def one(sql: str) -> int:
            decisions.clear()
            return engine.query(sql).column(0)[0].as_py()

        # all of January, from its pack (day d holds k = 0..d-1): the dt filter holds for its 31 days
        assert one("SELECT count(*) FROM state_pairs WHERE dt < '2024-02-01'") == sum(range(1, 32))
        assert decisions == [True]
        # with a filter on k too, DuckDB's pushed filter names k: kept, and applied (only Jan 31 has k = 30)
        assert one("SELECT count(*) FROM state_pairs WHERE dt BETWEEN '2024-01-01' AND '2024-01-31' AND k >= 30") == 1
        assert decisions == [False]
    assert holds(ds.field("dt") < "2024-02-01", tuple(JAN))
    assert not holds(ds.field("dt") < "2024-01-31", tuple(JAN))  # Jan 31 fails it
    assert not holds((ds.field("dt") < "2024-02-01") & (ds.field("k") >= 30), tuple(JAN))


# -- key files -------------------------------------------------------------------------------------


def test_a_pack_s_key_file_holds_its_key_columns_alone_sorted_and_is_kept_with_its_pack(lake: LakeFS) -> None:
    import pyarrow.parquet as pq

    for day in JAN:
        _write(lake, day)
    (plain,) = _refresh(lake, JAN)
    assert plain.keys is None
    (keyed,) = packs.refresh_packs(lake, ZONE, TABLE, JAN, CurrentFiles(lake), today="2024-06-01", keys=("k",))
    assert keyed.sources == plain.sources  # the same days, packed again because the key file was missing
    assert keyed.keys is not None and keyed.keys["columns"] == ["k"] and keyed.keys["file"].startswith("keys-")
    folder = packs.month_rel(ZONE, TABLE, "2024-01")
    table = pq.read_table(lake.path(folder, keyed.keys["file"]), filesystem=lake.fs)
    assert table.column_names == ["k"]
    assert table["k"].to_pylist() == sorted(k for d in range(1, 32) for k in range(d))  # day d: k = 0..d-1
    assert keyed.keys["bytes"] == lake.info(folder, keyed.keys["file"]).size
    assert packs.read_packs(lake, ZONE, TABLE)["2024-01"] == keyed  # the pointer records the key file
    # a day rebuilt: a new pack and key file; the previous pack's key file is kept with it, none older
    _write(lake, "2024-01-10", version=1)
    (third,) = packs.refresh_packs(lake, ZONE, TABLE, ["2024-01-10"], CurrentFiles(lake), today="2024-06-01",
                                   keys=("k",))  # fmt: skip
    assert sorted(lake.list_names(folder)) == sorted([keyed.file, keyed.keys["file"], third.file, third.keys["file"]])


@pytest.mark.parametrize("in_memory", [True, False], ids=["keys-in-memory", "keys-over-budget"])
def test_a_scan_of_the_key_columns_alone_reads_the_key_files_and_any_other_scan_the_packs(
    lake: LakeFS, monkeypatch: pytest.MonkeyPatch, in_memory: bool
) -> None:
    """A query reading only `k` of a packed history reads the packs' key files (and the days not
    packed); one reading another column, or filtering on one (`dt` too, where the query's days do
    not settle it), reads the packs. Shown by deleting the pack: the key-only query still answers,
    the others cannot."""
    from pipelines.sql import lake_snapshot
    from pipelines.sql.duckdb_engine import DuckDBEngine
    from pipelines.sql.engine import SqlError

    monkeypatch.setattr(lake_snapshot, "SMALL_FILE_BYTES", 0)  # the packs read in place, as a real month's are
    if not in_memory:  # the key files read during the scan, not loaded ahead
        monkeypatch.setattr(lake_snapshot, "KEYS_IN_MEMORY_BYTES", 0)
    for day in JAN + FEB:
        _write(lake, day)
    (january,) = packs.refresh_packs(lake, ZONE, TABLE, JAN, CurrentFiles(lake), today="2024-06-01", keys=("k",))
    # by hand: day d holds k = 0..d-1, so January has 1 + 2 + ... + 31 = 496 rows and its k sum to
    # sum over d of d(d-1)/2 = 4,960; February 1 and 2 (not packed) add 1 + 2 rows and k = 0 + 0 + 1
    key_only = "SELECT count(*), sum(k) FROM state_pairs WHERE dt < '2024-02-03'"
    other = "SELECT count(*), max(name) FROM state_pairs WHERE dt < '2024-02-03'"
    # DuckDB pushes `dt < ... AND k >= 30` down as one filter: it names dt, which a key file lacks
    on_key = "SELECT count(k) FROM state_pairs WHERE dt < '2024-02-01' AND k >= 30"  # Jan 31's k = 30 alone
    filtered = "SELECT count(k) FROM state_pairs WHERE dt < '2024-02-01' AND name = '2024-01-05/0/v0'"
    fetched: list[str] = []
    if not lake.is_local:
        get = lake.objects.get
        lake.objects.get = lambda bucket, key, *a, **kw: fetched.append(key) or get(bucket, key, *a, **kw)  # type: ignore
    with DuckDBEngine(lake.settings, lake=lake, dynamodb=False) as engine:
        assert [tuple(r.values()) for r in engine.query(key_only).to_pylist()] == [(499, 4961)]
        assert [tuple(r.values()) for r in engine.query(other).to_pylist()] == [(499, "2024-02-02/1/v0")]
        assert [tuple(r.values()) for r in engine.query(filtered).to_pylist()] == [(1,)]
        assert [tuple(r.values()) for r in engine.query(on_key).to_pylist()] == [(1,)]
        if not lake.is_local:  # the key file is fetched whole
            assert any(k.endswith(january.keys["file"]) for k in fetched)
        lake.delete_file(packs.month_rel(ZONE, TABLE, "2024-01"), january.file)
        assert [tuple(r.values()) for r in engine.query(key_only).to_pylist()] == [(499, 4961)]
        for sql in (other, filtered, on_key):
            with pytest.raises(SqlError):
                engine.query(sql)
