"""The DynamoDB federated catalog of the local engine: `SELECT ... FROM dynamodb.default.<table>`.

The pushdown is proven by counting the DynamoDB operations actually sent (the HTTP client is
wrapped): a hash-key equality is a key Query or GetItem and never a Scan, an index hash key is a
Query on the index, anything else a parallel Scan - and each returns exactly the right rows.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from gitgoods.settings import Settings
from pipelines.ingest.reader import DynamoDBHttp
from pipelines.ingest.schemas import RAW_SALES
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.writer import PartitionWriter
from pipelines.sql.duckdb_engine import DuckDBEngine
from pipelines.sql.engine import SqlError
from pipelines.sql.federated import DynamoDBCatalog
from pipelines.sql.federated_arrow import body_to_arrow, unify
from pipelines.sql.federated_plan import FederatedError
from tests.test_ingest_convert import item, sale_values
from tests.test_ingest_reader import put_items

DAY = dt.date(2033, 3, 1)


class CountingHttp(DynamoDBHttp):
    """The real signed HTTP client, recording every operation and its request."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def call(self, operation: str, payload: dict[str, Any]) -> bytes:
        self.sent.append((operation, payload))
        return super().call(operation, payload)

    def operations(self) -> Counter[str]:
        return Counter(op for op, _ in self.sent)


@pytest.fixture(scope="module")
def sellers() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10].upper()
    return {"big": f"sel_{tag}BIG", "small": f"sel_{tag}SML", "none": f"sel_{tag}NONE"}


@pytest.fixture(scope="module")
def sales(settings: Settings, sellers: dict[str, str]) -> list[dict[str, Any]]:
    """60 sales for one seller over two days, 5 for another; DynamoDB items of the contract."""
    values = []
    for n in range(65):
        seller = sellers["big"] if n < 60 else sellers["small"]
        when = dt.datetime.combine(DAY + dt.timedelta(days=n % 2), dt.time(10), tzinfo=dt.UTC) + dt.timedelta(minutes=n)
        v = sale_values(when, qty=1 + n % 3, unit=1000 + n)
        v["seller_id"] = seller
        v["status"] = "refunded" if n % 5 == 0 else "placed"
        values.append(v)
    put_items(settings, "sales", [item(v) for v in values])
    return values


@pytest.fixture()
def http(settings: Settings) -> CountingHttp:
    client = CountingHttp(settings)
    yield client
    client.close()


@pytest.fixture()
def engine(settings: Settings, http: CountingHttp, tmp_path: Path) -> DuckDBEngine:
    catalog = DynamoDBCatalog(settings, http=http, segments=4)
    with DuckDBEngine(settings, lake=f"file://{tmp_path}/lake", dynamodb=catalog) as eng:
        yield eng


def rows(table: pa.Table) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in table.to_pylist()]


# -- key pushdown, proven by the operations sent ------------------------------------------------------


@pytest.mark.stack
def test_per_seller_query_is_a_key_query_never_a_scan(engine, http, sales, sellers) -> None:
    mine = [v for v in sales if v["seller_id"] == sellers["big"]]
    table = engine.query(
        "SELECT count(*) AS n, sum(amount_cents) AS gross, sum(qty) AS units "
        "FROM dynamodb.default.sales WHERE seller_id = ?",
        [sellers["big"]],
    )
    assert rows(table) == [(60, sum(v["amount_cents"] for v in mine), sum(v["qty"] for v in mine))]
    assert http.operations() == Counter({"Query": 1})
    ((_, request),) = http.sent
    assert request["TableName"].endswith("sales") and "IndexName" not in request
    assert request["KeyConditionExpression"] == "#n0 = :v0"
    assert request["ExpressionAttributeValues"][":v0"] == {"S": sellers["big"]}
    # only the columns the query uses (and the keys) are read
    assert sorted(request["ExpressionAttributeNames"].values()) == ["amount_cents", "qty", "seller_id", "sk"]


@pytest.mark.stack
def test_sort_key_range_and_filters_go_into_the_query(engine, http, sales, sellers) -> None:
    day2 = (DAY + dt.timedelta(days=1)).isoformat()
    sql = (
        "SELECT s.order_id, s.status FROM dynamodb.default.sales s "
        "WHERE s.seller_id = ? AND s.sk >= ? AND s.status = 'placed' ORDER BY s.sk"
    )
    table = engine.query(sql, [sellers["big"], day2])
    expected = sorted(
        (v["sk"], v["order_id"])
        for v in sales
        if v["seller_id"] == sellers["big"] and v["sk"] >= day2 and v["status"] == "placed"
    )
    assert [r[0] for r in rows(table)] == [o for _, o in expected] and len(expected) == 24
    ((op, request),) = http.sent
    assert op == "Query"
    names = request["ExpressionAttributeNames"]
    assert request["KeyConditionExpression"] == "#n0 = :v0 AND #n1 >= :v1" and names["#n1"] == "sk"
    assert request["FilterExpression"] == "#n2 = :v2" and names["#n2"] == "status"


