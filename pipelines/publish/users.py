"""QuickSight users and groups in step with the Cognito pool.

Each enabled seller of the pool's `sellers` group is a QuickSight READER in the QuickSight group
`sellers`; each analyst a READER in `analysts` (the group the dashboard, data sets and data
source are shared with). A seller disabled in Cognito loses its QuickSight user; its RLS rule goes
too (see `rls`), so even a kept session shows it nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gitgoods.settings import Settings
from pipelines.publish.api import QuickSight


def quicksight_user_name(settings: Settings, username: str) -> str:
    """The QuickSight user name of a Cognito user: the same name, or `<role>/<name>` for users
    registered as IAM identities of the embedding role."""
    if settings.quicksight_embed_role_arn:
        return f"{settings.quicksight_embed_role_arn.rsplit('/', 1)[-1]}/{username}"
    return username


def _all(qs: QuickSight, operation: str, member: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token = None
    while True:
        answer = qs.call(operation, **params, **({"NextToken": token} if token else {}))
        items += answer.get(member) or []
        token = answer.get("NextToken")
        if not token:
            return items


def _register(qs: QuickSight, settings: Settings, username: str) -> None:
    params: dict[str, Any] = {"Namespace": settings.quicksight_namespace, "UserRole": "READER"}
    if settings.quicksight_embed_role_arn:
        params |= {
            "IdentityType": "IAM",
            "IamArn": settings.quicksight_embed_role_arn,
            "SessionName": username,
            "Email": f"{username}@{settings.quicksight_user_email_domain}",
        }
    else:
        params |= {
            "IdentityType": "QUICKSIGHT",
            "UserName": username,
            "Email": f"{username}@{settings.quicksight_user_email_domain}",
        }
    qs.call("register_user", **params)


def sync_users(
    qs: QuickSight,
    settings: Settings,
    sellers: Iterable[tuple[str, bool]],
    analysts: Iterable[str],
) -> dict[str, list[str]]:
    """Make QuickSight's users and group members match (user name, enabled) of the sellers and the
    analysts: a member of the sellers group that is disabled or no longer in the pool loses its
    QuickSight user. Returns what was registered, added to a group and deleted."""
    namespace = settings.quicksight_namespace
    done: dict[str, list[str]] = {"registered": [], "added": [], "deleted": []}
    wanted_groups = {settings.sellers_group: [], settings.analysts_group: []}
    disabled = []
    for username, enabled in sellers:
        (wanted_groups[settings.sellers_group] if enabled else disabled).append(username)
    wanted_groups[settings.analysts_group] = list(analysts)
    users = {u["UserName"] for u in _all(qs, "list_users", "UserList", Namespace=namespace)}
    leaving: set[str] = set()
    for group, members in wanted_groups.items():
        if qs.describe("describe_group", GroupName=group, Namespace=namespace) is None:
            qs.call("create_group", GroupName=group, Namespace=namespace, Description=f"Git Goods {group}")
        current = {
            m["MemberName"]
            for m in _all(qs, "list_group_memberships", "GroupMemberList", GroupName=group, Namespace=namespace)
        }
        names = {quicksight_user_name(settings, u) for u in members}
        if group == settings.sellers_group:  # sellers disabled or gone from the pool
            leaving |= current - names
        for name in sorted(names):
            if name not in users:
                _register(qs, settings, name.rsplit("/", 1)[-1])
                users.add(name)
                done["registered"].append(name)
            if name not in current:
                qs.call("create_group_membership", GroupName=group, MemberName=name, Namespace=namespace)
                done["added"].append(f"{group}/{name}")
    leaving |= {quicksight_user_name(settings, u) for u in disabled}
    for name in sorted(leaving & users):
        qs.call("delete_user", UserName=name, Namespace=namespace)
        done["deleted"].append(name)
    return done
