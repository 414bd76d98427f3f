"""Read one day partition of a contract table from its `by_day` index, fast and memory-bounded.

The day key is sharded (`YYYY-MM-DD#0..7`), so a day is read by one Query chain per shard, in
parallel threads, each following `LastEvaluatedKey`. The requests bypass botocore's response
parser (about 4k items/s on this kind of item): `DynamoDBHttp` builds the JSON body, signs it
with botocore's SigV4 signer (`pipelines.aws_http`, no boto3 session), POSTs it over a pooled
urllib3 connection and hands back the raw bytes, which `convert.rows.convert_body` parses straight into Arrow
(pyarrow's JSON reader releases the GIL, so the shard threads convert in parallel too).

Pages go to the consumer through a bounded queue: at most `queue_pages` converted pages wait,
plus one in flight per thread, whatever the size of the day.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from gitgoods.contract.tables import DAY_SHARDS, TABLES
from pipelines.aws_http import RETRYABLE_CODES, AwsError, RetryableError, SignedJsonClient, credentials_for
from pipelines.ingest.convert.results import PageResult
from pipelines.ingest.convert.rows import convert_body
from pipelines.ingest.convert.wire import contract_table

if TYPE_CHECKING:
    from gitgoods.settings import Settings
    from pipelines.aws_http import AwsTarget

log = logging.getLogger(__name__)

INDEX_NAME = "by_day"
API_VERSION = "DynamoDB_20120810"
CONTENT_TYPE = "application/x-amz-json-1.0"

DynamoDBError = AwsError  # an error answer of DynamoDB (or a transport failure), with its code
__all__ = ["RETRYABLE_CODES", "DynamoDBError", "DynamoDBHttp", "RetryableError", "day_query", "read_day"]


class DynamoDBHttp(SignedJsonClient):
    """Signed DynamoDB JSON-protocol calls that return the raw response body.

    `settings` is the project's `Settings` or a plain `AwsTarget` (what the ingest worker gets):
    the endpoint, region and credentials come from it. One instance is shared by threads.
    """

    def __init__(self, settings: Settings | AwsTarget, **kwargs: Any) -> None:
        endpoint = settings.dynamodb_endpoint or f"https://dynamodb.{settings.region}.amazonaws.com"
        super().__init__(
            endpoint.rstrip("/") + "/",
            "dynamodb",
            settings.region,
            credentials_for(settings),
            target_prefix=API_VERSION,
            content_type=CONTENT_TYPE,
            **kwargs,
        )


def _shard_key(day: dt.date, shard: int) -> str:
    return f"{day.isoformat()}#{shard}"


def day_query(settings: Settings | AwsTarget, table: str, day: dt.date, shard: int, **extra: Any) -> dict[str, Any]:
    """The Query request of one shard of a day on the `by_day` index, with `extra` parameters."""
    if INDEX_NAME not in {ix.name for ix in TABLES[table].indexes}:
        raise ValueError(f"table {table!r} has no {INDEX_NAME} index")
    return {
        "TableName": settings.table(table),
        "IndexName": INDEX_NAME,
        "KeyConditionExpression": "day_shard = :d",
        "ExpressionAttributeValues": {":d": {"S": _shard_key(day, shard)}},
        **extra,
    }


class _Done:
    pass


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def read_day(
    table: str,
    day: dt.date,
    settings: Settings | AwsTarget,
    *,
    max_workers: int = 8,
    queue_pages: int | None = None,
    page_limit: int | None = None,
    http: DynamoDBHttp | None = None,
    max_converting: int | None = None,
) -> Iterator[PageResult]:
    """Every item of `table` (a contract name: `sales`, `order_events`) whose day key is `day`.

    Yields one `PageResult` per Query page (clean batch, quarantine rows, raw count and amount),
    in arrival order across shards. `page_limit` sets the Query `Limit` (items per page; DynamoDB
    stops a page at 1 MB anyway). Closing the generator early stops the threads.

    `max_workers` Query chains wait on DynamoDB at once, but at most `max_converting` pages (by
    default one per CPU) are converted at once: a page being converted holds its body, the parsed
    wire columns and the output, several times the body's size, and more at once than there are
    CPUs only adds memory.
    """
    table = contract_table(table)
    if isinstance(day, str):
        day = dt.date.fromisoformat(day)
    workers = max(1, min(max_workers, DAY_SHARDS))
    own_http = http is None
    client = http or DynamoDBHttp(settings, max_connections=max(workers, 1))
    pages: queue.Queue[Any] = queue.Queue(maxsize=queue_pages or 2 * workers)
    converting = threading.BoundedSemaphore(max(1, min(workers, max_converting or os.cpu_count() or 2)))
    shards: queue.SimpleQueue[int] = queue.SimpleQueue()
    for shard in range(DAY_SHARDS):
        shards.put(shard)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                pages.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            while not stop.is_set():
                try:
                    shard = shards.get_nowait()
                except queue.Empty:
                    break
                extra: dict[str, Any] = {"Limit": page_limit} if page_limit else {}
                while not stop.is_set():
                    body = client.call("Query", day_query(settings, table, day, shard, **extra))
                    with converting:
                        result, last_key = convert_body(body, table, day)
                    del body
                    result.shard = shard
                    if not put(result) or not last_key:
                        break
                    extra["ExclusiveStartKey"] = last_key
            put(_Done())
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Failed(exc))

    threads = [threading.Thread(target=work, name=f"read-{table}-{day}-{i}", daemon=True) for i in range(workers)]
    for thread in threads:
        thread.start()
    try:
        done = 0
        while done < workers:
            item = pages.get()
            if isinstance(item, _Done):
                done += 1
            elif isinstance(item, _Failed):
                raise item.exc
            else:
                yield item
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=0.5)
        if own_http:
            client.close()
