"""SPICE ingestions for the local QuickSight: CreateIngestion (and the ingestion CreateDataSet and
UpdateDataSet start), DescribeIngestion, ListIngestions. An ingestion runs in a background thread,
one at a time per data set (others wait QUEUED): `ingest.run` reads and transforms the data set's
source and the snapshot is written to the local SPICE (`spice.py`). Mixed into
`protocol.QuickSightAssets` by `api.install`.
"""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

from gitgoods.local.quicksight import ingest
from gitgoods.local.quicksight.errors import IngestionError, QsError, not_found
from gitgoods.local.quicksight.protocol import operation, page
from gitgoods.local.quicksight.state import ingestion_lock, spice, store
from gitgoods.local.quicksight.store import trim_ingestions


class IngestionOperations:
    # helpers of protocol.QuickSightAssets and datasets.DataSetOperations, mixed in with this class
    _validated: Any
    _uri: Any
    _query: Any
    _account: Any
    region: Any
    _data_set: Any

    def _start_ingestion(self, ident: str, record: dict[str, Any], ingestion_id: str, kind: str) -> dict[str, Any]:
        """Start an ingestion of a SPICE data set in a background thread; {} for others."""
        if record["Definition"].get("ImportMode") != "SPICE":
            return {}
        arn = f"{record['Arn']}/ingestion/{ingestion_id}"
        record["Ingestions"][ingestion_id] = {
            "Arn": arn,
            "IngestionId": ingestion_id,
            "IngestionStatus": "INITIALIZED",
            "CreatedTime": time.time(),
            "RequestSource": "MANUAL",
            "RequestType": kind,
        }
        trim_ingestions(record["Ingestions"])
        args = (self._account, self.region, ident, ingestion_id, copy.deepcopy(record["Definition"]))
        threading.Thread(target=run_ingestion, args=args, name=f"ingest-{ident}", daemon=True).start()
        return {"IngestionArn": arn, "IngestionId": ingestion_id}

    @operation(201)
    def create_ingestion(self) -> dict[str, Any]:
        body = self._validated("CreateIngestion")
        ident, record = self._data_set()
        ingestion_id = self._uri("IngestionId")
        if record["Definition"].get("ImportMode") != "SPICE":
            raise QsError("InvalidParameterValueException", f"Data set {ident} is not a SPICE data set")
        if ingestion_id in record["Ingestions"]:
            raise QsError("ResourceExistsException", f"Ingestion {ingestion_id} already exists", "INGESTION")
        kind = body.get("IngestionType", "FULL_REFRESH")
        started = self._start_ingestion(ident, record, ingestion_id, kind)
        store().save()
        return {"Arn": started["IngestionArn"], "IngestionId": ingestion_id, "IngestionStatus": "INITIALIZED"}

    @operation(200)
    def describe_ingestion(self) -> dict[str, Any]:
        _, record = self._data_set()
        ingestion_id = self._uri("IngestionId")
        if ingestion_id not in record["Ingestions"]:
            raise not_found("Ingestion", ingestion_id, "INGESTION")
        return {"Ingestion": record["Ingestions"][ingestion_id]}

    @operation(200)
    def list_ingestions(self) -> dict[str, Any]:
        _, record = self._data_set()
        found = sorted(record["Ingestions"].values(), key=lambda i: i["CreatedTime"], reverse=True)
        items, token = page(found, self._query("next-token"), self._query("max-results"))
        return {"Ingestions": items, "NextToken": token}


def run_ingestion(account: str, region: str, ident: str, ingestion_id: str, definition: dict[str, Any]) -> None:
    """The background part of an ingestion: one at a time per data set (others wait QUEUED)."""
    lock = ingestion_lock(account, region, ident)

    def update(**fields: Any) -> bool:
        with store().lock:
            record = store().scope(account, region)["data_sets"].get(ident)
            if record is None or ingestion_id not in record["Ingestions"]:
                return False
            record["Ingestions"][ingestion_id].update(fields)
            store().save()
            return True

    if not lock.acquire(blocking=False):
        update(IngestionStatus="QUEUED")
        lock.acquire()
    try:
        started = time.time()
        if not update(IngestionStatus="RUNNING"):
            return
        try:
            result = ingest.run(definition, account, region)
            spice().write(
                ident,
                ingestion_id,
                result.data,
                table=result.table,
                partitions=result.partitions,
                last_partition=result.last_partition,
                built_at=result.built_at,
            )
            size = spice().file(ident, ingestion_id).stat().st_size
            rows = result.data.num_rows
            done = {
                "IngestionStatus": "COMPLETED",
                "IngestionSizeInBytes": size,
                "RowInfo": {"RowsIngested": rows, "RowsDropped": result.dropped, "TotalRowsInDataset": rows},
            }
        except IngestionError as exc:
            done = {"IngestionStatus": "FAILED", "ErrorInfo": {"Type": exc.kind, "Message": exc.message}}
        except Exception as exc:  # anything else is an internal error of the ingestion, never of the server
            done = {"IngestionStatus": "FAILED", "ErrorInfo": {"Type": "INTERNAL_SERVICE_ERROR", "Message": repr(exc)}}
        update(**done, IngestionTimeInSeconds=int(round(time.time() - started)))
    finally:
        lock.release()
