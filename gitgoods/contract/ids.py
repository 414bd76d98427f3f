"""Sortable ids and the sharded day key of the ingest indexes."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from ulid import ULID

from gitgoods.contract.tables import DAY_SHARDS


def new_id(prefix: str, at: datetime | None = None) -> str:
    """A ULID with a short type prefix (`ord_...`), sortable by creation time."""
    ulid = ULID.from_datetime(at) if at else ULID()
    return f"{prefix}_{ulid}"


def utc_iso(at: datetime) -> str:
    """UTC ISO-8601 with milliseconds and a `Z`, the one time format of the contract."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def day_shard(at: datetime, key: str) -> str:
    """`YYYY-MM-DD#n`: the day of `at` plus a stable shard from `key`."""
    shard = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=2).digest()) % DAY_SHARDS
    return f"{at.astimezone(UTC):%Y-%m-%d}#{shard}"
