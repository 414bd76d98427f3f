"""A day partition's totals, counted the same way in DynamoDB and in the lake.

Two uses, one count on each side:

- reconciliation (the blocking check `reconciles_with_dynamodb`, `reconcile_day`): DynamoDB's item
  count and sum of readable amounts of the day must equal the lake's clean plus quarantined rows
  and amounts - of the current partitions, or of the runs a load has just staged, before they are
  published (write-audit-publish, `pipelines.ingest.load`);
- the fingerprint (the `nightly_audit` schedule, and the stream consumer after a trimmed stream):
  the same count and sum and, for sales, whose items change in place when an order is cancelled or
  refunded, the number of lines per status, so a
  partition whose items changed after it was loaded is found and loaded again.

The DynamoDB side reads only the attributes it counts (`ProjectionExpression`), with the same
shard fan-out and retries as `pipelines.ingest.reader.read_day`; an amount is readable exactly
when `read_day` reads it (an integer `N`), so the counts compare with a complete lake partition
exactly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow.compute as pc

from gitgoods.contract.tables import DAY_SHARDS
from pipelines.ingest.convert.integers import readable_amount
from pipelines.ingest.convert.wire import AMOUNT_ATTRIBUTE, contract_table
from pipelines.ingest.reader import DynamoDBHttp, day_query
from pipelines.ingest.schemas import RAW_TABLES, quarantine_table
from pipelines.lake.partitions.reading import PartitionNotFound, read_partition

if TYPE_CHECKING:
    from gitgoods.settings import Settings
    from pipelines.aws_http import AwsTarget
    from pipelines.lake.fs import LakeFS

STATUS_ATTRIBUTE = "status"
UNKNOWN_STATUS = "?"  # an item without a string status (DynamoDB side and quarantined items)
LOOKBACK_DAYS = 35  # refunds come up to about a month after the sale: older days do not change

__all__ = [
    "LOOKBACK_DAYS",
    "DayTotals",
    "LakeDayTotals",
    "Reconciliation",
    "changed_partitions",
    "count_and_sum_day",
    "dynamodb_day_totals",
    "dynamodb_fingerprint",
    "lake_day_totals",
    "lake_fingerprint",
    "reconcile_day",
]


@dataclass(frozen=True)
class DayTotals:
    """Items, sum of their readable amounts and (when counted) lines per status, sorted."""

    items: int
    amount: int
    statuses: tuple[tuple[str, int], ...] = ()

    def key(self) -> str:
        """A short digest of the totals: the nightly audit's run key carries it."""
        text = f"{self.items}:{self.amount}:{self.statuses}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class LakeDayTotals:
    """A lake partition's clean and quarantined rows and amounts (and lines per status)."""

    clean: int
    clean_amount: int
    quarantined: int
    quarantined_amount: int
    statuses: tuple[tuple[str, int], ...] = ()

    def total(self) -> DayTotals:
        """The totals DynamoDB's count of a completely loaded day equals."""
        return DayTotals(self.clean + self.quarantined, self.clean_amount + self.quarantined_amount, self.statuses)


def _sorted(statuses: Counter) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(statuses.items()))


def _item_status(item: dict[str, Any]) -> str:
    return item.get(STATUS_ATTRIBUTE, {}).get("S", UNKNOWN_STATUS)


def dynamodb_day_totals(
    table: str,
    day: dt.date | str,
    settings: Settings | AwsTarget,
    *,
    statuses: bool = False,
    max_workers: int = DAY_SHARDS,
    http: DynamoDBHttp | None = None,
) -> DayTotals:
    """Item count and sum of readable amounts of a day of `table` (a contract name), read from
    DynamoDB; with `statuses`, the number of items per `status` too."""
    table = contract_table(table)
    if isinstance(day, str):
        day = dt.date.fromisoformat(day)
    names = {"#a": AMOUNT_ATTRIBUTE}
    if statuses:
        names["#s"] = STATUS_ATTRIBUTE
    client = http or DynamoDBHttp(settings, max_connections=max_workers)

    def shard_totals(shard: int) -> tuple[int, int, Counter]:
        count = amount = 0
        seen: Counter = Counter()
        extra: dict[str, Any] = {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}
        while True:
            doc = orjson.loads(client.call("Query", day_query(settings, table, day, shard, **extra)))
            count += doc["Count"]
            for item in doc["Items"]:
                amount += readable_amount(item.get(AMOUNT_ATTRIBUTE)) or 0
                if statuses:
                    seen[_item_status(item)] += 1
            last_key = doc.get("LastEvaluatedKey")
            if not last_key:
                return count, amount, seen
            extra["ExclusiveStartKey"] = last_key

    try:
        with ThreadPoolExecutor(max_workers=max(1, min(max_workers, DAY_SHARDS))) as pool:
            parts = list(pool.map(shard_totals, range(DAY_SHARDS)))
    finally:
        if http is None:
            client.close()
    return DayTotals(sum(p[0] for p in parts), sum(p[1] for p in parts), _sorted(sum((p[2] for p in parts), Counter())))


def count_and_sum_day(
    table: str,
    day: dt.date | str,
    settings: Settings | AwsTarget,
    *,
    max_workers: int = DAY_SHARDS,
    http: DynamoDBHttp | None = None,
) -> tuple[int, int]:
    """(item count, sum of the readable `amount_cents`) of a day partition, read from DynamoDB."""
    totals = dynamodb_day_totals(table, day, settings, max_workers=max_workers, http=http)
    return totals.items, totals.amount


