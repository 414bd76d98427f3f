"""Data sets for the local QuickSight: the whole CreateDataSet/UpdateDataSet request kept (moto keeps
only an id and a name), described with its OutputColumns and SPICE size, listed, deleted, and their
permissions. Creating or updating a SPICE data set starts an ingestion (`ingestions.py`). Mixed into
`protocol.QuickSightAssets` by `api.install`.
"""

from __future__ import annotations

import copy
import time
import uuid
from typing import Any

from gitgoods.local.quicksight import dataprep
from gitgoods.local.quicksight.errors import QsError
from gitgoods.local.quicksight.protocol import MODEL, operation, page
from gitgoods.local.quicksight.state import spice, store
from gitgoods.local.quicksight.store import merge_permissions

DATASET_MEMBERS = set(MODEL.shape_for("DataSet").members)
SUMMARY_MEMBERS = set(MODEL.shape_for("DataSetSummary").members)


class DataSetOperations:
    # helpers of protocol.QuickSightAssets and ingestions.IngestionOperations, mixed in with this class
    _validated: Any
    _scope: Any
    _arn: Any
    _uri: Any
    _query: Any
    _backend: Any
    _start_ingestion: Any
    _record: Any

    def _data_set(self) -> tuple[str, dict[str, Any]]:
        return self._record("data_sets", "DataSetId", "Data set", "DATA_SET")

    def _check_definition(self, definition: dict[str, Any]) -> None:
        physical = definition.get("PhysicalTableMap") or {}
        for table in (definition.get("LogicalTableMap") or {}).values():
            source = table.get("Source", {}).get("PhysicalTableId")
            if source is not None and source not in physical:
                raise QsError("InvalidParameterValueException", f"unknown PhysicalTableId {source!r}")
        problem = dataprep.problem(definition)
        if problem:
            raise QsError("InvalidParameterValueException", problem)

    @operation(201)
    def create_data_set(self) -> dict[str, Any]:
        body = self._validated("CreateDataSet")
        ident, now = body["DataSetId"], time.time()
        if ident in self._scope()["data_sets"]:
            raise QsError("ResourceExistsException", f"Data set {ident} already exists", "DATA_SET")
        definition = {k: v for k, v in body.items() if k not in ("AwsAccountId", "DataSetId", "Permissions", "Tags")}
        self._check_definition(definition)
        arn = self._arn("dataset", ident)
        record = {
            "Arn": arn,
            "CreatedTime": now,
            "LastUpdatedTime": now,
            "Definition": definition,
            "Permissions": body.get("Permissions", []),
            "Tags": body.get("Tags", []),
            "Ingestions": {},
        }
        self._scope()["data_sets"][ident] = record
        if record["Tags"]:
            self._backend().tagger.tag_resource(arn, record["Tags"])
        started = self._start_ingestion(ident, record, str(uuid.uuid4()), "INITIAL_INGESTION")
        store().save()
        return {"Arn": arn, "DataSetId": ident, **started}

    @operation(200)
    def update_data_set(self) -> dict[str, Any]:
        body = self._validated("UpdateDataSet")
        ident, record = self._data_set()
        definition = {k: v for k, v in body.items() if k not in ("AwsAccountId", "DataSetId")}
        self._check_definition(definition)
        record["Definition"], record["LastUpdatedTime"] = definition, time.time()
        started = self._start_ingestion(ident, record, str(uuid.uuid4()), "EDIT")
        store().save()
        return {"Arn": record["Arn"], "DataSetId": ident, **started}

    def _data_set_json(self, ident: str, record: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in copy.deepcopy(record["Definition"]).items() if k in DATASET_MEMBERS}
        out.update(Arn=record["Arn"], DataSetId=ident, CreatedTime=record["CreatedTime"])
        out["LastUpdatedTime"] = record["LastUpdatedTime"]
        columns = dataprep.output_columns(record["Definition"])
        if columns is not None:
            out["OutputColumns"] = columns
        out["ConsumedSpiceCapacityInBytes"] = 0
        try:
            pointer = spice().pointer(ident) if out.get("ImportMode") == "SPICE" else None
        except ValueError:  # an id the local SPICE cannot hold (its ingestions fail saying so)
            pointer = None
        if pointer:
            snapshot = spice().file(ident, pointer["ingestion_id"])
            out["ConsumedSpiceCapacityInBytes"] = snapshot.stat().st_size if snapshot.exists() else 0
        return out

    @operation(200)
    def describe_data_set(self) -> dict[str, Any]:
        ident, record = self._data_set()
        return {"DataSet": self._data_set_json(ident, record)}

    @operation(200)
    def delete_data_set(self) -> dict[str, Any]:
        ident, record = self._data_set()
        del self._scope()["data_sets"][ident]
        self._backend().tagger.delete_all_tags_for_resource(record["Arn"])
        spice().delete(ident)
        store().save()
        return {"Arn": record["Arn"], "DataSetId": ident}

    @operation(200)
    def list_data_sets(self) -> dict[str, Any]:
        summaries = []
        for ident, record in sorted(self._scope()["data_sets"].items()):
            full = self._data_set_json(ident, record)
            summary = {k: v for k, v in full.items() if k in SUMMARY_MEMBERS}
            summary["RowLevelPermissionTagConfigurationApplied"] = "RowLevelPermissionTagConfiguration" in full
            summary["ColumnLevelPermissionRulesApplied"] = bool(full.get("ColumnLevelPermissionRules"))
            summaries.append(summary)
        items, token = page(summaries, self._query("next-token"), self._query("max-results"))
        return {"DataSetSummaries": items, "NextToken": token}

    @operation(200)
    def describe_data_set_permissions(self) -> dict[str, Any]:
        ident, record = self._data_set()
        return {"DataSetArn": record["Arn"], "DataSetId": ident, "Permissions": record["Permissions"] or None}

    @operation(200)
    def update_data_set_permissions(self) -> dict[str, Any]:
        body = self._validated("UpdateDataSetPermissions")
        ident, record = self._data_set()
        record["Permissions"] = merge_permissions(
            record["Permissions"], body.get("GrantPermissions"), body.get("RevokePermissions")
        )
        store().save()
        return {"DataSetArn": record["Arn"], "DataSetId": ident}
