"""Resources are chosen in one place from GITGOODS_ENV."""

import pytest

from gitgoods.settings import Settings
from pipelines.resources import MissingSetting, resources_for


def test_local_defaults_to_a_lake_on_disk_and_the_emulators(tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    settings = Settings(env="local", home=tmp_path)
    resources = resources_for(settings)
    assert resources["lake"].uri == f"file://{tmp_path.resolve()}/lake"
    assert resources["dynamo"].table_prefix == "gitgoods-"
    assert settings.dynamodb_endpoint == "http://127.0.0.1:8000"
    assert settings.aws_endpoint == "http://127.0.0.1:4566"


def test_aws_uses_real_endpoints_and_needs_an_s3_lake(tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    with pytest.raises(MissingSetting, match="GITGOODS_LAKE_URI"):
        resources_for(Settings(env="aws", home=tmp_path))
    settings = Settings(env="aws", home=tmp_path, lake_uri="s3://lake-bucket/gitgoods", table_prefix="prod-")
    resources = resources_for(settings)
    assert resources["lake"].uri == "s3://lake-bucket/gitgoods"
    assert resources["dynamo"].table_prefix == "prod-"
    assert settings.dynamodb_endpoint is None and settings.aws_endpoint is None
    assert settings.resolved_sim_clock_key() is None  # nobody can backdate in AWS
