"""Order creation is limited per client, and with Redis (`REDIS_URL`) the limit is shared by every
worker and instance: two order-service apps (two workers) count the same client together.
This machine runs Redis on 127.0.0.1:6379."""

from __future__ import annotations

import os
import uuid

import pytest

from gitgoods.settings import Settings
from tests.helpers import missing_prerequisite

pytestmark = pytest.mark.stack  # the order apps run on DynamoDB Local (the `settings` fixture)

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture()
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError as exc:
        missing_prerequisite(f"no Redis at {REDIS_URL}: {exc}")
    return REDIS_URL


def _workers(settings: Settings, redis_url: str, monkeypatch, limit: str):  # type: ignore[no-untyped-def]
    from storefront.orders.app import create_app

    monkeypatch.setenv("REDIS_URL", redis_url)
    shared = settings.model_copy(update={"rate_limit_orders": limit, "ratelimit_storage_uri": "memory://"})
    assert shared.rate_limit_store == redis_url
    prefix = f"test-{uuid.uuid4().hex}"  # this test's own counters
    return [
        create_app({"TESTING": True, "RATELIMIT_KEY_PREFIX": prefix}, settings=shared).test_client()
        for _ in range(2)
    ]


def test_order_creation_limit_is_shared_by_the_workers(settings, catalog_data, redis_url, monkeypatch):
    a, b = _workers(settings, redis_url, monkeypatch, "4 per minute")
    statuses = []
    for client in (a, b, a, b, a, b):
        r = client.post("/orders", json={}, headers={"Idempotency-Key": uuid.uuid4().hex})
        statuses.append(r.status_code)
    # 4 requests pass the limit (and are refused for their empty body), the 5th and 6th are the
    # same client's 5th and 6th in the minute, whichever worker they reach
    assert statuses == [400, 400, 400, 400, 429, 429]
    refused = b.post("/orders", json={}, headers={"Idempotency-Key": "k"})
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "rate_limited"
    assert "Retry-After" in refused.headers


def test_without_redis_each_worker_counts_alone(settings, catalog_data, monkeypatch):
    from storefront.orders.app import create_app

    monkeypatch.delenv("REDIS_URL", raising=False)
    alone = settings.model_copy(update={"rate_limit_orders": "4 per minute", "ratelimit_storage_uri": "memory://"})
    a, b = (create_app({"TESTING": True}, settings=alone).test_client() for _ in range(2))
    statuses = [c.post("/orders", json={}, headers={"Idempotency-Key": "x"}).status_code for c in (a, b) * 3]
    assert statuses == [400] * 6  # 3 each: under each worker's own limit of 4
