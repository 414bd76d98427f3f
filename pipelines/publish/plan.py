"""What publishing would change, and doing it: describe, compare, then create or update.

`plan(qs, wanted)` only describes (no write call): for each resource it says `create`, `update`
(with the field-level differences) or `unchanged`, and the permissions to grant or revoke; with
`removals=True` it also lists the project's resources (ids with the project's prefix) that the
definitions no longer have. `apply(qs, change)` carries one change out; a resource that is
unchanged makes no write call at all, so publishing twice changes nothing the second time.

A dashboard update makes a new version and publishes it (`UpdateDashboardPublishedVersion`);
QuickSight keeps the previous versions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pipelines.publish.api import PublishError, QuickSight
from pipelines.publish.diff import FieldDiff, diff

# What each kind's Describe answer holds of its Create request, and the calls of each kind.
KINDS: dict[str, dict[str, Any]] = {
    "data_source": {
        "id_key": "DataSourceId",
        "arn_kind": "datasource",
        "describe": ("describe_data_source", "DataSource"),
        "fields": ("Name", "Type", "DataSourceParameters"),
        "update_fields": ("Name", "DataSourceParameters"),
        "create": "create_data_source",
        "update": "update_data_source",
        "delete": "delete_data_source",
        "permissions": ("describe_data_source_permissions", "update_data_source_permissions"),
        "list": ("list_data_sources", "DataSources"),
    },
    "data_set": {
        "id_key": "DataSetId",
        "arn_kind": "dataset",
        "describe": ("describe_data_set", "DataSet"),
        "fields": (
            "Name", "PhysicalTableMap", "LogicalTableMap", "ImportMode", "ColumnGroups", "FieldFolders",
            "RowLevelPermissionDataSet", "UseAs",
        ),
        "update_fields": (
            "Name", "PhysicalTableMap", "LogicalTableMap", "ImportMode", "ColumnGroups", "FieldFolders",
            "RowLevelPermissionDataSet",
        ),
        "create": "create_data_set",
        "update": "update_data_set",
        "delete": "delete_data_set",
        "permissions": ("describe_data_set_permissions", "update_data_set_permissions"),
        "list": ("list_data_sets", "DataSetSummaries"),
    },
    "dashboard": {
        "id_key": "DashboardId",
        "arn_kind": "dashboard",
        "describe": ("describe_dashboard_definition", None),
        "fields": ("Name", "Definition"),
        "update_fields": ("Name", "Definition"),
        "create": "create_dashboard",
        "update": "update_dashboard",
        "delete": "delete_dashboard",
        "permissions": ("describe_dashboard_permissions", "update_dashboard_permissions"),
        "list": ("list_dashboards", "DashboardSummaryList"),
    },
}
ORDER = ("data_source", "data_set", "dashboard")


@dataclass(frozen=True)
class Wanted:
    """One resource as the definitions want it: its Create request (without AwsAccountId) and the
    permissions it should grant, {principal ARN: actions}."""

    kind: str
    request: dict[str, Any]
    permissions: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.request[KINDS[self.kind]["id_key"]]


@dataclass
class Change:
    kind: str
    id: str
    action: str  # create, update, unchanged, remove
    fields: list[FieldDiff] = field(default_factory=list)
    grant: dict[str, tuple[str, ...]] = field(default_factory=dict)
    revoke: dict[str, tuple[str, ...]] = field(default_factory=dict)
    wanted: Wanted | None = None

    @property
    def changes_anything(self) -> bool:
        return self.action != "unchanged" or bool(self.grant or self.revoke)

    def lines(self) -> list[str]:
        head = f"{self.kind.replace('_', ' ')} {self.id}: {self.action}"
        out = [head]
        if self.action == "update":
            out += [f"    {d}" for d in self.fields]
        for principal, actions in self.grant.items():
            out.append(f"    + permission {principal}: {', '.join(actions)}")
        for principal, actions in self.revoke.items():
            out.append(f"    - permission {principal}: {', '.join(actions)}")
        return out


def _comparable(kind: str, described: dict[str, Any]) -> dict[str, Any]:
    return {k: described[k] for k in KINDS[kind]["fields"] if k in described and described[k] not in (None, [], {})}


def _wanted_fields(wanted: Wanted) -> dict[str, Any]:
    return {
        k: wanted.request[k] for k in KINDS[wanted.kind]["fields"] if wanted.request.get(k) not in (None, [], {})
    }


def describe(qs: QuickSight, kind: str, resource_id: str) -> dict[str, Any] | None:
    """The published state of a resource, in its Create request's terms, or None."""
    spec = KINDS[kind]
    operation, member = spec["describe"]
    answer = qs.describe(operation, **{spec["id_key"]: resource_id})
    if answer is None:
        return None
    return answer if member is None else answer[member]


