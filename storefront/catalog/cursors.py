"""Pagination cursors: opaque to clients, signed (HMAC-SHA256) and bound to the query's filters,
so a client can neither forge a position nor carry a cursor over to other filters."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json

from storefront.common.errors import ApiError


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_cursor", message, "cursor")


class CursorCodec:
    """`<payload>.<mac>`, both base64url: the payload is `{"a": last id of the page, "h": hash
    of the filters}`, the MAC covers the payload's text. The MAC is checked before anything in
    the payload is read."""

    def __init__(self, key: bytes):
        if len(key) < 16:
            raise ValueError("a cursor key needs at least 16 bytes")
        self._key = key

    def _mac(self, payload: str) -> bytes:
        return hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest()

    def encode(self, after: str, filters: str) -> str:
        payload = _b64(json.dumps({"a": after, "h": filters}, separators=(",", ":")).encode())
        return f"{payload}.{_b64(self._mac(payload))}"

    def decode(self, cursor: str, filters: str) -> str:
        """The id the next page starts after; 400 `invalid_cursor` for anything this service did
        not give out, or gave out for other filters."""
        payload, _, mac = cursor.partition(".")
        try:
            given = _unb64(mac)
            genuine = payload.isascii() and hmac.compare_digest(given, self._mac(payload))
        except (ValueError, binascii.Error):
            genuine = False
        if not genuine:
            raise _invalid("the cursor is not one this service gave")
        try:
            data = json.loads(_unb64(payload))
            after, given_filters = data["a"], data["h"]
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:  # signed, so never seen
            raise _invalid("the cursor is not one this service gave") from exc
        if not isinstance(after, str) or given_filters != filters:
            raise _invalid("the cursor belongs to other filters")
        return after
