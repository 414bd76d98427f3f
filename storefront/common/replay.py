"""What an idempotent replay needs, sealed so that answering it needs no KMS.

A replay (same Idempotency-Key, same body) must be checked and answered even while KMS is down.
Two things in the idempotency record are secret: a fingerprint of the body (which is full of
PII) and the receipt token (a bearer secret for reading the order). Both are keyed by a
per-record key derived from two secrets, neither of which is stored in the table:

- the Idempotency-Key itself, which the table holds only as a SHA-256 hash, and which is exactly
  what entitles a client to the replay (it sends the key again);
- the replay key, a server secret every order service instance shares (derived from the
  internal token, as the catalog's cursor key is).

So a copy of the table opens nothing and confirms no guess of a body (the replay key is not in
it), and a leaked replay key alone does not either (each record also needs its client's key).
No PII is stored in the clear and nothing here decrypts PII: the answer to a replay is built from
the order's non-PII fields. The record also keeps the KMS-keyed fingerprint and KMS-sealed token
as before, for records this key cannot open (written before, or under an earlier replay key).
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_VERSION = b"\x01"


def replay_key(internal_token: str) -> bytes:
    """The replay key, derived so that nothing sealed with it helps anyone guess the token."""
    return hmac.new(internal_token.encode(), b"gitgoods:order-replay:v1", hashlib.sha256).digest()


class ReplaySeal:
    def __init__(self, key: bytes):
        self._key = key
        # Names the replay key in each record (reveals nothing about it), so a record sealed under
        # another key is recognised and falls back to KMS instead of looking like another body.
        self.kid = hmac.new(key, b"kid", hashlib.sha256).hexdigest()[:16]

    def _record_key(self, idempotency_key: str, purpose: bytes) -> bytes:
        record = hmac.new(self._key, b"record:" + idempotency_key.encode(), hashlib.sha256).digest()
        return hmac.new(record, purpose, hashlib.sha256).digest()

    def fingerprint(self, idempotency_key: str, canonical_body: str) -> str:
        mac = hmac.new(self._record_key(idempotency_key, b"fingerprint"), canonical_body.encode(), hashlib.sha256)
        return mac.hexdigest()

    def seal_token(self, idempotency_key: str, key_hash: str, token: str) -> bytes:
        nonce = os.urandom(12)
        aead = AESGCM(self._record_key(idempotency_key, b"receipt"))
        return FORMAT_VERSION + nonce + aead.encrypt(nonce, token.encode(), _aad(key_hash))

    def open_token(self, idempotency_key: str, key_hash: str, blob: bytes) -> str:
        if blob[:1] != FORMAT_VERSION:
            raise ValueError("unknown replay token format")
        aead = AESGCM(self._record_key(idempotency_key, b"receipt"))
        return aead.decrypt(blob[1:13], blob[13:], _aad(key_hash)).decode()


def _aad(key_hash: str) -> bytes:
    return f"gitgoods:replay:v1:idempotency:{key_hash}:receipt_token".encode()
