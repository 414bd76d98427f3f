"""The catalog service: search, filters, cursor pagination, sellers, and its DAX-like cache."""

from __future__ import annotations

import pytest

from gitgoods.settings import Settings
from storefront.catalog.app import create_app
from tests.helpers import reserved, set_stock

pytestmark = pytest.mark.stack


def all_pages(client, **params):  # type: ignore[no-untyped-def]
    items, cursor, pages = [], None, 0
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        resp = client.get("/products", query_string=query)
        assert resp.status_code == 200, resp.json
        items += resp.json["items"]
        pages += 1
        cursor = resp.json["next_cursor"]
        if not cursor:
            return items, pages


def test_pagination_walks_every_active_product_once_in_order(catalog_app, catalog_data):
    client = catalog_app.test_client()
    items, pages = all_pages(client, limit=37)
    active = sorted(p["product_id"] for p in catalog_data.products if p["active"])
    assert [i["product_id"] for i in items] == active
    assert pages == -(-len(active) // 37)


def test_filters_and_search_match_the_catalog(catalog_app, catalog_data):
    client = catalog_app.test_client()
    active = [p for p in catalog_data.products if p["active"]]
    some = active[0]
    cases = [
        ({"kind": "merch"}, lambda p: p["kind"] == "merch"),
        ({"platform": "PC", "genre": "RPG"}, lambda p: p["platform"] == "PC" and p["genre"] == "RPG"),
        (
            {"min_price_cents": 1000, "max_price_cents": 2999, "currency": "USD"},
            lambda p: 1000 <= p["price_cents"] <= 2999 and p["currency"] == "USD",
        ),
        ({"q": "gift card"}, lambda p: "gift card" in p["title"].lower()),
        ({"q": some["title"].split()[0].upper()}, lambda p: some["title"].split()[0].lower() in p["title"].lower()),
    ]
    for params, predicate in cases:
        items, _ = all_pages(client, limit=50, **params)
        expected = sorted(p["product_id"] for p in active if predicate(p))
        assert expected, params
        assert [i["product_id"] for i in items] == expected, params


def test_seller_filter_is_a_key_query_on_the_seller_index(catalog_app, catalog_data, settings):
    seller = catalog_data.sellers[3]["seller_id"]
    repo = catalog_app.extensions["catalog_repo"]
    calls = []
    real_query, real_scan = repo.ddb.query, repo.ddb.scan
    repo.ddb.query = lambda **kw: calls.append(("query", kw.get("IndexName"))) or real_query(**kw)
    repo.ddb.scan = lambda **kw: calls.append(("scan", None)) or real_scan(**kw)
    items, _ = all_pages(catalog_app.test_client(), seller_id=seller)
    assert {i["seller_id"] for i in items} == {seller}
    assert len(items) == sum(1 for p in catalog_data.products if p["seller_id"] == seller)
    assert calls and all(c == ("query", "by_seller") for c in calls)


def test_sellers_and_products_by_id(catalog_app, catalog_data):
    client = catalog_app.test_client()
    sellers = client.get("/sellers").json["items"]
    assert len(sellers) == len(catalog_data.sellers) >= 50
    assert all("contact_email" not in s and "pii_key" not in s for s in sellers)
    one = client.get(f"/sellers/{sellers[0]['seller_id']}").json
    assert one == sellers[0]
    product = catalog_data.products[0]
    got = client.get(f"/products/{product['product_id']}").json
    assert got["title"] == product["title"] and got["price_cents"] == product["price_cents"]
    assert client.get("/products/prd_01ARZ3NDEKTSV4RRFFQ69G5FAV").status_code == 404
    assert client.get("/products/nonsense").status_code == 404


@pytest.mark.parametrize(
    "params,field",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"kind": "car"}, "kind"),
        ({"min_price_cents": -1}, "min_price_cents"),
        ({"colour": "red"}, "colour"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ({"min_price_cents": 500, "max_price_cents": 100}, "min_price_cents"),
    ],
)
def test_bad_queries_get_400(catalog_app, params, field):
    resp = catalog_app.test_client().get("/products", query_string=params)
    assert resp.status_code == 400
    assert resp.json["error"]["field"] == field


def test_cursor_cannot_be_reused_with_other_filters(catalog_app):
    client = catalog_app.test_client()
    cursor = client.get("/products", query_string={"kind": "game", "limit": 1}).json["next_cursor"]
    resp = client.get("/products", query_string={"kind": "merch", "cursor": cursor})
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_cursor"


def test_cache_reads_through_once_and_follows_stock_notices(catalog_app, catalog_data, settings):
    client = catalog_app.test_client()
    repo = catalog_app.extensions["catalog_repo"]
    product = reserved(catalog_data, 2)
    pid = product["product_id"]
    gets = []
    real_get = repo.ddb.get_item
    repo.ddb.get_item = lambda **kw: gets.append(kw) or real_get(**kw)
    first = client.get(f"/products/{pid}").json
    for _ in range(5):
        assert client.get(f"/products/{pid}").json == first
    assert len(gets) == 1  # read-through once, then served from the item cache

    set_stock(settings, pid, 3)  # a write made elsewhere (an order)
    assert client.get(f"/products/{pid}").json["stock"] == first["stock"]  # cached until told
    notice = client.post(
        "/internal/stock-changed", json={"product_ids": [pid]}, headers={"X-Internal-Token": settings.internal_token}
    )
    assert notice.status_code == 200
    assert client.get(f"/products/{pid}").json["stock"] == 3
    listed = {i["product_id"]: i for i in all_pages(client, limit=100)[0]}
    assert listed[pid]["stock"] == 3  # the cached listing was patched too
    assert client.post("/internal/stock-changed", json={"product_ids": [pid]}).status_code == 401


def test_item_cache_expires_after_its_ttl(settings: Settings, catalog_data):
    app = create_app({"TESTING": True}, settings=settings.model_copy(update={"cache_item_ttl_s": 0.2}))
    client = app.test_client()
    product = reserved(catalog_data, 3)
    client.get(f"/products/{product['product_id']}")
    set_stock(settings, product["product_id"], 42)
    import time

    time.sleep(0.3)
    assert client.get(f"/products/{product['product_id']}").json["stock"] == 42


def test_flooding_client_gets_429(settings: Settings, catalog_data):
    app = create_app({"TESTING": True}, settings=settings.model_copy(update={"rate_limit_reads": "5 per minute"}))
    client = app.test_client()
    statuses = [client.get("/sellers").status_code for _ in range(8)]
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429] * 3
    resp = client.get("/sellers")
    assert resp.json["error"]["code"] == "rate_limited" and resp.headers["Retry-After"]
    assert client.get("/health").status_code == 200  # health is never limited
