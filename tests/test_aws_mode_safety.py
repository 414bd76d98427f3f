"""In the `aws` mode the services and `make up` refuse the defaults that are only safe on one
machine, saying each, before they touch anything."""

from __future__ import annotations

import pytest

from gitgoods.settings import Settings, UnsafeSettings
from launcher import __main__ as launcher

SAFE = {
    "env": "aws",
    "ratelimit_storage_uri": "redis://cache.internal:6379/0",
    "catalog_url": "https://catalog.internal",
    "internal_token": "x" * 40,
}


@pytest.fixture(autouse=True)
def no_emulator_endpoints(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)


def test_local_mode_is_never_refused():
    assert Settings(env="local").unsafe_for_aws() == []


def test_a_safe_aws_configuration_passes():
    Settings(**SAFE).require_safe_for_aws()


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"ratelimit_storage_uri": "memory://"}, "rate limits are kept in memory"),
        ({"catalog_url": "http://catalog.internal"}, "not HTTPS"),
        ({"internal_token": "short"}, "shorter than 32"),
        ({"internal_token": None}, "missing"),
    ],
)
def test_each_local_default_is_refused_by_name(change, says):
    with pytest.raises(UnsafeSettings, match=says):
        Settings(**{**SAFE, **change}).require_safe_for_aws()


def test_emulator_endpoints_are_refused(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000")
    with pytest.raises(UnsafeSettings, match="AWS_ENDPOINT_URL_DYNAMODB points at a local emulator"):
        Settings(**SAFE).require_safe_for_aws()


def test_the_services_refuse_to_start_before_touching_anything(monkeypatch):
    from storefront.catalog.app import create_app as catalog_app
    from storefront.orders.app import create_app as orders_app

    unsafe = Settings(env="aws", internal_token="short")  # memory:// limits, http catalog URL
    for factory in (catalog_app, orders_app):
        # an AWS client made on the way would fail differently (no credentials, no endpoint)
        with pytest.raises(UnsafeSettings) as info:
            factory({"TESTING": True}, settings=unsafe)
        text = str(info.value)
        assert "rate limits" in text and "HTTPS" in text and "internal token" in text


def test_make_up_refuses_the_aws_mode(monkeypatch, capsys):
    monkeypatch.setenv("GITGOODS_ENV", "aws")
    from gitgoods.settings import reset_settings

    reset_settings()
    try:
        assert launcher.main(["up"]) == 1
    finally:
        monkeypatch.delenv("GITGOODS_ENV")
        reset_settings()
    err = capsys.readouterr().err
    assert "GITGOODS_ENV=aws" in err and "unsafe here" in err
