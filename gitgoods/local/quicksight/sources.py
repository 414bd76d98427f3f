"""Data sources' permissions (and their create requests kept on disk, so moto's data sources come
back after a restart), and tags that persist for the resources of the store. Mixed into
`protocol.QuickSightAssets` by `api.install`; the other QuickSight calls stay moto's.
"""

from __future__ import annotations

from typing import Any

from moto.quicksight.models import quicksight_backends

from gitgoods.local.quicksight.errors import QsError, not_found
from gitgoods.local.quicksight.protocol import error_response, operation
from gitgoods.local.quicksight.state import store
from gitgoods.local.quicksight.store import merge_permissions


class SourceAndTagOperations:
    # helpers of protocol.QuickSightAssets, which this class is mixed into
    _validated: Any
    _scope: Any
    _uri: Any
    _body: Any
    _backend: Any

    # -- data sources: permissions, and their definitions kept on disk -------------------------

    def _data_source(self) -> tuple[str, Any, dict[str, Any]]:
        ident = self._uri("DataSourceId")
        source = self._backend().data_sources.get(ident)
        if source is None:
            raise not_found("Data source", ident, "DATA_SOURCE")
        return ident, source, self._scope()["data_sources"].setdefault(ident, {"Permissions": []})

    @operation(200)
    def describe_data_source_permissions(self) -> dict[str, Any]:
        ident, source, record = self._data_source()
        return {"DataSourceArn": source.arn, "DataSourceId": ident, "Permissions": record["Permissions"] or None}

    @operation(200)
    def update_data_source_permissions(self) -> dict[str, Any]:
        body = self._validated("UpdateDataSourcePermissions")
        ident, source, record = self._data_source()
        record["Permissions"] = merge_permissions(
            record["Permissions"], body.get("GrantPermissions"), body.get("RevokePermissions")
        )
        store().save()
        return {"DataSourceArn": source.arn, "DataSourceId": ident}

    def create_data_source(self) -> Any:
        body, backend = self._body(), self._backend()
        if body.get("DataSourceId") in backend.data_sources:
            message = f"Data source {body['DataSourceId']} already exists"
            return error_response(QsError("ResourceExistsException", message, "DATA_SOURCE"))
        response = super().create_data_source()
        with store().lock:
            request = {k: v for k, v in body.items() if k not in ("Credentials", "Permissions", "Tags", "AwsAccountId")}
            self._scope()["data_sources"][body["DataSourceId"]] = {
                "Arn": backend.data_sources[body["DataSourceId"]].arn,
                "Request": request,
                "Permissions": body.get("Permissions", []),
                "Tags": body.get("Tags", []),
            }
            store().save()
        return response

    def update_data_source(self) -> Any:
        response = super().update_data_source()
        with store().lock:
            record = self._scope()["data_sources"].get(self._uri("DataSourceId"))
            if record is not None and "Request" in record:
                record["Request"].update({k: v for k, v in self._body().items() if k != "Credentials"})
                store().save()
        return response

    def delete_data_source(self) -> Any:
        response = super().delete_data_source()
        with store().lock:
            if self._scope()["data_sources"].pop(self._uri("DataSourceId"), None) is not None:
                store().save()
        return response

    # -- tags (moto's tagger; kept on disk for the resources stored here) ----------------------

    def _retag(self, arn: str) -> None:
        with store().lock:
            record = store().find_arn(arn)
            if record is not None:
                record["Tags"] = quicksight_backends[arn.split(":")[4]][arn.split(":")[3]].list_tags_for_resource(arn)
                store().save()

    def _unknown_arn(self, arn: str) -> Any:
        parts = arn.split(":", 5)
        if len(parts) == 6 and parts[5].split("/")[0] in ("dataset", "dashboard") and store().find_arn(arn) is None:
            return error_response(not_found("Resource", arn))
        return None

    def tag_resource(self) -> Any:
        arn = self._uri("ResourceArn")
        response = self._unknown_arn(arn) or super().tag_resource()
        self._retag(arn)
        return response

    def untag_resource(self) -> Any:
        arn = self._uri("ResourceArn")
        response = self._unknown_arn(arn) or super().untag_resource()
        self._retag(arn)
        return response

    def list_tags_for_resource(self) -> Any:
        return self._unknown_arn(self._uri("ResourceArn")) or super().list_tags_for_resource()
