"""A day partition's fingerprint, computed the same way from DynamoDB and from the lake.

count and sum of amounts catch new and lost items; for sales, whose items change in place when an
order is cancelled or refunded, the number of lines per status and the latest `updated_at` catch
those changes too.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
import pyarrow.compute as pc

from gitgoods.contract.tables import DAY_SHARDS
from gitgoods.settings import Settings
from pipelines.defs.ingest.assets import quarantine_table
from pipelines.ingest.convert.integers import readable_amount
from pipelines.ingest.reader import DynamoDBHttp
from pipelines.ingest.schemas import RAW_TABLES
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.reading import PartitionNotFound, read_partition


@dataclass(frozen=True)
class Fingerprint:
    items: int
    amount: int
    statuses: tuple[tuple[str, int], ...] = ()

    def key(self) -> str:
        text = f"{self.items}:{self.amount}:{self.statuses}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _tracks_status(lake_table: str) -> bool:
    return RAW_TABLES[lake_table][0] == "sales"


def dynamodb_fingerprint(lake_table: str, day: date, settings: Settings) -> Fingerprint:
    source = RAW_TABLES[lake_table][0]
    names = {"#a": "amount_cents", "#d": "day_shard"}
    if _tracks_status(lake_table):
        names["#s"] = "status"
    http = DynamoDBHttp(settings, max_connections=DAY_SHARDS)

    def shard(n: int) -> tuple[int, int, Counter]:
        count, amount, statuses = 0, 0, Counter()
        request: dict[str, Any] = {
            "TableName": settings.table(source),
            "IndexName": "by_day",
            "KeyConditionExpression": "#d = :d",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {":d": {"S": f"{day.isoformat()}#{n}"}},
            "ProjectionExpression": ", ".join(k for k in names if k != "#d"),
        }
        while True:
            doc = orjson.loads(http.call("Query", request))
            count += doc["Count"]
            for item in doc["Items"]:
                amount += readable_amount(item.get("amount_cents")) or 0
                if "#s" in names:
                    statuses[item.get("status", {}).get("S", "?")] += 1
            if not doc.get("LastEvaluatedKey"):
                return count, amount, statuses
            request["ExclusiveStartKey"] = doc["LastEvaluatedKey"]

    try:
        with ThreadPoolExecutor(DAY_SHARDS) as pool:
            parts = list(pool.map(shard, range(DAY_SHARDS)))
    finally:
        http.close()
    statuses = sum((p[2] for p in parts), Counter())
    return Fingerprint(sum(p[0] for p in parts), sum(p[1] for p in parts), tuple(sorted(statuses.items())))


def lake_fingerprint(fs: LakeFS, lake_table: str, day: date) -> Fingerprint:
    source, _, amount_col = RAW_TABLES[lake_table]
    columns = [amount_col] + (["status"] if _tracks_status(lake_table) else [])
    clean = read_partition(fs, lake_table, day.isoformat(), columns=columns)
    statuses: Counter = Counter()
    if _tracks_status(lake_table):
        statuses.update(clean["status"].to_pylist())
    items, amount = clean.num_rows, int(pc.sum(clean[amount_col]).as_py() or 0)
    try:
        bad = read_partition(fs, quarantine_table(source), day.isoformat(), zone="quarantine")
    except PartitionNotFound:
        bad = None
    if bad is not None and bad.num_rows:
        items += bad.num_rows
        amount += int(pc.sum(bad["amount_cents"]).as_py() or 0)
        if _tracks_status(lake_table):
            for raw in bad["item_json"].to_pylist():
                statuses[orjson.loads(raw).get("status", {}).get("S", "?")] += 1
    return Fingerprint(items, amount, tuple(sorted(statuses.items())))
