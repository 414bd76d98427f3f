"""Write-audit-publish seen by a seller: bad data is written, its blocking check fails, and every
reader (the embedded engine, the Glue catalog, the SPICE snapshot, the portal a seller signs in to)
keeps the previous figures; once the data is fixed and rebuilt, the portal shows the new ones.

Runs on the published world of `tests/insights_world.py` (the story of `tests/marts_data.py`) and
puts it back as it found it. Seller S1's figures, by hand from that story (amounts in cents):

- D1: O1 (P1 2 x 1000, P2 1 x 500) + O2 (P1 1 x 1000): gross 3500, 2 orders; O2 cancelled: refunds 1000;
- D2: O4 + O5 (P1 1 x 1000 each): gross 2000, 2 orders, 2 units; O1's line 2 refunded: refunds 500;
- D3: O7 (P1 1 x 1000): gross 1000, 1 order.

So over D1..D3: gross 6500, refunds 1500, net 5000 (the report's "Net revenue" 50.00), 5 orders.

The new sale of this test, O8 on D2: B2 (already S1's buyer since D1) buys 5 x P1 at 1000 = 5000.
- written with the sign wrong (amount -5000): S1's D2 gross would be 2000 - 5000 = -3000, which the
  mart's `not_negative` expectations (gross_cents, avg_order_value_cents) refuse;
- fixed (amount 5000): D2 gross 7000, 3 orders, 7 units; over D1..D3 gross 11500, net 10000 (100.00).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator

import dagster as dg
import pyarrow as pa
import pytest

from pipelines.ingest.schemas import RAW_SALES
from pipelines.lake.catalog import GlueCatalog
from pipelines.lake.partitions.manifest import current_run_id
from pipelines.lake.partitions.reading import read_partition
from pipelines.lake.partitions.writer import PartitionWriter, write_partition
from pipelines.sql.duckdb_engine import DuckDBEngine
from tests.insights_world import World, activated, world  # noqa: F401 - the fixture
from tests.marts_data import B2, COUNTRY, P1, S1, order_id, sale_rows, ts
from tests.test_portal_auth import sign_in

# one published world per test session: the modules that use it run on one xdist worker
pytestmark = [pytest.mark.stack, pytest.mark.xdist_group("insights_world")]

MART = "seller_daily_sales"
# S1 over D1..D3 as shown by the portal: (net revenue, {day: (gross, units)}) in currency units
BEFORE = (50, {0: (35, 4), 1: (20, 2), 2: (10, 1)})
AFTER = (100, {0: (35, 4), 1: (70, 7), 2: (10, 1)})


def o8(day: str, amount_cents: int) -> dict:
    """Order O8's only line, as the ingest writes raw_sales rows (tests/marts_data.py)."""
    sold = ts(day, "14:00")
    return {
        "seller_id": S1, "sk": f"{sold.isoformat()}#{order_id(8)}#01", "order_id": order_id(8), "line": 1,
        "sold_at": sold, "product_id": P1, "kind": "game", "platform": "PC", "genre": "RPG", "qty": 5,
        "unit_cents": 1000, "amount_cents": amount_cents, "currency": "EUR", "country": COUNTRY[B2],
        "customer": B2, "status": "placed", "updated_at": sold + dt.timedelta(hours=1), "day_shard": f"{day}#0",
    }  # fmt: skip


def write_raw_day(world: World, extra: list[dict]) -> None:  # noqa: F811
    day = world.days[1]
    rows = sale_rows(world.days)[day] + extra
    PartitionWriter(world.lake, "raw_sales", RAW_SALES).write(day, [pa.Table.from_pylist(rows, schema=RAW_SALES)])


def rebuild(world: World, names: set[str] | None = None) -> dg.ExecuteInJobResult:  # noqa: F811
    """One Dagster run of the daily models (or those named) over D2, each behind its blocking check."""
    from pipelines.defs.marts.assets import DAILY_ASSETS
    from pipelines.resources import resources_for

    day = world.days[1]
    assets = [a for a in DAILY_ASSETS if names is None or a.key.to_user_string() in names]
    with activated(world.env):
        return dg.materialize(
            assets, resources=resources_for(), instance=world.instance, raise_on_error=False,
            tags={"dagster/asset_partition_range_start": day, "dagster/asset_partition_range_end": day},
        )  # fmt: skip


