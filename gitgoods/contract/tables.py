"""Every DynamoDB table of the contract, defined once. `ensure_tables` creates what is missing
and leaves what exists alone, so it is safe to run at every start."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitgoods.settings import Settings

# boto3, botocore and the settings are imported where tables are created or deleted, not here:
# the lean ingest worker reads the table definitions without them.

log = logging.getLogger(__name__)

# Number of shards of the day key (`YYYY-MM-DD#n`) on the ingest indexes: a day partition is
# read by this many parallel Queries and no single key gets hot on a busy day.
DAY_SHARDS = 8

# The change stream of the tables the lake follows (`pipelines.stream`): every change with the item
# before and after it, so a late refund reaches its day's partition within a micro-batch.
STREAM_VIEW = "NEW_AND_OLD_IMAGES"

# Number of shards of the order-event outbox (`pending#n`, see `order_outbox` below): the relay
# reads each with one strongly consistent Query, and no single key takes every order's write.
OUTBOX_SHARDS = 8

# Number of shards of the unpaid-order markers (`unpaid#n`, see `unpaid_orders` below): the sweep
# reads each with one strongly consistent Query for the markers already due.
UNPAID_SHARDS = 8


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: str
    range_key: str | None = None


@dataclass(frozen=True)
class Table:
    name: str
    hash_key: str
    range_key: str | None = None
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None
    stream: bool = False  # a DynamoDB stream of STREAM_VIEW (see `ensure_streams`)
    attribute_types: dict[str, str] = field(default_factory=dict)

    def key_attributes(self) -> set[str]:
        names = {self.hash_key, self.range_key}
        for index in self.indexes:
            names |= {index.hash_key, index.range_key}
        return {n for n in names if n}

    def create_request(self, physical_name: str) -> dict[str, Any]:
        def schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
            keys = [{"AttributeName": hash_key, "KeyType": "HASH"}]
            if range_key:
                keys.append({"AttributeName": range_key, "KeyType": "RANGE"})
            return keys

        request: dict[str, Any] = {
            "TableName": physical_name,
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": schema(self.hash_key, self.range_key),
            "AttributeDefinitions": [
                {"AttributeName": n, "AttributeType": self.attribute_types.get(n, "S")}
                for n in sorted(self.key_attributes())
            ],
        }
        if self.indexes:
            request["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": ix.name,
                    "KeySchema": schema(ix.hash_key, ix.range_key),
                    "Projection": {"ProjectionType": "ALL"},
                }
                for ix in self.indexes
            ]
        if self.stream:
            request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": STREAM_VIEW}
        return request


TABLES: dict[str, Table] = {
    "catalog": Table(
        "catalog",
        "product_id",
        indexes=(Index("by_seller", "seller_id", "product_id"),),
    ),
    "sellers": Table("sellers", "seller_id"),
    "customers": Table("customers", "customer_id"),
    "orders": Table("orders", "order_id"),
    # One item per Idempotency-Key (hashed): which order it made and a digest of the body.
    "idempotency": Table("idempotency", "key_hash", ttl_attribute="expires_at"),
    "sales": Table(
        "sales",
        "seller_id",
        "sk",  # sold_at#order_id#line
        indexes=(Index("by_day", "day_shard", "sk"),),
        stream=True,
    ),
    "order_events": Table(
        "order_events",
        "event_id",
        indexes=(Index("by_day", "day_shard", "event_id"),),
        stream=True,
    ),
    # The transactional outbox of `order_events`: one small item per event not yet confirmed by
    # the message broker, written in the same transaction as the event and deleted by the relay
    # (`storefront.events.relay`) once the broker has confirmed it. The marker cannot live on the
    # event item itself: the event schema has `additionalProperties: false` and the ingest
    # quarantines an event with any attribute beyond it. Keyed by shard so pending events are
    # found with a Query on the table's own key (strongly consistent, no index to backfill).
    "order_outbox": Table("order_outbox", "relay", "event_id"),
    # One marker per order not yet paid, `due` = `<pay-by time>#<order_id>`: written with the order,
    # deleted by the transaction that pays or cancels it. The sweep that cancels unpaid orders
    # (`storefront.orders.sweep`) finds the overdue ones with a key Query per shard (`due < now`):
    # no Scan of `orders`, no index to backfill, and the table holds only unpaid orders.
    "unpaid_orders": Table("unpaid_orders", "shard", "due"),
}


def physical_name(name: str, settings: Settings | None = None) -> str:
    from gitgoods.settings import get_settings

    return (settings or get_settings()).table(name)


def ensure_tables(settings: Settings | None = None, ddb: Any = None) -> list[str]:
    """Create the missing tables, wait until they are active. Returns the names created."""
    from botocore.exceptions import ClientError

    from gitgoods import aws
    from gitgoods.settings import get_settings

    settings = settings or get_settings()
    ddb = ddb or aws.client("dynamodb", settings)
    existing: set[str] = set()
    for page in ddb.get_paginator("list_tables").paginate():
        existing.update(page["TableNames"])
    created = []
    for table in TABLES.values():
        name = settings.table(table.name)
        if name in existing:
            continue
        try:
            ddb.create_table(**table.create_request(name))
            created.append(name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceInUseException":
                raise
    for name in created:
        ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
        table = TABLES[name.removeprefix(settings.table_prefix)]
        if table.ttl_attribute:
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )
        log.info("created table %s", name)
    ensure_streams(settings, ddb)
    return created


def ensure_streams(settings: Settings | None = None, ddb: Any = None) -> list[str]:
    """Turn on the stream of every table that should have one and has none (a table created before
    streams were part of its definition): idempotent, a table whose stream is on is left alone.
    Returns the names whose stream was turned on."""
    from gitgoods import aws
    from gitgoods.settings import get_settings

    settings = settings or get_settings()
    ddb = ddb or aws.client("dynamodb", settings)
    enabled = []
    for table in TABLES.values():
        if not table.stream:
            continue
        name = settings.table(table.name)
        spec = ddb.describe_table(TableName=name)["Table"].get("StreamSpecification") or {}
        if spec.get("StreamEnabled") and spec.get("StreamViewType") == STREAM_VIEW:
            continue
        if spec.get("StreamEnabled"):  # another view type: a table has one stream, replaced here
            ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
            ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
        ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": STREAM_VIEW})
        ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
        enabled.append(name)
        log.info("turned on the stream of %s", name)
    return enabled


def stream_arn(name: str, settings: Settings | None = None, ddb: Any = None) -> str | None:
    """The ARN of a contract table's current stream, or None if it has none."""
    from gitgoods import aws
    from gitgoods.settings import get_settings

    settings = settings or get_settings()
    ddb = ddb or aws.client("dynamodb", settings)
    return ddb.describe_table(TableName=settings.table(name))["Table"].get("LatestStreamArn")


def delete_tables(settings: Settings | None = None, ddb: Any = None) -> None:
    from botocore.exceptions import ClientError

    from gitgoods import aws
    from gitgoods.settings import get_settings

    settings = settings or get_settings()
    ddb = ddb or aws.client("dynamodb", settings)
    for table in TABLES.values():
        try:
            ddb.delete_table(TableName=settings.table(table.name))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