def _amount_sum(values: Any) -> int:
    return int(pc.sum(values).as_py() or 0)


def lake_day_totals(
    fs: LakeFS, lake_table: str, day: dt.date, *, statuses: bool = False, runs: tuple[str, str] | None = None
) -> LakeDayTotals:
    """The clean and quarantined rows and amounts of a lake partition; with `statuses`, the rows
    per status too (a quarantined row's status comes from its raw item). `runs` (clean run id,
    quarantine run id) counts those runs instead of the current versions, e.g. runs staged for
    their audit. Raises `PartitionNotFound` when the clean partition (or run) is not in the lake."""
    source, _, amount = RAW_TABLES[lake_table]
    clean_run, bad_run = runs or (None, None)
    clean = read_partition(
        fs, lake_table, day.isoformat(), columns=[amount] + ([STATUS_ATTRIBUTE] if statuses else []), run_id=clean_run
    )
    seen: Counter = Counter()
    if statuses:
        seen.update(clean[STATUS_ATTRIBUTE].to_pylist())
    try:
        bad = read_partition(
            fs, quarantine_table(source), day.isoformat(), zone="quarantine",
            columns=["amount_cents"] + (["item_json"] if statuses else []), run_id=bad_run,
        )
    except PartitionNotFound:
        bad_rows, bad_amount = 0, 0
    else:
        bad_rows, bad_amount = bad.num_rows, _amount_sum(bad["amount_cents"])
        if statuses:
            seen.update(_item_status(orjson.loads(raw)) for raw in bad["item_json"].to_pylist())
    return LakeDayTotals(clean.num_rows, _amount_sum(clean[amount]), bad_rows, bad_amount, _sorted(seen))


@dataclass(frozen=True)
class Reconciliation:
    """The outcome of `reconcile_day`: passed or not, how severe a difference is, the counts on
    both sides and their differences (or why nothing could be counted)."""

    passed: bool
    severity: str  # "ERROR", or "WARN" for today's still-open day (a difference there is new data)
    counts: dict[str, int]
    reason: str = ""

    @property
    def publishable(self) -> bool:
        """Whether runs with this outcome may become current: passed, or only a warning."""
        return self.passed or self.severity == "WARN"


def reconcile_day(
    lake_table: str,
    day: dt.date,
    settings: Settings | AwsTarget,
    fs: LakeFS,
    *,
    runs: tuple[str, str] | None = None,
    http: DynamoDBHttp | None = None,
) -> Reconciliation:
    """DynamoDB's count and sum of amounts of the day against the lake's clean plus quarantined
    rows: of the current partitions, or of `runs` (clean run id, quarantine run id)."""
    items, amount = count_and_sum_day(RAW_TABLES[lake_table][0], day, settings, http=http)
    try:
        in_lake = lake_day_totals(fs, lake_table, day, runs=runs)
    except PartitionNotFound:
        return Reconciliation(False, "ERROR", {}, "the partition is not in the lake")
    clean, bad, lake_amount = in_lake.clean, in_lake.quarantined, in_lake.total().amount
    passed = items == clean + bad and amount == lake_amount
    # Today is still being written to: a difference there means new data, not a loss.
    open_day = day >= dt.datetime.now(dt.UTC).date()
    counts = {
        "dynamodb_items": items,
        "dynamodb_amount_cents": amount,
        "lake_clean_rows": clean,
        "lake_quarantined_rows": bad,
        "lake_amount_cents": lake_amount,
        "difference_items": items - clean - bad,
        "difference_amount_cents": amount - lake_amount,
    }
    severity = "WARN" if open_day and not passed else "ERROR"
    return Reconciliation(passed, severity, counts)


def _tracks_status(lake_table: str) -> bool:
    """Sales change in place (cancelled, refunded): their statuses are part of the fingerprint."""
    return RAW_TABLES[lake_table][0] == "sales"


def dynamodb_fingerprint(lake_table: str, day: dt.date, settings: Settings | AwsTarget) -> DayTotals:
    return dynamodb_day_totals(RAW_TABLES[lake_table][0], day, settings, statuses=_tracks_status(lake_table))


def lake_fingerprint(fs: LakeFS, lake_table: str, day: dt.date) -> DayTotals:
    return lake_day_totals(fs, lake_table, day, statuses=_tracks_status(lake_table)).total()


def changed_partitions(
    settings: Settings | AwsTarget, fs: LakeFS, today: dt.date, lookback: int = LOOKBACK_DAYS
) -> list[tuple[str, str, str]]:
    """(lake table, day, DynamoDB fingerprint key) of every partition of the last `lookback` days
    and today already in the lake whose fingerprint differs from DynamoDB's. A day not in the lake
    is skipped: loading it is the schedule's or a backfill's work."""
    changed = []
    for lake_table in RAW_TABLES:
        for back in range(lookback, -1, -1):
            day = today - dt.timedelta(days=back)
            try:
                in_lake = lake_fingerprint(fs, lake_table, day)
            except PartitionNotFound:
                continue
            in_dynamodb = dynamodb_fingerprint(lake_table, day, settings)
            if in_dynamodb != in_lake:
                changed.append((lake_table, day.isoformat(), in_dynamodb.key()))
    return changed
