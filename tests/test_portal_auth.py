"""The seller portal's sign-in and authorisation, against a real pool on the in-process moto server.

The report content comes from a test double (`FakeReports`): what is tested here is who may see
what, not how reports look. Forged tokens are signed with moto's own bundled key (the key the
pool's JWKS serves), so each one is refused for the one claim it gets wrong.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
import uuid
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import jwt
import pytest
import requests
from botocore.stub import Stubber
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, jsonify, redirect, request
from markupsafe import Markup
from moto.utilities.utils import load_resource

from gitgoods.identity import Identities
from gitgoods.settings import Settings
from portal.app import create_app
from portal.reports import ReportNotFound, ReportPage, Viewer
from portal.tokens import InvalidToken, TokenVerifier
from tests.conftest import LiveServer

pytestmark = pytest.mark.stack

SHOPS = {"s-1": "Shop One", "s-2": "Shop Two", "s-3": "Shop Three"}
MOTO_KEY = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(load_resource("cognitoidp/resources/jwks-private.json")))


class FakeReports:
    """Fixed content; records what it was asked, to show the routes decide access first."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def sellers(self, viewer: Viewer) -> list[tuple[str, str]]:
        return [(sid, name) for sid, name in SHOPS.items() if viewer.may_open(sid)]

    def _known(self, seller_id: str) -> None:
        if seller_id == "boom":
            raise RuntimeError("secret-detail-in-message")
        if seller_id not in SHOPS:
            raise ReportNotFound(seller_id)

    def page(self, viewer: Viewer, seller_id: str, start: date | None, end: date | None) -> ReportPage:
        self.calls.append(("page", seller_id, str(start), str(end)))
        self._known(seller_id)
        return ReportPage(
            title=f"{SHOPS[seller_id]} insights",
            html=Markup("<p class='body'>report-body {}</p>").format(seller_id),
            freshness="Data up to 2026-11-25",
            start=start or date(2026, 8, 28),
            end=end or date(2026, 11, 25),
        )

    def csv(self, viewer: Viewer, seller_id: str, visual_id: str, start: date | None, end: date | None):
        self.calls.append(("csv", seller_id, visual_id))
        self._known(seller_id)
        if visual_id != "daily-sales":
            raise ReportNotFound(visual_id)
        return f"{seller_id}-{visual_id}.csv", b"day,gross\n2026-11-25,100\n"

    def pdf(self, viewer: Viewer, seller_id: str, start: date | None, end: date | None) -> bytes:
        self.calls.append(("pdf", seller_id))
        self._known(seller_id)
        return b"%PDF-1.4 fake"


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def psettings(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return settings.model_copy(
        update={
            "cognito_pool_name": f"portal-{uuid.uuid4().hex[:8]}",
            "home": tmp_path_factory.mktemp("portal-home"),
            "portal_secret_key": "test-portal-session-key",
        }
    )


@pytest.fixture(scope="module")
def identities(psettings: Settings) -> Identities:
    identities = Identities(psettings)
    identities.ensure_pool()
    identities.ensure_sellers(["s-1", "s-2", "s-3"])
    identities.ensure_analyst("analyst")
    identities.disable("s-3")
    return identities


@pytest.fixture()
def reports() -> FakeReports:
    return FakeReports()


@pytest.fixture()
def app(psettings: Settings, identities: Identities, reports: FakeReports) -> Flask:
    return create_app({"TESTING": True}, settings=psettings, reports=reports)


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def sign_in(client: Any, identities: Identities, username: str, password: str | None = None, next_url: str = ""):
    page = client.get("/login")
    data = {
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "username": username,
        "password": identities.local_password(username) if password is None else password,
        "next": next_url,
    }
    return client.post("/login", data=data)


def real_tokens(identities: Identities, username: str) -> dict[str, str]:
    return identities.cognito.initiate_auth(
        ClientId=identities.client_id(),
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": identities.local_password(username)},
    )["AuthenticationResult"]


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def forge(claims: dict[str, Any], key: Any = MOTO_KEY, kid: str = "dummy", **changes: Any) -> str:
    body = {**claims, **changes}
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- sign-in ----------------------------------------------------------------------------------


def test_health(app: Flask) -> None:
    r = app.test_client().get("/health")
    assert r.status_code == 200 and r.get_json() == {"status": "ok"}


def test_seller_signs_in_and_lands_on_its_report(app: Flask, identities: Identities, reports: FakeReports) -> None:
    client = app.test_client()
    r = sign_in(client, identities, "s-1")
    assert r.status_code == 302 and r.headers["Location"] == "/"
    r = client.get("/")
    assert r.status_code == 302 and r.headers["Location"] == "/sellers/s-1/report"
    r = client.get("/sellers/s-1/report")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "Shop One insights" in html and "report-body s-1" in html and "Data up to 2026-11-25" in html
    assert 'type="date"' in html and 'value="2026-08-28"' in html and 'value="2026-11-25"' in html
    assert "/sellers/s-1/report.pdf?from=2026-08-28&amp;to=2026-11-25" not in html  # no range asked: plain link
    assert 'href="/sellers/s-1/report.pdf"' in html
    assert "<script" not in html
    assert reports.calls == [("page", "s-1", "None", "None")]
    csv = client.get("/sellers/s-1/visuals/daily-sales.csv?from=2026-11-01&to=2026-11-25")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.headers["Content-Disposition"] == "attachment; filename=s-1-daily-sales.csv"
    pdf = client.get("/sellers/s-1/report.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")


def test_sign_in_returns_to_the_page_asked_for(app: Flask, identities: Identities) -> None:
    client = app.test_client()
    r = client.get("/sellers/s-1/report?from=2026-11-01")
    assert r.status_code == 401
    assert 'name="next" type="hidden" value="/sellers/s-1/report?from=2026-11-01"' in r.get_data(as_text=True)
    r = sign_in(client, identities, "s-1", next_url="/sellers/s-1/report?from=2026-11-01")
    assert r.headers["Location"] == "/sellers/s-1/report?from=2026-11-01"
    # Never somewhere else.
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        r = sign_in(app.test_client(), identities, "s-1", next_url=target)
        assert r.status_code == 302 and r.headers["Location"] == "/"


@pytest.mark.parametrize(
    ("username", "password"),
    [("s-1", "Wrong-password-1!"), ("nobody", "Wrong-password-1!"), ("s-3", None)],
    ids=["wrong-password", "unknown-user", "disabled-seller"],
)
def test_refused_sign_in_is_generic(
    app: Flask, identities: Identities, username: str, password: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    client = app.test_client()
    r = sign_in(client, identities, username, password)
    assert r.status_code == 401
    html = r.get_data(as_text=True)
    assert "Incorrect user name or password." in html and 'name="password"' in html
    assert client.get("/").status_code == 401
    secret = password or identities.local_password(username)
    assert secret not in html and secret not in caplog.text
    assert username not in caplog.text


def test_login_without_csrf_token_is_400(app: Flask, identities: Identities) -> None:
    client = app.test_client()
    client.get("/login")
    r = client.post("/login", data={"username": "s-1", "password": identities.local_password("s-1")})
    assert r.status_code == 400
    assert "CSRF" in r.get_data(as_text=True)
    assert client.get("/").status_code == 401
    r = client.post("/login", data={"csrf_token": "forged", "username": "s-1", "password": "x"})
    assert r.status_code == 400


def test_logout_needs_csrf_and_clears_the_session(app: Flask, identities: Identities) -> None:
    client = app.test_client()
    sign_in(client, identities, "s-1")
    page = client.get("/sellers/s-1/report").get_data(as_text=True)
    assert client.post("/logout").status_code == 400
    assert client.get("/sellers/s-1/report").status_code == 200
    r = client.post("/logout", data={"csrf_token": csrf_token(page)})
    assert r.status_code == 302 and r.headers["Location"] == "/login"
    assert client.get("/sellers/s-1/report").status_code == 401


def test_session_cookie_flags_local(app: Flask) -> None:
    r = app.test_client().get("/login")
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("gitgoods_portal=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_no_session_key_is_an_error(psettings: Settings) -> None:
    s = psettings.model_copy(update={"portal_secret_key": None, "home": psettings.home / "empty"})
    with pytest.raises(RuntimeError, match="GITGOODS_PORTAL_SECRET_KEY"):
        create_app(settings=s, reports=FakeReports())


# -- 401 --------------------------------------------------------------------------------------


def bad_tokens(identities: Identities) -> dict[str, str]:
    real = real_tokens(identities, "s-1")
    good = claims_of(real["IdToken"])
    now = int(time.time())
    header, payload, signature = real["IdToken"].split(".")
    changed = base64.urlsafe_b64encode(json.dumps({**good, "custom:seller_id": "s-2"}).encode()).rstrip(b"=")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "tampered": f"{header}.{changed.decode()}.{signature}",
        "other-key": forge(good, key=other_key),
        "expired": forge(good, iat=now - 7200, auth_time=now - 7200, exp=now - 3600),
        "wrong-issuer": forge(good, iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"),
        "wrong-audience": forge(good, aud="another-client"),
        "access-token-use": forge(good, token_use="access"),
        "real-access-token": real["AccessToken"],
        "no-iat": forge(good, iat=None),
        "alg-none": jwt.encode(good, None, algorithm="none"),
        "garbage": "not.a.token",
    }


def test_forged_tokens_are_valid_when_unchanged(app: Flask, identities: Identities) -> None:
    """The forging harness itself: moto's key and unchanged claims pass, so each 401 below is the
    one change's doing."""
    good = claims_of(real_tokens(identities, "s-1")["IdToken"])
    r = app.test_client().get("/sellers/s-1/report", headers=bearer(forge(good)))
    assert r.status_code == 200


@pytest.mark.parametrize(
    "case",
    [
        "tampered",
        "other-key",
        "expired",
        "wrong-issuer",
        "wrong-audience",
        "access-token-use",
        "real-access-token",
        "no-iat",
        "alg-none",
        "garbage",
    ],
)
def test_bad_tokens_are_401(app: Flask, identities: Identities, reports: FakeReports, case: str) -> None:
    token = bad_tokens(identities)[case]
    client = app.test_client()
    for path in ("/sellers/s-1/report", "/sellers/s-1/report.pdf", "/sellers/s-1/visuals/daily-sales.csv"):
        r = client.get(path, headers=bearer(token))
        assert r.status_code == 401, path
        assert r.get_json()["error"]["code"] == "unauthorized"
    # The same token in the session cookie: the HTML page answers with the sign-in form.
    with client.session_transaction() as sess:
        sess["id_token"] = token
    r = client.get("/sellers/s-1/report")
    assert r.status_code == 401 and 'name="password"' in r.get_data(as_text=True)
    with client.session_transaction() as sess:
        assert "id_token" not in sess  # dropped
    assert reports.calls == []


def test_no_token_is_401(app: Flask, reports: FakeReports) -> None:
    client = app.test_client()
    r = client.get("/sellers/s-1/report")
    assert r.status_code == 401 and 'name="password"' in r.get_data(as_text=True)
    r = client.get("/sellers/s-1/report", headers={"Accept": "application/json"})
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
    for path in ("/sellers/s-1/report.pdf", "/sellers/s-1/visuals/daily-sales.csv"):
        r = client.get(path)
        assert r.status_code == 401 and r.get_json() == {
            "error": {"code": "unauthorized", "message": "Sign in to see this page."}
        }
    assert client.get("/").status_code == 401
    assert reports.calls == []


def test_token_expiring_mid_session_ends_it(app: Flask, identities: Identities) -> None:
    client = app.test_client()
    sign_in(client, identities, "s-1")
    assert client.get("/sellers/s-1/report").status_code == 200
    good = claims_of(real_tokens(identities, "s-1")["IdToken"])
    now = int(time.time())
    with client.session_transaction() as sess:
        sess["id_token"] = forge(good, iat=now - 3700, exp=now - 100)
    assert client.get("/sellers/s-1/report").status_code == 401


def test_bearer_token_from_cognito(app: Flask, identities: Identities) -> None:
    token = real_tokens(identities, "s-2")["IdToken"]
    r = app.test_client().get("/sellers/s-2/visuals/daily-sales.csv", headers=bearer(token))
    assert r.status_code == 200 and r.data.startswith(b"day,gross")


# -- 404 and analysts -------------------------------------------------------------------------


def unstamped(page: bytes) -> bytes:
    import re

    return re.sub(rb'(name="csrf_token"[^>]*value=")[^"]*"', rb'\1"', page)


def test_other_sellers_are_404_like_missing_ones(app: Flask, identities: Identities, reports: FakeReports) -> None:
    client = app.test_client()
    sign_in(client, identities, "s-1")
    for foreign, missing in (
        ("/sellers/s-2/report", "/sellers/s-999/report"),
        ("/sellers/s-2/report.pdf", "/sellers/s-999/report.pdf"),
        ("/sellers/s-2/visuals/daily-sales.csv", "/sellers/s-999/visuals/daily-sales.csv"),
    ):
        a, b = client.get(foreign), client.get(missing)
        assert a.status_code == b.status_code == 404
        # the same page but for the sign-out form's CSRF token (signed with the second it was made)
        assert unstamped(a.data) == unstamped(b.data) and a.mimetype == b.mimetype
    assert client.get("/sellers/s-1/visuals/no-such-visual.csv").status_code == 404
    # Reports was never asked about another seller.
    assert {c[1] for c in reports.calls} == {"s-1"}
    # The seller's token over the API: the same.
    token = real_tokens(identities, "s-1")["IdToken"]
    r = client.get("/sellers/s-2/report", headers=bearer(token))
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


def test_seller_id_claim_without_the_sellers_group_opens_nothing(app: Flask, identities: Identities) -> None:
    good = claims_of(real_tokens(identities, "s-1")["IdToken"])
    token = forge(good, **{"cognito:groups": []})
    assert app.test_client().get("/sellers/s-1/report", headers=bearer(token)).status_code == 404


def test_analysts_see_every_seller(app: Flask, identities: Identities, reports: FakeReports) -> None:
    client = app.test_client()
    sign_in(client, identities, "analyst")
    r = client.get("/")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    for sid, name in SHOPS.items():
        assert f'href="/sellers/{sid}/report"' in html and name in html
    for sid in ("s-1", "s-2"):
        assert client.get(f"/sellers/{sid}/report").status_code == 200
        assert client.get(f"/sellers/{sid}/visuals/daily-sales.csv").status_code == 200
    assert client.get("/sellers/s-999/report").status_code == 404


def test_dates(app: Flask, identities: Identities, reports: FakeReports) -> None:
    client = app.test_client()
    sign_in(client, identities, "s-1")
    r = client.get("/sellers/s-1/report?from=2026-11-01&to=2026-11-20")
    assert r.status_code == 200 and reports.calls[-1] == ("page", "s-1", "2026-11-01", "2026-11-20")
    assert 'href="/sellers/s-1/report.pdf?from=2026-11-01&amp;to=2026-11-20"' in r.get_data(as_text=True)
    for query, message in (
        ("from=2026-13-01", "`from` must be a date written YYYY-MM-DD."),
        ("to=20261101", "`to` must be a date written YYYY-MM-DD."),
        ("from=2026-11-20&to=2026-11-01", "`from` must not be after `to`."),
    ):
        r = client.get(f"/sellers/s-1/report?{query}")
        assert r.status_code == 400 and message in r.get_data(as_text=True)
        r = client.get(f"/sellers/s-1/visuals/daily-sales.csv?{query}")
        assert r.status_code == 400 and r.get_json()["error"]["message"] == message
    # Authorisation comes first: a foreign seller with bad dates is still a 404.
    assert client.get("/sellers/s-2/report?from=bad").status_code == 404


def test_a_500_shows_no_trace_and_logs_no_request_data(
    app: Flask, identities: Identities, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    client = app.test_client()
    sign_in(client, identities, "analyst")
    r = client.get("/sellers/boom/report?from=2026-11-01&q=private-query-value")
    assert r.status_code == 500
    html = r.get_data(as_text=True)
    assert "Something went wrong" in html and "Traceback" not in html and "secret-detail" not in html
    r = client.get("/sellers/boom/report.pdf", headers={"Accept": "application/json"})
    assert r.status_code == 500 and r.get_json() == {
        "error": {"code": "internal", "message": "Something went wrong on our side."}
    }
    records = [rec for rec in caplog.records if rec.name == "portal.errors"]
    assert records and records[0].getMessage() == "unhandled RuntimeError in reports.report"
    assert "private-query-value" not in caplog.text and identities.local_password("analyst") not in caplog.text


# -- headers ----------------------------------------------------------------------------------


def assert_security_headers(r: Any, *, no_store: bool = True) -> None:
    csp = r.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["img-src"] == "'self' data:"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] in ("no-referrer", "strict-origin")
    if no_store:
        assert r.headers["Cache-Control"] == "no-store"


def test_security_headers_on_every_response(app: Flask, identities: Identities) -> None:
    anonymous = app.test_client()
    responses = [
        anonymous.get("/health"),
        anonymous.get("/login"),
        anonymous.get("/sellers/s-1/report"),
        anonymous.get("/sellers/s-1/report.pdf"),
        anonymous.get("/no-such-path"),
        anonymous.post("/login"),
        anonymous.delete("/login"),
    ]
    client = app.test_client()
    sign_in(client, identities, "s-1")
    responses += [
        client.get("/sellers/s-1/report"),
        client.get("/sellers/s-1/visuals/daily-sales.csv"),
        client.get("/sellers/s-1/report.pdf"),
        client.get("/sellers/s-2/report"),
        client.get("/sellers/s-1/report?from=x"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 401, 401, 404, 400, 405, 200, 200, 200, 404, 400]
    for r in responses:
        assert_security_headers(r)
        assert "frame-src 'none'" in r.headers["Content-Security-Policy"]
    static = anonymous.get("/static/portal.css")
    assert static.status_code == 200
    assert_security_headers(static, no_store=False)
    static.close()


# -- JWKS refetch -----------------------------------------------------------------------------


def jwk(key: Any, kid: str) -> dict[str, Any]:
    return {
        **json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())),
        "kid": kid,
        "use": "sig",
        "alg": "RS256",
    }


class AuthServer:
    """A stand-in for Cognito's hosted UI: authorize, token (PKCE S256 checked), JWKS."""

    def __init__(self, client_id: str = "portal-client") -> None:
        self.client_id = client_id
        self.keys = {"k1": rsa.generate_private_key(public_exponent=65537, key_size=2048)}
        self.published = ["k1"]
        self.jwks_hits = 0
        self.codes: dict[str, dict[str, str]] = {}
        self.token_requests: list[dict[str, str]] = []
        self.user = {"cognito:username": "s-1", "custom:seller_id": "s-1", "cognito:groups": ["sellers"]}
        app = Flask("authserver")

        @app.get("/jwks.json")
        def jwks():  # type: ignore[no-untyped-def]
            self.jwks_hits += 1
            return jsonify({"keys": [jwk(self.keys[k], k) for k in self.published]})

        @app.get("/oauth2/authorize")
        def authorize():  # type: ignore[no-untyped-def]
            args = request.args
            assert args["response_type"] == "code" and args["code_challenge_method"] == "S256"
            assert args["client_id"] == self.client_id
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"challenge": args["code_challenge"], "redirect_uri": args["redirect_uri"]}
            return redirect(f"{args['redirect_uri']}?code={code}&state={args['state']}")

        @app.post("/oauth2/token")
        def token():  # type: ignore[no-untyped-def]
            form = request.form.to_dict()
            self.token_requests.append(form)
            issued = self.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if (
                issued is None
                or form.get("grant_type") != "authorization_code"
                or form.get("client_id") != self.client_id
                or form.get("redirect_uri") != issued["redirect_uri"]
                or challenge != issued["challenge"]
            ):
                return jsonify({"error": "invalid_grant"}), 400
            return jsonify(
                {"id_token": self.id_token(), "access_token": "opaque", "token_type": "Bearer", "expires_in": 3600}
            )

        self.server = LiveServer(app)
        self.url = self.server.url

    def id_token(self, kid: str = "k1", **changes: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": self.client_id,
            "token_use": "id",
            "sub": "0000-1111",
            "iat": now,
            "exp": now + 3600,
            **self.user,
            **changes,
        }
        return jwt.encode(claims, self.keys[kid], algorithm="RS256", headers={"kid": kid})

    def settings(self, base: Settings, **extra: Any) -> Settings:
        return base.model_copy(
            update={
                "env": "aws",
                "cognito_pool_id": "us-east-1_TEST",
                "cognito_client_id": self.client_id,
                "cognito_domain": self.url,
                "cognito_issuer": self.url,
                "cognito_jwks_url": f"{self.url}/jwks.json",
                "portal_secret_key": "test-portal-session-key",
                "portal_url": "https://portal.example.com",
                **extra,
            }
        )


@pytest.fixture()
def auth_server():  # type: ignore[no-untyped-def]
    server = AuthServer()
    yield server
    server.server.stop()


def test_jwks_refetched_on_unknown_kid(auth_server: AuthServer, psettings: Settings) -> None:
    identities = Identities(auth_server.settings(psettings), client=object())
    verifier = TokenVerifier(identities, jwks_cooldown_s=0)
    assert verifier.verify(auth_server.id_token("k1")).seller_id == "s-1"
    assert verifier.verify(auth_server.id_token("k1")).username == "s-1"
    assert auth_server.jwks_hits == 1  # cached
    # The pool rotates its keys: a token with the new kid makes the client fetch the set again.
    auth_server.keys["k2"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    auth_server.published = ["k1", "k2"]
    assert verifier.verify(auth_server.id_token("k2")).username == "s-1"
    assert auth_server.jwks_hits == 2
    assert verifier.verify(auth_server.id_token("k2")).username == "s-1"
    assert auth_server.jwks_hits == 2
    # A kid nobody publishes: refetched once, then refused.
    auth_server.keys["k3"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(InvalidToken):
        verifier.verify(auth_server.id_token("k3"))
    assert auth_server.jwks_hits == 3


def test_unknown_kids_cannot_hammer_the_key_endpoint(auth_server: AuthServer, psettings: Settings) -> None:
    identities = Identities(auth_server.settings(psettings), client=object())
    verifier = TokenVerifier(identities)  # the portal's default cooldown (30 s)
    verifier.verify(auth_server.id_token("k1"))
    auth_server.keys["k9"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for _ in range(5):
        with pytest.raises(InvalidToken):
            verifier.verify(auth_server.id_token("k9"))
    assert auth_server.jwks_hits == 1


# -- aws mode: hosted UI with PKCE, embedding ------------------------------------------------


HTTPS = {"base_url": "https://portal.example.com"}


@pytest.fixture()
def aws_app(auth_server: AuthServer, psettings: Settings, reports: FakeReports) -> Flask:
    app = create_app({"TESTING": True}, settings=auth_server.settings(psettings), reports=reports)
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1")
    app.extensions["portal"].embedder._client = session.client("quicksight")
    return app


def start_sign_in(client: Any) -> tuple[str, dict[str, str]]:
    r = client.get("/login", **HTTPS)
    assert r.status_code == 302
    location = r.headers["Location"]
    return location, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_hosted_ui_sign_in_with_pkce(aws_app: Flask, auth_server: AuthServer) -> None:
    client = aws_app.test_client()
    location, params = start_sign_in(client)
    assert location.startswith(f"{auth_server.url}/oauth2/authorize?")
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert params["redirect_uri"] == "https://portal.example.com/callback"
    assert params["client_id"] == "portal-client" and params["scope"] == "openid" and params["state"]
    back = requests.get(location, allow_redirects=False, timeout=5)
    callback = urlsplit(back.headers["Location"])
    assert callback.path == "/callback"
    r = client.get(f"/callback?{callback.query}", **HTTPS)
    assert r.status_code == 302 and r.headers["Location"] == "/"
    sent = auth_server.token_requests[-1]
    assert sent["code_verifier"] and "client_secret" not in sent
    r = client.get("/", **HTTPS)
    assert r.status_code == 302 and r.headers["Location"] == "/sellers/s-1/report"
    # The callback replayed in another browser, which started no sign-in: refused.
    r = aws_app.test_client().get(f"/callback?{callback.query}", **HTTPS)
    assert r.status_code == 400


def test_hosted_ui_wrong_state_is_400(aws_app: Flask, auth_server: AuthServer) -> None:
    client = aws_app.test_client()
    location, _ = start_sign_in(client)
    back = urlsplit(requests.get(location, allow_redirects=False, timeout=5).headers["Location"])
    code = parse_qs(back.query)["code"][0]
    r = client.get(f"/callback?code={code}&state=not-the-state", **HTTPS)
    assert r.status_code == 400
    assert client.get("/", **HTTPS).status_code == 401
    assert auth_server.token_requests == []  # refused before any exchange


def test_hosted_ui_code_for_another_verifier_is_refused(aws_app: Flask, auth_server: AuthServer) -> None:
    alice, bob = aws_app.test_client(), aws_app.test_client()
    _, alice_params = start_sign_in(alice)
    bob_location, _ = start_sign_in(bob)
    bob_back = requests.get(bob_location, timeout=5, allow_redirects=False).headers["Location"]
    bob_code = parse_qs(urlsplit(bob_back).query)["code"][0]
    # Bob's code delivered to Alice's browser with Alice's state: the token endpoint checks the
    # verifier against Bob's challenge and refuses.
    r = alice.get(f"/callback?code={bob_code}&state={alice_params['state']}", **HTTPS)
    assert r.status_code == 401
    assert alice.get("/", **HTTPS).status_code == 401


def test_aws_session_cookie_is_secure(aws_app: Flask) -> None:
    r = aws_app.test_client().get("/login", **HTTPS)
    cookie = r.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")


def test_aws_report_embeds_the_dashboard(aws_app: Flask, auth_server: AuthServer, reports: FakeReports) -> None:
    embedder = aws_app.extensions["portal"].embedder
    embed_url = "https://us-east-1.quicksight.aws.amazon.com/embed/abc123/dashboards/x?code=one&identityprovider=q"
    with Stubber(embedder.client) as stub:
        stub.add_response(
            "generate_embed_url_for_registered_user",
            {"EmbedUrl": embed_url, "Status": 200, "RequestId": "r-1"},
            {
                "AwsAccountId": "123456789012",
                "UserArn": "arn:aws:quicksight:us-east-1:123456789012:user/default/s-1",
                "ExperienceConfiguration": {"Dashboard": {"InitialDashboardId": "gitgoods-seller-insights"}},
                "AllowedDomains": ["https://portal.example.com"],
            },
        )
        r = aws_app.test_client().get(
            "/sellers/s-1/report", headers={**bearer(auth_server.id_token()), "Accept": "text/html"}, **HTTPS
        )
        stub.assert_no_pending_responses()
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    src = re.search(r'<iframe class="dashboard" src="([^"]+)"', html)
    assert src and src.group(1).replace("&amp;", "&") == embed_url
    csp = dict(d.strip().split(" ", 1) for d in r.headers["Content-Security-Policy"].split(";"))
    assert "https://us-east-1.quicksight.aws.amazon.com" in csp["frame-src"].split()
    assert_security_headers(r)
    assert reports.calls == []  # the page is QuickSight's, not the local renderer's
    # Another seller: 404 before QuickSight is asked anything (the Stubber has no response left).
    with Stubber(embedder.client):
        r = aws_app.test_client().get("/sellers/s-2/report", headers=bearer(auth_server.id_token()), **HTTPS)
    assert r.status_code == 404


def test_aws_logout_ends_the_hosted_ui_session(aws_app: Flask, auth_server: AuthServer) -> None:
    client = aws_app.test_client()
    location, _ = start_sign_in(client)
    back = urlsplit(requests.get(location, allow_redirects=False, timeout=5).headers["Location"])
    client.get(f"/callback?{back.query}", **HTTPS)
    assert client.get("/login?next=/", **HTTPS).headers["Location"] == "/"  # signed in: no new flow
    page = client.get("/sellers/s-999/report", **HTTPS)  # any page carries the sign-out form
    assert page.status_code == 404
    token = csrf_token(page.get_data(as_text=True))
    form_action = dict(d.strip().split(" ", 1) for d in page.headers["Content-Security-Policy"].split(";"))
    assert auth_server.url in form_action["form-action"].split()
    r = client.post("/logout", data={"csrf_token": token}, headers={"Referer": "https://portal.example.com/"}, **HTTPS)
    assert r.status_code == 302
    assert r.headers["Location"] == (
        f"{auth_server.url}/logout?client_id=portal-client&logout_uri=https%3A%2F%2Fportal.example.com%2F"
    )
    assert client.get("/", **HTTPS).status_code == 401


def test_aws_mode_lists_only_openable_sellers_and_says_downloads_are_not_there(
    auth_server: AuthServer, psettings: Settings
) -> None:
    from portal.embedded import EmbeddedReports

    names = {"s-1": "Seller One", "s-2": "Seller Two"}
    reports = EmbeddedReports(psettings, names=lambda: names)
    app = create_app({"TESTING": True}, settings=auth_server.settings(psettings), reports=reports)
    seller = Viewer(username="s-1", groups=frozenset({"sellers"}), seller_id="s-1")
    analyst = Viewer(username="a", groups=frozenset({"analysts"}), seller_id=None)
    assert reports.sellers(seller) == [("s-1", "Seller One")]
    assert reports.sellers(analyst) == [("s-1", "Seller One"), ("s-2", "Seller Two")]
    client = app.test_client()
    for path in ("/sellers/s-1/report.pdf", "/sellers/s-1/visuals/revenue-over-time.csv"):
        r = client.get(path, headers=bearer(auth_server.id_token()), **HTTPS)
        assert r.status_code == 501 and "not available" in r.get_json()["error"]["message"]
    assert client.get("/sellers/s-2/report.pdf", headers=bearer(auth_server.id_token()), **HTTPS).status_code == 404
