"""Reading a day partition from DynamoDB Local (8 shards, pagination, neighbours left alone),
count-and-sum for reconciliation, retries against a loopback server, and DynamoDB exports."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pyarrow.fs as pafs
import pytest

from gitgoods import aws
from gitgoods.contract.tables import ensure_tables
from gitgoods.settings import Settings
from pipelines.ingest.convert.results import merge_results
from pipelines.ingest.convert.rows import convert_items
from pipelines.ingest.day_totals import count_and_sum_day
from pipelines.ingest.export import read_export
from pipelines.ingest.reader import DynamoDBError, DynamoDBHttp, read_day
from tests.dynamodb_export import rewrite_data_file, write_export
from tests.test_ingest_convert import at, event_item, funnel_item, sale_item

EVENTS_DAY = dt.date(2032, 1, 10)
SALES_DAY = dt.date(2032, 1, 20)


def put_items(settings: Settings, table: str, items: list[dict[str, Any]]) -> None:
    ddb = aws.client("dynamodb", settings)
    name = settings.table(table)
    for start in range(0, len(items), 25):
        request = {name: [{"PutRequest": {"Item": it}} for it in items[start : start + 25]]}
        while request:
            request = ddb.batch_write_item(RequestItems=request).get("UnprocessedItems") or None


def key(it: dict[str, Any], table: str) -> str:
    if table == "sales":
        return f"{it['seller_id']['S']}|{it['sk']['S']}"
    return it["event_id"]["S"]


def keys_of(results: list[Any], table: str) -> tuple[set[str], set[str]]:
    id_col = "event_id" if table == "order_events" else None
    clean: set[str] = set()
    for r in results:
        if id_col:
            clean.update(r.batch.column(id_col).to_pylist())
        else:
            clean.update(
                f"{s}|{k}"
                for s, k in zip(r.batch.column("seller_id").to_pylist(), r.batch.column("sk").to_pylist(), strict=True)
            )
    quarantined = {q["item_key"] for r in results for q in r.quarantine}
    return clean, quarantined


def amount(it: dict[str, Any]) -> int:
    return int(it["amount_cents"]["N"]) if "amount_cents" in it else 0


# -- DynamoDB Local ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def settings(settings: Settings) -> Settings:
    """Tables of their own: these tests write deliberately broken items."""
    own = settings.model_copy(update={"table_prefix": f"rd{uuid.uuid4().hex[:6]}-"})
    ensure_tables(own)
    return own


@pytest.fixture(scope="module")
def event_day(settings: Settings) -> dict[str, Any]:
    day = EVENTS_DAY
    items = [event_item(at(day, 86400 * i / 120)) for i in range(120)] + [funnel_item(at(day, 77.0)) for _ in range(10)]
    items.append(event_item(at(day, 86399.999)))  # the last millisecond of the day
    bad = [event_item(at(day, 100.0)) for _ in range(3)]
    bad[0]["currency"] = {"S": "eur"}
    bad[1]["coupon"] = {"S": "SPRING"}
    late = bad[2]
    late["occurred_at"] = {"S": "2032-01-11T00:00:00.000Z"}  # day key of one day, time of the next
    neighbours = [event_item(at(day - dt.timedelta(days=1), 86399.999))] + [
        event_item(at(d, 3600.0 * i))
        for d in (day - dt.timedelta(days=1), day + dt.timedelta(days=1))
        for i in range(0, 24, 3)
    ]
    put_items(settings, "order_events", items + bad + neighbours)
    return {"items": items, "bad": bad, "neighbours": neighbours}


@pytest.mark.stack
def test_read_day_all_shards_paginated(settings, event_day):
    results = list(read_day("order_events", EVENTS_DAY, settings, page_limit=6, queue_pages=2))
    items, bad = event_day["items"], event_day["bad"]
    assert {r.shard for r in results} == set(range(8))
    assert len(results) >= 8 * 2  # several pages a shard, not one answer each
    clean, quarantined = keys_of(results, "order_events")
    assert clean == {key(it, "order_events") for it in items}
    assert quarantined == {key(it, "order_events") for it in bad}
    assert not (clean | quarantined) & {key(it, "order_events") for it in event_day["neighbours"]}
    merged = merge_results(results)
    assert merged.raw_count == len(items) + len(bad) == merged.batch.num_rows + len(merged.quarantine)
    assert merged.raw_amount == sum(map(amount, items + bad))
    assert merged.raw_amount == merged.clean_amount + sum(q["amount_cents"] for q in merged.quarantine)
    reasons = sorted(r for q in merged.quarantine for r in q["reasons"])
    assert reasons == [
        "coupon: unknown attribute",
        "currency: does not match ^[A-Z]{3}$",
        "occurred_at: outside the partition's UTC day",
    ]
    # the same rows as converting the items directly
    expected = convert_items(items, "order_events", EVENTS_DAY).batch.sort_by("event_id")
    assert merged.batch.sort_by("event_id").equals(expected)


@pytest.mark.stack
def test_count_and_sum_day_matches_the_read(settings, event_day):
    items, bad = event_day["items"], event_day["bad"]
    assert count_and_sum_day("order_events", EVENTS_DAY, settings) == (
        len(items) + len(bad),
        sum(map(amount, items + bad)),
    )
    assert count_and_sum_day("order_events", EVENTS_DAY + dt.timedelta(days=2), settings) == (0, 0)


@pytest.mark.stack
def test_read_day_sales_with_fewer_threads_than_shards(settings):
    items = [sale_item(at(SALES_DAY, 300.0 * i), line=1 + i % 3, qty=1 + i % 4) for i in range(80)]
    bad = sale_item(at(SALES_DAY, 5.0))
    bad["amount_cents"] = {"N": "1"}
    other_day = [sale_item(at(SALES_DAY + dt.timedelta(days=1), 10.0))]
    put_items(settings, "sales", [*items, bad, *other_day])
    results = list(read_day("sales", SALES_DAY, settings, max_workers=3, page_limit=7))
    clean, quarantined = keys_of(results, "sales")
    assert clean == {key(it, "sales") for it in items} and quarantined == {key(bad, "sales")}
    merged = merge_results(results)
    total = sum(map(amount, [*items, bad]))
    assert (merged.raw_count, merged.raw_amount) == (81, total)
    assert count_and_sum_day("sales", SALES_DAY, settings, max_workers=2) == (81, total)


@pytest.mark.stack
def test_read_day_stops_its_threads_when_closed_early(settings, event_day):
    pages = read_day("order_events", EVENTS_DAY, settings, page_limit=5, queue_pages=1)
    first = next(pages)
    assert first.raw_count <= 5
    pages.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(t.name.startswith("read-order_events") for t in threading.enumerate()):
        time.sleep(0.05)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("read-order_events")]


@pytest.mark.stack
def test_read_day_raises_what_dynamodb_says(settings):
    missing = settings.model_copy(update={"table_prefix": "no-such-prefix-"})
    with pytest.raises(DynamoDBError) as info:
        list(read_day("order_events", EVENTS_DAY, missing))
    assert info.value.code == "ResourceNotFoundException"


# -- a loopback server: retries, signing, CRC --------------------------------------------------------
class Loopback:
    """A DynamoDB stand-in: scripted answers first, then `answer(request_json)`."""

    def __init__(self, answer: Callable[[dict[str, Any]], bytes]) -> None:
        self.script: list[tuple[int, bytes, dict[str, str]]] = []
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.lock = threading.Lock()
        loopback = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = orjson.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with loopback.lock:
                    loopback.requests.append((dict(self.headers), body))
                    scripted = loopback.script.pop(0) if loopback.script else None
                status, data, headers = scripted or (200, answer(body), {})
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-amz-crc32", headers.get("x-amz-crc32", str(zlib.crc32(data))))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.settings = Settings(env="local", dynamodb_port=self.server.server_address[1], table_prefix="loop-")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def loopback() -> Iterator[Callable[..., Loopback]]:
    servers: list[Loopback] = []

    def make(answer: Callable[[dict[str, Any]], bytes]) -> Loopback:
        servers.append(Loopback(answer))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def _paged_answer(items: list[dict[str, Any]], page: int) -> Callable[[dict[str, Any]], bytes]:
    """Shard 0 holds `items`, in pages of `page`; the other shards are empty."""

    def answer(request: dict[str, Any]) -> bytes:
        if not request["ExpressionAttributeValues"][":d"]["S"].endswith("#0"):
            return orjson.dumps({"Count": 0, "Items": [], "ScannedCount": 0})
        start = int(request.get("ExclusiveStartKey", {}).get("event_id", {}).get("S", "0"))
        chunk = items[start : start + page]
        doc: dict[str, Any] = {"Count": len(chunk), "Items": chunk, "ScannedCount": len(chunk)}
        if start + page < len(items):
            doc["LastEvaluatedKey"] = {"event_id": {"S": str(start + page)}, "day_shard": {"S": "x"}}
        return orjson.dumps(doc)

    return answer


THROTTLED = orjson.dumps(
    {
        "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "message": "The level of configured provisioned throughput for the table was exceeded.",
    }
)


def test_throttling_and_5xx_are_retried(loopback):
    items = [event_item(at(EVENTS_DAY, 60.0 * i)) for i in range(25)]
    server = loopback(_paged_answer(items, page=10))
    server.script = [(400, THROTTLED, {}), (500, b'{"__type":"InternalServerError"}', {}), (400, THROTTLED, {})]
    client = DynamoDBHttp(server.settings, backoff=0.001)
    results = list(read_day("order_events", EVENTS_DAY, server.settings, http=client))
    merged = merge_results(results)
    assert merged.batch.num_rows == 25 and merged.quarantine == []
    assert client.retries == 3
    headers, body = server.requests[-1]
    assert headers["X-Amz-Target"] == "DynamoDB_20120810.Query"
    assert headers["Content-Type"] == "application/x-amz-json-1.0"
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
    assert "/us-east-1/dynamodb/aws4_request" in headers["Authorization"]
    assert {b["TableName"] for _, b in server.requests} == {"loop-order_events"}
    assert {b["IndexName"] for _, b in server.requests} == {"by_day"}
    shard0 = [b for _, b in server.requests if b["ExpressionAttributeValues"][":d"]["S"] == "2032-01-10#0"]
    assert [b.get("ExclusiveStartKey", {}).get("event_id") for b in shard0][-3:] == [None, {"S": "10"}, {"S": "20"}]
    assert count_and_sum_day("order_events", EVENTS_DAY, server.settings, http=client) == (25, sum(map(amount, items)))


def test_damaged_body_is_retried(loopback):
    items = [event_item(at(EVENTS_DAY, 60.0))]
    server = loopback(_paged_answer(items, page=10))
    server.script = [(200, orjson.dumps({"Count": 1, "Items": items})[:-5], {"x-amz-crc32": "12345"})]
    client = DynamoDBHttp(server.settings, backoff=0.001)
    assert merge_results(list(read_day("order_events", EVENTS_DAY, server.settings, http=client))).raw_count == 1
    assert client.retries == 1


def test_client_errors_are_not_retried(loopback):
    error = orjson.dumps({"__type": "com.amazon.coral.validate#ValidationException", "message": "bad key"})
    server = loopback(lambda request: error)
    server.script = [(400, error, {})] * 8
    client = DynamoDBHttp(server.settings, backoff=0.001)
    with pytest.raises(DynamoDBError) as info:
        list(read_day("order_events", EVENTS_DAY, server.settings, http=client))
    assert info.value.code == "ValidationException" and info.value.status == 400
    assert client.retries == 0


def test_retries_give_up(loopback):
    server = loopback(lambda request: THROTTLED)
    server.script = [(400, THROTTLED, {})] * 100
    client = DynamoDBHttp(server.settings, backoff=0.001, max_backoff=0.002, attempts=3)
    with pytest.raises(DynamoDBError) as info:
        count_and_sum_day("order_events", EVENTS_DAY, server.settings, http=client, max_workers=1)
    assert info.value.code == "ProvisionedThroughputExceededException"


# -- exports ------------------------------------------------------------------------------------------
def _export_items() -> tuple[list[dict[str, Any]], list[dt.date]]:
    days = [dt.date(2030, 5, d) for d in (1, 2, 3)]
    items = [sale_item(at(days[i % 3], 97.0 * i), qty=1 + i % 5) for i in range(150)]
    items[7]["status"] = {"S": "lost"}
    items[8]["sold_at"] = {"S": "2030-05-03T00:00:00.000Z"}  # day key says another day
    no_day = sale_item(at(days[0], 1.0))
    no_day["day_shard"] = {"S": "someday"}
    no_day["sold_at"] = {"S": "never"}
    return [*items, no_day], days


def _by_day(results: list[tuple[dt.date | None, Any]]) -> dict[dt.date | None, Any]:
    grouped: dict[dt.date | None, list[Any]] = {}
    for day, result in results:
        grouped.setdefault(day, []).append(result)
    return {day: merge_results(rs) for day, rs in grouped.items()}


def _check_export(results: list[tuple[dt.date | None, Any]], items: list[dict[str, Any]], days: list[dt.date]) -> None:
    out = _by_day(results)
    assert set(out) == {*days, None}
    for day in days:
        mine = [it for it in items if it["day_shard"]["S"].startswith(day.isoformat())]
        expected = convert_items(mine, "sales", day)
        got = out[day]
        assert got.batch.sort_by([("seller_id", "ascending"), ("sk", "ascending")]).equals(
            expected.batch.sort_by([("seller_id", "ascending"), ("sk", "ascending")])
        )
        assert sorted(q["item_json"] for q in got.quarantine) == sorted(q["item_json"] for q in expected.quarantine)
        assert (got.raw_count, got.raw_amount) == (expected.raw_count, expected.raw_amount)
    assert out[None].raw_count == 1 and out[None].batch.num_rows == 0
    assert sum(r.raw_count for r in out.values()) == len(items)


def test_export_round_trip_on_disk(tmp_path):
    items, days = _export_items()
    fs = pafs.LocalFileSystem()
    export_dir = write_export(fs, str(tmp_path), items, items_per_file=40)
    assert export_dir.startswith(str(tmp_path) + "/AWSDynamoDB/")
    results = list(read_export(fs, str(tmp_path), "sales", chunk_bytes=4096, batch_rows=20))
    assert len(results) > 4  # days come back in several parts
    _check_export(results, items, days)
    assert _by_day(list(read_export(fs, export_dir, "sales")))[days[1]].raw_count == 50


def _damage(path: Any, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "flipped byte":
        data[len(data) // 2] ^= 0x01
    else:  # truncated
        del data[len(data) * 2 // 3 :]
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["flipped byte", "truncated", "item count"])
def test_an_export_file_that_differs_from_its_manifest_is_refused_and_nothing_is_written(tmp_path, how):
    from pipelines.ingest.export import ExportMismatch
    from pipelines.ingest.history import load_export
    from pipelines.lake.fs import LakeFS
    from pipelines.lake.partitions.manifest import list_tables

    items, _ = _export_items()
    fs = pafs.LocalFileSystem()
    export_dir = write_export(fs, str(tmp_path / "export"), items, items_per_file=40)
    manifest = tmp_path.joinpath(export_dir, "manifest-files.json")
    entries = [orjson.loads(line) for line in manifest.read_bytes().splitlines()]
    last = tmp_path.joinpath(export_dir, "data", entries[-1]["dataFileS3Key"].rsplit("/", 1)[1])
    if how == "item count":  # the manifests agree with each other, not with the file
        entries[-1]["itemCount"] += 1
        manifest.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in entries))
        summary = tmp_path.joinpath(export_dir, "manifest-summary.json")
        summary.write_bytes(orjson.dumps({**orjson.loads(summary.read_bytes()), "itemCount": len(items) + 1}))
        expected = f"{entries[-1]['itemCount'] - 1} items, its manifest entry says itemCount {entries[-1]['itemCount']}"
    else:
        _damage(last, how)
        expected = f"its manifest entry says md5Checksum {entries[-1]['md5Checksum']}"

    lake = LakeFS.from_uri(f"file://{tmp_path / 'lake'}")
    with pytest.raises(ExportMismatch) as refused:
        load_export(fs, export_dir, "raw_sales", lake, max_buffered_rows=10)
    assert str(refused.value).startswith(str(last)) and expected in str(refused.value)
    assert list_tables(lake, "raw") == list_tables(lake, "quarantine") == []  # not a row of the export


@pytest.mark.stack
def test_export_on_s3(settings, moto_server):
    items, days = _export_items()
    aws.client("s3", settings).create_bucket(Bucket="exports")
    fs = pafs.S3FileSystem(
        endpoint_override=f"127.0.0.1:{moto_server}",
        scheme="http",
        access_key="local",
        secret_key="local",
        region=settings.region,
    )
    write_export(fs, "exports/history", items, items_per_file=64, s3_bucket="exports", s3_prefix="history")
    _check_export(list(read_export(fs, "exports/history", "sales")), items, days)


def test_export_checks_its_manifest_and_survives_bad_lines(tmp_path):
    fs = pafs.LocalFileSystem()
    items = [event_item(at(EVENTS_DAY, 1.0 * i)) for i in range(10)]
    export_dir = write_export(fs, str(tmp_path / "a"), items)
    manifest = tmp_path.joinpath(export_dir, "manifest-files.json")
    entry = orjson.loads(manifest.read_bytes())
    manifest.write_bytes(orjson.dumps({**entry, "itemCount": 11}) + b"\n")
    with pytest.raises(ValueError, match="manifest"):
        list(read_export(fs, export_dir, "order_events"))

    # lines pyarrow cannot type go through the exact (slow) path, quarantined, never lost
    broken = items[:3] + [{"event_id": {"S": 5}, "day_shard": {"S": "2032-01-10#1"}}]
    export_dir = write_export(fs, str(tmp_path / "b"), broken)
    (data_file,) = tmp_path.joinpath(export_dir, "data").iterdir()
    import gzip

    # a line that is not an item, in an export whose manifests count it (5 items, checksums of it)
    rewrite_data_file(export_dir, data_file, [*gzip.decompress(data_file.read_bytes()).splitlines(), b"not json"])
    out = _by_day(list(read_export(fs, export_dir, "order_events")))
    assert out[EVENTS_DAY].batch.num_rows == 3
    reasons = [q["reasons"][0] for r in out.values() for q in r.quarantine]
    assert len(reasons) == 2 and all(r.startswith("malformed DynamoDB JSON") for r in reasons)
