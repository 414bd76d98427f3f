"""Seller identities: the Cognito user pool behind the seller portal and the RLS rules.

A seller's user name is its `seller_id`; it carries `custom:seller_id` and belongs to the `sellers`
group; analysts belong to `analysts` and may see every seller.

Locally the pool lives in the moto server, which keeps nothing on disk, so everything here is
idempotent and rebuilds the same pool at every start: the pool is found by name or created, each
seller gets the password kept in the local secrets folder (generated once), and users disabled
before the restart are disabled again (`state_dir/identities.json`). On AWS the deployment owns the
pool and its app client: their ids come from the settings and nothing here creates them.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import string
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitgoods import aws
from gitgoods.settings import Settings

log = logging.getLogger(__name__)

SELLER_ID_ATTRIBUTE = "custom:seller_id"
APP_CLIENT_NAME = "gitgoods-portal"
USERS_FILE = "portal-users.json"
STATE_FILE = "identities.json"
PASSWORD_LENGTH = 24
# Symbols both Cognito and moto accept in a password.
PASSWORD_SYMBOLS = "!#%*+-=?@^_~"  # noqa: S105 (an alphabet, not a password)
PASSWORD_POLICY = {
    "MinimumLength": 12,
    "RequireUppercase": True,
    "RequireLowercase": True,
    "RequireNumbers": True,
    "RequireSymbols": True,
}


class IdentityError(RuntimeError):
    """The pool cannot be used as configured (missing settings, pool not built yet)."""


@dataclass(frozen=True)
class SellerUser:
    username: str
    seller_id: str | None
    enabled: bool


def generate_password(length: int = PASSWORD_LENGTH) -> str:
    """A random password with at least one upper, lower, digit and symbol (the pool's policy)."""
    classes = [string.ascii_uppercase, string.ascii_lowercase, string.digits, PASSWORD_SYMBOLS]
    alphabet = "".join(classes)
    chars = [secrets.choice(c) for c in classes]
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def _write_private_json(path: Path, data: Any, private_dir: bool = False) -> None:
    """Write `data` to `path` atomically as an owner-only (0600) file; `private_dir` also makes its
    folder owner-only (0700)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if private_dir:
        os.chmod(path.parent, 0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mkstemp: 0600
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def _attributes(user: dict[str, Any]) -> dict[str, str]:
    return {a["Name"]: a["Value"] for a in user.get("Attributes", user.get("UserAttributes", []))}


class Identities:
    """The user pool of sellers and analysts (see the module docstring)."""

    def __init__(self, settings: Settings, client: Any = None):
        self.settings = settings
        self._client = client
        self._pool_id: str | None = None
        self._client_id: str | None = None

    @property
    def local(self) -> bool:
        return self.settings.env != "aws"

    @property
    def cognito(self) -> Any:
        if self._client is None:
            self._client = aws.client("cognito-idp", self.settings)
        return self._client

    @property
    def users_file(self) -> Path:
        return self.settings.secrets_dir / USERS_FILE

    @property
    def state_file(self) -> Path:
        return self.settings.state_dir / STATE_FILE

    # -- the pool -------------------------------------------------------------------------------

    def ensure_pool(self) -> str:
        """The pool's id; locally the pool, its groups and app client are created when missing."""
        self.forget()
        if not self.local:
            return self._configured_ids()[0]
        pool_id = self._find_pool()
        if pool_id is None:
            pool_id = self.cognito.create_user_pool(
                PoolName=self.settings.cognito_pool_name,
                Policies={"PasswordPolicy": PASSWORD_POLICY},
                Schema=[
                    {
                        "Name": "seller_id",
                        "AttributeDataType": "String",
                        "Mutable": False,
                        "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "128"},
                    }
                ],
                AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
            )["UserPool"]["Id"]
            log.info("created user pool %s (%s)", self.settings.cognito_pool_name, pool_id)
        existing = {
            g["GroupName"]
            for page in self.cognito.get_paginator("list_groups").paginate(UserPoolId=pool_id)
            for g in page["Groups"]
        }
        for group in (self.settings.sellers_group, self.settings.analysts_group):
            if group not in existing:
                self.cognito.create_group(UserPoolId=pool_id, GroupName=group)
        if self._find_client(pool_id) is None:
            self.cognito.create_user_pool_client(
                UserPoolId=pool_id,
                ClientName=APP_CLIENT_NAME,
                GenerateSecret=False,
                ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            )
        self._pool_id = pool_id
        return pool_id

    def forget(self) -> None:
        """Drop the cached pool and client ids (the local pool was rebuilt under a new id)."""
        self._pool_id = None
        self._client_id = None

    def pool_id(self) -> str:
        if self._pool_id is None:
            if not self.local:
                self._pool_id = self._configured_ids()[0]
            else:
                found = self._find_pool()
                if found is None:
                    raise IdentityError(
                        f"no user pool named {self.settings.cognito_pool_name!r} on the local emulator "
                        "(Identities.ensure_pool() builds it)"
                    )
                self._pool_id = found
        return self._pool_id

    def client_id(self) -> str:
        if self._client_id is None:
            if not self.local:
                self._client_id = self._configured_ids()[1]
            else:
                found = self._find_client(self.pool_id())
                if found is None:
                    raise IdentityError(f"the user pool has no app client {APP_CLIENT_NAME!r}")
                self._client_id = found
        return self._client_id

    def issuer(self) -> str:
        if self.settings.cognito_issuer:
            return self.settings.cognito_issuer.rstrip("/")
        return f"https://cognito-idp.{self.settings.region}.amazonaws.com/{self.pool_id()}"

    def jwks_url(self) -> str:
        if self.settings.cognito_jwks_url:
            return self.settings.cognito_jwks_url
        if self.local and self.settings.aws_endpoint:
            return f"{self.settings.aws_endpoint.rstrip('/')}/{self.pool_id()}/.well-known/jwks.json"
        return f"{self.issuer()}/.well-known/jwks.json"

    def _configured_ids(self) -> tuple[str, str]:
        missing = [
            f"GITGOODS_{name.upper()}"
            for name in ("cognito_pool_id", "cognito_client_id")
            if not getattr(self.settings, name)
        ]
        if missing:
            raise IdentityError(
                f"GITGOODS_ENV=aws: the user pool is made by the deployment, set {' and '.join(missing)}"
            )
        return self.settings.cognito_pool_id, self.settings.cognito_client_id  # type: ignore[return-value]

    def _find_pool(self) -> str | None:
        paginator = self.cognito.get_paginator("list_user_pools")
        for page in paginator.paginate(PaginationConfig={"PageSize": 60}):
            for pool in page["UserPools"]:
                if pool["Name"] == self.settings.cognito_pool_name:
                    return pool["Id"]
        return None

    def _find_client(self, pool_id: str) -> str | None:
        paginator = self.cognito.get_paginator("list_user_pool_clients")
        for page in paginator.paginate(UserPoolId=pool_id):
            for client in page["UserPoolClients"]:
                if client["ClientName"] == APP_CLIENT_NAME:
                    return client["ClientId"]
        return None

    # -- users ----------------------------------------------------------------------------------

    def ensure_sellers(self, seller_ids: Iterable[str]) -> list[str]:
        """A user per seller (user name = seller id) in the sellers group; returns those created."""
        return self._ensure_users(
            [(sid, [{"Name": SELLER_ID_ATTRIBUTE, "Value": sid}]) for sid in seller_ids],
            self.settings.sellers_group,
        )

    def ensure_sellers_from_table(self) -> list[str]:
        ddb = aws.client("dynamodb", self.settings)
        seller_ids = [
            item["seller_id"]["S"]
            for page in ddb.get_paginator("scan").paginate(
                TableName=self.settings.table("sellers"), ProjectionExpression="seller_id"
            )
            for item in page["Items"]
        ]
        return self.ensure_sellers(sorted(seller_ids))

    def ensure_analyst(self, username: str = "analyst") -> list[str]:
        return self._ensure_users([(username, [])], self.settings.analysts_group)

    def rebuild(self) -> list[str]:
        """Everything a fresh local emulator needs: the pool, every seller of the table, the analyst."""
        self.ensure_pool()
        return self.ensure_sellers_from_table() + self.ensure_analyst()

    def _ensure_users(self, users: list[tuple[str, list[dict[str, str]]]], group: str) -> list[str]:
        pool_id = self.pool_id()
        existing = self._list_users(pool_id)
        members = {u["Username"] for u in self._group_members(group)}
        passwords = self._passwords() if self.local else {}
        disabled = self._disabled() if self.local else set()
        new_passwords = {
            name: generate_password()
            for name, _ in users
            if self.local and name not in existing and name not in passwords
        }
        if new_passwords:
            # Kept before the pool gets them: a crash in between cannot lose a password.
            passwords = {**passwords, **new_passwords}
            _write_private_json(self.users_file, passwords, private_dir=True)
        created: list[str] = []
        for name, attributes in users:
            if name not in existing:
                self._create_user(pool_id, name, attributes, passwords.get(name))
                created.append(name)
                existing[name] = True
            if name not in members:
                self.cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=name, GroupName=group)
            if name in disabled and existing[name]:
                self.cognito.admin_disable_user(UserPoolId=pool_id, Username=name)
        if created:
            log.info("created %d user(s) in group %s", len(created), group)
        return created

    def _create_user(self, pool_id: str, name: str, attributes: list[dict[str, str]], password: str | None) -> None:
        if not self.local:
            # The default invitation: Cognito sends the temporary password; nothing is kept here.
            self.cognito.admin_create_user(UserPoolId=pool_id, Username=name, UserAttributes=attributes)
            return
        self.cognito.admin_create_user(
            UserPoolId=pool_id, Username=name, UserAttributes=attributes, MessageAction="SUPPRESS"
        )
        self.cognito.admin_set_user_password(UserPoolId=pool_id, Username=name, Password=password, Permanent=True)

    def _list_users(self, pool_id: str) -> dict[str, bool]:
        """User name -> enabled, for every user of the pool."""
        return {
            u["Username"]: bool(u.get("Enabled", True))
            for page in self.cognito.get_paginator("list_users").paginate(UserPoolId=pool_id)
            for u in page["Users"]
        }

    def _group_members(self, group: str) -> list[dict[str, Any]]:
        paginator = self.cognito.get_paginator("list_users_in_group")
        return [u for page in paginator.paginate(UserPoolId=self.pool_id(), GroupName=group) for u in page["Users"]]

    # -- enabled / disabled ---------------------------------------------------------------------

    def disable(self, username: str) -> None:
        self.cognito.admin_disable_user(UserPoolId=self.pool_id(), Username=username)
        if self.local:
            self._save_disabled(self._disabled() | {username})

    def enable(self, username: str) -> None:
        self.cognito.admin_enable_user(UserPoolId=self.pool_id(), Username=username)
        if self.local:
            self._save_disabled(self._disabled() - {username})

    def _disabled(self) -> set[str]:
        return set(_read_json(self.state_file).get("disabled", []))

    def _save_disabled(self, disabled: set[str]) -> None:
        _write_private_json(self.state_file, {**_read_json(self.state_file), "disabled": sorted(disabled)})

    # -- reading --------------------------------------------------------------------------------

    def sellers(self) -> list[SellerUser]:
        users = [
            SellerUser(u["Username"], _attributes(u).get(SELLER_ID_ATTRIBUTE), bool(u.get("Enabled", True)))
            for u in self._group_members(self.settings.sellers_group)
        ]
        return sorted(users, key=lambda u: u.username)

    def analysts(self) -> list[str]:
        return sorted(u["Username"] for u in self._group_members(self.settings.analysts_group))

    def local_password(self, username: str) -> str | None:
        if not self.local:
            return None
        return self._passwords().get(username)

    def _passwords(self) -> dict[str, str]:
        return _read_json(self.users_file)
