"""A DynamoDB *replay* endpoint for the ingest benchmark (`bench/ingest_bench.py`).

Two parts, both deterministic:

`generate`: writes `order_events` items as the order service writes them (`storefront/orders/
service.py` `_event`, the emulator's attribute order and wire format), spread over `days` days
with the simulation's shape (weekends, growth, promotion days; event-type, line, quantity,
country and product mixes measured on the `make up` data), grouped by `by_day` key
(`YYYY-MM-DD#0..7`), sorted by `event_id` (the index's range key) and cut into Query pages of at
most 1 MB of DynamoDB item size (DynamoDB's rule, not the JSON's: bodies are ~1.5 MB), each page a
complete response body `{"Items":[...],"Count":n,"ScannedCount":n,"LastEvaluatedKey":{...}}`.
Output: `pages.bin` (the bodies back to back), `index.json` (day key, start key -> offset, length,
CRC32, count) and `meta.json`.

`serve`: a loopback HTTP/1.1 server (keep-alive, TCP_NODELAY) answering `DynamoDB_20120810.Query`
on the `by_day` index of any `*order_events` table, with the pre-generated page for the
`ExpressionAttributeValues` day key and the `ExclusiveStartKey` (both what `pipelines/ingest/
reader.py` sends and what `awswrangler.dynamodb.read_items` sends through botocore), plus
`DescribeTable`. The body comes from the memory-mapped `pages.bin` with its `x-amz-crc32`, so the
server does no work per item. `GET /__stats` gives request and byte counters.

    python bench/replay_server.py generate --events 1000000 --days 90 --out /tmp/replay
    python bench/replay_server.py serve --data /tmp/replay --port 0     # prints "READY <port>"
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import http.server
import mmap
import os
import random
import socketserver
import sys
import threading
import time
import uuid
import zlib
from pathlib import Path
from typing import Any

import orjson

FORMAT_VERSION = 3
DAY_SHARDS = 8  # gitgoods.contract.tables.DAY_SHARDS (not imported: the server stays light)
PAGE_LIMIT_BYTES = 1 << 20  # DynamoDB stops a Query page at 1 MB of item data
START_DAY = dt.date(2025, 3, 3)  # a Monday; fixed so that runs compare
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

# -- the mixes, as measured on the `make up` data (seed 42, 90 days, 19,362 events) -------------
EVENT_TYPES = (
    ("order_placed", 4936),
    ("payment_captured", 4873),
    ("order_shipped", 4670),
    ("order_delivered", 4518),
    ("order_cancelled", 189),
    ("order_refunded", 176),
)
# days between the order's placement and the event
EVENT_LAG = {
    "order_placed": (0, 0),
    "payment_captured": (0, 0),
    "order_shipped": (1, 3),
    "order_delivered": (2, 6),
    "order_cancelled": (0, 2),
    "order_refunded": (3, 12),
}
LINES_PER_ORDER = ((1, 56), (2, 25), (3, 12), (4, 7))
UNITS_PER_LINE = ((1, 78), (2, 16), (3, 6))
COUNTRIES = (
    ("US", "USD", 30),
    ("GB", "GBP", 12),
    ("DE", "EUR", 12),
    ("JP", "JPY", 10),
    ("FR", "EUR", 8),
    ("CA", "CAD", 7),
    ("AU", "AUD", 7),
    ("ES", "EUR", 5),
    ("IT", "EUR", 5),
    ("NL", "EUR", 4),
)
CURRENCY_SCALE = {"USD": 1, "GBP": 1, "EUR": 1, "CAD": 1, "AUD": 1, "JPY": 100}
KINDS = (  # kind, weight, platforms, unit price range in cents
    ("game", 49, ("PlayStation 5", "PC", "PlayStation 4", "Xbox Series X|S", "Nintendo Switch"), (1999, 6999)),
    ("merch", 27, ("Merchandise",), (1500, 4999)),
    ("dlc", 18, ("PlayStation 5", "PC", "PlayStation 4", "Xbox Series X|S", "Nintendo Switch"), (499, 1999)),
    ("gift_card", 6, ("Nintendo eShop", "PlayStation Store", "Xbox Store", "Steam"), (1000, 5000)),
)
WEEKDAY = (0.92, 0.90, 0.94, 0.98, 1.08, 1.32, 1.26)
SELLERS, PRODUCTS, CUSTOMERS = 60, 1200, 250_000


def ulid(prefix: str, ms: int, rng: random.Random) -> str:
    n = (ms << 80) | rng.getrandbits(80)
    out = []
    for _ in range(26):
        out.append(CROCKFORD[n & 31])
        n >>= 5
    return prefix + "_" + "".join(reversed(out))


def shard_of(event_id: str) -> int:
    # gitgoods.contract.ids.day_shard
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=2).digest()) % DAY_SHARDS


def utc_iso(ms: int) -> str:
    at = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def day_ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)


# -- DynamoDB item size (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html)
def _value_size(value: dict[str, Any]) -> int:
    ((tag, v),) = value.items()
    if tag == "S":
        return len(v.encode())
    if tag == "N":
        digits = v.lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if tag == "L":
        return 3 + sum(_value_size(x) + 1 for x in v)
    if tag == "M":
        return 3 + sum(len(k.encode()) + _value_size(x) + 1 for k, x in v.items())
    raise ValueError(tag)


def item_size(item: dict[str, Any]) -> int:
    return sum(len(k.encode()) + _value_size(v) for k, v in item.items())


# -- the generator -------------------------------------------------------------------------------
class World:
    """Sellers, products and customers, fixed by the seed."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"world-{seed}")
        t0 = day_ms(START_DAY) - 400 * 86_400_000
        self.sellers = [ulid("sel", t0 + i * 1000, rng) for i in range(SELLERS)]
        seller_weights = [1 / (i + 1) ** 1.1 for i in range(SELLERS)]
        kinds = [k for k in KINDS]
        self.products = []
        for i in range(PRODUCTS):
            kind, _, platforms, (lo, hi) = rng.choices(kinds, weights=[k[1] for k in kinds])[0]
            self.products.append(
                (
                    ulid("prd", t0 + 100_000 + i * 1000, rng),
                    rng.choices(self.sellers, weights=seller_weights)[0],
                    kind,
                    rng.choice(platforms),
                    rng.randrange(lo, hi + 1, 100) - 1 if kind != "gift_card" else rng.choice((1000, 2500, 5000)),
                )
            )
        appeal = [1 / (i + 1) ** 0.6 for i in range(PRODUCTS)]
        total = sum(appeal)
        self.product_cum = []
        acc = 0.0
        for w in appeal:
            acc += w / total
            self.product_cum.append(acc)
        self.customer_cum = None
        self.seed = seed

    def customer(self, rng: random.Random) -> str:
        # heavy-tailed: a few customers buy often
        i = min(int(rng.paretovariate(1.3)) - 1, CUSTOMERS - 1) if rng.random() < 0.5 else rng.randrange(CUSTOMERS)
        return hashlib.blake2b(f"{self.seed}-customer-{i}".encode(), digest_size=16).hexdigest()

    def order(self, day: int, rng: random.Random) -> dict[str, Any]:
        placed = day_ms(START_DAY + dt.timedelta(days=day)) + rng.randrange(86_400_000)
        country, currency, _ = rng.choices(COUNTRIES, weights=[c[2] for c in COUNTRIES])[0]
        n = rng.choices([x for x, _ in LINES_PER_ORDER], weights=[w for _, w in LINES_PER_ORDER])[0]
        picked: list[int] = []
        while len(picked) < n:
            j = min(_bisect(self.product_cum, rng.random()), PRODUCTS - 1)
            if j not in picked:
                picked.append(j)
        lines = []
        for line_no, j in enumerate(picked, 1):
            product_id, seller_id, kind, platform, unit = self.products[j]
            qty = rng.choices([x for x, _ in UNITS_PER_LINE], weights=[w for _, w in UNITS_PER_LINE])[0]
            unit *= CURRENCY_SCALE[currency]
            lines.append(
                {
                    "line": line_no,
                    "seller_id": seller_id,
                    "product_id": product_id,
                    "qty": qty,
                    "unit_cents": unit,
                    "amount_cents": unit * qty,
                    "kind": kind,
                    "platform": platform,
                }
            )
        return {
            "order_id": ulid("ord", placed, rng),
            "customer": self.customer(rng),
            "country": country,
            "currency": currency,
            "lines": lines,
        }


