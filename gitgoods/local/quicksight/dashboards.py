"""Dashboards for the local QuickSight: definitions, versions, the published version, permissions.

CreateDashboard makes version 1 and publishes it; UpdateDashboard adds a version that is not
published until UpdateDashboardPublishedVersion. Describe calls without a version number describe
the published version (the latest one if none is). A version whose definition names a data set
that does not exist is CREATION_FAILED (Errors: DATA_SET_NOT_FOUND) and cannot be published.
Mixed into `protocol.QuickSightAssets` by `api.install`.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from gitgoods.local.quicksight.errors import QsError, not_found
from gitgoods.local.quicksight.protocol import operation, page
from gitgoods.local.quicksight.state import store
from gitgoods.local.quicksight.store import merge_permissions

VERSION_FIELDS = (
    "Name",
    "Definition",
    "SourceEntity",
    "Parameters",
    "VersionDescription",
    "DashboardPublishOptions",
    "ThemeArn",
    "ValidationStrategy",
)


def _numbered(record: dict[str, Any], number: str, label: str) -> dict[str, Any]:
    """The version numbered `number` (as given in the request); not found names it `label`."""
    found = [v for v in record["Versions"] if str(v["VersionNumber"]) == number]
    if not found:
        raise not_found("Dashboard version", label)
    return found[0]


def _source_arn(request: dict[str, Any]) -> str | None:
    return (request.get("SourceEntity") or {}).get("SourceTemplate", {}).get("Arn")


def _link(record: dict[str, Any]) -> dict[str, Any]:
    permissions = record["LinkSharingConfiguration"].get("Permissions")
    return {"Permissions": permissions} if permissions else {}


class DashboardOperations:
    # helpers of protocol.QuickSightAssets, which this class is mixed into
    _validated: Any
    _scope: Any
    _arn: Any
    _uri: Any
    _query: Any
    _backend: Any
    _record: Any

    def _dashboard(self) -> tuple[str, dict[str, Any]]:
        return self._record("dashboards", "DashboardId", "Dashboard")

    def _new_version(self, record: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("Definition") and not body.get("SourceEntity"):
            raise QsError("InvalidParameterValueException", "a Definition or a SourceEntity is required")
        data_sets = {r["Arn"] for r in self._scope()["data_sets"].values()}
        declared = (body.get("Definition") or {}).get("DataSetIdentifierDeclarations", [])
        errors = [
            {"Type": "DATA_SET_NOT_FOUND", "Message": f"data set {d['DataSetArn']} ({d['Identifier']}) not found"}
            for d in declared
            if d["DataSetArn"] not in data_sets
        ]
        version = {
            "VersionNumber": record.get("LastVersionNumber", 0) + 1,
            "CreatedTime": time.time(),
            "Status": "CREATION_FAILED" if errors else "CREATION_SUCCESSFUL",
            "Errors": errors,
            "Request": {k: copy.deepcopy(body[k]) for k in VERSION_FIELDS if k in body},
        }
        record["Versions"].append(version)
        record["LastVersionNumber"] = version["VersionNumber"]
        record["LastUpdatedTime"] = version["CreatedTime"]
        return version

    def _version(self, record: dict[str, Any]) -> dict[str, Any]:
        """The version asked for (version-number or alias-name), else the published one."""
        number, alias = self._query("version-number"), self._query("alias-name")
        if number is not None:
            return _numbered(record, number, number)
        if alias == "$LATEST":
            return record["Versions"][-1]
        if alias not in (None, "$PUBLISHED"):
            raise not_found("Dashboard alias", alias)
        published = [v for v in record["Versions"] if v["VersionNumber"] == record.get("PublishedVersionNumber")]
        return published[0] if published else record["Versions"][-1]

    def _version_arn(self, record: dict[str, Any], version: dict[str, Any]) -> str:
        return f"{record['Arn']}/version/{version['VersionNumber']}"

    @operation(202)
    def create_dashboard(self) -> dict[str, Any]:
        body = self._validated("CreateDashboard")
        ident = self._uri("DashboardId")
        if ident in self._scope()["dashboards"]:
            raise QsError("ResourceExistsException", f"Dashboard {ident} already exists")
        now = time.time()
        record: dict[str, Any] = {
            "Arn": self._arn("dashboard", ident),
            "CreatedTime": now,
            "LastUpdatedTime": now,
            "LastPublishedTime": None,
            "PublishedVersionNumber": None,
            "Versions": [],
            "Permissions": body.get("Permissions", []),
            "Tags": body.get("Tags", []),
            "LinkSharingConfiguration": body.get("LinkSharingConfiguration", {"Permissions": []}),
            "LinkEntities": body.get("LinkEntities"),
        }
        version = self._new_version(record, body)
        if version["Status"] == "CREATION_SUCCESSFUL":
            record["PublishedVersionNumber"], record["LastPublishedTime"] = 1, now
        self._scope()["dashboards"][ident] = record
        if record["Tags"]:
            self._backend().tagger.tag_resource(record["Arn"], record["Tags"])
        store().save()
        return {
            "Arn": record["Arn"],
            "VersionArn": self._version_arn(record, version),
            "DashboardId": ident,
            "CreationStatus": "CREATION_IN_PROGRESS",
        }

    @operation(202)
    def update_dashboard(self) -> dict[str, Any]:
        body = self._validated("UpdateDashboard")
        ident, record = self._dashboard()
        version = self._new_version(record, body)
        store().save()
        return {
            "Arn": record["Arn"],
            "VersionArn": self._version_arn(record, version),
            "DashboardId": ident,
            "CreationStatus": "CREATION_IN_PROGRESS",
        }

    @operation(200)
    def update_dashboard_published_version(self) -> dict[str, Any]:
        self._validated("UpdateDashboardPublishedVersion")
        ident, record = self._dashboard()
        number = self._uri("VersionNumber")
        version = _numbered(record, number, f"{ident}/{number}")
        if version["Status"] != "CREATION_SUCCESSFUL":
            raise QsError("InvalidParameterValueException", f"version {number} is {version['Status']}")
        record["PublishedVersionNumber"], record["LastPublishedTime"] = version["VersionNumber"], time.time()
        store().save()
        return {"DashboardId": ident, "DashboardArn": record["Arn"]}

    @operation(200)
    def describe_dashboard(self) -> dict[str, Any]:
        ident, record = self._dashboard()
        version = self._version(record)
        request = version["Request"]
        sheets = [
            {k: s[k] for k in ("SheetId", "Name") if k in s}
            for s in (request.get("Definition") or {}).get("Sheets", [])
        ]
        declared = (request.get("Definition") or {}).get("DataSetIdentifierDeclarations", [])
        body = {
            "CreatedTime": version["CreatedTime"],
            "Errors": version["Errors"] or None,
            "VersionNumber": version["VersionNumber"],
            "Status": version["Status"],
            "Arn": self._version_arn(record, version),
            "SourceEntityArn": _source_arn(request),
            "DataSetArns": [d["DataSetArn"] for d in declared],
            "Description": request.get("VersionDescription"),
            "ThemeArn": request.get("ThemeArn"),
            "Sheets": sheets,
        }
        dashboard = {
            "DashboardId": ident,
            "Arn": record["Arn"],
            "Name": record["Versions"][-1]["Request"]["Name"],
            "Version": {k: v for k, v in body.items() if v is not None},
            "CreatedTime": record["CreatedTime"],
            "LastPublishedTime": record["LastPublishedTime"],
            "LastUpdatedTime": record["LastUpdatedTime"],
            "LinkEntities": record.get("LinkEntities"),
        }
        return {"Dashboard": {k: v for k, v in dashboard.items() if v is not None}}

    @operation(200)
    def describe_dashboard_definition(self) -> dict[str, Any]:
        ident, record = self._dashboard()
        version = self._version(record)
        request = version["Request"]
        return {
            "DashboardId": ident,
            "Errors": version["Errors"] or None,
            "Name": request["Name"],
            "ResourceStatus": version["Status"],
            "ThemeArn": request.get("ThemeArn"),
            "Definition": request.get("Definition"),
            "DashboardPublishOptions": request.get("DashboardPublishOptions"),
        }

    @operation(200)
    def delete_dashboard(self) -> dict[str, Any]:
        ident, record = self._dashboard()
        number = self._query("version-number")
        if number is None:
            del self._scope()["dashboards"][ident]
            self._backend().tagger.delete_all_tags_for_resource(record["Arn"])
        else:
            version = _numbered(record, number, f"{ident}/{number}")
            if version["VersionNumber"] == record.get("PublishedVersionNumber"):
                raise QsError("ConflictException", f"version {number} is the published version of {ident}")
            record["Versions"].remove(version)
        store().save()
        return {"Arn": record["Arn"], "DashboardId": ident}

    @operation(200)
    def list_dashboards(self) -> dict[str, Any]:
        summaries = []
        for ident, record in sorted(self._scope()["dashboards"].items()):
            summary = {
                "Arn": record["Arn"],
                "DashboardId": ident,
                "Name": record["Versions"][-1]["Request"]["Name"],
                "CreatedTime": record["CreatedTime"],
                "LastUpdatedTime": record["LastUpdatedTime"],
                "PublishedVersionNumber": record["PublishedVersionNumber"],
                "LastPublishedTime": record["LastPublishedTime"],
            }
            summaries.append({k: v for k, v in summary.items() if v is not None})
        items, token = page(summaries, self._query("next-token"), self._query("max-results"))
        return {"DashboardSummaryList": items, "NextToken": token}

    @operation(200)
    def list_dashboard_versions(self) -> dict[str, Any]:
        _, record = self._dashboard()
        summaries = []
        for version in record["Versions"]:
            summary = {
                "Arn": self._version_arn(record, version),
                "CreatedTime": version["CreatedTime"],
                "VersionNumber": version["VersionNumber"],
                "Status": version["Status"],
                "SourceEntityArn": _source_arn(version["Request"]),
                "Description": version["Request"].get("VersionDescription"),
            }
            summaries.append({k: v for k, v in summary.items() if v is not None})
        items, token = page(summaries, self._query("next-token"), self._query("max-results"))
        return {"DashboardVersionSummaryList": items, "NextToken": token}

    @operation(200)
    def describe_dashboard_permissions(self) -> dict[str, Any]:
        ident, record = self._dashboard()
        return {
            "DashboardId": ident,
            "DashboardArn": record["Arn"],
            "Permissions": record["Permissions"] or None,
            "LinkSharingConfiguration": _link(record),
        }

    @operation(200)
    def update_dashboard_permissions(self) -> dict[str, Any]:
        body = self._validated("UpdateDashboardPermissions")
        ident, record = self._dashboard()
        record["Permissions"] = merge_permissions(
            record["Permissions"], body.get("GrantPermissions"), body.get("RevokePermissions")
        )
        link = record["LinkSharingConfiguration"]
        link["Permissions"] = merge_permissions(
            link.get("Permissions", []), body.get("GrantLinkPermissions"), body.get("RevokeLinkPermissions")
        )
        store().save()
        return {
            "DashboardArn": record["Arn"],
            "DashboardId": ident,
            "Permissions": record["Permissions"] or None,
            "LinkSharingConfiguration": _link(record),
        }
