"""A seller in a real browser: Playwright drives Debian's Chromium against the portal over the
published world (tests/insights_world.py). The seller signs in with its Cognito user, opens its
report, and every figure shown equals its own figures in `seller_daily_sales`; nothing of another
seller (ids, names, products) and no buyer identifier appears on the page, in any CSV or in the
PDF. A screenshot of the report is saved to `.artifacts/portal-report.png`. axe-core finds no
serious or critical accessibility problem on the portal's pages (sign-in, sellers, report, errors)."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

from gitgoods.settings import REPO_ROOT
from pipelines.lake.partitions.reading import dataset
from tests.conftest import LiveServer
from tests.helpers import missing_prerequisite
from tests.insights_world import World, world  # noqa: F401 - the fixture
from tests.marts_data import B1, B2, B3, P1, P2, P3, P4, PRODUCTS, S1, S2, S3, SELLERS
from tests.test_web_pages import assert_accessible, axe_source

# one published world per test session: these modules run on one xdist worker
pytestmark = [pytest.mark.stack, pytest.mark.xdist_group("insights_world")]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPO_ROOT / ".artifacts"
# What must never reach S1: the other sellers, their products, and buyers.
FOREIGN = [S2, S3, P3, P4, PRODUCTS[P3]["title"], PRODUCTS[P4]["title"], B1, B2, B3, "USD", "GBP"]


@pytest.fixture(scope="module")
def portal(world: World):  # noqa: F811
    from portal.app import create_app

    app = create_app(settings=world.settings)
    server = LiveServer(app)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        missing_prerequisite("Debian's chromium is not installed (`make test` installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def _sign_in(browser, portal, world: World, user: str):  # type: ignore[no-untyped-def]  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{portal.url}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", world.identities.local_password(user))
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return context, page


def _s1_sales(world: World) -> dict[str, dict]:  # noqa: F811
    table = dataset(world.lake, "seller_daily_sales", zone="marts").to_table()
    return {r["dt"]: r for r in table.to_pylist() if r["seller_id"] == S1}


def _money(cents: int) -> str:
    return f"{cents / 100:,.2f}"


def test_a_seller_sees_exactly_its_own_report(browser, portal, world: World):  # noqa: F811
    axe = axe_source()
    context, page = _sign_in(browser, portal, world, S1)
    assert page.url.endswith(f"/sellers/{S1}/report"), page.url
    html = page.content()
    text = page.inner_text("body")

    # figures of S1 in the mart over the period (the story's three days); by hand from
    # tests/marts_data.py: gross 35.00 + 20.00 + 10.00, refunds 10.00 + 5.00, 5 orders.
    sales = _s1_sales(world)
    gross = sum(r["gross_cents"] for r in sales.values())
    net = sum(r["net_cents"] for r in sales.values())
    orders = sum(r["orders"] for r in sales.values())
    assert (gross, net, orders) == (6500, 5000, 5)
    assert _money(net) in text  # the net revenue KPI: 50.00
    assert f"{gross / orders / 100:,.2f}" in text  # average order value: 13.00
    assert SELLERS[S1]["display_name"] in text
    for foreign in FOREIGN:
        assert foreign not in html, foreign

    # the daily revenue in the CSV of `revenue-over-time` equals the mart, day by day
    csv_text = context.request.get(f"{portal.url}/sellers/{S1}/visuals/revenue-over-time.csv").text()
    rows = list(csv.reader(io.StringIO(csv_text)))
    header, body = rows[0], rows[1:]
    day_col = next(i for i, h in enumerate(header) if "Day" in h)
    gross_col = next(i for i, h in enumerate(header) if "Gross" in h)
    units_col = next(i for i, h in enumerate(header) if "Units" in h)
    shown = {r[day_col][:10]: (float(r[gross_col]), float(r[units_col])) for r in body if r[gross_col]}
    expected = {d: (r["gross_cents"] / 100, float(r["units"])) for d, r in sales.items() if r["units"]}
    assert {d: v for d, v in shown.items() if v != (0.0, 0.0)} == expected

    # no other seller in any CSV of the report, nor in the PDF
    links = page.eval_on_selector_all("a[href*='/visuals/']", "els => els.map(e => e.getAttribute('href'))")
    assert len(links) >= 10
    for link in links:
        body_text = context.request.get(f"{portal.url}{link}").text()
        for foreign in FOREIGN:
            assert foreign not in body_text, (link, foreign)
    pdf = context.request.get(f"{portal.url}/sellers/{S1}/report.pdf")
    assert pdf.status == 200 and pdf.headers["content-type"].startswith("application/pdf")
    pdf_text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.body())).pages)
    assert SELLERS[S1]["display_name"] in pdf_text and _money(net) in pdf_text
    for foreign in FOREIGN:
        assert foreign not in pdf_text, foreign
    top = context.request.get(f"{portal.url}/sellers/{S1}/visuals/top-products.csv").text()
    assert PRODUCTS[P1]["title"] in top and PRODUCTS[P2]["title"] in top  # its own products, and only those

    # the charts are drawn in the browser (static/charts.js with Chart.js) before the screenshot
    page.wait_for_function(
        "() => { const c = document.querySelectorAll('canvas[data-chart]');"
        " return c.length > 0 && [...c].every(e => e.hasAttribute('data-drawn')); }",
        timeout=10_000,
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "portal-report.png"), full_page=True)
    assert (ARTIFACTS / "portal-report.png").stat().st_size > 10_000
    assert_accessible(page, axe, "portal-report")

    # another seller's report: 404, like a seller that does not exist
    other = page.goto(f"{portal.url}/sellers/{S2}/report")
    assert other.status == 404
    assert S2 not in page.inner_text("body") or "not found" in page.inner_text("body").lower()
    assert_accessible(page, axe, "portal-not-found")
    context.close()


def test_an_analyst_opens_every_seller(browser, portal, world: World):  # noqa: F811
    axe = axe_source()
    context, page = _sign_in(browser, portal, world, "analyst")
    text = page.inner_text("body")
    for seller in (S1, S2, S3):
        assert SELLERS[seller]["display_name"] in text
    assert_accessible(page, axe, "portal-sellers")
    response = page.goto(f"{portal.url}/sellers/{S2}/report")
    assert response.status == 200
    assert "60.00" in page.inner_text("body")  # S2's one order: 3 x 20.00, net 60.00
    context.close()


def test_the_sign_in_pages_are_accessible(browser, portal, world: World):  # noqa: F811
    """The sign-in form, and the same form after a wrong password (its notice), pass axe-core."""
    axe = axe_source()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{portal.url}/login")
    assert page.get_by_label("User name").is_visible() and page.get_by_label("Password").is_visible()
    assert_accessible(page, axe, "portal-login")
    page.fill("input[name=username]", S1)
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("alert").is_visible()
    assert_accessible(page, axe, "portal-login-failed")
    context.close()
