"""Today's other daily marts refreshed from the micro-batches (DynamoDB Local end to end):
`seller_daily_sales` right after each micro-batch, the dimension snapshots and the other daily marts
coalesced - a burst of micro-batches gives one refresh, whose partitions pass their checks and equal
row for row a batch build of the same day from DynamoDB; a mart failing its audit keeps its
previous version, the marts reading it (or a failed snapshot) wait with a logged reason, and
`seller_daily_sales` and the other marts go on being refreshed."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from pipelines.ingest.load import ingest_day
from pipelines.ingest.schemas import RAW_TABLES
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.manifest import current_manifest, list_partitions
from pipelines.lake.partitions.reading import read_partition
from pipelines.marts.expectations import Outcome
from pipelines.marts.models import discover
from pipelines.marts.runner import build
from pipelines.marts.suite import validate_staged
from pipelines.sql.engine import engine_for
from pipelines.stream.consumer import StreamConsumer
from pipelines.stream.refresh import REFRESHED_MODELS, CoalescedRefresh, ModelBuilds, Refresher
from tests.helpers import earlier_today
from tests.test_funnel_events import PATH, TOKEN, funnel_event, products
from tests.test_ingest_assets import pipeline_env, place_orders  # noqa: F401  (a fixture)

pytestmark = pytest.mark.stack

MODELS = discover()
# The daily models besides those refreshed with every micro-batch (sql/*/models.yml: partitioned_by day).
COALESCED = ["dim_catalog", "dim_sellers", "seller_daily_segments", "product_performance", "seller_kpis",
             "fulfilment", "funnel"]  # fmt: skip
INTERVAL_S = 30.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def settle(consumer: StreamConsumer, limit: int = 200) -> int:
    """Steps until the streams are read dry and nothing waits between micro-batches; the records read."""
    records = 0
    for _ in range(limit):
        result = consumer.step()
        records += result.records
        if not result.records and not result.more_work:
            return records
    raise AssertionError("the consumer never settled")


def stack(settings: Any, lake: LakeFS, instance: Any, clock: Clock, interval_s: float = INTERVAL_S,
          audit: Any = None) -> tuple[StreamConsumer, CoalescedRefresh]:  # fmt: skip
    builds = ModelBuilds(settings, lake, None, instance, audit=audit)
    marts = CoalescedRefresh(builds, interval_s=interval_s, clock=clock)
    refresher = Refresher(settings, lake, None, builds=builds, marts=marts)
    return StreamConsumer(settings, lake, on_published=refresher, between=marts.tick), marts


def browse_and_ship(orders_app, catalog_data, settings, orders, at) -> None:  # type: ignore[no-untyped-def]
    """Views, a cart addition and a checkout of today (the funnel), and the first order paid and
    shipped (fulfilment)."""
    client = orders_app.test_client()
    items = products(catalog_data)
    events = [funnel_event([(items[0], 1)], at=at), funnel_event([(items[1], 1)], at=at, session="ses_two"),
              funnel_event([(items[0], 2)], "cart_added", at=at + timedelta(seconds=5)),
              funnel_event([(items[0], 2)], "checkout_started", at=at + timedelta(seconds=9))]  # fmt: skip
    assert client.post(PATH, json={"events": events}, headers={"X-Internal-Token": TOKEN}).status_code < 300
    token = {"X-Internal-Token": settings.internal_token}
    for event in ("payment_captured", "order_shipped"):
        path = f"/internal/orders/{orders[0]['order_id']}/events"
        assert client.post(path, json={"type": event}, headers=token).status_code == 200


def run_id(lake: LakeFS, name: str, day: str) -> str | None:
    manifest = current_manifest(lake, name, day, zone=MODELS[name].zone)
    return manifest["run_id"] if manifest else None


def sorted_rows(lake: LakeFS, name: str, day: str) -> pa.Table:
    table = read_partition(lake, name, day, zone=MODELS[name].zone)
    if "taken_at" in table.column_names:  # when the snapshot was read: not a figure
        table = table.drop_columns(["taken_at"])
    return table.sort_by([(c, "ascending") for c in MODELS[name].grain])


def batch_build(settings, tmp_path, days: list[str]) -> LakeFS:  # type: ignore[no-untyped-def]
    """The days loaded from DynamoDB by the batch ingest and every daily model built over them in
    dependency order, as the nightly marts job does."""
    lake = LakeFS.from_uri(tmp_path / "batch-lake")
    for day in days:
        for table in RAW_TABLES:
            assert ingest_day(table, datetime.fromisoformat(day).date(), settings, lake).published
    with engine_for(settings, lake=lake) as engine:
        for model in MODELS.values():
            if model.partitioned_by == "day":
                build(model, days[0], days[-1], engine=engine, lake=lake)
    return lake


def materialised(instance: Any, asset: str, day: str) -> int:
    import dagster as dg

    events = instance.fetch_materializations(dg.AssetKey(asset), limit=1000).records
    return sum(1 for e in events if e.asset_materialization.partition == day)


def test_a_burst_of_micro_batches_gives_one_refresh_of_today_s_marts_equal_to_a_batch_build(
    pipeline_env,  # noqa: F811  (the fixture)
    orders_app,
    catalog_data,
    settings,
    tmp_path,
):  # type: ignore[no-untyped-def]
    import dagster as dg

    from pipelines.defs.marts.gates import _model
    from pipelines.publish.sources import check_state

    assert {n for n, m in MODELS.items() if m.partitioned_by == "day" and n not in REFRESHED_MODELS} == set(COALESCED)
    now = datetime.now(UTC)
    today = now.date().isoformat()
    lake = LakeFS.from_uri(tmp_path / "stream-lake")
    clock = Clock()
    with dg.DagsterInstance.ephemeral() as instance:
        consumer, marts = stack(settings, lake, instance, clock)
        settle(consumer)  # whatever the session wrote before: its refresh is pending
        clock.now += INTERVAL_S
        settle(consumer)
        assert marts.refreshes <= 1
        before = marts.refreshes
        counts = {name: materialised(instance, name, today) for name in COALESCED}
        sds_runs = []
        orders = []
        for i in range(3):  # a burst: three micro-batches within the interval
            orders += place_orders(orders_app, catalog_data, settings, 2, earlier_today(now, 40 - i), f"mart-{i}")
            if i == 1:
                browse_and_ship(orders_app, catalog_data, settings, orders, earlier_today(now, 20))
            assert settle(consumer) > 0
            sds_runs.append(run_id(lake, "seller_daily_sales", today))  # refreshed with every micro-batch
            clock.now += 5
        assert len(set(sds_runs)) == 3
        assert marts.refreshes == before  # pending, not yet due
        assert {name: materialised(instance, name, today) for name in COALESCED} == counts

        clock.now += INTERVAL_S - 15  # the interval since the burst's first micro-batch
        settle(consumer)
        assert marts.refreshes == before + 1
        clock.now += 10 * INTERVAL_S
        settle(consumer)
        assert marts.refreshes == before + 1  # nothing pending: no refresh
        for name in COALESCED:
            assert materialised(instance, name, today) == counts[name] + 1, name
            assert check_state(instance, name).passed, name
            assert _model(instance, name, [today]) == [], name

        # The same day built by the batch path from DynamoDB: the same rows in every model.
        days = list_partitions(lake, "seller_daily_sales", zone="marts")
        assert today in days
        batch = batch_build(settings, tmp_path, days)
        for name in COALESCED:
            streamed, batched = sorted_rows(lake, name, today), sorted_rows(batch, name, today)
            assert streamed.num_rows > 0 and streamed.equals(batched), name
        bought = {line["product_id"] for o in orders for line in o["lines"]}
        performance = {r["product_id"]: r for r in sorted_rows(lake, "product_performance", today).to_pylist()}
        assert bought <= set(performance)
        titles = {p["product_id"]: p["title"] for p in catalog_data.products}
        assert all(performance[p]["title"] == titles[p] for p in bought)  # today's snapshot was taken
        shipped = {r["seller_id"]: r for r in sorted_rows(lake, "fulfilment", today).to_pylist()}
        assert shipped[orders[0]["lines"][0]["seller_id"]]["shipped_orders"] >= 1
        assert sorted_rows(lake, "funnel", today).num_rows >= 2


def test_a_mart_failing_its_audit_keeps_its_previous_version_and_the_others_go_on(
    pipeline_env,  # noqa: F811  (the fixture)
    orders_app,
    catalog_data,
    settings,
    tmp_path,
    caplog,
):  # type: ignore[no-untyped-def]
    import dagster as dg

    from pipelines.defs.marts.gates import _model
    from pipelines.publish.sources import check_state

    failing: set[str] = set()

    def audit(model, lake, staged):  # type: ignore[no-untyped-def]
        if model.name in failing:
            return Outcome(passed=False, evaluated=1, failures=[{"expectation": "injected"}], rows=1, partitions=1)
        return validate_staged(model, lake, staged)

    now = datetime.now(UTC)
    today = now.date().isoformat()
    lake = LakeFS.from_uri(tmp_path / "stream-lake")
    with dg.DagsterInstance.ephemeral() as instance:
        consumer, marts = stack(settings, lake, instance, Clock(), interval_s=0, audit=audit)  # every batch
        place_orders(orders_app, catalog_data, settings, 2, earlier_today(now, 50), "mart-fail-1")
        settle(consumer)
        previous = {name: run_id(lake, name, today) for name in [*COALESCED, "seller_daily_sales"]}
        assert all(previous.values()), previous
        rows_before = sorted_rows(lake, "product_performance", today)

        failing.update({"product_performance", "dim_sellers"})
        caplog.set_level(logging.WARNING, logger="pipelines.stream.refresh")
        later = place_orders(orders_app, catalog_data, settings, 3, earlier_today(now, 45), "mart-fail-2")
        settle(consumer)
        # the failing mart and snapshot: their previous version stays current, their check says failed
        for name in ("product_performance", "dim_sellers"):
            assert run_id(lake, name, today) == previous[name], name
            assert not check_state(instance, name).passed, name
            assert _model(instance, name, [today]), name
        assert sorted_rows(lake, "product_performance", today).equals(rows_before)
        # seller_kpis reads the failed snapshot: not built, and the log says why
        assert run_id(lake, "seller_kpis", today) == previous["seller_kpis"]
        assert any("seller_kpis" in r.getMessage() and "dim_sellers" in r.getMessage() for r in caplog.records)
        # the others are refreshed: seller_daily_sales with every micro-batch, and the marts not reading the failures
        for name in ("seller_daily_sales", "seller_daily_segments", "fulfilment", "funnel", "dim_catalog"):
            assert run_id(lake, name, today) != previous[name], name
            assert check_state(instance, name).passed, name
        sellers = {r["seller_id"]: r for r in sorted_rows(lake, "seller_daily_sales", today).to_pylist()}
        assert all(line["seller_id"] in sellers for o in later for line in o["lines"])

        failing.clear()  # fixed: the next micro-batch refreshes them all again
        place_orders(orders_app, catalog_data, settings, 1, earlier_today(now, 40), "mart-fail-3")
        settle(consumer)
        for name in ("product_performance", "dim_sellers", "seller_kpis"):
            assert run_id(lake, name, today) != previous[name], name
            assert check_state(instance, name).passed, name
        bought = {line["product_id"] for o in later for line in o["lines"]}
        assert bought <= {r["product_id"] for r in sorted_rows(lake, "product_performance", today).to_pylist()}
