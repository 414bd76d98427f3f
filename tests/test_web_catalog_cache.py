"""The pages' short-lived copy of the catalog's answers (storefront/web/catalog_cache.py): a
repeated question within the TTL costs no catalog request, an expired one asks again, failures
are never kept, and a TTL of 0 asks every time. A stand-in catalog on a loopback port counts the
requests it gets."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from flask import Flask

from storefront.web.catalog_cache import CachedCatalogClient, catalog_client
from storefront.web.services import CatalogClient, ServiceUnavailable

PID = "prd_01JAAAAAAAAAAAAAAAAAAAAAAA"


class StandIn:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.fail_next = 0
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                stand_in.hits[self.path] += 1
                if stand_in.fail_next:
                    stand_in.fail_next -= 1
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps({"product_id": PID, "stock": stand_in.hits[self.path], "items": [],
                                   "next_cursor": None}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    s = StandIn()
    yield s
    s.server.shutdown()
    s.server.server_close()


@pytest.fixture
def page() -> Iterator[None]:
    """A request context, as the pages call the catalog from (the page's time budget)."""
    app = Flask(__name__)
    app.config["PAGE_BUDGET_S"] = 5.0
    with app.test_request_context("/"):
        yield


def test_a_repeated_question_within_the_ttl_asks_the_catalog_once(stand_in: StandIn, page: None) -> None:
    client = CachedCatalogClient(stand_in.url, 2.0, ttl_s=0.5)
    first = client.product(PID)
    assert client.product(PID) == first
    assert client.products({"platform": "PC", "limit": 12}) == client.products({"limit": 12, "platform": "PC"})
    assert stand_in.hits == {f"/products/{PID}": 1, "/products?platform=PC&limit=12": 1}
    time.sleep(0.6)
    assert client.product(PID)["stock"] == 2  # expired: asked again, the newer answer shown
    assert stand_in.hits[f"/products/{PID}"] == 2


def test_a_failure_is_not_kept(stand_in: StandIn, page: None) -> None:
    client = CachedCatalogClient(stand_in.url, 2.0, ttl_s=60)
    stand_in.fail_next = 1
    with pytest.raises(ServiceUnavailable):
        client.product(PID)
    assert client.product(PID)["product_id"] == PID
    assert stand_in.hits[f"/products/{PID}"] == 2


def test_ttl_zero_asks_every_time(stand_in: StandIn, page: None) -> None:
    client = catalog_client(stand_in.url, 2.0, ttl_s=0)
    assert type(client) is CatalogClient
    for _ in range(3):
        client.product(PID)
    assert stand_in.hits[f"/products/{PID}"] == 3
