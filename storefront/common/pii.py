"""Field-level encryption of PII and the pseudonyms analytics see.

- Each PII field is sealed with AES-256-GCM under a data key from KMS (envelope encryption). The
  associated data names the table, the record id and the field, so a ciphertext copied to another
  record or field fails to open.
- Data keys are reused for a bounded time and number of records (as the AWS Encryption SDK's
  caching materials manager does), so an order costs no KMS round trip for encryption most of
  the time; the wrapped key is stored beside the fields.
- Look-ups (a customer by e-mail) use an HMAC from one KMS HMAC key; the pseudonym that sales
  and events carry is an HMAC of the customer id under a separate KMS HMAC key. Neither key
  ever leaves KMS.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache, TTLCache
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_VERSION = b"\x01"
KMS_CONTEXT = {"purpose": "gitgoods-pii", "version": "1"}
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class PiiError(Exception):
    pass


@dataclass
class _DataKey:
    plaintext: bytes
    wrapped: bytes
    created: float
    uses: int = 0


def _aad(table: str, record_id: str, field: str) -> bytes:
    return f"gitgoods:pii:v1:{table}:{record_id}:{field}".encode()


def normalise_email(email: str) -> str:
    return email.strip().lower()


class PiiProtector:
    def __init__(
        self,
        kms: Any,
        key_id: str,
        lookup_key_id: str,
        pseudonym_key_id: str,
        data_key_max_age_s: float = 300.0,
        data_key_max_uses: int = 10_000,
    ):
        self._kms = kms
        self._key_id = key_id
        self._lookup_key_id = lookup_key_id
        self._pseudonym_key_id = pseudonym_key_id
        self._max_age = data_key_max_age_s
        self._max_uses = data_key_max_uses
        self._lock = threading.Lock()
        self._current: _DataKey | None = None
        self._unwrapped: TTLCache[bytes, bytes] = TTLCache(maxsize=4096, ttl=data_key_max_age_s)
        self._pseudonyms: LRUCache[str, str] = LRUCache(maxsize=100_000)

    @property
    def kms(self) -> Any:
        return self._kms

    def use_kms(self, kms: Any) -> None:
        """Talk to KMS through another client (the request path's bounded one); keys and caches stay."""
        self._kms = kms

    # -- data keys -------------------------------------------------------------------------
    def _data_key(self) -> _DataKey:
        with self._lock:
            key = self._current
            now = time.monotonic()
            if key is None or now - key.created > self._max_age or key.uses >= self._max_uses:
                resp = self._kms.generate_data_key(KeyId=self._key_id, KeySpec="AES_256", EncryptionContext=KMS_CONTEXT)
                key = _DataKey(resp["Plaintext"], resp["CiphertextBlob"], now)
                self._current = key
                self._unwrapped[key.wrapped] = key.plaintext
            key.uses += 1
            return key

    def _unwrap(self, wrapped: bytes) -> bytes:
        with self._lock:
            plaintext = self._unwrapped.get(wrapped)
        if plaintext is None:
            resp = self._kms.decrypt(CiphertextBlob=wrapped, KeyId=self._key_id, EncryptionContext=KMS_CONTEXT)
            plaintext = resp["Plaintext"]
            with self._lock:
                self._unwrapped[wrapped] = plaintext
        return plaintext

    # -- fields ----------------------------------------------------------------------------
    def seal(self, table: str, record_id: str, fields: dict[str, str]) -> dict[str, bytes]:
        """Encrypt `fields`; returns `{field: ciphertext, "pii_key": wrapped data key}`."""
        key = self._data_key()
        aead = AESGCM(key.plaintext)
        sealed: dict[str, bytes] = {"pii_key": key.wrapped}
        for name, value in fields.items():
            nonce = os.urandom(12)
            sealed[name] = FORMAT_VERSION + nonce + aead.encrypt(nonce, value.encode(), _aad(table, record_id, name))
        return sealed

    def open(self, table: str, record_id: str, item: dict[str, bytes], names: list[str]) -> dict[str, str]:
        """Decrypt the named fields of a stored record."""
        aead = AESGCM(self._unwrap(bytes(item["pii_key"])))
        out = {}
        for name in names:
            blob = bytes(item[name])
            if blob[:1] != FORMAT_VERSION:
                raise PiiError(f"unknown PII format for field {name}")
            try:
                out[name] = aead.decrypt(blob[1:13], blob[13:], _aad(table, record_id, name)).decode()
            except Exception as exc:  # InvalidTag: wrong record, field or key
                raise PiiError(f"field {name} does not open for this record") from exc
        return out

    # -- HMACs -----------------------------------------------------------------------------
    def _mac(self, key_id: str, message: str) -> bytes:
        resp = self._kms.generate_mac(KeyId=key_id, MacAlgorithm="HMAC_SHA_256", Message=message.encode())
        return resp["Mac"]

    def email_lookup(self, email: str) -> str:
        """Keyed hash of the normalised e-mail, for finding a customer without storing it."""
        return self._mac(self._lookup_key_id, "email:" + normalise_email(email)).hex()

    def customer_id_for_email(self, email: str) -> str:
        return self.customer_id_for_lookup(self.email_lookup(email))

    @staticmethod
    def customer_id_for_lookup(lookup_hex: str) -> str:
        """A stable customer id derived from the e-mail's keyed hash (no e-mail in it)."""
        digest = bytes.fromhex(lookup_hex)
        number = int.from_bytes(digest[:17])
        chars = [_CROCKFORD[(number >> (5 * i)) & 31] for i in range(26)]
        return "cus_" + "".join(reversed(chars))

    def pseudonym(self, customer_id: str) -> str:
        """What analytics see of a customer: 32 hex chars, separate key from the look-up."""
        with self._lock:
            cached = self._pseudonyms.get(customer_id)
        if cached is None:
            cached = self._mac(self._pseudonym_key_id, "customer:" + customer_id).hex()[:32]
            with self._lock:
                self._pseudonyms[customer_id] = cached
        return cached


def digest(value: str) -> str:
    """A plain SHA-256 hex digest, for values that are secrets but not PII (idempotency keys)."""
    return hashlib.sha256(value.encode()).hexdigest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
