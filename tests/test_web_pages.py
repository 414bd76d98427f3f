"""The shop's pages (storefront/web) over the real catalog and order services on live servers: pages
render real products, filters and cursor pages work, the cart and checkout place exactly one order
per checkout however often it is submitted, the receipt link opens the order and a wrong token does
not, CSRF and security headers are on, and a service that is down or slow gives a friendly 503 in
bounded time. A Playwright walk through the shop in Chromium saves screenshots to `.artifacts/`, and
axe-core finds no serious or critical accessibility problem on any page of the walk."""

from __future__ import annotations

import hashlib
import html
import json
import random
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask, jsonify

from gitgoods import aws
from gitgoods.settings import REPO_ROOT, Settings
from storefront.web.app import create_app
from tests.conftest import LiveServer, free_port
from tests.helpers import count_where, customer, missing_prerequisite, pick

pytestmark = pytest.mark.stack

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPO_ROOT / ".artifacts"
PRODUCT_LINK = re.compile(r'href="/products/(prd_[0-9A-Z]{26})"')
AXE = REPO_ROOT / ".tools" / "axe-core" / "axe.min.js"  # `make tools` fetches it (axe-core, npm)
AXE_BLOCKING = ("serious", "critical")


def web_app(settings: Settings, catalog_url: str, orders_url: str) -> Flask:
    return create_app(
        {"CATALOG_URL": catalog_url, "ORDERS_URL": orders_url, "SECRET_KEY": "test-web-secret"}, settings=settings
    )


@pytest.fixture()
def shop(settings: Settings, catalog_app, orders_app) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """The web app on a live server, in front of the real catalog and order services."""
    catalog, orders = LiveServer(catalog_app), LiveServer(orders_app)
    web = LiveServer(web_app(settings, catalog.url, orders.url))
    yield web
    for server in (web, orders, catalog):
        server.stop()


