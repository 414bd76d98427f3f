"""Change capture end to end on DynamoDB Local: orders placed through the orders service reach the
lake through the tables' streams, a late cancellation replaces its line in its own day, and the
partition the stream builds equals, row for row, the one the batch ingest loads from the table -
also after a consumer died between staging and publishing a micro-batch, after its checkpoint was
lost, and after the stream was trimmed under it (a batch reload of the days that differ)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from gitgoods import aws
from gitgoods.contract.tables import STREAM_VIEW, TABLES, ensure_streams
from pipelines.ingest.load import ingest_day
from pipelines.ingest.schemas import RAW_TABLES
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.manifest import current_manifest
from pipelines.lake.partitions.reading import PartitionNotFound, read_partition
from pipelines.lake.partitions.writer import PartitionWriter
from pipelines.stream.consumer import StreamConsumer
from tests.helpers import earlier_today
from tests.test_ingest_assets import DAY, pipeline_env, place_orders, write_bad_items  # noqa: F401  (a fixture)

pytestmark = pytest.mark.stack

KEYS = {"raw_sales": ["seller_id", "sk"], "raw_order_events": ["event_id"]}


def drain(consumer: StreamConsumer, limit: int = 50) -> list:  # type: ignore[type-arg]
    """Steps until a step reads nothing; the results of those that did."""
    results = []
    for _ in range(limit):
        result = consumer.step()
        if not result.records and not result.reloaded:
            return results
        results.append(result)
    raise AssertionError("the stream never ran dry")


def raw(lake: LakeFS, table: str, day: str) -> pa.Table:
    return read_partition(lake, table, day).sort_by([(k, "ascending") for k in KEYS[table]])


def quarantined(lake: LakeFS, table: str, day: str) -> list[tuple]:  # type: ignore[type-arg]
    source = RAW_TABLES[table][0]
    try:
        rows = read_partition(lake, source, day, zone="quarantine").to_pylist()
    except PartitionNotFound:
        return []
    # the item as received: the same attributes, in whatever order the API sent them
    return sorted(
        (
            r["item_key"] or "",
            tuple(r["reasons"]),
            r["amount_cents"],
            json.dumps(json.loads(r["item_json"]), sort_keys=True),
        )
        for r in rows
    )


def assert_equals_batch(stream_lake: LakeFS, settings, tmp_path, day) -> None:  # type: ignore[no-untyped-def]
    batch_lake = LakeFS.from_uri(tmp_path / f"batch-{day}-{len(list(tmp_path.iterdir()))}")
    for table in RAW_TABLES:
        loaded = ingest_day(table, day, settings, batch_lake)
        assert loaded.published, loaded.audit
        streamed, batched = raw(stream_lake, table, day.isoformat()), raw(batch_lake, table, day.isoformat())
        assert streamed.schema.equals(batched.schema)
        assert streamed.num_rows == batched.num_rows > 0
        assert streamed.equals(batched), table
        assert quarantined(stream_lake, table, day.isoformat()) == quarantined(batch_lake, table, day.isoformat())


def test_tables_made_without_a_stream_get_one_once(settings) -> None:  # type: ignore[no-untyped-def]
    other = settings.model_copy(update={"table_prefix": settings.table_prefix + "nostream-"})
    ddb = aws.client("dynamodb", other)
    for name in ("sales", "order_events"):
        request = TABLES[name].create_request(other.table(name))
        request.pop("StreamSpecification")
        ddb.create_table(**request)
        ddb.get_waiter("table_exists").wait(TableName=other.table(name), WaiterConfig={"Delay": 1})
        assert "StreamSpecification" not in ddb.describe_table(TableName=other.table(name))["Table"]
    assert sorted(ensure_streams(other, ddb)) == sorted([other.table("order_events"), other.table("sales")])
    assert ensure_streams(other, ddb) == []  # already on: nothing to do
    for name in ("sales", "order_events"):
        spec = ddb.describe_table(TableName=other.table(name))["Table"]["StreamSpecification"]
        assert spec == {"StreamEnabled": True, "StreamViewType": STREAM_VIEW}
        ddb.delete_table(TableName=other.table(name))


def test_the_stream_builds_the_partition_the_batch_ingest_loads(orders_app, catalog_data, settings, tmp_path):  # type: ignore[no-untyped-def]
    day_dt = DAY - timedelta(days=20)
    day = day_dt.date().isoformat()
    lake = LakeFS.from_uri(tmp_path / "stream-lake")
    consumer = StreamConsumer(settings, lake)
    drain(consumer)  # whatever the session wrote before

    orders = place_orders(orders_app, catalog_data, settings, 5, day_dt, "stream-eq")
    write_bad_items(settings, day_dt)
    results = drain(consumer)
    assert {(d.lake_table, d.day) for r in results for d in r.days} >= {("raw_sales", day), ("raw_order_events", day)}
    before = raw(lake, "raw_sales", day)
    assert set(before["order_id"].to_pylist()) >= {o["order_id"] for o in orders}
    assert len(current_manifest(lake, "raw_sales", day)["files"]) == 1  # a closed day is compacted
    assert current_manifest(lake, "raw_sales", day)["stream"]["sequences"]

    # A late cancellation: the sale's item changes in place (MODIFY) and replaces its row in its day.
    client = orders_app.test_client()
    token = {"X-Internal-Token": settings.internal_token}
    for event in ("payment_captured", "order_cancelled"):
        path = f"/internal/orders/{orders[0]['order_id']}/events"
        assert client.post(path, json={"type": event}, headers=token).status_code == 200
    drain(consumer)
    after = raw(lake, "raw_sales", day)
    assert after.num_rows == before.num_rows
    statuses = {r["order_id"]: r["status"] for r in after.to_pylist()}
    assert statuses[orders[0]["order_id"]] == "cancelled"
    assert_equals_batch(lake, settings, tmp_path, day_dt.date())


def test_a_consumer_killed_between_stage_and_publish_replays_without_counting_twice(
    orders_app, catalog_data, settings, tmp_path, monkeypatch
):  # type: ignore[no-untyped-def]
    day_dt = DAY - timedelta(days=22)
    lake = LakeFS.from_uri(tmp_path / "stream-lake")
    drain(StreamConsumer(settings, lake))
    place_orders(orders_app, catalog_data, settings, 4, day_dt, "stream-crash")

    publish = PartitionWriter.publish

    def killed(self, staged):  # type: ignore[no-untyped-def]
        if self.zone == "raw":  # the quarantine run is published, the raw one only staged
            raise SystemExit("killed")
        return publish(self, staged)

    monkeypatch.setattr(PartitionWriter, "publish", killed)
    with pytest.raises(SystemExit):
        StreamConsumer(settings, lake).step()
    monkeypatch.undo()

    restarted = StreamConsumer(settings, lake)  # from the checkpoint, which the crash did not move
    drain(restarted)
    assert_equals_batch(lake, settings, tmp_path, day_dt.date())

    # A lost checkpoint: the consumer starts at the trim horizon and the manifests skip what they hold.
    rows_before = {t: raw(lake, t, day_dt.date().isoformat()).num_rows for t in RAW_TABLES}
    lake.delete_prefix("_stream")
    replayed = drain(StreamConsumer(settings, lake))
    assert sum(r.records for r in replayed) > 0
    assert {t: raw(lake, t, day_dt.date().isoformat()).num_rows for t in RAW_TABLES} == rows_before
    assert_equals_batch(lake, settings, tmp_path, day_dt.date())


class TrimmingStreams:
    """The real `dynamodbstreams` client, except that the first GetRecords after `trim()` answers
    TrimmedDataAccessException (DynamoDB Local keeps its streams whole)."""

    def __init__(self, client) -> None:  # type: ignore[no-untyped-def]
        self.client = client
        self.trimmed = False

    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        return getattr(self.client, name)

    def get_records(self, **kw):  # type: ignore[no-untyped-def]
        if self.trimmed:
            self.trimmed = False
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "TrimmedDataAccessException", "Message": "trimmed"}}, "GetRecords")
        return self.client.get_records(**kw)


def test_a_trimmed_stream_falls_back_to_a_batch_reload_of_the_days_that_differ(
    orders_app, catalog_data, settings, tmp_path
):  # type: ignore[no-untyped-def]
    day_dt = DAY - timedelta(days=16)  # within the reload lookback (35 days)
    day = day_dt.date().isoformat()
    lake = LakeFS.from_uri(tmp_path / "stream-lake")
    streams = TrimmingStreams(aws.client("dynamodbstreams", settings))
    consumer = StreamConsumer(settings, lake, streams=streams)
    place_orders(orders_app, catalog_data, settings, 2, day_dt, "stream-trim-1")
    drain(consumer)
    place_orders(orders_app, catalog_data, settings, 3, day_dt + timedelta(hours=1), "stream-trim-2")
    streams.trimmed = True  # these changes are "lost" to the stream
    result = consumer.step()
    assert ("raw_sales", day) in result.reloaded  # the day that differs from DynamoDB, said and reloaded
    drain(consumer)
    assert_equals_batch(lake, settings, tmp_path, day_dt.date())


def test_today_s_marts_refresh_from_each_micro_batch_and_dagster_sees_them(
    pipeline_env,  # noqa: F811  (the fixture)
    orders_app,
    catalog_data,
    settings,
    tmp_path,
):  # type: ignore[no-untyped-def]
    import dagster as dg

    from pipelines.stream.consumer import Refresher
    from tests.helpers import scan_all

    now = datetime.now(UTC)
    today = now.date().isoformat()
    lake = LakeFS.from_uri(tmp_path / "stream-lake")
    with dg.DagsterInstance.ephemeral() as instance:
        refresher = Refresher(settings, lake, None, instance=instance)
        consumer = StreamConsumer(settings, lake, on_published=refresher)
        orders = place_orders(orders_app, catalog_data, settings, 3, earlier_today(now, 30), "stream-fresh")
        drain(consumer)
        # The figures, counted independently from DynamoDB's items of today.
        sellers = {line["seller_id"] for o in orders for line in o["lines"]}
        expected: dict[str, list[int]] = {}
        for item in scan_all(settings, "sales"):
            if item["day_shard"]["S"].startswith(today) and item["seller_id"]["S"] in sellers:
                figures = expected.setdefault(item["seller_id"]["S"], [0, 0])
                figures[0] += int(item["amount_cents"]["N"])
                figures[1] += int(item["qty"]["N"])
        marts = read_partition(lake, "seller_daily_sales", today, zone="marts").to_pylist()
        got = {r["seller_id"]: [r["gross_cents"], r["units"]] for r in marts if r["seller_id"] in sellers}
        assert expected and set(expected) == sellers
        assert got == expected
        # a lake with nothing before today: every buyer of the day buys from the seller for the first time
        assert all(r["new_buyers"] == r["buyers"] > 0 for r in marts if r["seller_id"] in sellers)
        for asset in ("raw_sales", "stg_sales", "state_first_purchase", "seller_daily_sales"):
            events = instance.fetch_materializations(dg.AssetKey(asset), limit=100).records
            assert today in {e.asset_materialization.partition for e in events}, asset
        # each refreshed model's blocking check is recorded: the publish of SPICE and the gate accept it
        from pipelines.defs.marts.gates import _model
        from pipelines.publish.sources import check_state

        for asset in ("stg_sales", "state_first_purchase", "seller_daily_sales"):
            assert check_state(instance, asset).passed, asset
            assert _model(instance, asset, [today]) == [], asset


def test_an_open_day_is_compacted_past_the_file_threshold(orders_app, catalog_data, settings, tmp_path):  # type: ignore[no-untyped-def]
    from pipelines.stream.consumer import ConsumerConfig

    day_dt = DAY - timedelta(days=26)
    day = day_dt.date().isoformat()
    lake = LakeFS.from_uri(tmp_path / "stream-lake")
    # the day is still open for this consumer ("today"): only the threshold compacts it
    consumer = StreamConsumer(settings, lake, config=ConsumerConfig(compact_files=3), today=lambda: day_dt.date())
    drain(consumer)
    files = []
    for i in range(6):  # one micro-batch each: one more file each, until the threshold
        place_orders(orders_app, catalog_data, settings, 1, day_dt + timedelta(minutes=10 * i), f"stream-compact-{i}")
        drain(consumer)
        files.append(len(current_manifest(lake, "raw_sales", day)["files"]))
    assert max(files) <= 4 and 1 in files[1:], files  # past 3 files, back to one
    assert_equals_batch(lake, settings, tmp_path, day_dt.date())


def test_a_failed_refresh_is_tried_again_at_the_next_step(orders_app, catalog_data, settings, tmp_path):  # type: ignore[no-untyped-def]
    day_dt = DAY - timedelta(days=28)
    calls: list[set[str]] = []

    def refresh(days):  # type: ignore[no-untyped-def]
        calls.append({d.day for d in days})
        if len(calls) == 1:
            raise RuntimeError("the engine is down")

    lake = LakeFS.from_uri(tmp_path / "stream-lake")
    consumer = StreamConsumer(settings, lake)
    drain(consumer)
    consumer.on_published = refresh
    place_orders(orders_app, catalog_data, settings, 1, day_dt, "stream-refresh")
    first = consumer.step()  # published, then the refresh fails: logged, not raised
    assert first.records and calls == [{day_dt.date().isoformat()}]
    quiet = consumer.step()  # nothing new: the failed refresh is tried again
    assert not quiet.records and calls == [{day_dt.date().isoformat()}] * 2
    consumer.step()
    assert len(calls) == 2  # it succeeded: not again