def evaluations(result: dg.ExecuteInJobResult) -> dict[str, bool]:
    return {e.asset_key.to_user_string(): e.passed for e in result.get_asset_check_evaluations()}


def published(world: World) -> dict:  # noqa: F811
    """The publish step, as the hourly job runs it; the metadata of the mart's data set asset."""
    result = world.publish()
    assert result.success
    return next(
        m.materialization.metadata for m in result.get_asset_materialization_events()
        if m.asset_key.to_user_string() == f"quicksight_{MART}"
    )  # fmt: skip


class Seller:
    """S1 signed in to the portal app, reading its report and CSV downloads over the story's days."""

    def __init__(self, world: World) -> None:  # noqa: F811
        from portal.app import create_app

        with activated(world.env) as s:
            self.client = create_app({"TESTING": True}, settings=s).test_client()
        assert sign_in(self.client, world.identities, S1).status_code == 302
        self.days = world.days
        self.range = f"from={world.days[0]}&to={world.days[2]}"

    def csv(self, visual: str) -> list[list[str]]:
        r = self.client.get(f"/sellers/{S1}/visuals/{visual}.csv?{self.range}")
        assert r.status_code == 200, visual
        return list(csv.reader(io.StringIO(r.get_data(as_text=True))))

    def page(self) -> str:
        r = self.client.get(f"/sellers/{S1}/report?{self.range}")
        assert r.status_code == 200
        return " ".join(re.sub(r"<[^>]+>", " ", r.get_data(as_text=True)).split())

    def figures(self) -> tuple[float, dict[int, tuple[float, float]]]:
        """(net revenue, {story day index: (gross, units)}) from the CSV downloads."""
        (net_header,), (net,) = self.csv("net-revenue")
        header, *rows = self.csv("revenue-over-time")
        assert net_header == "Net" and header == ["Day", "Gross", "Units"]
        days = {r[0][:10]: (float(r[1]), float(r[2])) for r in rows}
        assert set(days) <= set(self.days), days  # S1 sold on the story's days only
        return float(net), {self.days.index(d): v for d, v in days.items()}


def engine_figures(world: World) -> tuple[int, dict[int, tuple[int, int]]]:  # noqa: F811
    """The same from the embedded engine over the lake (a new reader each time), in cents."""
    d1, _, d3 = world.days
    with activated(world.env) as s, DuckDBEngine(s, lake=world.lake) as engine:
        rows = engine.query(
            f"SELECT dt, gross_cents, units, net_cents FROM marts_{MART} "
            f"WHERE seller_id = '{S1}' AND dt BETWEEN '{d1}' AND '{d3}' ORDER BY dt"
        ).to_pylist()
    net = sum(r["net_cents"] for r in rows)
    return net, {world.days.index(r["dt"]): (r["gross_cents"], r["units"]) for r in rows if r["units"]}


def in_cents(figures: tuple[float, dict[int, tuple[float, float]]]) -> tuple[int, dict[int, tuple[int, int]]]:
    net, days = figures
    return round(net * 100), {d: (round(g * 100), round(u)) for d, (g, u) in days.items()}


def readers(world: World) -> tuple[str, str | None, str | None]:  # noqa: F811
    """What each reader is pointed at for the mart's D2: the lake's current run, Glue's location,
    the SPICE snapshot the portal renders."""
    day = world.days[1]
    with activated(world.env) as s:
        from pipelines.marts.models import discover

        glue = GlueCatalog(settings=s, database=s.glue_database).get_partition_location(discover()[MART].lake_name, day)
    snapshot = world.spice.current(f"{world.settings.quicksight_prefix}{MART}")
    return current_run_id(world.lake, MART, day, zone="marts"), glue, snapshot.ingestion_id if snapshot else None


