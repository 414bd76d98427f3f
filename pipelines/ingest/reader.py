"""Read one day partition of a contract table from its `by_day` index, fast and memory-bounded.

The day key is sharded (`YYYY-MM-DD#0..7`), so a day is read by one Query chain per shard, in
parallel threads, each following `LastEvaluatedKey`. The requests bypass botocore's response
parser (about 4k items/s on this kind of item): `DynamoDBHttp` builds the JSON body, signs it
with botocore's SigV4 signer and the session's credentials, POSTs it over a pooled urllib3
connection and hands back the raw bytes, which `convert.convert_body` parses straight into Arrow
(pyarrow's JSON reader releases the GIL, so the shard threads convert in parallel too).

Pages go to the consumer through a bounded queue: at most `queue_pages` converted pages wait,
plus one in flight per thread, whatever the size of the day.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from gitgoods import aws
from gitgoods.contract.tables import DAY_SHARDS, TABLES
from gitgoods.settings import Settings
from pipelines.ingest.convert import AMOUNT_ATTRIBUTE, PageResult, contract_table, convert_body, readable_amount

log = logging.getLogger(__name__)

INDEX_NAME = "by_day"
API_VERSION = "DynamoDB_20120810"
CONTENT_TYPE = "application/x-amz-json-1.0"

# Error codes (`__type` after the `#`) worth another attempt, as botocore's standard retry mode has them.
RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottledException",
        "RequestThrottled",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "LimitExceededException",
        "TransactionInProgressException",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)


class DynamoDBError(Exception):
    """An error answer of DynamoDB (or a transport failure), with its code."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}" + (f" (HTTP {status})" if status else ""))
        self.code = code
        self.message = message
        self.status = status


class RetryableError(DynamoDBError):
    """Throttling, a 5xx, a broken connection or a damaged body: worth another attempt."""


def _credentials(settings: Settings) -> Any:
    # The same (refreshable) credentials as every boto3 client of the project.
    credentials = aws.session(settings).get_credentials()
    if credentials is None:
        raise DynamoDBError("NoCredentials", "no AWS credentials found for the DynamoDB reader")
    return credentials