@pytest.mark.stack
def test_two_sellers_are_two_key_queries(engine, http, sales, sellers) -> None:
    table = engine.query(
        "SELECT seller_id, count(*) FROM dynamodb.default.sales WHERE seller_id IN (?, ?, ?) GROUP BY 1 ORDER BY 2",
        [sellers["big"], sellers["small"], sellers["none"]],
    )
    assert rows(table) == [(sellers["small"], 5), (sellers["big"], 60)]
    assert http.operations() == Counter({"Query": 3})


@pytest.mark.stack
def test_product_by_id_is_a_get_item(engine, http, catalog_data) -> None:
    product = catalog_data.products[3]
    table = engine.query(
        "SELECT title, price_cents, active FROM dynamodb.default.catalog WHERE product_id = ?", [product["product_id"]]
    )
    assert rows(table) == [(product["title"], product["price_cents"], product["active"])]
    assert http.operations() == Counter({"GetItem": 1})

    http.sent.clear()
    ids = [p["product_id"] for p in catalog_data.products[10:13]]
    table = engine.query(
        "SELECT product_id FROM dynamodb.default.catalog WHERE product_id IN (?, ?, ?) ORDER BY 1", ids
    )
    assert [r[0] for r in rows(table)] == sorted(ids)
    assert http.operations() == Counter({"BatchGetItem": 1})


@pytest.mark.stack
def test_seller_catalog_is_a_query_on_the_seller_index(engine, http, catalog_data) -> None:
    seller = catalog_data.products[0]["seller_id"]
    expected = sorted(p["product_id"] for p in catalog_data.products if p["seller_id"] == seller)
    table = engine.query(
        "SELECT c.product_id FROM dynamodb.default.catalog c WHERE c.seller_id = ? ORDER BY 1", [seller]
    )
    assert [r[0] for r in rows(table)] == expected
    ((op, request),) = http.sent
    assert (op, request["IndexName"]) == ("Query", "by_seller")


@pytest.mark.stack
def test_non_key_filter_is_a_parallel_scan_with_the_right_rows(engine, http, catalog_data) -> None:
    genre = catalog_data.products[5]["genre"]
    ours = {p["product_id"] for p in catalog_data.products}
    expected = sorted(p["product_id"] for p in catalog_data.products if p["genre"] == genre and p["kind"] != "merch")
    table = engine.query(
        "SELECT product_id, genre FROM dynamodb.default.catalog WHERE genre = ? AND kind <> 'merch'", [genre]
    )
    got = sorted(r[0] for r in rows(table) if r[0] in ours)
    assert got == expected and all(r[1] == genre for r in rows(table))
    assert set(http.operations()) == {"Scan"}
    segments = sorted(req["Segment"] for _, req in http.sent)
    assert set(segments) == {0, 1, 2, 3} and all(req["TotalSegments"] == 4 for _, req in http.sent)
    assert all(req["FilterExpression"] == "#n0 = :v0" for _, req in http.sent)


@pytest.mark.stack
def test_lake_joined_with_dynamodb(engine, http, catalog_data, settings, tmp_path) -> None:
    products = [p for p in catalog_data.products[:8]]
    lake = LakeFS.from_uri(f"file://{tmp_path}/lake", settings=settings)
    day = dt.date(2026, 3, 2)
    sold_at = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)
    batch = pa.Table.from_pylist(
        [
            dict(seller_id=p["seller_id"], sk=f"{n}", order_id=f"o{n}", line=1, sold_at=sold_at,
                 product_id=p["product_id"], kind=p["kind"], platform=p["platform"], genre=p["genre"], qty=n + 1,
                 unit_cents=p["price_cents"], amount_cents=(n + 1) * p["price_cents"], currency=p["currency"],
                 country="US", customer="c" * 32, status="placed", updated_at=sold_at, day_shard=f"{day}#0")
            for n, p in enumerate(products)
        ],
        schema=RAW_SALES,
    )  # fmt: skip
    PartitionWriter(lake, "raw_sales", RAW_SALES, zone="raw").write(day, [batch])
    table = engine.query(
        """
        SELECT s.order_id, c.title, sl.display_name, sl.contact_email
        FROM raw_sales s
        JOIN dynamodb.default.catalog c ON c.product_id = s.product_id
        JOIN dynamodb.default.sellers sl ON sl.seller_id = s.seller_id
        WHERE s.dt = '2026-03-02'
        ORDER BY s.qty
        """
    )
    names = {s["seller_id"]: s["display_name"] for s in catalog_data.sellers}
    got = rows(table)
    assert [(o, t, n) for o, t, n, _ in got] == [
        (f"o{n}", p["title"], names[p["seller_id"]]) for n, p in enumerate(products)
    ]
    # encrypted PII stays ciphertext: binary, never plaintext
    assert table.schema.field("contact_email").type == pa.binary()
    emails = {s["seller_id"]: s["contact_email"].encode() for s in catalog_data.sellers}
    assert all(isinstance(e, bytes) and emails[p["seller_id"]] not in e for (*_, e), p in zip(got, products))
    assert set(http.operations()) == {"Scan"}  # no key predicates on the dimensions: scans


