"""The ingest assets end to end: DynamoDB Local -> Dagster -> the lake, with quarantine,
reconciliation, re-loading, the nightly audit of late data and a crash in the middle of a partition."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from gitgoods import aws
from gitgoods.settings import reset_settings
from pipelines.defs.ingest.assets import ASSETS, raw_order_events, raw_sales
from pipelines.defs.ingest.checks import reconcile
from pipelines.defs.ingest.schedules import nightly_audit
from pipelines.ingest.day_totals import changed_partitions, dynamodb_fingerprint, lake_day_totals, lake_fingerprint
from pipelines.lake.partitions.reading import read_partition
from pipelines.resources import DynamoResource, LakeResource
from storefront.common.clock import signed_headers
from tests.helpers import pick

pytestmark = pytest.mark.stack
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

DAY = (datetime.now(UTC) - timedelta(days=12)).replace(hour=15, minute=0, second=0, microsecond=0)


@pytest.fixture()
def pipeline_env(settings, monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    """Point the pipeline's settings (read from the environment) at the test stack."""
    for name, value in {
        "GITGOODS_HOME": str(settings.home),
        "GITGOODS_DYNAMODB_PORT": str(settings.dynamodb_port),
        "GITGOODS_MOTO_PORT": str(settings.moto_port),
        "GITGOODS_TABLE_PREFIX": settings.table_prefix,
    }.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    yield {
        "dynamo": DynamoResource(table_prefix=settings.table_prefix),
        "lake": LakeResource(uri=f"file://{tmp_path / 'lake'}", glue_database=f"lake_{settings.table_prefix[:-1]}"),
    }
    reset_settings()


def place_orders(orders_app, catalog_data, settings, n, at, tag):  # type: ignore[no-untyped-def]
    client = orders_app.test_client()
    import random

    rng = random.Random(tag)
    orders = []
    for i in range(n):
        product = pick(catalog_data, rng=rng)
        body = {
            "customer": {
                "email": f"{tag}{i}@mail.example",
                "name": "Ingest Tester",
                "address": "2 Lake St",
                "phone": "+1 555 0100",
                "country": "US",
            },
            "lines": [{"product_id": product["product_id"], "qty": 1 + i % 3}],
            "currency": product["currency"],
        }
        when = at + timedelta(minutes=7 * i)
        headers = {"Idempotency-Key": f"{tag}-{i}", **signed_headers(settings.sim_clock_key, "POST", "/orders", when)}
        resp = client.post("/orders", json=body, headers=headers)
        assert resp.status_code == 201, resp.json
        orders.append(resp.json)
    return orders