def _bisect(cum: list[float], x: float) -> int:
    lo, hi = 0, len(cum)
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _line_wire(line: dict[str, Any]) -> dict[str, Any]:
    # the emulator's attribute order (Java hash order), as read back from `make up` data
    return {
        "M": {
            "unit_cents": {"N": str(line["unit_cents"])},
            "amount_cents": {"N": str(line["amount_cents"])},
            "line": {"N": str(line["line"])},
            "kind": {"S": line["kind"]},
            "product_id": {"S": line["product_id"]},
            "qty": {"N": str(line["qty"])},
            "seller_id": {"S": line["seller_id"]},
            "platform": {"S": line["platform"]},
        }
    }


def event_item(event_type: str, order: dict[str, Any], ms: int, rng: random.Random) -> tuple[str, int, dict]:
    """(event_id, shard, DynamoDB JSON item) of one event, as `storefront.orders.items.order_event` writes it."""
    event_id = ulid("evt", ms, rng)
    lines = order["lines"]
    if event_type in ("order_cancelled", "order_refunded") and len(lines) > 1 and rng.random() < 0.5:
        lines = [rng.choice(lines)]  # one line of the order
    amount = sum(line["amount_cents"] for line in lines)
    shard = shard_of(event_id)
    day = dt.datetime.fromtimestamp(ms / 1000, dt.UTC).date().isoformat()
    item = {
        "schema_version": {"N": "1"},
        "occurred_at": {"S": utc_iso(ms)},
        "country": {"S": order["country"]},
        "event_id": {"S": event_id},
        "event_type": {"S": event_type},
        "amount_cents": {"N": str(amount)},
        "day_shard": {"S": f"{day}#{shard}"},
        "currency": {"S": order["currency"]},
        "lines": {"L": [_line_wire(line) for line in lines]},
        "order_id": {"S": order["order_id"]},
        "customer": {"S": order["customer"]},
    }
    return event_id, shard, item


