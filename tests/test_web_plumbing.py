"""The Flask plumbing the shop and the portal share (`gitgoods.web`)."""

from pathlib import Path

from werkzeug.exceptions import MethodNotAllowed, NotFound

from gitgoods.settings import Settings
from gitgoods.web import browser_app_config, error_headers


def test_an_error_keeps_only_the_allow_header_of_a_405():
    assert error_headers(MethodNotAllowed(["GET", "POST"])) == {"Allow": "GET, POST"}
    assert error_headers(MethodNotAllowed()) == {}
    assert error_headers(NotFound()) == {}


def test_a_browser_app_sends_its_session_cookie_over_https_only_beyond_a_local_stack(tmp_path: Path):
    local = browser_app_config(Settings(env="local", home=tmp_path), "gitgoods_x")
    remote = browser_app_config(Settings(env="aws", home=tmp_path), "gitgoods_x")
    assert (local["SESSION_COOKIE_SECURE"], remote["SESSION_COOKIE_SECURE"]) == (False, True)
    assert local["SESSION_COOKIE_NAME"] == "gitgoods_x" and local["SESSION_COOKIE_HTTPONLY"] is True
    assert local["SESSION_COOKIE_SAMESITE"] == "Lax" and local["MAX_CONTENT_LENGTH"] == 16 * 1024


def test_the_shops_error_page_for_a_405_says_which_methods_are_allowed(tmp_path: Path):
    from storefront.web.app import create_app

    app = create_app(
        {"TESTING": True, "SECRET_KEY": "s", "CATALOG_URL": "http://127.0.0.1:9", "ORDERS_URL": "http://127.0.0.1:9"},
        settings=Settings(env="local", home=tmp_path),
    )
    response = app.test_client().delete("/")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET"}
    assert response.mimetype == "text/html"