def write_bad_items(settings, day):  # type: ignore[no-untyped-def]
    """Items that break the contract, written straight to DynamoDB on the day's index."""
    ddb = aws.client("dynamodb", settings)
    stamp = day.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    shard = f"{day:%Y-%m-%d}#3"
    base_event = {
        "event_type": {"S": "order_placed"},
        "schema_version": {"N": "1"},
        "occurred_at": {"S": stamp},
        "day_shard": {"S": shard},
        "order_id": {"S": "ord_01JBAD0000000000000000000A"},
        "customer": {"S": "0" * 32},
        "country": {"S": "US"},
        "currency": {"S": "USD"},
        "amount_cents": {"N": "500"},
        "lines": {"L": []},
    }
    bad_events = [
        dict(base_event, event_id={"S": "evt_01JBAD0000000000000000000A"}, amount_cents={"N": "-5"}),
        dict(base_event, event_id={"S": "evt_01JBAD0000000000000000000B"}, event_type={"S": "order_teleported"}),
        dict(
            base_event,
            event_id={"S": "evt_01JBAD0000000000000000000C"},
            occurred_at={"S": (day - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")},
        ),
    ]
    for item in bad_events:
        ddb.put_item(TableName=settings.table("order_events"), Item=item)
    ddb.put_item(
        TableName=settings.table("sales"),
        Item={
            "seller_id": {"S": "sel_01JBAD0000000000000000000A"},
            "sk": {"S": f"{stamp}#ord_X#01"},
            "day_shard": {"S": shard},
            "sold_at": {"S": stamp},
            "amount_cents": {"N": "700"},
            "qty": {"S": "three"},
        },
    )
    return len(bad_events), 1


def materialize(resources, day, assets=None):  # type: ignore[no-untyped-def]
    return dg.materialize(
        assets or ASSETS,
        partition_key=day,
        resources=resources,
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def test_a_day_is_loaded_typed_with_quarantine_and_reconciles(pipeline_env, orders_app, catalog_data, settings):
    orders = place_orders(orders_app, catalog_data, settings, 12, DAY, "ing")
    bad_events, bad_sales = write_bad_items(settings, DAY)
    day = DAY.date().isoformat()
    result = materialize(pipeline_env, day)
    assert result.success

    fs = pipeline_env["lake"].open()
    sales = read_partition(fs, "raw_sales", day)
    ours = [r for r in sales.to_pylist() if r["order_id"] in {o["order_id"] for o in orders}]
    assert len(ours) == 12
    assert sales.schema.field("sold_at").type.tz == "UTC" and str(sales.schema.field("amount_cents").type) == "int64"
    assert sum(r["amount_cents"] for r in ours) == sum(o["total_cents"] for o in orders)
    events = read_partition(fs, "raw_order_events", day)
    placed = [
        r
        for r in events.to_pylist()
        if r["event_type"] == "order_placed" and r["order_id"] in {o["order_id"] for o in orders}
    ]
    assert len(placed) == 12 and all(r["lines"][0]["qty"] >= 1 for r in placed)

    quarantined = read_partition(fs, "order_events", day, zone="quarantine").to_pylist()
    assert len(quarantined) == bad_events
    reasons = " ".join(" ".join(q["reasons"]) for q in quarantined)
    assert "order_teleported" in reasons or "event_type" in reasons
    assert len(read_partition(fs, "sales", day, zone="quarantine")) == bad_sales

    checks = {e.asset_check_key.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}
    assert set(checks) == {"raw_sales", "raw_order_events"} and all(c.passed for c in checks.values())
    mats = {m.asset_key.to_user_string(): m for m in result.get_asset_materialization_events()}
    meta = mats["raw_order_events"].materialization.metadata
    assert meta["quarantined"].value == bad_events
    assert meta["dagster/row_count"].value == len(events)
    assert "event_type" in meta["preview"].value
    assert {c.name for c in meta["dagster/column_schema"].schema.columns} >= {"event_id", "occurred_at", "lines"}

    # loading the same day again gives the same rows
    again = materialize(pipeline_env, day)
    assert again.success
    assert read_partition(fs, "raw_sales", day).sort_by("sk").equals(sales.sort_by("sk"))

    # glue knows the partition, with explicit types
    glue = aws.client("glue", settings)
    table = glue.get_table(DatabaseName=pipeline_env["lake"].glue_database, Name="raw_sales")["Table"]
    types = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
    assert types["amount_cents"] == "bigint" and types["sold_at"] == "timestamp"
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]


def test_reconciliation_fails_when_the_lake_misses_items(pipeline_env, orders_app, catalog_data, settings):
    day_dt = DAY - timedelta(days=1)
    place_orders(orders_app, catalog_data, settings, 3, day_dt, "rec")
    day = day_dt.date().isoformat()
    assert materialize(pipeline_env, day, [raw_sales]).success
    place_orders(orders_app, catalog_data, settings, 1, day_dt + timedelta(hours=2), "rec-late")
    result = materialize(pipeline_env, day, [raw_sales])
    # the run re-loaded the day, so it reconciles; now add one more behind the lake's back
    assert result.success
    place_orders(orders_app, catalog_data, settings, 1, day_dt + timedelta(hours=3), "rec-later")
    evaluation = reconcile("raw_sales", day_dt.date(), pipeline_env["dynamo"], pipeline_env["lake"])
    assert not evaluation.passed
    assert evaluation.metadata["difference_items"].value == 1


def evaluate_nightly_audit(resources, when=None):  # type: ignore[no-untyped-def]
    """One tick of the `nightly_audit` schedule, evaluated by Dagster with the test's resources."""
    when = when or datetime.now(UTC).replace(hour=0, minute=45, second=0, microsecond=0)
    defs = dg.Definitions(assets=ASSETS, schedules=[nightly_audit], resources=resources)
    with dg.DagsterInstance.ephemeral() as instance, dg.build_schedule_context(
        instance=instance, scheduled_execution_time=when, resources=resources, repository_def=defs.get_repository_def()
    ) as context:
        return nightly_audit.evaluate_tick(context)


def test_late_refund_is_found_by_the_nightly_audit_and_only_that_partition_reloads(
    pipeline_env, orders_app, catalog_data, settings
):
    day_dt = DAY - timedelta(days=2)
    orders = place_orders(orders_app, catalog_data, settings, 4, day_dt, "late")
    day = day_dt.date().isoformat()
    assert materialize(pipeline_env, day).success
    today = datetime.now(UTC).date()
    dynamodb, lake = pipeline_env["dynamo"].settings(), pipeline_env["lake"].open()
    assert [c for c in changed_partitions(dynamodb, lake, today, lookback=20) if c[1] == day] == []
    quiet = evaluate_nightly_audit(pipeline_env)
    assert not quiet.run_requests and quiet.skip_message is not None

    client = orders_app.test_client()
    path = f"/internal/orders/{orders[0]['order_id']}/events"
    token = {"X-Internal-Token": settings.internal_token}
    for event in ("payment_captured", "order_cancelled"):
        assert client.post(path, json={"type": event}, headers=token).status_code == 200

    changed = changed_partitions(dynamodb, lake, today, lookback=20)
    assert [(t, d) for t, d, _ in changed if d == day] == [("raw_sales", day)]

    # The nightly audit, evaluated by Dagster, asks for exactly that partition of that asset, with the
    # DynamoDB fingerprint in the run key (the same change twice is the same run key).
    fingerprint = dynamodb_fingerprint("raw_sales", day_dt.date(), dynamodb)
    assert fingerprint != lake_fingerprint(lake, "raw_sales", day_dt.date())
    requests = evaluate_nightly_audit(pipeline_env).run_requests
    assert [(r.partition_key, r.asset_selection) for r in requests] == [(day, [dg.AssetKey("raw_sales")])]
    assert requests[0].run_key == f"raw_sales:{day}:{fingerprint.key()}"
    assert requests[0].tags["gitgoods/reason"] == "nightly-audit"
    assert [r.run_key for r in evaluate_nightly_audit(pipeline_env).run_requests] == [requests[0].run_key]

    assert materialize(pipeline_env, day, [raw_sales]).success
    assert [c for c in changed_partitions(dynamodb, lake, today, lookback=20) if c[1] == day] == []
    assert not evaluate_nightly_audit(pipeline_env).run_requests
    statuses = {
        r["order_id"]: r["status"] for r in read_partition(pipeline_env["lake"].open(), "raw_sales", day).to_pylist()
    }
    assert statuses[orders[0]["order_id"]] == "cancelled"


CRASH_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from datetime import date
    import pipelines.defs.ingest.assets as assets
    import pipelines.ingest.reader as reader
    from pipelines.resources import DynamoResource, LakeResource

    real = reader.read_day
    def slow_read_day(*args, **kwargs):
        for i, page in enumerate(real(*args, **kwargs, page_limit=2)):
            yield page
            if i == 1:
                print("WRITING", flush=True)
                time.sleep(60)  # killed here, in the middle of the partition
    reader.read_day = slow_read_day
    lake_uri, glue_db, prefix, day = sys.argv[1:5]
    assets.ingest_partition("raw_sales", date.fromisoformat(day), DynamoResource(table_prefix=prefix),
                            LakeResource(uri=lake_uri, glue_database=glue_db))
    """
)


def test_a_run_killed_mid_partition_leaves_the_old_partition_whole(pipeline_env, orders_app, catalog_data, settings):
    day_dt = DAY - timedelta(days=3)
    place_orders(orders_app, catalog_data, settings, 6, day_dt, "crash")
    day = day_dt.date().isoformat()
    assert materialize(pipeline_env, day, [raw_sales]).success
    fs = pipeline_env["lake"].open()
    before = read_partition(fs, "raw_sales", day)
    place_orders(orders_app, catalog_data, settings, 6, day_dt + timedelta(hours=3), "crash-more")

    lake = pipeline_env["lake"]
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASH_SCRIPT, lake.uri, lake.glue_database, settings.table_prefix, day],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert proc.stdout.readline().strip() == "WRITING"
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    assert read_partition(fs, "raw_sales", day).sort_by("sk").equals(before.sort_by("sk"))
    result = materialize(pipeline_env, day, [raw_sales])  # the next run reloads and reconciles
    assert result.success and all(e.passed for e in result.get_asset_check_evaluations())
    in_lake = lake_day_totals(fs, "raw_sales", day_dt.date())
    assert in_lake.clean + in_lake.quarantined == len(before) + 6


def test_definitions_load_every_asset_check_and_schedule():
    from pipelines.definitions import defs

    dg.Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    assets = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert {"raw_sales", "raw_order_events"} <= assets
    checks = {k.to_user_string() for k in repo.asset_graph.asset_check_keys}
    assert {"raw_sales:reconciles_with_dynamodb", "raw_order_events:reconciles_with_dynamodb"} <= checks
    assert {s.name for s in repo.schedule_defs} >= {"daily_ingest", "nightly_audit"}
    assert raw_order_events.partitions_def is not None


def test_the_lake_can_live_on_s3(pipeline_env, orders_app, catalog_data, settings):
    s3 = aws.client("s3", settings)
    bucket = f"lake-{settings.table_prefix[:-1]}"
    s3.create_bucket(Bucket=bucket)
    resources = dict(
        pipeline_env, lake=LakeResource(uri=f"s3://{bucket}/gitgoods", glue_database=f"s3{bucket}".replace("-", "_"))
    )
    day_dt = DAY - timedelta(days=4)
    orders = place_orders(orders_app, catalog_data, settings, 5, day_dt, "s3lake")
    day = day_dt.date().isoformat()
    result = materialize(resources, day)
    assert result.success and all(e.passed for e in result.get_asset_check_evaluations())
    sales = read_partition(resources["lake"].open(), "raw_sales", day).to_pylist()
    assert {o["order_id"] for o in orders} <= {r["order_id"] for r in sales}
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="gitgoods/raw/raw_sales/")["Contents"]]
    assert any(k.endswith(".parquet") for k in keys)
    location = aws.client("glue", settings).get_partition(
        DatabaseName=resources["lake"].glue_database, TableName="raw_sales", PartitionValues=[day]
    )["Partition"]["StorageDescriptor"]["Location"]
    assert location.startswith(f"s3://{bucket}/gitgoods/raw/raw_sales/_runs/dt={day}/run=")
