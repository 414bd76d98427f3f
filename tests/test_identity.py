"""Seller identities on the in-process moto server: the pool is built once and rebuilt the same after
an emulator restart; passwords stay owner-only and out of the logs."""

from __future__ import annotations

import logging
import stat
import uuid
from pathlib import Path

import jwt
import pytest
from botocore.exceptions import ClientError

from gitgoods import aws
from gitgoods.contract.tables import TABLES
from gitgoods.identity import SELLER_ID_ATTRIBUTE, Identities, IdentityError, SellerUser, generate_password
from gitgoods.settings import Settings

pytestmark = pytest.mark.stack


@pytest.fixture()
def isettings(settings: Settings, tmp_path: Path) -> Settings:
    """The session's settings with a pool and a home of this test's own."""
    return settings.model_copy(update={"cognito_pool_name": f"t-{uuid.uuid4().hex[:10]}", "home": tmp_path / "home"})


def sign_in(s: Settings, identities: Identities, username: str, password: str) -> dict:
    cognito = aws.client("cognito-idp", s)
    return cognito.initiate_auth(
        ClientId=identities.client_id(),
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )["AuthenticationResult"]


def test_generated_passwords_meet_the_policy() -> None:
    for _ in range(200):
        pw = generate_password()
        assert len(pw) == 24
        assert any(c.isupper() for c in pw) and any(c.islower() for c in pw)
        assert any(c.isdigit() for c in pw) and any(not c.isalnum() for c in pw)
    assert len({generate_password() for _ in range(50)}) == 50


def test_pool_is_created_once(isettings: Settings) -> None:
    identities = Identities(isettings)
    pool_id = identities.ensure_pool()
    again = Identities(isettings).ensure_pool()
    assert again == pool_id
    cognito = aws.client("cognito-idp", isettings)
    pools = cognito.list_user_pools(MaxResults=60)["UserPools"]
    assert [p["Id"] for p in pools if p["Name"] == isettings.cognito_pool_name] == [pool_id]
    groups = {g["GroupName"] for g in cognito.list_groups(UserPoolId=pool_id)["Groups"]}
    assert groups == {"sellers", "analysts"}
    clients = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    assert len(clients) == 1
    client = cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=clients[0]["ClientId"])["UserPoolClient"]
    assert set(client["ExplicitAuthFlows"]) == {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}
    assert "ClientSecret" not in client
    pool = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert any(a["Name"] == SELLER_ID_ATTRIBUTE for a in pool["SchemaAttributes"])
    assert identities.client_id() == clients[0]["ClientId"]
    assert identities.issuer() == f"https://cognito-idp.us-east-1.amazonaws.com/{pool_id}"
    assert identities.jwks_url() == f"http://127.0.0.1:{isettings.moto_port}/{pool_id}/.well-known/jwks.json"


def test_sellers_and_analysts_in_their_groups(isettings: Settings) -> None:
    identities = Identities(isettings)
    identities.ensure_pool()
    assert identities.ensure_sellers(["s-001", "s-002"]) == ["s-001", "s-002"]
    assert identities.ensure_sellers(["s-001", "s-002", "s-003"]) == ["s-003"]
    assert identities.ensure_analyst() == ["analyst"]
    assert identities.ensure_analyst() == []
    assert identities.sellers() == [
        SellerUser("s-001", "s-001", True),
        SellerUser("s-002", "s-002", True),
        SellerUser("s-003", "s-003", True),
    ]
    assert identities.analysts() == ["analyst"]
    claims_token = sign_in(isettings, identities, "s-002", identities.local_password("s-002"))["IdToken"]
    claims = jwt.decode(claims_token, options={"verify_signature": False})
    assert claims["custom:seller_id"] == "s-002"
    assert claims["cognito:groups"] == ["sellers"]


def test_password_file_is_owner_only_and_works(
    isettings: Settings, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="gitgoods")
    identities = Identities(isettings)
    identities.ensure_pool()
    identities.ensure_sellers(["s-100", "s-101"])
    identities.ensure_analyst()
    path = isettings.secrets_dir / "portal-users.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not list(path.parent.glob(".portal-users.json.*"))  # no temporary left behind
    passwords = {u: identities.local_password(u) for u in ("s-100", "s-101", "analyst")}
    assert all(passwords.values()) and len(set(passwords.values())) == 3
    result = sign_in(isettings, identities, "s-100", passwords["s-100"])
    assert result["IdToken"]
    with pytest.raises(ClientError) as err:
        sign_in(isettings, identities, "s-100", passwords["s-101"])
    assert err.value.response["Error"]["Code"] == "NotAuthorizedException"
    out = capsys.readouterr()
    captured = caplog.text + out.out + out.err
    assert "created 2 user(s) in group sellers" in caplog.text  # the logs were captured
    for pw in passwords.values():
        assert pw not in captured


