"""Incremental marts: the state table of first purchases, models reading their own earlier
partitions, and the property that matters - building day by day gives the same rows as a full
rebuild (one query, or chunks), on the hand-made story and on generated months; and the same rows
as the previous full-history SQL (kept under bench/full_history/ for the nightly benchmark).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from gitgoods.settings import Settings
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions import packs
from pipelines.lake.partitions.current import CurrentFiles
from pipelines.lake.partitions.manifest import list_partitions
from pipelines.lake.partitions.reading import read_partition
from pipelines.marts.models import ModelError, discover, upstream, without_own_history
from pipelines.marts.runner import build, model_sql, pack, partition_keys
from pipelines.sql.duckdb_engine import DuckDBEngine
from tests import marts_month
from tests.marts_data import B1, B2, B3, D1, D2, D3, S1, S2, S3, put_dimensions, write_raw

MODELS = discover()
STATE = MODELS["state_first_purchase"]
# the models the state changes, and the one reading one of them, in build order
TOUCHED = ("state_first_purchase", "seller_daily_sales", "seller_kpis", "buyer_cohorts")
FULL_HISTORY = Path(__file__).resolve().parents[1] / "bench" / "full_history"


# -- the framework: a model reading its own partitions ------------------------------------------------


def test_a_state_model_reads_itself_without_a_cycle() -> None:
    assert STATE.zone == "state" and STATE.lake_name == "state_first_purchase"
    assert STATE.reads_itself and not MODELS["seller_daily_sales"].reads_itself
    assert upstream(STATE, MODELS) == (["stg_sales"], [])  # itself is not a dependency
    assert upstream(MODELS["seller_daily_sales"], MODELS)[0] == ["state_first_purchase", "stg_event_lines",
                                                                  "stg_sales"]  # fmt: skip
    names = list(MODELS)
    assert names.index("stg_sales") < names.index("state_first_purchase") < names.index("seller_daily_sales")


def test_cycles_between_models_are_still_refused(tmp_path: Path) -> None:
    (tmp_path / "marts").mkdir()
    (tmp_path / "marts" / "a.sql").write_text("SELECT n, dt FROM marts_b")
    (tmp_path / "marts" / "b.sql").write_text("SELECT n, dt FROM marts_a")
    with pytest.raises(ModelError, match="cycle"):
        discover(tmp_path)


def test_a_model_reading_itself_must_document_its_columns(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "state_x.sql").write_text("SELECT n, dt FROM state_x WHERE dt < :start")
    with pytest.raises(ModelError, match="document its columns"):
        discover(tmp_path)


def test_the_first_build_reads_its_own_table_as_an_empty_relation() -> None:
    sql = without_own_history(STATE)
    assert replace(STATE, sql=sql).reads == ("stg_sales",)  # parses; its own table is gone
    assert "CAST(NULL AS VARCHAR) AS buyer" in sql


# -- the lakes ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dims(settings: Settings) -> Settings:
    s = settings.model_copy(update={"table_prefix": f"i{uuid.uuid4().hex[:8]}-"})
    put_dimensions(s)
    return s


class Lake:
    """A lake with raw partitions and its staging built, and the models above built in one way."""

    def __init__(self, settings: Settings, root: Path, write: Any, first: str, last: str) -> None:
        self.lake = LakeFS.from_uri(f"file://{root}", settings)
        self.sales = write(self.lake)
        self.first, self.last = first, last
        self.engine = DuckDBEngine(settings, lake=self.lake)
        for name in ("dim_sellers", "stg_sales", "stg_event_lines"):  # what the touched models read
            build(MODELS[name], first, last, engine=self.engine, lake=self.lake)

    def build(self, name: str, start: str, end: str, **kw: Any) -> None:
        model = kw.pop("model", MODELS[name])
        if model.partitioned_by == "month":
            start, end = start[:8] + "01", end[:8] + "01"
        build(model, start, end, engine=self.engine, lake=self.lake, **kw)
        pack(model, self.lake, start, end)  # the model's packs asset, as the nightly job runs it after the model

    def full(self, *, chunk: int | None = None) -> Lake:
        for name in TOUCHED:
            self.build(name, self.first, self.last, chunk=chunk)
        return self

    def day_by_day(self) -> Lake:
        for day in partition_keys(STATE, self.first, self.last):
            for name in TOUCHED:  # the nightly run of one day: the open month's cohorts too
                self.build(name, day, day)
        return self

    def tables(self) -> dict[str, dict[str, list[dict[str, Any]]]]:
        """Every partition of the touched models, rows sorted."""
        out: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for name in TOUCHED:
            m = MODELS[name]
            out[name] = {d: _sorted(read_partition(self.lake, m.name, d, zone=m.zone))
                         for d in list_partitions(self.lake, m.name, zone=m.zone)}  # fmt: skip
        return out

    def close(self) -> None:
        self.engine.close()


def _sorted(table: pa.Table) -> list[dict[str, Any]]:
    return sorted(table.to_pylist(), key=lambda r: [(v is None, str(v)) for v in r.values()])


def _lakes(dims: Settings, tmp_path: Path, write: Any, first: str, last: str) -> dict[str, Lake]:
    return {kind: Lake(dims, tmp_path / kind, write, first, last) for kind in ("full", "chunked", "daily")}


def _assert_same(a: dict, b: dict, what: str) -> None:
    for name in TOUCHED:
        assert a[name].keys() == b[name].keys(), f"{what}: {name} partitions differ"
        for day in a[name]:
            assert a[name][day] == b[name][day], f"{what}: {name} {day} differs"


# -- the hand-made story ---------------------------------------------------------------------------------


@pytest.mark.stack
def test_day_by_day_equals_a_full_rebuild_on_the_hand_made_story(dims: Settings, tmp_path: Path) -> None:
    lakes = _lakes(dims, tmp_path, write_raw, D1, D3)
    try:
        full = lakes["full"].full().tables()
        chunked = lakes["chunked"].full(chunk=7).tables()
        daily = lakes["daily"].day_by_day().tables()
    finally:
        for lake in lakes.values():
            lake.close()
    # the state by hand: D1 B1 and B2 buy from S1 (O1, O2), B3 from S2 (O3); D2 B3 is new to S1 (O5),
    # B2 to S3 (O6), B1 comes back to S1 (O4); D3 B2 comes back to S1 (O7): no one new
    pairs = {d: {(r["seller_id"], r["buyer"]) for r in rows} for d, rows in full["state_first_purchase"].items()}
    assert pairs[D1] == {(S1, B1), (S1, B2), (S2, B3)}
    assert pairs[D2] == {(S1, B3), (S3, B2)}
    assert pairs[D3] == set() and sum(map(len, pairs.values())) == 5  # every other day empty
    new = {(d, r["seller_id"]): r["new_buyers"] for d, rows in full["seller_daily_sales"].items() for r in rows}
    assert (new[(D1, S1)], new[(D2, S1)], new[(D2, S3)], new[(D3, S1)]) == (2, 1, 1, 0)
    _assert_same(full, chunked, "chunks of 7 days")
    _assert_same(full, daily, "day by day")


def test_a_build_packs_only_for_its_own_next_chunks_and_the_packs_asset_does_the_rest(
    dims: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The figures do not wait for packing: a build packs the months its next chunk reads, never after
    its last chunk (a night's one day); `pack` (the packs asset) packs what is left."""
    monkeypatch.setattr(packs, "utc_today", lambda: "2099-01-01")  # every day of the story has ended
    lake = Lake(dims, tmp_path / "lake", write_raw, D1, D3)
    try:
        def sources(month: str) -> list[str]:
            found = packs.read_packs(lake.lake, STATE.zone, STATE.name).get(month)
            return sorted(found.sources) if found else []

        build(STATE, D1, D3, engine=lake.engine, lake=lake.lake, chunk=7)  # 2030-01-01..02-01: five chunks
        january = partition_keys(STATE, D1, "2030-01-31")
        assert sources("2030-01") == january[:28] and sources("2030-02") == []  # after chunks 1-4 only
        assert pack(STATE, lake.lake, D1, D3)
        assert (sources("2030-01"), sources("2030-02")) == (january, [D3])
        assert pack(STATE, lake.lake, D1, D3) == []  # nothing changed: nothing written
        build(STATE, D3, D3, engine=lake.engine, lake=lake.lake)  # a night: one chunk, no packing
        packed = packs.read_packs(lake.lake, STATE.zone, STATE.name)["2030-02"]
        now = CurrentFiles(lake.lake).manifests(STATE.zone, STATE.name, [D3])[0]["run_id"]
        assert not packed.current_for({D3: now})  # the pack is stale for D3: readers read the day
        assert pack(MODELS["seller_daily_sales"], lake.lake, D1, D3) == []  # not a packed model
    finally:
        lake.close()


