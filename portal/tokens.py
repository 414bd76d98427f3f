"""ID token verification: RS256 signatures against the pool's JWKS, issuer, audience, expiry and
`token_use == "id"`, every request."""

from __future__ import annotations

import threading
from typing import Any

import jwt

from gitgoods.identity import Identities
from portal.reports import Viewer

REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "token_use"]


class InvalidToken(Exception):
    """The token is not one of ours, or no longer valid: the viewer must sign in again."""


class KeysUnavailable(Exception):
    """The signing keys could not be fetched: the portal cannot tell, answer 503."""


class TokenVerifier:
    def __init__(self, identities: Identities, leeway_s: float = 10.0, jwks_cooldown_s: float = 30.0):
        self.identities = identities
        self.leeway_s = leeway_s
        # PyJWKClient refetches the key set when a token names an unknown kid (key rotation), at
        # most once per cooldown so junk kids cannot make it hammer the key endpoint.
        self.jwks_cooldown_s = jwks_cooldown_s
        self._clients: dict[str, jwt.PyJWKClient] = {}
        self._lock = threading.Lock()

    def jwks_client(self, url: str) -> jwt.PyJWKClient:
        with self._lock:
            client = self._clients.get(url)
            if client is None:
                client = jwt.PyJWKClient(url, lifespan=300, timeout=5, cooldown_duration=self.jwks_cooldown_s)
                self._clients[url] = client
            return client

    def claims(self, token: str) -> dict[str, Any]:
        jwks = self.jwks_client(self.identities.jwks_url())
        try:
            key = jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self.identities.client_id(),
                issuer=self.identities.issuer(),
                leeway=self.leeway_s,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWKClientConnectionError as exc:
            raise KeysUnavailable(str(exc)) from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(type(exc).__name__) from exc
        if claims.get("token_use") != "id":
            raise InvalidToken("not an ID token")
        if not isinstance(claims.get("cognito:username"), str):
            raise InvalidToken("no cognito:username")
        return claims

    def verify(self, token: str) -> Viewer:
        claims = self.claims(token)
        groups = claims.get("cognito:groups") or []
        seller_id = claims.get("custom:seller_id")
        settings = self.identities.settings
        return Viewer(
            username=claims["cognito:username"],
            groups=frozenset(g for g in groups if isinstance(g, str)),
            seller_id=seller_id if isinstance(seller_id, str) and seller_id else None,
            sellers_group=settings.sellers_group,
            analysts_group=settings.analysts_group,
        )