@pytest.mark.stack
def test_seller_without_sales_gives_no_rows_but_the_columns(engine, http, sales, sellers) -> None:
    table = engine.query("SELECT * FROM dynamodb.default.sales WHERE seller_id = ?", [sellers["none"]])
    assert table.num_rows == 0 and {"seller_id", "sk", "amount_cents", "status"} <= set(table.column_names)
    ops = http.operations()
    assert ops["Query"] == 1 and all("Segment" not in req for op, req in http.sent if op == "Scan")


@pytest.mark.stack
def test_unknown_table_and_contradictions(engine, http, sellers) -> None:
    with pytest.raises((FederatedError, SqlError), match="no such table"):
        engine.query("SELECT * FROM dynamodb.default.nope")
    sql = "SELECT count(*) FROM dynamodb.default.sales WHERE seller_id = 'a' AND seller_id = 'b'"
    assert "none" in engine.explain(sql)["federated"][0]


@pytest.mark.parametrize("table", ["customers", "orders", "idempotency", "order_events"])
@pytest.mark.stack
def test_only_the_models_tables_are_readable_from_sql(engine, http, settings, table) -> None:
    """Customers, orders and idempotency records exist in DynamoDB but SQL cannot reach them, by
    contract name or physical name, and nothing is read from DynamoDB in trying."""
    before = len(http.sent)
    for name in (table, f'"{settings.table(table)}"'):
        with pytest.raises((FederatedError, SqlError), match="not readable from SQL"):
            engine.query(f"SELECT * FROM dynamodb.default.{name}")
        with pytest.raises((FederatedError, SqlError), match="not readable from SQL"):
            engine.query(f"SELECT s.seller_id FROM dynamodb.default.sellers s JOIN dynamodb.default.{name} c ON true")
    assert len(http.sent) == before


@pytest.mark.stack
def test_physical_name_and_explain(engine, http, settings, sellers) -> None:
    physical = settings.table("sales")
    plan = engine.explain(f'SELECT count(*) FROM dynamodb.default."{physical}" WHERE seller_id = ?', [sellers["big"]])
    assert plan["federated"] == [f"Query {physical}; seller_id = {sellers['big']!r}; columns ['seller_id', 'sk']"]
    assert '"__ddb_sales_0"' in plan["duckdb_sql"]


# -- DynamoDB JSON -> Arrow (no server) ------------------------------------------------------------


def test_types_inferred_as_athena_s_connector_does() -> None:
    blob = base64.b64encode(b"\x00ciphertext").decode()
    body = orjson.dumps(
        {
            "Items": [
                {"Product_ID": {"S": "p1"}, "price": {"N": "1999"}, "rate": {"N": "0.5"}, "active": {"BOOL": True},
                 "pii": {"B": blob}, "tags": {"SS": ["a", "b"]}, "sizes": {"NS": ["1", "2"]},
                 "dims": {"M": {"w": {"N": "3"}, "unit": {"S": "cm"}}}, "hist": {"L": [{"N": "1"}, {"N": "2"}]},
                 "odd": {"S": "x"}, "gone": {"NULL": True}},
                {"Product_ID": {"S": "p2"}, "price": {"N": "-5"}, "rate": {"N": "2"}, "active": {"BOOL": False},
                 "odd": {"N": "7"}, "hist": {"L": []}},
            ],
            "LastEvaluatedKey": {"Product_ID": {"S": "p2"}},
        }
    )  # fmt: skip
    table, last_key = body_to_arrow(body, ["Product_ID"])
    assert last_key == {"Product_ID": {"S": "p2"}}
    assert table.column_names[0] == "product_id"  # lower-case names, keys first
    types = {f.name: f.type for f in table.schema}
    assert types["price"] == pa.int64() and types["rate"] == pa.decimal128(38, 9) and types["active"] == pa.bool_()
    assert types["pii"] == pa.binary() and types["tags"] == pa.list_(pa.string())
    assert types["sizes"] == pa.list_(pa.int64()) and types["odd"] == pa.string()
    assert pa.types.is_struct(types["dims"]) and types["hist"] == pa.list_(pa.int64())
    first, second = table.to_pylist()
    assert first["pii"] == b"\x00ciphertext" and first["dims"] == {"w": 3, "unit": "cm"} and first["gone"] is None
    assert second["odd"] == "7" and second["hist"] == [] and second["tags"] is None and second["price"] == -5


def test_pages_with_different_types_are_unified() -> None:
    one, _ = body_to_arrow(orjson.dumps({"Items": [{"k": {"S": "a"}, "n": {"N": "1"}}]}))
    two, _ = body_to_arrow(
        orjson.dumps({"Items": [{"k": {"S": "b"}, "n": {"N": "1.25"}, "m": {"M": {"x": {"S": "y"}}}}]})
    )
    three, _ = body_to_arrow(orjson.dumps({"Items": [{"k": {"S": "c"}, "m": {"S": "text"}}]}))
    table = unify([one, two, three])
    assert table.schema.field("n").type == pa.decimal128(38, 9)
    assert table.column("n").to_pylist()[:2] == [1, pytest.approx(1.25)]
    assert table.column("m").to_pylist() == [None, '{"x":"y"}', "text"]