def permissions_of(qs: QuickSight, kind: str, resource_id: str) -> dict[str, set[str]]:
    answer = qs.call(KINDS[kind]["permissions"][0], **{KINDS[kind]["id_key"]: resource_id})
    return {p["Principal"]: set(p["Actions"]) for p in answer.get("Permissions") or []}


def plan_one(qs: QuickSight, wanted: Wanted) -> Change:
    current = describe(qs, wanted.kind, wanted.id)
    if current is None:
        return Change(wanted.kind, wanted.id, "create", grant=dict(wanted.permissions), wanted=wanted)
    if wanted.kind == "data_source" and current.get("Type") not in (None, wanted.request.get("Type")):
        raise PublishError(
            f"data source {wanted.id} is of type {current.get('Type')}, the definition wants "
            f"{wanted.request.get('Type')}: a data source's type cannot be updated, remove it first"
        )
    fields = diff(_comparable(wanted.kind, current), _wanted_fields(wanted))
    have = permissions_of(qs, wanted.kind, wanted.id)
    grant = {
        p: tuple(sorted(set(actions) - have.get(p, set())))
        for p, actions in wanted.permissions.items()
        if set(actions) - have.get(p, set())
    }
    revoke = {
        p: tuple(sorted(have.get(p, set()) - set(actions)))
        for p, actions in wanted.permissions.items()
        if have.get(p, set()) - set(actions)
    }
    return Change(wanted.kind, wanted.id, "update" if fields else "unchanged", fields, grant, revoke, wanted)


def plan(qs: QuickSight, wanted: list[Wanted], *, prefix: str, removals: bool = False) -> list[Change]:
    changes = [plan_one(qs, w) for kind in ORDER for w in wanted if w.kind == kind]
    if removals:
        keep = {(w.kind, w.id) for w in wanted}
        for kind in reversed(ORDER):
            for resource_id in _listed(qs, kind):
                if resource_id.startswith(prefix) and (kind, resource_id) not in keep:
                    changes.append(Change(kind, resource_id, "remove"))
    return changes


def _listed(qs: QuickSight, kind: str) -> list[str]:
    operation, member = KINDS[kind]["list"]
    ids: list[str] = []
    token = None
    while True:
        answer = qs.call(operation, **({"NextToken": token} if token else {}))
        ids += [item[KINDS[kind]["id_key"]] for item in answer.get(member) or []]
        token = answer.get("NextToken")
        if not token:
            return ids


def _permission_list(perms: dict[str, tuple[str, ...]]) -> list[dict[str, Any]]:
    return [{"Principal": p, "Actions": list(a)} for p, a in sorted(perms.items())]


def apply(qs: QuickSight, change: Change, *, allow_remove: bool = False) -> dict[str, Any]:
    """Carry out one change; returns what was done (for metadata). Unchanged: no call at all."""
    spec = KINDS[change.kind]
    done: dict[str, Any] = {"action": change.action}
    id_param = {spec["id_key"]: change.id}
    if change.action == "remove":
        if not allow_remove:
            raise PublishError(f"{change.kind} {change.id} would be removed: pass the explicit removal flag")
        qs.call(spec["delete"], **id_param)
        return done
    wanted = change.wanted
    assert wanted is not None
    if change.action == "create":
        request = dict(wanted.request)
        if wanted.permissions:
            request["Permissions"] = _permission_list(wanted.permissions)
        answer = qs.call(spec["create"], **request)
        if change.kind == "dashboard":
            done["version"] = _version_of(answer)
        if answer.get("IngestionId"):  # a SPICE data set is ingested as soon as it is created
            done["ingestion_id"] = answer["IngestionId"]
        return done
    if change.action == "update":
        update = {k: wanted.request[k] for k in spec["update_fields"] if k in wanted.request}
        answer = qs.call(spec["update"], **id_param, **update)
        if change.kind == "dashboard":
            version = _version_of(answer)
            qs.call("update_dashboard_published_version", DashboardId=change.id, VersionNumber=version)
            done["version"] = version
        if answer.get("IngestionId"):  # ... and again when its definition changes
            done["ingestion_id"] = answer["IngestionId"]
        done["fields_changed"] = len(change.fields)
    if change.grant or change.revoke:
        params: dict[str, Any] = dict(id_param)
        if change.grant:
            params["GrantPermissions"] = _permission_list(change.grant)
        if change.revoke:
            params["RevokePermissions"] = _permission_list(change.revoke)
        qs.call(spec["permissions"][1], **params)
        done["permissions"] = {"granted": sorted(change.grant), "revoked": sorted(change.revoke)}
    return done


_VERSION = re.compile(r"/version/(\d+)$")


def _version_of(answer: dict[str, Any]) -> int:
    match = _VERSION.search(answer.get("VersionArn") or "")
    if not match:
        raise PublishError(f"the dashboard answer carries no version: {answer.get('VersionArn')!r}")
    return int(match.group(1))