class DynamoDBHttp:
    """Signed DynamoDB JSON-protocol calls that return the raw response body.

    One instance is shared by threads (urllib3's pool is thread-safe). Retries throttling, 5xx,
    transport errors and CRC mismatches with jittered exponential backoff (tenacity).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        max_connections: int = 16,
        attempts: int = 10,
        backoff: float = 0.05,
        max_backoff: float = 10.0,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
    ) -> None:
        self.region = settings.region
        endpoint = settings.dynamodb_endpoint or f"https://dynamodb.{settings.region}.amazonaws.com"
        self.url = endpoint.rstrip("/") + "/"
        self._credentials = _credentials(settings)
        pool_kwargs: dict[str, Any] = {}
        if self.url.startswith("https:"):
            try:
                import certifi

                pool_kwargs["ca_certs"] = certifi.where()
            except ImportError:  # the system's store
                pass
        self._http = urllib3.PoolManager(
            num_pools=4,
            maxsize=max_connections,
            retries=False,
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            **pool_kwargs,
        )
        self._retrying = Retrying(
            retry=retry_if_exception_type(RetryableError),
            stop=stop_after_attempt(attempts),
            wait=wait_random_exponential(multiplier=backoff, max=max_backoff),
            before_sleep=self._count_retry,
            reraise=True,
        )
        self._lock = threading.Lock()
        self.requests = 0  # attempts sent, retries included
        self.retries = 0

    def _count_retry(self, state: Any) -> None:
        with self._lock:
            self.retries += 1
        log.info("DynamoDB %s, attempt %d: %s", state.fn.__name__, state.attempt_number, state.outcome.exception())

    def _headers(self, operation: str, body: bytes) -> dict[str, str]:
        request = AWSRequest(
            method="POST",
            url=self.url,
            data=body,
            headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": f"{API_VERSION}.{operation}"},
        )
        SigV4Auth(self._credentials.get_frozen_credentials(), "dynamodb", self.region).add_auth(request)
        return dict(request.headers.items())

    def call(self, operation: str, payload: dict[str, Any]) -> bytes:
        """POST one request (with retries); the raw JSON body of the successful answer."""
        body = orjson.dumps(payload)
        return self._retrying(self._once, operation, body)

    def _once(self, operation: str, body: bytes) -> bytes:
        with self._lock:
            self.requests += 1
        headers = self._headers(operation, body)  # signed per attempt: the date is part of it
        try:
            response = self._http.request("POST", self.url, body=body, headers=headers, preload_content=True)
        except urllib3.exceptions.HTTPError as exc:
            raise RetryableError(type(exc).__name__, str(exc)) from exc
        data = response.data
        if response.status == 200:
            crc = response.headers.get("x-amz-crc32")
            if crc is not None and zlib.crc32(data) != int(crc):
                raise RetryableError("CRC32CheckFailed", "the response body does not match its x-amz-crc32", 200)
            return data
        code, message = _error(data)
        if response.status >= 500 or code in RETRYABLE_CODES:
            raise RetryableError(code, message, response.status)
        raise DynamoDBError(code, message, response.status)

    def close(self) -> None:
        self._http.clear()


def _error(data: bytes) -> tuple[str, str]:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        doc = None
    if not isinstance(doc, dict):
        return "UnknownError", data[:200].decode(errors="replace")
    code = str(doc.get("__type", "UnknownError")).rsplit("#", 1)[-1]
    return code, str(doc.get("message") or doc.get("Message") or "")


def _shard_key(day: dt.date, shard: int) -> str:
    return f"{day.isoformat()}#{shard}"


def _query(settings: Settings, table: str, day: dt.date, shard: int, **extra: Any) -> dict[str, Any]:
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
    settings: Settings,
    *,
    max_workers: int = 8,
    queue_pages: int | None = None,
    page_limit: int | None = None,
    http: DynamoDBHttp | None = None,
) -> Iterator[PageResult]:
    """Every item of `table` (a contract name: `sales`, `order_events`) whose day key is `day`.

    Yields one `PageResult` per Query page (clean batch, quarantine rows, raw count and amount),
    in arrival order across shards. `page_limit` sets the Query `Limit` (items per page; DynamoDB
    stops a page at 1 MB anyway). Closing the generator early stops the threads.
    """
    table = contract_table(table)
    if isinstance(day, str):
        day = dt.date.fromisoformat(day)
    workers = max(1, min(max_workers, DAY_SHARDS))
    own_http = http is None
    client = http or DynamoDBHttp(settings, max_connections=max(workers, 1))
    pages: queue.Queue[Any] = queue.Queue(maxsize=queue_pages or 2 * workers)
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
                    body = client.call("Query", _query(settings, table, day, shard, **extra))
                    result, last_key = convert_body(body, table, day)
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


def count_and_sum_day(
    table: str,
    day: dt.date,
    settings: Settings,
    *,
    max_workers: int = 8,
    http: DynamoDBHttp | None = None,
) -> tuple[int, int]:
    """(item count, sum of the readable `amount_cents`) of a day partition, read from DynamoDB.

    Reads only the amount (`ProjectionExpression`), with the same shard fan-out and retries as
    `read_day`; an amount is readable exactly when `read_day` reads it (an integer `N`), so
    `count == clean + quarantined` and `sum == clean amounts + quarantined amounts` on a lake
    partition that is complete.
    """
    table = contract_table(table)
    if isinstance(day, str):
        day = dt.date.fromisoformat(day)
    client = http or DynamoDBHttp(settings, max_connections=max_workers)

    def shard_totals(shard: int) -> tuple[int, int]:
        count = amount = 0
        extra: dict[str, Any] = {
            "ProjectionExpression": "#a",
            "ExpressionAttributeNames": {"#a": AMOUNT_ATTRIBUTE},
        }
        while True:
            doc = orjson.loads(client.call("Query", _query(settings, table, day, shard, **extra)))
            count += doc["Count"]
            for item in doc["Items"]:
                value = readable_amount(item.get(AMOUNT_ATTRIBUTE))
                if value is not None:
                    amount += value
            last_key = doc.get("LastEvaluatedKey")
            if not last_key:
                return count, amount
            extra["ExclusiveStartKey"] = last_key

    try:
        with ThreadPoolExecutor(max_workers=max(1, min(max_workers, DAY_SHARDS))) as pool:
            totals = list(pool.map(shard_totals, range(DAY_SHARDS)))
    finally:
        if http is None:
            client.close()
    return sum(c for c, _ in totals), sum(a for _, a in totals)
