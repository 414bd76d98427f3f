"""The outbox of order events: which events the broker has not confirmed yet.

Every event item of `order_events` is written together with an entry of `order_outbox`, in the
order's own transaction (`OrdersRepo.event`). The relay reads the entries of each shard with a
strongly consistent Query on the table's key, loads the events they point to, and deletes an entry
only once the broker confirmed its message. The table holds only what is in flight, so it stays
small however many orders there are.

The entry is a pointer, not a copy: the message body is the event as stored in `order_events`, the
one the ingest reads too.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from gitgoods.contract.tables import OUTBOX_SHARDS
from storefront.common.ddb import from_item


def shard_key(order_id: str, shards: int = OUTBOX_SHARDS) -> str:
    # By order, so all events of one order share a shard and come out of it in event-id
    # (time) order. crc32, not hash(): it must be the same in every process.
    return f"pending#{zlib.crc32(order_id.encode()) % shards}"


def outbox_entry(event: dict[str, Any]) -> dict[str, Any]:
    """The outbox item written beside `event` in the same transaction."""
    return {
        "relay": shard_key(event.get("order_id") or event["event_id"]),
        "event_id": event["event_id"],
        "event_type": event["event_type"],
        "order_id": event.get("order_id"),
    }


@dataclass(frozen=True)
class Pending:
    shard: str
    event_id: str


class Outbox:
    def __init__(self, ddb: Any, outbox_table: str, events_table: str, shards: int = OUTBOX_SHARDS):
        self.ddb = ddb
        self.outbox_table = outbox_table
        self.events_table = events_table
        self.shards = shards

    def pending(self, shard: int, limit: int) -> list[Pending]:
        """Up to `limit` pending entries of one shard, oldest event first."""
        resp = self.ddb.query(
            TableName=self.outbox_table,
            KeyConditionExpression="#r = :r",
            ExpressionAttributeNames={"#r": "relay"},
            ExpressionAttributeValues={":r": {"S": f"pending#{shard}"}},
            ProjectionExpression="#r, event_id",
            ConsistentRead=True,
            Limit=limit,
        )
        return [Pending(i["relay"]["S"], i["event_id"]["S"]) for i in resp["Items"]]

    def count(self) -> int:
        """Pending entries across all shards (for tests and the runner's log)."""
        total = 0
        for shard in range(self.shards):
            kwargs: dict[str, Any] = {
                "TableName": self.outbox_table,
                "KeyConditionExpression": "#r = :r",
                "ExpressionAttributeNames": {"#r": "relay"},
                "ExpressionAttributeValues": {":r": {"S": f"pending#{shard}"}},
                "Select": "COUNT",
                "ConsistentRead": True,
            }
            while True:
                resp = self.ddb.query(**kwargs)
                total += resp["Count"]
                if "LastEvaluatedKey" not in resp:
                    break
                kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        return total

    def events(self, event_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The events themselves, read strongly consistent (100 keys a request)."""
        found: dict[str, dict[str, Any]] = {}
        ids = list(dict.fromkeys(event_ids))
        for start in range(0, len(ids), 100):
            keys = [{"event_id": {"S": e}} for e in ids[start : start + 100]]
            request: dict[str, Any] = {self.events_table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                resp = self.ddb.batch_get_item(RequestItems=request)
                for raw in resp["Responses"].get(self.events_table, []):
                    item = from_item(raw)
                    found[item["event_id"]] = item
                request = resp.get("UnprocessedKeys") or {}
        return found

    def clear(self, entry: Pending) -> bool:
        """Delete a confirmed entry. False when another relay already did: the condition makes
        sure an entry is cleared once, and a late relay learns it lost the race."""
        try:
            self.ddb.delete_item(
                TableName=self.outbox_table,
                Key={"relay": {"S": entry.shard}, "event_id": {"S": entry.event_id}},
                ConditionExpression="attribute_exists(event_id)",
            )
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
