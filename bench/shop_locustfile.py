"""Shoppers on the shop's pages, for locust (driven by bench/shop_load.py, which sets the env).

Each simulated shopper keeps its own cookies (the signed session holds its cart) and, between
actions, thinks 1-5 s. The action mix: home 15 %, search 25 %, product page 30 %, add to cart
12 %, cart 10 %, checkout 8 % (of which most end in a placed order: about 5 % of all actions).
A checkout is what a browser does: the form (CSRF token and the checkout's idempotency key),
the POST, the confirmation. In the fault run (`SHOP_RETRY_SHARE` > 0) that share of checkouts
posts the same form a second time, as a double click or a retry after a lost answer would, and
the order must still be placed once.

Orders that were placed (the confirmation page's receipt link names them) are appended to
`SHOP_PLACED` (one JSON line each, order id and checkout key), for the audit after the run.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading

from locust import FastHttpUser, between, events, task

PRODUCTS: list[str] = json.loads(os.environ.get("SHOP_PRODUCTS", "[]"))
WORDS: list[str] = json.loads(os.environ.get("SHOP_WORDS", '["quest"]'))
RETRY_SHARE = float(os.environ.get("SHOP_RETRY_SHARE", "0"))
PLACED_PATH = os.environ.get("SHOP_PLACED", "")
PLATFORMS = ["PC", "PlayStation 5", "Xbox Series X|S", "Nintendo Switch"]
GENRES = ["Action", "RPG", "Strategy", "Sports", "Puzzle"]

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
CHECKOUT_KEY = re.compile(r'name="checkout_key" type="hidden" value="([^"]+)"|name="checkout_key" value="([^"]+)"')
RECEIPT = re.compile(r"/orders/(ord_[0-9A-Z]{26})\?token=")

_placed_lock = threading.Lock()
# Zipf-like popularity (s = 1) over the catalog as given (the driver shuffles it).
_WEIGHTS = [1.0 / (i + 1) for i in range(len(PRODUCTS))]


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    m = pattern.search(text)
    return next((g for g in m.groups() if g), None) if m else None


def _record(order_id: str, key: str, retried: bool) -> None:
    if not PLACED_PATH:
        return
    with _placed_lock, open(PLACED_PATH, "a") as fh:
        fh.write(json.dumps({"order_id": order_id, "checkout_key": key, "retried": retried}) + "\n")


@events.init_command_line_parser.add_listener
def _no_args(parser) -> None:  # type: ignore[no-untyped-def]
    """Nothing to add: the driver passes everything through the environment."""


class Shopper(FastHttpUser):
    wait_time = between(1, 5)
    # Connections are kept alive per shopper, as a browser does.
    connection_timeout = 10.0
    network_timeout = 10.0

    def on_start(self) -> None:
        self.cart = 0

    def _product(self) -> str:
        return random.choices(PRODUCTS, weights=_WEIGHTS, k=1)[0]

    @task(15)
    def home(self) -> None:
        self.client.get("/", name="home")

    @task(25)
    def search(self) -> None:
        params: dict[str, str] = {}
        roll = random.random()
        if roll < 0.5:
            params["q"] = random.choice(WORDS)
        if roll > 0.3:
            params["platform"] = random.choice(PLATFORMS)
        if random.random() < 0.2:
            params["genre"] = random.choice(GENRES)
        self.client.get("/search", params=params, name="search")

    @task(30)
    def product(self) -> None:
        self.client.get(f"/products/{self._product()}", name="product")

    def _add(self) -> bool:
        pid = self._product()
        with self.client.get(f"/products/{pid}", name="product", catch_response=True) as page:
            token = _first(CSRF, page.text or "")
            if page.status_code != 200 or token is None:
                page.success() if page.status_code == 404 else None  # an inactive product: browse on
                return False
        with self.client.post(
            "/cart/add",
            data={"csrf_token": token, "product_id": pid, "qty": "1"},
            name="cart add",
            allow_redirects=False,
            catch_response=True,
        ) as resp:
            if resp.status_code != 303:
                resp.failure(f"cart add answered {resp.status_code}")
                return False
            # A full cart or another currency sends the shopper back to the product page.
            if resp.headers.get("Location", "").endswith("/cart"):
                self.cart += 1
                return True
            return False

    @task(12)
    def add_to_cart(self) -> None:
        self._add()

    @task(10)
    def view_cart(self) -> None:
        self.client.get("/cart", name="cart")

    @task(8)
    def checkout(self) -> None:
        if self.cart == 0 and not self._add():
            return
        with self.client.get("/checkout", name="checkout form", catch_response=True) as page:
            token, key = _first(CSRF, page.text or ""), _first(CHECKOUT_KEY, page.text or "")
            if page.status_code != 200 or token is None or key is None:
                page.failure(f"checkout form answered {page.status_code} without its form")
                return
        n = random.randrange(1_000_000)
        form = {
            "csrf_token": token,
            "checkout_key": key,
            "name": f"Load Shopper {n}",
            "email": f"shopper{n % 5000}@example.com",
            "address": f"{n} Test Street, Springfield",
            "phone": f"+1 555 {n % 10_000:04d}",
            "country": "US",
        }
        retried = random.random() < RETRY_SHARE
        for attempt in range(2 if retried else 1):
            with self.client.post(
                "/checkout",
                data=form,
                name="place order" if attempt == 0 else "place order (retry)",
                allow_redirects=False,
                catch_response=True,
            ) as resp:
                if resp.status_code != 303:
                    resp.failure(f"checkout answered {resp.status_code}")
                    return
        self.cart = 0
        with self.client.get("/checkout/done", name="confirmation", catch_response=True) as done:
            order_id = _first(RECEIPT, done.text or "") if done.status_code == 200 else None
            if order_id is None:
                # Refused (stock, a changed cart): the shop sends the shopper back to the cart.
                if done.status_code != 200:
                    done.failure(f"confirmation answered {done.status_code}")
                return
            _record(order_id, key, retried)