def test_restart_rebuilds_the_same_users(isettings: Settings) -> None:
    identities = Identities(isettings)
    old_pool = identities.ensure_pool()
    identities.ensure_sellers(["s-200", "s-201"])
    identities.ensure_analyst("ana")
    identities.disable("s-201")
    passwords = {u: identities.local_password(u) for u in ("s-200", "s-201", "ana")}

    # The emulator restarts: moto kept nothing, the pool is gone.
    aws.client("cognito-idp", isettings).delete_user_pool(UserPoolId=old_pool)

    rebuilt = Identities(isettings)
    new_pool = rebuilt.ensure_pool()
    assert new_pool != old_pool
    assert rebuilt.ensure_sellers(["s-200", "s-201"]) == ["s-200", "s-201"]
    assert rebuilt.ensure_analyst("ana") == ["ana"]
    assert {u: rebuilt.local_password(u) for u in passwords} == passwords
    assert rebuilt.sellers() == [SellerUser("s-200", "s-200", True), SellerUser("s-201", "s-201", False)]
    assert sign_in(isettings, rebuilt, "s-200", passwords["s-200"])["IdToken"]
    assert sign_in(isettings, rebuilt, "ana", passwords["ana"])["IdToken"]
    with pytest.raises(ClientError) as err:
        sign_in(isettings, rebuilt, "s-201", passwords["s-201"])
    assert err.value.response["Error"]["Code"] == "NotAuthorizedException"


def test_disable_and_enable(isettings: Settings) -> None:
    identities = Identities(isettings)
    identities.ensure_pool()
    identities.ensure_sellers(["s-300"])
    password = identities.local_password("s-300")
    identities.disable("s-300")
    assert identities.sellers() == [SellerUser("s-300", "s-300", False)]
    state = isettings.state_dir / "identities.json"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    with pytest.raises(ClientError) as err:
        sign_in(isettings, identities, "s-300", password)
    assert err.value.response["Error"]["Code"] == "NotAuthorizedException"
    identities.enable("s-300")
    assert identities.sellers() == [SellerUser("s-300", "s-300", True)]
    assert sign_in(isettings, identities, "s-300", password)["IdToken"]
    # Enabled again before a restart: the rebuilt pool leaves it enabled.
    aws.client("cognito-idp", isettings).delete_user_pool(UserPoolId=identities.pool_id())
    rebuilt = Identities(isettings)
    rebuilt.ensure_pool()
    rebuilt.ensure_sellers(["s-300"])
    assert rebuilt.sellers() == [SellerUser("s-300", "s-300", True)]


def test_sellers_from_the_sellers_table(isettings: Settings) -> None:
    s = isettings.model_copy(update={"table_prefix": f"id{uuid.uuid4().hex[:8]}-"})
    ddb = aws.client("dynamodb", s)
    ddb.create_table(**TABLES["sellers"].create_request(s.table("sellers")))
    try:
        for sid in ("s-402", "s-400", "s-401"):
            ddb.put_item(TableName=s.table("sellers"), Item={"seller_id": {"S": sid}, "name": {"S": f"Shop {sid}"}})
        identities = Identities(s)
        identities.ensure_pool()
        assert identities.ensure_sellers_from_table() == ["s-400", "s-401", "s-402"]
        assert identities.ensure_sellers_from_table() == []
        assert [u.seller_id for u in identities.sellers()] == ["s-400", "s-401", "s-402"]
    finally:
        ddb.delete_table(TableName=s.table("sellers"))


def test_many_sellers_paginate(isettings: Settings) -> None:
    identities = Identities(isettings)
    identities.ensure_pool()
    ids = [f"s-{i:03d}" for i in range(75)]  # more than one page (60) of every listing
    assert len(identities.ensure_sellers(ids)) == 75
    assert [u.username for u in identities.sellers()] == ids
    assert identities.ensure_sellers(ids) == []


def test_aws_mode_needs_the_pool_settings(isettings: Settings) -> None:
    s = isettings.model_copy(update={"env": "aws"})
    identities = Identities(s, client=object())  # never called
    with pytest.raises(IdentityError, match="GITGOODS_COGNITO_POOL_ID and GITGOODS_COGNITO_CLIENT_ID"):
        identities.ensure_pool()
    with pytest.raises(IdentityError, match="GITGOODS_COGNITO_CLIENT_ID"):
        Identities(s.model_copy(update={"cognito_pool_id": "us-east-1_abc"}), client=object()).client_id()

    configured = s.model_copy(update={"cognito_pool_id": "us-east-1_abc", "cognito_client_id": "client123"})
    identities = Identities(configured, client=object())
    assert identities.ensure_pool() == "us-east-1_abc"
    assert identities.client_id() == "client123"
    assert identities.issuer() == "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc"
    assert identities.jwks_url() == "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc/.well-known/jwks.json"
    assert identities.local_password("anyone") is None


def test_aws_mode_invites_without_keeping_a_password(isettings: Settings) -> None:
    from botocore.stub import Stubber

    s = isettings.model_copy(
        update={"env": "aws", "cognito_pool_id": "us-east-1_abc", "cognito_client_id": "client123"}
    )
    client = aws.client("cognito-idp", s)
    stub = Stubber(client)
    stub.add_response("list_users", {"Users": []}, {"UserPoolId": "us-east-1_abc"})
    stub.add_response("list_users_in_group", {"Users": []}, {"UserPoolId": "us-east-1_abc", "GroupName": "sellers"})
    stub.add_response(
        "admin_create_user",
        {"User": {"Username": "s-9"}},
        {
            "UserPoolId": "us-east-1_abc",
            "Username": "s-9",
            "UserAttributes": [{"Name": "custom:seller_id", "Value": "s-9"}],
        },
    )
    stub.add_response(
        "admin_add_user_to_group", {}, {"UserPoolId": "us-east-1_abc", "Username": "s-9", "GroupName": "sellers"}
    )
    with stub:
        assert Identities(s, client=client).ensure_sellers(["s-9"]) == ["s-9"]
    stub.assert_no_pending_responses()
    assert not (s.secrets_dir / "portal-users.json").exists()