@pytest.fixture()
def story_restored(world: World) -> Iterator[None]:  # noqa: F811
    """Puts D2 back as the story has it (raw, models, SPICE) whatever the test did."""
    yield
    write_raw_day(world, [])
    result = rebuild(world)
    assert result.success and all(evaluations(result).values())
    published(world)
    assert in_cents(Seller(world).figures()) == in_cents(BEFORE)


@pytest.mark.usefixtures("story_restored")
def test_a_failing_check_leaves_the_portal_on_the_previous_figures(world: World) -> None:  # noqa: F811
    d2 = world.days[1]
    seller = Seller(world)  # signed in before and kept signed in, as a seller's open portal

    # the published world: figure X, by hand in the module docstring
    assert seller.figures() == BEFORE
    assert engine_figures(world) == in_cents(BEFORE)
    page = seller.page()
    assert "Net revenue Gross sales minus refunds over the period. 50.00" in page
    assert "every blocking check passed" in page
    before = readers(world)
    run_before, glue_before, _ = before
    assert glue_before is not None and glue_before.rstrip("/").endswith(run_before)

    # 1. O8 slips into staging's D2 with its sign wrong (written behind the pipeline's back) and the
    #    mart is rebuilt through Dagster: the mart's own blocking check fails on the new run
    staged = read_partition(world.lake, "stg_sales", d2, zone="stg")
    line = {**o8(d2, -5000), "buyer": B2, "returned_qty": 0, "returned_cents": 0}  # as staging writes it
    bad_line = {c: line.get(c) for c in staged.column_names}
    write_partition(world.lake, "stg_sales", staged.schema, d2,
                    [pa.concat_tables([staged, pa.Table.from_pylist([bad_line], schema=staged.schema)])],
                    zone="stg")  # fmt: skip
    result = rebuild(world, {MART})
    assert not result.success and evaluations(result) == {MART: False}
    assert not result.get_asset_materialization_events()
    failures = next(e for e in result.get_asset_check_evaluations()).metadata["failures"].value
    assert {(f["expectation"], f["column"]) for f in failures} >= {
        ("expect_column_values_to_be_between", "gross_cents"),
        ("expect_column_values_to_be_between", "avg_order_value_cents"),
    }
    meta = published(world)  # the hourly publish: SPICE keeps the checked data
    assert meta["ingestion"].value.startswith("blocked") and meta["applied"].value is False
    assert readers(world) == before
    assert engine_figures(world) == in_cents(BEFORE)
    assert seller.figures() == BEFORE
    assert "Gross sales minus refunds over the period. 50.00" in seller.page()
    fresh = Seller(world).page()  # a seller who signs in now is told newer data is held back
    assert f"newer data of {world.settings.quicksight_prefix}{MART} did not pass its blocking checks" in fresh
    assert "Gross sales minus refunds over the period. 50.00" in fresh

    # 2. the same line reaches raw_sales (an ingest bug) and D2 is rebuilt: staging's check fails,
    #    nothing below it is built, and the publish step still holds the mart back
    write_raw_day(world, [o8(d2, -5000)])
    result = rebuild(world)
    assert not result.success and evaluations(result)["stg_sales"] is False and MART not in evaluations(result)
    assert MART not in {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    meta = published(world)
    assert meta["ingestion"].value.startswith("blocked")
    assert readers(world) == before
    assert engine_figures(world) == in_cents(BEFORE)
    assert seller.figures() == BEFORE

    # 3. fixed at the source (amount +5000) and rebuilt: every check passes, the publish step
    #    refreshes SPICE, and the portal shows figure Y (by hand in the module docstring)
    write_raw_day(world, [o8(d2, 5000)])
    result = rebuild(world)
    assert result.success and all(evaluations(result).values())
    meta = published(world)
    assert meta["ingestion"].value == "completed"
    run_after, glue_after, ingestion_after = readers(world)
    assert run_after != run_before and glue_after.rstrip("/").endswith(run_after) and ingestion_after != before[2]
    assert engine_figures(world) == in_cents(AFTER)
    assert seller.figures() == AFTER
    page = Seller(world).page()
    assert "Gross sales minus refunds over the period. 100.00" in page
    assert "Gross sales divided by orders over the period. 19.17" in page  # 11500 / 6 orders
    assert "every blocking check passed" in page
