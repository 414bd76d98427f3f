"""Two stream edge cases on DynamoDB Local, each day compared row for row with the batch ingest's:
a sales item whose `day_shard` changes between the old and the new image leaves its old day's
partition and lands in the new one, one published run per day in the same micro-batch; and an item
quarantined when it arrived and later fixed by an update lands in raw and leaves the quarantine - in
its own day, and when the fix also moves it out of the day its wrong `day_shard` put it in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from gitgoods import aws
from pipelines.lake.fs import LakeFS
from pipelines.stream.consumer import StreamConsumer
from tests.helpers import scan_all
from tests.test_ingest_assets import DAY, place_orders
from tests.test_stream_capture import assert_equals_batch, drain, quarantined, raw

pytestmark = pytest.mark.stack


def sales_item(settings, order: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The DynamoDB item of the order's first line."""
    items = [i for i in scan_all(settings, "sales") if i.get("order_id", {}).get("S") == order["order_id"]]
    assert items
    return min(items, key=lambda i: i["sk"]["S"])


def on_day(item: dict[str, Any], day) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The item with its day_shard on `day` (the same shard number)."""
    shard = item["day_shard"]["S"].split("#")[1]
    return {**item, "day_shard": {"S": f"{day:%Y-%m-%d}#{shard}"}}


def keys(lake: LakeFS, day) -> set[str]:  # type: ignore[no-untyped-def]
    rows = raw(lake, "raw_sales", day.date().isoformat()).to_pylist()
    return {f"{r['seller_id']}|{r['sk']}" for r in rows}


def quarantined_keys(lake: LakeFS, day) -> set[str]:  # type: ignore[no-untyped-def]
    return {row[0] for row in quarantined(lake, "raw_sales", day.date().isoformat())}


def key_of(item: dict[str, Any]) -> str:
    return f"{item['seller_id']['S']}|{item['sk']['S']}"


def extra_line(item: dict[str, Any], line: int) -> dict[str, Any]:
    """Another line of the item's order (a new item: its key is sold_at#order_id#line)."""
    sk = f"{item['sold_at']['S']}#{item['order_id']['S']}#{line:02d}"
    return {**item, "line": {"N": str(line)}, "sk": {"S": sk}}


def orders_on_two_days(orders_app, catalog_data, settings, tmp_path, first, second, n, tag):  # type: ignore[no-untyped-def]
    """A consumer on a new lake, past what the session wrote; `n` orders on `first` and one on
    `second`, applied. Returns the consumer, its lake and the orders of `first`."""
    lake = LakeFS.from_uri(tmp_path / "stream-lake")
    consumer = StreamConsumer(settings, lake)
    drain(consumer)
    orders = place_orders(orders_app, catalog_data, settings, n, first, f"{tag}-1")
    place_orders(orders_app, catalog_data, settings, 1, second, f"{tag}-2")
    drain(consumer)
    return consumer, lake, orders


def test_an_item_whose_day_changes_leaves_the_old_day_and_lands_in_the_new(
    orders_app, catalog_data, settings, tmp_path
):  # type: ignore[no-untyped-def]
    old_day, new_day = DAY - timedelta(days=30), DAY - timedelta(days=31)
    consumer, lake, orders = orders_on_two_days(orders_app, catalog_data, settings, tmp_path, old_day, new_day, 2,
                                                "edge-move")  # fmt: skip
    ddb, table = aws.client("dynamodb", settings), settings.table("sales")
    item = sales_item(settings, orders[0])
    assert key_of(item) in keys(lake, old_day)

    # Its day_shard moves to another day: the item leaves the old day's raw partition and lands in
    # the new day's partition - in its quarantine, since its sale time (and key) are of the old day.
    ddb.put_item(TableName=table, Item=on_day(item, new_day))  # a MODIFY
    step = consumer.step()
    runs = {d.day: d.run_ids for d in step.days if d.lake_table == "raw_sales"}
    assert runs.keys() == {old_day.date().isoformat(), new_day.date().isoformat()}
    assert "raw" in runs[old_day.date().isoformat()] and "quarantine" in runs[new_day.date().isoformat()]
    assert key_of(item) not in keys(lake, old_day) | keys(lake, new_day)
    assert key_of(item) in quarantined_keys(lake, new_day)
    drain(consumer)
    assert_equals_batch(lake, settings, tmp_path, old_day.date())
    assert_equals_batch(lake, settings, tmp_path, new_day.date())

    # And back: it leaves the new day's quarantine and is a clean row of its old day again.
    ddb.put_item(TableName=table, Item=item)
    drain(consumer)
    assert key_of(item) in keys(lake, old_day)
    assert key_of(item) not in quarantined_keys(lake, new_day) | quarantined_keys(lake, old_day)
    assert_equals_batch(lake, settings, tmp_path, old_day.date())
    assert_equals_batch(lake, settings, tmp_path, new_day.date())


def test_a_quarantined_item_fixed_by_an_update_lands_in_raw_and_leaves_the_quarantine(
    orders_app, catalog_data, settings, tmp_path
):  # type: ignore[no-untyped-def]
    day, wrong_day = DAY - timedelta(days=32), DAY - timedelta(days=33)
    consumer, lake, orders = orders_on_two_days(orders_app, catalog_data, settings, tmp_path, day, wrong_day, 3,
                                                "edge-fix")  # fmt: skip
    ddb, table = aws.client("dynamodb", settings), settings.table("sales")
    # A line written with a quantity that is not a number: quarantined in its day.
    item = sales_item(settings, orders[0])
    bad = {**extra_line(item, 19), "qty": {"S": "three"}}
    # A line whose day_shard names another day than its sale: quarantined in the day_shard's day.
    misplaced = on_day(extra_line(sales_item(settings, orders[1]), 19), wrong_day)
    for written in (bad, misplaced):
        ddb.put_item(TableName=table, Item=written)
    drain(consumer)
    assert key_of(bad) in quarantined_keys(lake, day) and key_of(bad) not in keys(lake, day)
    assert key_of(misplaced) in quarantined_keys(lake, wrong_day)
    assert key_of(misplaced) not in keys(lake, day) | keys(lake, wrong_day)

    # Both fixed by an update of the same item.
    ddb.put_item(TableName=table, Item={**bad, "qty": item["qty"]})
    ddb.put_item(TableName=table, Item=on_day(misplaced, day))
    drain(consumer)
    assert {key_of(bad), key_of(misplaced)} <= keys(lake, day)
    assert not {key_of(bad), key_of(misplaced)} & (quarantined_keys(lake, day) | quarantined_keys(lake, wrong_day))
    assert_equals_batch(lake, settings, tmp_path, day.date())
    assert_equals_batch(lake, settings, tmp_path, wrong_day.date())