# -- generated months ----------------------------------------------------------------------------------------


@pytest.mark.stack
@pytest.mark.parametrize(("seed", "packed"), [(1, True), (2, False)], ids=["seed1-packs", "seed2"])
def test_day_by_day_equals_a_full_rebuild_on_a_generated_month(
    dims: Settings, tmp_path: Path, seed: int, packed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, last = marts_month.FIRST, marts_month.LAST
    if packed:  # the month's days (in 2030) count as ended, and every look-up of 2 days or more uses packs
        monkeypatch.setattr(packs, "utc_today", lambda: "2099-01-01")
        monkeypatch.setattr(packs, "PACK_MIN_DAYS", 2)
    lakes = _lakes(dims, tmp_path, lambda lake: marts_month.write_month(lake, seed), first, last)
    history = Lake(dims, tmp_path / "history", lambda lake: marts_month.write_month(lake, seed), first, last)
    try:
        full = lakes["full"].full().tables()
        chunked = lakes["chunked"].full(chunk=4).tables()
        daily = lakes["daily"]
        daily.day_by_day()
        by_day = daily.tables()
        # the nightly schedule's rebuild of the last days, over the state the days before left
        for name in TOUCHED:
            daily.build(name, "2030-04-09", last)
        rebuilt = daily.tables()
        if packed:  # both months are packed, April again after its last days were rebuilt
            found = CurrentFiles(daily.lake).files("state", STATE.name, marts_month.days(first, last))
            assert [f.dt for f in found.files if f.packed] == ["2030-03-01", "2030-04-01"]
            assert not [f for f in found.files if not f.packed]
        # the previous models, reading the whole history, on a lake of their own
        for name in ("seller_daily_sales", "buyer_cohorts", "seller_kpis"):
            sql = (FULL_HISTORY / f"{name}.sql").read_text() if name != "seller_kpis" else MODELS[name].sql
            history.build(name, first, last, model=replace(MODELS[name], sql=sql))
        old = history.tables()
        sales = daily.sales
    finally:
        for lake in [*lakes.values(), history]:
            lake.close()
    _assert_same(full, chunked, "chunks of 4 days")
    _assert_same(full, by_day, "day by day")
    _assert_same(full, rebuilt, "the last 10 days rebuilt")
    for name in ("seller_daily_sales", "buyer_cohorts", "seller_kpis"):
        assert full[name] == old[name], f"{name}: not what the full-history SQL gives"

    # the state against the rows themselves: every pair once, on the day of its first purchase
    firsts = marts_month.first_purchases(sales)
    state = {(r["seller_id"], r["buyer"]): d for d, rows in full["state_first_purchase"].items() for r in rows}
    assert sum(map(len, full["state_first_purchase"].values())) == len(state) == len(firsts)
    assert state == firsts
    assert len(firsts) > len({b for _, b in firsts})  # buyers bought from several sellers
    returning = sum(r["returning_buyers"] for rows in full["seller_daily_sales"].values() for r in rows)
    assert returning > 0  # and came back
    assert {r["months_since_first"] for rows in full["buyer_cohorts"].values() for r in rows} == {0, 1}


# -- the runner: which SQL a build of a self-reading model runs ----------------------------------------


@pytest.mark.stack
def test_only_a_build_without_earlier_partitions_reads_itself_as_empty(dims: Settings, tmp_path: Path) -> None:
    lake = Lake(dims, tmp_path / "lake", write_raw, D1, D3)
    try:
        assert model_sql(STATE, lake.lake, D1) != STATE.sql  # nothing yet
        lake.build("state_first_purchase", D1, D2)
        assert model_sql(STATE, lake.lake, D1) != STATE.sql  # nothing before D1
        assert model_sql(STATE, lake.lake, D3) == STATE.sql  # D1 and D2 are there to read
        lake.build("state_first_purchase", D3, D3)
        assert read_partition(lake.lake, STATE.name, D3, zone="state").num_rows == 0  # B2 came back to S1
        seen = {r["buyer"] for d in (D1, D2)
                for r in read_partition(lake.lake, STATE.name, d, zone="state").to_pylist()}  # fmt: skip
        assert seen == {B1, B2, B3}
    finally:
        lake.close()


@pytest.mark.stack
def test_the_pair_key_is_the_first_60_bits_of_the_pairs_md5(dims: Settings, tmp_path: Path) -> None:
    import hashlib

    lake = Lake(dims, tmp_path / "lake", write_raw, D1, D3)
    try:
        lake.build("state_first_purchase", D1, D3)
        rows = [r for d in (D1, D2, D3) for r in read_partition(lake.lake, STATE.name, d, zone="state").to_pylist()]
        assert len(rows) >= 3
        for r in rows:  # computed here with hashlib, not by the engine
            digest = hashlib.md5(f"{r['seller_id']}|{r['buyer']}".encode()).hexdigest()  # noqa: S324 - a fingerprint
            assert r["pair_key"] == int(digest[:15], 16)
        assert len({r["pair_key"] for r in rows}) == len(rows)
    finally:
        lake.close()


@pytest.mark.stack
def test_a_state_written_before_a_column_was_added_must_be_rebuilt(dims: Settings, tmp_path: Path) -> None:
    lake = Lake(dims, tmp_path / "lake", write_raw, D1, D3)
    try:
        older = replace(STATE, columns=tuple(c for c in STATE.columns if c.name != "pair_key"),
                        sql="SELECT seller_id, buyer, min(dt) AS dt FROM stg_sales WHERE dt BETWEEN :start AND :end "
                            "GROUP BY seller_id, buyer")  # fmt: skip
        lake.build("state_first_purchase", D1, D2, model=older)
        with pytest.raises(ModelError, match=rf"no column pair_key .* rebuild state_first_purchase from .*{D1}"):
            lake.build("state_first_purchase", D3, D3)
        assert D3 not in list_partitions(lake.lake, STATE.name, zone="state")
        lake.build("state_first_purchase", D1, D3)  # the rebuild from the first day reads no history
        assert read_partition(lake.lake, STATE.name, D3, zone="state").column_names[-1] == "pair_key"
    finally:
        lake.close()
