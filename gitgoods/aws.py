"""The one AWS client factory. Endpoints come from the settings, so the same code runs on the
local emulators and on AWS."""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config

from gitgoods.settings import Settings, get_settings

_DYNAMODB_SERVICES = {"dynamodb", "dynamodbstreams"}

# Client behaviour by kind of caller. `batch` (the default: pipelines, the simulator, seeding,
# tools) is patient: a slow call is better than a failed run. `request` is for the storefront's
# request paths, where a shopper waits: short timeouts, few jittered retries (botocore's
# `standard` mode: 3 attempts in all), and the request's own deadline on top
# (`storefront.common.deadline`) so that retries cannot add up past it.
PROFILES: dict[str, dict[str, Any]] = {
    "batch": {"retries": {"mode": "standard", "max_attempts": 5}, "connect_timeout": 5, "read_timeout": 30},
    "request": {"retries": {"mode": "standard", "total_max_attempts": 3}, "connect_timeout": 0.5, "read_timeout": 1.0},
}
_lock = threading.Lock()
_session: boto3.session.Session | None = None


def _boto_session(settings: Settings) -> boto3.session.Session:
    global _session
    with _lock:
        if _session is None:
            kwargs: dict[str, Any] = {"region_name": settings.region}
            if settings.env == "local" and not os.environ.get("AWS_ACCESS_KEY_ID"):
                # The emulators accept any credentials; fixed ones keep DynamoDB Local's
                # per-account database file stable across runs.
                kwargs.update(aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106
            _session = boto3.session.Session(**kwargs)
        return _session


def session(settings: Settings | None = None) -> boto3.session.Session:
    """The shared boto3 session (credentials for code that signs or connects by itself)."""
    return _boto_session(settings or get_settings())


def _config(profile: str, config: dict[str, Any]) -> Config:
    defaults = PROFILES[profile]
    return Config(
        retries=config.pop("retries", defaults["retries"]),
        max_pool_connections=config.pop("max_pool_connections", 64),
        connect_timeout=config.pop("connect_timeout", defaults["connect_timeout"]),
        read_timeout=config.pop("read_timeout", defaults["read_timeout"]),
        **config,
    )


def client(service: str, settings: Settings | None = None, profile: str = "batch", **config: Any) -> Any:
    """A boto3 client for `service`, pointed at the emulator in local mode. `profile` picks the
    timeouts and retries (`PROFILES`); keyword arguments override single settings."""
    settings = settings or get_settings()
    endpoint = settings.dynamodb_endpoint if service in _DYNAMODB_SERVICES else settings.aws_endpoint
    return _boto_session(settings).client(service, endpoint_url=endpoint, config=_config(profile, dict(config)))


def with_profile(existing: Any, profile: str, settings: Settings | None = None, **config: Any) -> Any:
    """A client like `existing` (one made here: same service, endpoint and region, the shared
    session) with `profile`'s timeouts and retries. For code handed a client that it must bound."""
    meta = existing.meta
    return _boto_session(settings or get_settings()).client(
        meta.service_model.service_name,
        endpoint_url=meta.endpoint_url,
        region_name=meta.region_name,
        config=_config(profile, {"max_pool_connections": meta.config.max_pool_connections, **config}),
    )


def reset() -> None:
    global _session
    with _lock:
        _session = None