def csrf_token(page: str) -> str:
    match = re.search(r'name="(?:\w+-)?csrf_token" type="hidden" value="([^"]+)"', page)
    assert match, "no CSRF token in the form"
    return match.group(1)


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" type="hidden" value="([^"]*)"', page)
    assert match, f"no hidden field {name}"
    return match.group(1)


def product_ids(page: str) -> list[str]:
    return list(dict.fromkeys(PRODUCT_LINK.findall(page)))


def add_to_cart(browser: requests.Session, url: str, product_id: str, qty: int = 1) -> requests.Response:
    page = browser.get(f"{url}/products/{product_id}").text
    return browser.post(
        f"{url}/cart/add", data={"csrf_token": csrf_token(page), "product_id": product_id, "qty": str(qty)}
    )


def checkout_form(browser: requests.Session, url: str) -> dict[str, str]:
    resp = browser.get(f"{url}/checkout")
    assert resp.status_code == 200, resp.text
    return {"csrf_token": csrf_token(resp.text), "checkout_key": hidden(resp.text, "checkout_key")}


def orders_with_key(settings: Settings, key: str) -> int:
    # The order service stores the key's hash on the order (storefront/orders/service.py `_key_hash`).
    key_hash = hashlib.sha256(("idem:" + key).encode()).hexdigest()
    return count_where(settings, "orders", "idempotency_key_hash", key_hash)


def a_product(catalog_data, seed: int, **where: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    while True:
        p = pick(catalog_data, rng=rng)
        if all(p[k] == v for k, v in where.items()):
            return p


# -- browsing ------------------------------------------------------------------------------------


class _CatalogTable(dict):
    """Products by id, read from the catalog table itself: other tests of the session add products
    of their own to it, so the seeded list is not the whole catalog."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.ddb = aws.client("dynamodb", settings)
        self.table = settings.table("catalog")

    def __missing__(self, product_id: str) -> dict[str, Any]:
        item = self.ddb.get_item(TableName=self.table, Key={"product_id": {"S": product_id}})["Item"]
        self[product_id] = {k: v["S"] if "S" in v else int(v["N"]) if "N" in v else v for k, v in item.items()}
        return self[product_id]


def test_home_search_and_product_pages_show_real_products(shop, catalog_data, settings):
    by_id = _CatalogTable(settings)
    home = requests.get(shop.url + "/")
    assert home.status_code == 200
    featured = product_ids(home.text)
    assert featured and all(by_id[pid]["kind"] == "game" for pid in featured)
    assert html.escape(by_id[featured[0]]["title"]) in home.text
    assert "PlayStation 5" in home.text  # the platform links

    product = a_product(catalog_data, 1, kind="game")
    word = product["title"].split()[0]
    found = requests.get(shop.url + "/search", params={"q": word})
    assert found.status_code == 200
    assert product["product_id"] in product_ids(found.text) or len(product_ids(found.text)) == 12
    assert all(word.lower() in by_id[pid]["title"].lower() for pid in product_ids(found.text))

    page = requests.get(f"{shop.url}/products/{product['product_id']}")
    assert page.status_code == 200
    assert f"<h1 id=\"product-title\">{html.escape(product['title'])}</h1>" in page.text
    assert html.escape(product["platform"]) in page.text
    image = requests.get(f"{shop.url}/images/products/{product['product_id']}.svg")
    assert image.status_code == 200 and image.headers["Content-Type"].startswith("image/svg+xml")
    assert html.escape(product["platform"]) in image.text and "<script" not in image.text

    missing = requests.get(shop.url + "/products/prd_00000000000000000000000000")
    assert missing.status_code == 404 and "find that page" in missing.text


def test_search_filters_and_the_next_page(shop, catalog_data, settings):
    by_id = _CatalogTable(settings)

    def pc_game(pid: str) -> bool:
        return by_id[pid]["platform"] == "PC" and by_id[pid]["kind"] == "game"

    expected = sorted(
        p["product_id"] for p in catalog_data.products
        if p["active"] and p["platform"] == "PC" and p["kind"] == "game"
    )
    # other tests of the session add products to the same table: the seeded ones are a lower bound
    assert len(expected) > 12, "the test catalog should give two pages"
    first = requests.get(shop.url + "/search", params={"platform": "PC", "kind": "game"})
    assert first.status_code == 200
    page1 = product_ids(first.text)
    assert len(page1) == 12 and page1 == sorted(page1) and all(pc_game(p) for p in page1)
    next_link = re.search(r'<a class="button" rel="next" href="([^"]+)"', first.text)
    assert next_link, "no next page link"
    second = requests.get(shop.url + html.unescape(next_link.group(1)))
    assert second.status_code == 200
    page2 = product_ids(second.text)
    assert page2 and all(pc_game(p) for p in page2) and min(page2) > max(page1)
    assert "First page" in second.text

    priced = requests.get(
        shop.url + "/search", params={"currency": "USD", "min_price": "20", "max_price": "40", "kind": "game"}
    )
    ids = product_ids(priced.text)
    assert ids and all(
        by_id[i]["currency"] == "USD" and 2000 <= by_id[i]["price_cents"] <= 4000 for i in ids
    )

    bad = requests.get(shop.url + "/search", params={"min_price": "cheap", "platform": "Amiga"})
    assert bad.status_code == 400
    assert 'aria-describedby="f-min_price-error"' in bad.text and 'id="f-platform-error"' in bad.text

    forged = requests.get(shop.url + "/search", params={"kind": "game", "cursor": "made.up"})
    assert forged.status_code == 400 and "expired" in forged.text


def test_titles_are_escaped_everywhere(settings: Settings):
    """A catalog whose product title is markup: every page shows it as text."""
    nasty = {
        "product_id": "prd_01KAAAAAAAAAAAAAAAAAAAAAAA", "seller_id": "sel_01KAAAAAAAAAAAAAAAAAAAAAAA",
        "title": '<script>alert("x")</script> & <b>Co</b>', "kind": "game", "platform": '"><img src=x>',
        "genre": "RPG", "price_cents": 1999, "currency": "USD", "stock": 5, "active": True,
    }
    fake = Flask("fake_catalog")
    fake.add_url_rule("/products", "products", lambda: jsonify({"items": [nasty], "next_cursor": None}))
    fake.add_url_rule("/products/<pid>", "product", lambda pid: jsonify(nasty))
    fake.add_url_rule("/sellers/<sid>", "seller", lambda sid: (jsonify({"error": {"code": "not_found"}}), 404))
    catalog = LiveServer(fake)
    web = LiveServer(web_app(settings, catalog.url, "http://127.0.0.1:9"))
    try:
        for path in ("/", "/search", f"/products/{nasty['product_id']}", f"/images/products/{nasty['product_id']}.svg"):
            body = requests.get(web.url + path).text
            assert "<script>" not in body and "<img src=x>" not in body and "<b>Co</b>" not in body, path
            assert "&lt;script&gt;" in body, path
    finally:
        web.stop()
        catalog.stop()


# -- cart and checkout ---------------------------------------------------------------------------


def test_add_to_cart_then_the_cart_shows_it(shop, catalog_data):
    product = a_product(catalog_data, 2)
    browser = requests.Session()
    added = add_to_cart(browser, shop.url, product["product_id"], qty=2)
    assert added.status_code == 200 and added.url.endswith("/cart")
    assert html.escape(product["title"]) in added.text
    assert "Added " in added.text and 'role="status"' in added.text
    assert re.search(r'class="badge">2<', added.text)
    assert 'value="2"' in added.text  # the quantity field of the line
    # The signed cookie holds ids and quantities only, never a price or a title.
    app = shop.server.app
    session = app.session_interface.get_signing_serializer(app).loads(browser.cookies["gitgoods_shop"])
    assert session["cart"] == {product["product_id"]: 2}
    assert set(session) <= {"cart", "csrf_token", "_flashes"}


def test_cart_quantities_change_and_lines_go(shop, catalog_data):
    product = a_product(catalog_data, 10)
    browser = requests.Session()
    cart = add_to_cart(browser, shop.url, product["product_id"]).text
    token = csrf_token(cart)
    updated = browser.post(f"{shop.url}/cart/update", data={"u0-csrf_token": token, "u0-product_id":
                                                            product["product_id"], "u0-qty": "3"})
    assert re.search(r'class="badge">3<', updated.text)
    removed = browser.post(f"{shop.url}/cart/remove", data={"r0-csrf_token": token, "r0-product_id":
                                                            product["product_id"]})
    assert "Your cart is empty." in removed.text and re.search(r'class="badge">0<', removed.text)


def test_checkout_shows_field_errors(shop, catalog_data):
    browser = requests.Session()
    add_to_cart(browser, shop.url, a_product(catalog_data, 3)["product_id"])
    form = checkout_form(browser, shop.url)

    empty = browser.post(f"{shop.url}/checkout", data={**form, "name": "", "email": "", "address": "",
                                                       "phone": "", "country": ""})
    assert empty.status_code == 422
    assert 'class="error-summary" role="alert"' in empty.text
    for field in ("name", "email", "address", "phone", "country"):
        assert f'id="{field}-error"' in empty.text, field
        assert re.search(rf'aria-describedby="[^"]*{field}-error[^"]*"[^>]*id="{field}"|id="{field}"[^>]*aria-describedby="[^"]*{field}-error', empty.text), field  # noqa: E501

    good = customer(1)
    for field, bad_value in (("email", "not-an-email"), ("phone", "call me maybe"), ("country", "ZZ")):
        resp = browser.post(f"{shop.url}/checkout", data={**form, **good, field: bad_value})
        assert resp.status_code == 422, (field, resp.status_code)
        assert f'id="{field}-error"' in resp.text, field
        assert 'aria-invalid="true"' in resp.text
        assert html.escape(bad_value) not in resp.text.split('id="' + field + '-error"')[1].split("</p>")[0]
    assert orders_with_key(shop_settings(shop), form["checkout_key"]) == 0


def shop_settings(shop: LiveServer) -> Settings:
    return shop.server.app.config["SETTINGS"]


def test_checkout_places_one_order_however_often_it_is_submitted(shop, catalog_data, settings):
    product = a_product(catalog_data, 4)
    browser = requests.Session()
    add_to_cart(browser, shop.url, product["product_id"], qty=2)
    form = checkout_form(browser, shop.url)
    body = {**form, **customer(2)}
    double_click = browser.cookies.copy()  # what a second click sends: the cookie of before the first

    first = browser.post(f"{shop.url}/checkout", data=body)
    assert first.status_code == 200 and first.url.endswith("/checkout/done")
    assert "Thank you" in first.text
    order_id = re.search(r'class="order-id">(ord_[0-9A-Z]{26})<', first.text).group(1)
    assert html.escape(product["title"]) in first.text

    again = browser.post(f"{shop.url}/checkout", data=body)  # the same form once more, newer cookie
    assert again.url.endswith("/checkout/done") and order_id in again.text
    clicked = requests.Session()
    clicked.cookies.update(double_click)
    second = clicked.post(f"{shop.url}/checkout", data=body)  # the double click's second request
    assert second.url.endswith("/checkout/done") and order_id in second.text

    assert orders_with_key(settings, form["checkout_key"]) == 1
    assert count_where(settings, "orders", "order_id", order_id) == 1
    assert re.search(r'class="badge">0<', first.text)  # the cart is empty after the order

    # A new checkout after that is a new key.
    add_to_cart(browser, shop.url, product["product_id"])
    assert checkout_form(browser, shop.url)["checkout_key"] != form["checkout_key"]


def test_receipt_link_opens_the_order_and_a_wrong_token_does_not(shop, catalog_data):
    browser = requests.Session()
    add_to_cart(browser, shop.url, a_product(catalog_data, 5)["product_id"])
    done = browser.post(f"{shop.url}/checkout", data={**checkout_form(browser, shop.url), **customer(3)})
    link = html.unescape(re.search(r'class="receipt-link"><a href="([^"]+)"', done.text).group(1))
    order_id = re.search(r"/orders/(ord_[0-9A-Z]{26})\?token=", link).group(1)

    status = requests.get(link)  # another browser, no session: the link alone opens it
    assert status.status_code == 200
    assert order_id in status.text and "placed" in status.text

    wrong = requests.get(f"{shop.url}/orders/{order_id}", params={"token": "not-the-token"})
    assert wrong.status_code == 404 and order_id not in wrong.text
    assert requests.get(f"{shop.url}/orders/{order_id}").status_code == 404
    assert requests.get(f"{shop.url}/orders/nonsense", params={"token": "x"}).status_code == 404


# -- protections ---------------------------------------------------------------------------------


def test_forms_without_csrf_token_are_refused(shop, catalog_data):
    product = a_product(catalog_data, 6)
    browser = requests.Session()
    browser.get(f"{shop.url}/products/{product['product_id']}")
    refused = browser.post(f"{shop.url}/cart/add", data={"product_id": product["product_id"], "qty": "1"})
    assert refused.status_code == 400 and "expired" in refused.text
    assert re.search(r'class="badge">0<', browser.get(f"{shop.url}/cart").text)
    add_to_cart(browser, shop.url, product["product_id"])
    form = checkout_form(browser, shop.url)
    no_token = browser.post(f"{shop.url}/checkout", data={"checkout_key": form["checkout_key"], **customer(4)})
    assert no_token.status_code == 400
    wrong = browser.post(f"{shop.url}/checkout", data={**form, "csrf_token": "forged", **customer(4)})
    assert wrong.status_code == 400


def test_security_headers_on_every_page(shop, catalog_data):
    product = a_product(catalog_data, 7)["product_id"]
    paths = ["/", "/search?kind=game", f"/products/{product}", "/cart", "/checkout", "/health",
             "/static/shop.css", f"/images/products/{product}.svg", "/no-such-page", "/orders/x?token=y"]
    for path in paths:
        resp = requests.get(shop.url + path, allow_redirects=False)
        h = resp.headers
        csp = h.get("Content-Security-Policy", "")
        assert "default-src 'self'" in csp and "script-src 'none'" in csp and "frame-ancestors 'none'" in csp, path
        assert "unsafe-inline" not in csp, path
        assert h.get("X-Content-Type-Options") == "nosniff", path
        assert h.get("X-Frame-Options") == "DENY", path
        assert h.get("Referrer-Policy") == "strict-origin", path
    page = requests.get(shop.url + "/")
    assert page.headers["Cache-Control"] == "no-store"
    assert "style=" not in page.text and "<script" not in page.text  # nothing inline for the CSP to block
    empty_checkout = requests.get(shop.url + "/checkout", allow_redirects=False)  # flashes: sets the cookie
    assert empty_checkout.status_code == 303
    assert "HttpOnly" in empty_checkout.headers["Set-Cookie"] and "SameSite=Lax" in empty_checkout.headers["Set-Cookie"]


# -- services down or slow -----------------------------------------------------------------------


def test_a_catalog_that_is_down_gives_a_friendly_503_quickly(settings: Settings):
    closed = f"http://127.0.0.1:{free_port()}"
    web = LiveServer(web_app(settings, closed, closed))
    try:
        for path in ("/", "/search?q=drift", "/products/prd_01KAAAAAAAAAAAAAAAAAAAAAAA", "/orders/"
                     "ord_01KAAAAAAAAAAAAAAAAAAAAAAA?token=abc"):
            started = time.monotonic()
            resp = requests.get(web.url + path, timeout=10)
            assert time.monotonic() - started < 3, path
            assert resp.status_code == 503, path
            assert "taking a short break" in resp.text and "Traceback" not in resp.text, path
            assert resp.headers["Retry-After"] and resp.headers["X-Frame-Options"] == "DENY"
        assert requests.get(web.url + "/health").json() == {"status": "ok"}
    finally:
        web.stop()


def test_a_slow_catalog_gives_a_503_within_the_page_budget(settings: Settings):
    slow = Flask("slow_catalog")

    @slow.get("/products")
    def _slow():  # type: ignore[no-untyped-def]
        time.sleep(6)
        return jsonify({"items": [], "next_cursor": None})

    catalog = LiveServer(slow)
    web = LiveServer(web_app(settings, catalog.url, catalog.url))
    try:
        started = time.monotonic()
        resp = requests.get(web.url + "/", timeout=10)
        elapsed = time.monotonic() - started
        assert resp.status_code == 503 and "taking a short break" in resp.text
        assert 1.5 < elapsed < 3.0, elapsed
    finally:
        web.stop()
        catalog.stop()


def test_an_order_service_that_is_down_keeps_the_checkout(settings: Settings, catalog_app, catalog_data):
    catalog = LiveServer(catalog_app)
    web = LiveServer(web_app(settings, catalog.url, f"http://127.0.0.1:{free_port()}"))
    try:
        browser = requests.Session()
        add_to_cart(browser, web.url, a_product(catalog_data, 8)["product_id"])
        resp = browser.post(f"{web.url}/checkout", data={**checkout_form(browser, web.url), **customer(5)})
        assert resp.status_code == 503 and "Nothing was lost" in resp.text
        assert re.search(r'class="badge">1<', browser.get(f"{web.url}/cart").text)  # the cart is still there
    finally:
        web.stop()
        catalog.stop()


# -- a real browser ------------------------------------------------------------------------------


@pytest.fixture()
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        missing_prerequisite("Debian's chromium is not installed (`make test` installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


# -- accessibility (axe-core) --------------------------------------------------------------------


def axe_source() -> str:
    if not AXE.exists():
        missing_prerequisite(f"axe-core is not fetched ({AXE.relative_to(REPO_ROOT)}; `make tools` fetches it)")
    return AXE.read_text()


_AXE_RUN = """axe.run(document, {resultTypes: ['violations', 'incomplete']}).then(r => {
    const brief = list => list.map(v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
        nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))}));
    return {violations: brief(r.violations), incomplete: brief(r.incomplete)};
})"""


def axe_results(page: Any, source: str) -> dict[str, list[dict[str, Any]]]:
    """axe-core's violations (and the checks it could not decide, `incomplete`) on the page as it
    is now. axe runs through the DevTools protocol, so no <script> is added to the page and its
    Content-Security-Policy stays as it is; the page's context must allow JavaScript (see
    `scripted_copy` for one that does not)."""
    cdp = page.context.new_cdp_session(page)
    try:
        for expression, wait in ((source + "\n;typeof axe", False), (_AXE_RUN, True)):
            reply = cdp.send("Runtime.evaluate", {"expression": expression, "awaitPromise": wait, "returnByValue": True,
                                                  "timeout": 60_000})
            assert "exceptionDetails" not in reply, f"axe-core failed on {page.url}: {reply['exceptionDetails']}"
        return reply["result"]["value"]
    finally:
        cdp.detach()


def axe_report(violations: list[dict[str, Any]], where: str) -> str:
    """The violations as a readable list: rule, impact, what to do and where, for the assertion message."""
    lines = [f"{len(violations)} serious/critical accessibility violation(s) on {where}:"]
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"][:5]:
            summary = " ".join((node["summary"] or "").split())
            lines.append(f"    at {node['target']}: {summary}")
        if len(v["nodes"]) > 5:
            lines.append(f"    ... and {len(v['nodes']) - 5} more element(s)")
    return "\n".join(lines)


def assert_accessible(page: Any, source: str, name: str) -> None:
    """No axe violation of impact serious or critical on the page; all its results (minor and
    moderate violations too, and what axe left for a person to review) go to `.artifacts/axe-<name>.json`."""
    results = axe_results(page, source)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps({"url": page.url, **results}, indent=2))
    blocking = [v for v in results["violations"] if v["impact"] in AXE_BLOCKING]
    assert not blocking, axe_report(blocking, f"{name} ({page.url})")


@contextmanager
def scripted_copy(page: Any) -> Iterator[Any]:
    """The document a JavaScript-less page shows, in a page of the same browser that allows
    JavaScript (which axe needs), at the same address, so its stylesheet and images load from the
    server as usual: axe checks what the shopper without JavaScript sees."""
    document, url = page.content(), page.url
    context = page.context.browser.new_context(viewport=page.viewport_size)
    try:
        copy = context.new_page()
        html_type = "text/html; charset=utf-8"
        copy.route(lambda u: u == url, lambda route: route.fulfill(body=document, content_type=html_type))
        copy.goto(url)
        # the stylesheet applies (axe's contrast checks read the computed colours)
        assert copy.evaluate("() => [...document.styleSheets].some(s => s.cssRules.length > 0)"), url
        yield copy
    finally:
        context.close()


def test_the_accessibility_check_finds_serious_problems(chromium):
    """The check is not blind: a page with an unlabelled field, an image without text and grey on
    white text fails it, each rule named."""
    source = axe_source()
    context = chromium.new_context()
    page = context.new_page()
    page.set_content(
        '<!doctype html><html lang="en"><head><title>t</title><style>p { color: #bbb; background: #fff; }</style>'
        '</head><body><main><h1>Bad</h1><p>faint text</p><img src="data:," width="9" height="9">'
        '<form><input type="text" name="q"></form></main></body></html>'
    )
    with pytest.raises(AssertionError) as failed:
        assert_accessible(page, source, "self-test")
    message = str(failed.value)
    for rule in ("color-contrast", "image-alt", "label"):
        assert f"- {rule} (" in message, message
    assert "at p:" in message and "at img" in message and "at input" in message, message
    context.close()


def test_a_shopper_buys_a_game_in_chromium(shop, chromium, catalog_data):
    axe = axe_source()
    ARTIFACTS.mkdir(exist_ok=True)
    product = a_product(catalog_data, 9, kind="game")
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    page = context.new_page()
    console_errors: list[str] = []
    # A resource the CSP blocks shows up as a console error ("Refused to load ...").
    page.on("console", lambda msg: console_errors.append(msg.text) if "Refused" in msg.text else None)
    checked: list[str] = []

    def accessible(name: str) -> None:
        with scripted_copy(page) as copy:
            assert_accessible(copy, axe, f"shop-{name}")
        checked.append(name)

    page.goto(shop.url + "/")
    assert page.get_by_role("heading", name="Featured games").is_visible()
    page.screenshot(path=str(ARTIFACTS / "shop-home.png"), full_page=True)
    accessible("home")

    page.get_by_label("Search the shop").fill(product["title"])
    page.get_by_role("button", name="Search", exact=True).click()
    assert "/search" in page.url
    assert page.locator(".product-card").count() > 0
    accessible("search")
    page.locator(f'a[href="/products/{product["product_id"]}"]').first.click()
    assert page.get_by_role("heading", level=1).inner_text() == product["title"]
    page.screenshot(path=str(ARTIFACTS / "shop-product.png"), full_page=True)
    accessible("product")

    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Add to cart").click()
    assert page.url.endswith("/cart")
    assert page.get_by_role("link", name=product["title"]).is_visible()
    page.screenshot(path=str(ARTIFACTS / "shop-cart.png"), full_page=True)
    accessible("cart")

    page.get_by_role("link", name="Go to checkout").click()
    accessible("checkout")
    page.get_by_role("button", name="Place order").click()  # nothing filled in: errors
    assert page.get_by_role("alert").first.is_visible()
    assert page.get_by_label("Full name").get_attribute("aria-invalid") == "true"
    accessible("checkout-errors")
    shopper = customer(9)
    page.get_by_label("Full name").fill(shopper["name"])
    page.get_by_label("E-mail").fill(shopper["email"])
    page.get_by_label("Delivery address").fill("100 Quarry Lane\nSpringfield")
    page.get_by_label("Phone").fill(shopper["phone"])
    page.get_by_label("Country").select_option("US")
    page.get_by_role("button", name="Place order").click()
    assert page.url.endswith("/checkout/done"), page.url
    assert page.get_by_role("heading", name="Thank you! Your order is placed.").is_visible()
    assert product["title"] in page.locator(".order-summary").inner_text()
    page.screenshot(path=str(ARTIFACTS / "shop-confirmation.png"), full_page=True)
    accessible("confirmation")

    order_id = page.locator(".order-id").first.inner_text()
    page.locator(".receipt-link a").click()
    assert f"/orders/{order_id}?token=" in page.url
    assert "placed" in page.get_by_role("heading", name=re.compile("Status")).inner_text().lower()
    accessible("order")

    missing = page.goto(shop.url + "/products/prd_00000000000000000000000000")
    assert missing.status == 404 and page.get_by_role("heading", level=1).is_visible()
    accessible("error")
    assert checked == ["home", "search", "product", "cart", "checkout", "checkout-errors", "confirmation", "order",
                       "error"]
    assert not console_errors, console_errors
    for name in ("home", "product", "cart", "confirmation"):
        assert (ARTIFACTS / f"shop-{name}.png").stat().st_size > 10_000
    context.close()
