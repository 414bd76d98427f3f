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


def client(service: str, settings: Settings | None = None, **config: Any) -> Any:
    """A boto3 client for `service`, pointed at the emulator in local mode."""
    settings = settings or get_settings()
    endpoint = settings.dynamodb_endpoint if service in _DYNAMODB_SERVICES else settings.aws_endpoint
    cfg = Config(
        retries=config.pop("retries", {"mode": "standard", "max_attempts": 5}),
        max_pool_connections=config.pop("max_pool_connections", 64),
        connect_timeout=config.pop("connect_timeout", 5),
        read_timeout=config.pop("read_timeout", 30),
        **config,
    )
    return _boto_session(settings).client(service, endpoint_url=endpoint, config=cfg)


def reset() -> None:
    global _session
    with _lock:
        _session = None
