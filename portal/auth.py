"""Sign-in and sign-out, and who the current viewer is.

Locally the login form sends the user's password to Cognito (`USER_PASSWORD_AUTH`); on AWS the
Cognito hosted UI signs the user in (authorization code with PKCE S256, Authlib's OAuth2 client).
Either way the ID token is verified and kept in the signed session cookie, and every request
verifies it again (an expired token ends the session). API clients may send
`Authorization: Bearer <id token>` instead of the cookie.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from urllib.parse import urlencode, urlsplit

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc6749.errors import OAuth2Error
from botocore.exceptions import ClientError
from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from werkzeug.exceptions import Unauthorized
from werkzeug.wrappers import Response
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from gitgoods.identity import IdentityError
from portal.context import portal
from portal.reports import Viewer
from portal.tokens import InvalidToken, KeysUnavailable

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

SIGN_IN_FAILED = "Incorrect user name or password."
# Cognito's answers to a sign-in that must not tell an unknown user from a wrong password.
_REFUSED = {
    "NotAuthorizedException",
    "UserNotFoundException",
    "UserNotConfirmedException",
    "PasswordResetRequiredException",
}


class SignInRequired(Unauthorized):
    """No valid token: HTML pages answer with the sign-in page, the rest with JSON (both 401)."""

    description = "Sign in to see this page."


class LoginForm(FlaskForm):
    username = StringField("User name", validators=[DataRequired(), Length(max=128)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])
    next = HiddenField()


class LogoutForm(FlaskForm):
    pass


@bp.app_context_processor
def _signed_in() -> dict[str, object]:
    """Every page's header shows who is signed in, with the sign-out form."""
    viewer = g.get("viewer")
    return {"viewer": viewer, "logout_form": LogoutForm() if viewer else None}


def safe_next(target: str | None) -> str | None:
    """A local path to return to after sign-in; anything else (another host, `//x`) is dropped."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def current_viewer() -> Viewer | None:
    """The viewer of this request, from the bearer token or the session's token, verified now."""
    if "viewer" in g:
        return g.viewer
    bearer = _bearer_token()
    token = bearer or session.get("id_token")
    viewer = None
    if token:
        try:
            viewer = portal().verifier.verify(token)
        except InvalidToken:
            if not bearer:
                session.pop("id_token", None)
        except (KeysUnavailable, IdentityError):
            log.exception("cannot verify tokens")
            abort(503, "Sign-in is not available right now.")
    g.viewer = viewer
    return viewer


def require_viewer() -> Viewer:
    viewer = current_viewer()
    if viewer is None:
        raise SignInRequired()
    return viewer


def _sign_in(id_token: str, next_url: str | None) -> Response:
    viewer = portal().verifier.verify(id_token)
    session.clear()
    session["id_token"] = id_token
    g.viewer = viewer
    log.info("signed in: %s", viewer.username)
    return redirect(safe_next(next_url) or url_for("reports.home"))


def login_page(
    form: LoginForm | None = None, message: str | None = None, status: int = 200, next_url: str | None = None
) -> tuple[str, int]:
    if form is None:
        form = LoginForm(formdata=None, next=safe_next(next_url))
    return render_template("login.html", form=form, message=message, local=portal().local), status


@bp.get("/login")
def login():  # type: ignore[no-untyped-def]
    if current_viewer() is not None:
        return redirect(url_for("reports.home"))
    if portal().local:
        return login_page(next_url=request.args.get("next"))
    return _hosted_ui_redirect(request.args.get("next"))


@bp.post("/login")
def login_submit():  # type: ignore[no-untyped-def]
    if not portal().local:
        abort(405)
    form = LoginForm()
    if not form.validate():
        return login_page(form, "Enter your user name and password.", 400)
    try:
        result = _initiate_auth(form.username.data, form.password.data)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in _REFUSED:
            raise
        log.info("sign-in refused")  # never the user name: it may be a mistyped password
        result = None
    id_token = (result or {}).get("AuthenticationResult", {}).get("IdToken")
    if not id_token:
        form.password.data = ""
        return login_page(form, SIGN_IN_FAILED, 401)
    try:
        return _sign_in(id_token, form.next.data)
    except InvalidToken:
        log.error("Cognito issued a token that does not verify")
        return login_page(form, SIGN_IN_FAILED, 401)


def _initiate_auth(username: str, password: str) -> dict:
    identities = portal().identities
    for attempt in range(2):
        try:
            return identities.cognito.initiate_auth(
                ClientId=identities.client_id(),
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )
        except ClientError as exc:
            # The local pool was rebuilt under a new id after an emulator restart: look it up again.
            if exc.response["Error"]["Code"] != "ResourceNotFoundException" or attempt:
                raise
            identities.forget()
    raise AssertionError("unreachable")


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    LogoutForm()  # CSRFProtect has checked the token already
    session.clear()
    p = portal()
    if p.local:
        return redirect(url_for("auth.login"))
    query = urlencode({"client_id": p.identities.client_id(), "logout_uri": f"{p.settings.portal_url}/"})
    return redirect(f"{hosted_ui_base(p.settings.cognito_domain)}/logout?{query}")


# -- aws: the hosted UI -----------------------------------------------------------------------


def hosted_ui_base(domain: str | None) -> str:
    if not domain:
        raise IdentityError("GITGOODS_ENV=aws: set GITGOODS_COGNITO_DOMAIN (the hosted UI) for the portal")
    return domain.rstrip("/") if "://" in domain else f"https://{domain.rstrip('/')}"


def _oauth_client() -> OAuth2Session:
    p = portal()
    return OAuth2Session(
        client_id=p.identities.client_id(),
        redirect_uri=f"{p.settings.portal_url.rstrip('/')}/callback",
        scope="openid",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",  # noqa: S106 (a public client: PKCE instead of a secret)
    )


def _hosted_ui_redirect(next_url: str | None) -> Response:
    verifier = secrets.token_urlsafe(64)
    uri, state = _oauth_client().create_authorization_url(
        f"{hosted_ui_base(portal().settings.cognito_domain)}/oauth2/authorize", code_verifier=verifier
    )
    session["oauth"] = {"state": state, "verifier": verifier, "next": safe_next(next_url)}
    return redirect(uri)


@bp.get("/callback")
def callback():  # type: ignore[no-untyped-def]
    p = portal()
    if p.local:
        abort(404)
    pending = session.pop("oauth", None)
    state = request.args.get("state", "")
    if not pending or not hmac.compare_digest(state.encode(), str(pending["state"]).encode()):
        abort(400, "The sign-in could not be matched to this browser; start again.")
    if request.args.get("error") or not request.args.get("code"):
        return login_page(message="The sign-in did not complete; try again.", status=401)
    client = _oauth_client()
    try:
        token = client.fetch_token(
            f"{hosted_ui_base(p.settings.cognito_domain)}/oauth2/token",
            grant_type="authorization_code",
            code=request.args["code"],
            code_verifier=pending["verifier"],
        )
    except (OAuthError, OAuth2Error) as exc:
        log.warning("token exchange refused: %s", exc.error)
        return login_page(message="The sign-in did not complete; try again.", status=401)
    except requests.RequestException as exc:
        log.error("token endpoint unreachable: %s", type(exc).__name__)
        abort(503, "Sign-in is not available right now.")
    try:
        return _sign_in(token.get("id_token", ""), pending.get("next"))
    except InvalidToken:
        log.warning("the token endpoint returned an ID token that does not verify")
        return login_page(message="The sign-in did not complete; try again.", status=401)
    finally:
        client.close()