def day_quotas(events: int, days: int, seed: int) -> list[int]:
    """Events per day: weekday shape x growth x promotion days, summing to exactly `events`."""
    rng = random.Random(f"quota-{seed}")
    promos = set(rng.sample(range(3, max(4, days - 3)), k=min(max(0, days // 28), max(0, days - 6))))
    weights = []
    for d in range(days):
        w = WEEKDAY[(START_DAY + dt.timedelta(days=d)).weekday()] * 1.0025**d
        if d in promos:
            w *= rng.uniform(2.0, 3.0)
        weights.append(w)
    total = sum(weights)
    raw = [events * w / total for w in weights]
    quotas = [int(x) for x in raw]
    for i in sorted(range(days), key=lambda i: raw[i] - quotas[i], reverse=True)[: events - sum(quotas)]:
        quotas[i] += 1
    return quotas


def page_bodies(day_shard: str, items: list[tuple[str, bytes, int]], limit: int) -> list[tuple[str | None, bytes, int]]:
    """Cut one day key's sorted items into Query response bodies: (start key, body, count)."""
    pages: list[tuple[str | None, bytes, int]] = []
    start: str | None = None
    i = 0
    while True:
        chunk: list[bytes] = []
        size = 0
        j = i
        while j < len(items) and (not chunk or size + items[j][2] <= limit):
            chunk.append(items[j][1])
            size += items[j][2]
            j += 1
        count = len(chunk)
        body = b'{"Items":[' + b",".join(chunk) + b'],"Count":%d,"ScannedCount":%d' % (count, count)
        more = j < len(items)
        if more:
            last = items[j - 1][0]
            body += b',"LastEvaluatedKey":' + orjson.dumps({"day_shard": {"S": day_shard}, "event_id": {"S": last}})
        pages.append((start, body + b"}", count))
        if not more:
            return pages
        start = items[j - 1][0]
        i = j


def generate(out: Path, events: int, days: int, seed: int, page_bytes: int = PAGE_LIMIT_BYTES) -> dict[str, Any]:
    """Write the pages of `events` events over `days` days into `out` (skipped if already there)."""
    meta_path = out / "meta.json"
    want = {"format": FORMAT_VERSION, "events": events, "days": days, "seed": seed, "page_bytes": page_bytes}
    if meta_path.exists():
        meta = orjson.loads(meta_path.read_bytes())
        if all(meta.get(k) == v for k, v in want.items()):
            return meta
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    world = World(seed)
    quotas = day_quotas(events, days, seed)
    pools: dict[int, list[dict[str, Any]]] = {}

    def pool(d: int) -> list[dict[str, Any]]:
        if d not in pools:
            prng = random.Random(f"orders-{seed}-{d}")
            size = max(1, quotas[min(max(d, 0), days - 1)] // 4)
            pools[d] = [world.order(d, prng) for _ in range(size)]
        return pools[d]

    types = [t for t, _ in EVENT_TYPES]
    type_weights = [w for _, w in EVENT_TYPES]
    index: list[list[Any]] = []
    offset = total_bytes = n_pages = 0
    tmp = out / "pages.bin.tmp"
    with tmp.open("wb") as fh:
        for d in range(days):
            rng = random.Random(f"events-{seed}-{d}")
            day = START_DAY + dt.timedelta(days=d)
            base = day_ms(day)
            shards: list[list[tuple[str, bytes, int]]] = [[] for _ in range(DAY_SHARDS)]
            for _ in range(quotas[d]):
                event_type = rng.choices(types, weights=type_weights)[0]
                lo, hi = EVENT_LAG[event_type]
                source = pool(d - rng.randint(lo, hi))
                order = source[rng.randrange(len(source))]
                event_id, shard, item = event_item(event_type, order, base + rng.randrange(86_400_000), rng)
                shards[shard].append((event_id, orjson.dumps(item), item_size(item)))
            for shard, items in enumerate(shards):
                items.sort(key=lambda x: x[0])
                key = f"{day.isoformat()}#{shard}"
                for start, body, count in page_bodies(key, items, page_bytes):
                    fh.write(body)
                    index.append([key, start, offset, len(body), zlib.crc32(body), count])
                    offset += len(body)
                    total_bytes += len(body)
                    n_pages += 1
            for old in [k for k in pools if k < d - 13]:
                del pools[old]
    tmp.replace(out / "pages.bin")
    (out / "index.json").write_bytes(orjson.dumps(index))
    meta = {
        **want,
        "start": START_DAY.isoformat(),
        "day_list": [(START_DAY + dt.timedelta(days=d)).isoformat() for d in range(days)],
        "per_day": quotas,
        "pages": n_pages,
        "bytes": total_bytes,
        "generate_s": round(time.perf_counter() - t0, 1),
    }
    meta_path.write_bytes(orjson.dumps(meta))
    return meta


# -- the server ----------------------------------------------------------------------------------
class Pages:
    def __init__(self, data: Path) -> None:
        self._file = (data / "pages.bin").open("rb")
        self.mm = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        self.pages: dict[tuple[str, str | None], tuple[int, int, int]] = {}
        for key, start, offset, length, crc, _count in orjson.loads((data / "index.json").read_bytes()):
            self.pages[(key, start)] = (offset, length, crc)
        self.lock = threading.Lock()
        self.stats = {"requests": 0, "query": 0, "describe": 0, "empty": 0, "errors": 0, "bytes": 0}

    def count(self, **deltas: int) -> None:
        with self.lock:
            for k, v in deltas.items():
                self.stats[k] += v


EMPTY = b'{"Items":[],"Count":0,"ScannedCount":0}'


def _day_key(request: dict[str, Any]) -> str | None:
    # Both `day_shard = :d` (reader.py) and `#kn0 = :kv0` (boto3's Key() builder via awswrangler).
    names = request.get("ExpressionAttributeNames") or {}
    expression = request.get("KeyConditionExpression", "")
    left, _, right = expression.partition("=")
    if names.get(left.strip(), left.strip()) != "day_shard":
        return None
    value = (request.get("ExpressionAttributeValues") or {}).get(right.strip())
    return value.get("S") if isinstance(value, dict) else None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "replay"
    sys_version = ""
    pages: Pages

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _send(self, status: int, body: bytes | memoryview, crc: int | None = None, kind: str = "") -> None:
        crc = zlib.crc32(body) if crc is None else crc
        head = (
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Bad Request'}\r\n"
            f"Content-Type: application/x-amz-json-1.0\r\n"
            f"x-amzn-RequestId: {uuid.uuid4()}\r\n"
            f"x-amz-crc32: {crc}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.wfile.write(head + bytes(body))  # one write: no Nagle / delayed-ACK stall
        self.pages.count(requests=1, bytes=len(body), **({kind: 1} if kind else {}))

    def _error(self, code: str, message: str) -> None:
        body = orjson.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message})
        self.pages.count(errors=1)
        self._send(400, body)

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/__stats":
            with self.pages.lock:
                body = orjson.dumps(self.pages.stats)
            self._send(200, body)
        else:
            self._error("UnknownOperationException", self.path)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        target = self.headers.get("X-Amz-Target", "")
        try:
            request = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            return self._error("SerializationException", "bad JSON")
        operation = target.rsplit(".", 1)[-1]
        if operation == "DescribeTable":
            name = request.get("TableName", "")
            body = orjson.dumps(
                {
                    "Table": {
                        "TableName": name,
                        "TableStatus": "ACTIVE",
                        "KeySchema": [{"AttributeName": "event_id", "KeyType": "HASH"}],
                        "AttributeDefinitions": [
                            {"AttributeName": "day_shard", "AttributeType": "S"},
                            {"AttributeName": "event_id", "AttributeType": "S"},
                        ],
                        "GlobalSecondaryIndexes": [
                            {
                                "IndexName": "by_day",
                                "KeySchema": [
                                    {"AttributeName": "day_shard", "KeyType": "HASH"},
                                    {"AttributeName": "event_id", "KeyType": "RANGE"},
                                ],
                                "Projection": {"ProjectionType": "ALL"},
                                "IndexStatus": "ACTIVE",
                            }
                        ],
                    }
                }
            )
            return self._send(200, body, kind="describe")
        if operation != "Query":
            return self._error("UnknownOperationException", f"replay serves Query and DescribeTable, not {operation}")
        if not str(request.get("TableName", "")).endswith("order_events") or request.get("IndexName") != "by_day":
            return self._error("ResourceNotFoundException", "replay serves the by_day index of order_events")
        if request.get("Limit") or request.get("ProjectionExpression") or request.get("FilterExpression"):
            return self._error("ValidationException", "replay has whole pages only (no Limit/Projection/Filter)")
        key = _day_key(request)
        if key is None:
            return self._error("ValidationException", "KeyConditionExpression must be day_shard = :value")
        start = (request.get("ExclusiveStartKey") or {}).get("event_id", {}).get("S")
        found = self.pages.pages.get((key, start))
        if found is None:
            if start is not None:
                return self._error("ValidationException", f"unknown ExclusiveStartKey {start} for {key}")
            return self._send(200, EMPTY, kind="empty")
        offset, size, crc = found
        return self._send(200, memoryview(self.pages.mm)[offset : offset + size], crc, kind="query")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def serve(data: Path, port: int, max_seconds: float) -> None:
    pages = Pages(data)
    handler = type("BoundHandler", (Handler,), {"pages": pages})
    server = Server(("127.0.0.1", port), handler)
    print(f"READY {server.server_address[1]}", flush=True)
    # bounded: the benchmark kills it when done; it also stops by itself after max_seconds
    threading.Timer(max_seconds, server.shutdown).start()
    server.serve_forever(poll_interval=0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--events", type=int, default=1_000_000)
    g.add_argument("--days", type=int, default=90)
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--page-bytes", type=int, default=PAGE_LIMIT_BYTES)
    g.add_argument("--out", type=Path, required=True)
    s = sub.add_parser("serve")
    s.add_argument("--data", type=Path, required=True)
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--max-seconds", type=float, default=3600.0)
    args = parser.parse_args(argv)
    if args.cmd == "generate":
        meta = generate(args.out, args.events, args.days, args.seed, args.page_bytes)
        print(orjson.dumps({k: v for k, v in meta.items() if k not in ("day_list", "per_day")}).decode())
        return 0
    serve(args.data, args.port, args.max_seconds)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
