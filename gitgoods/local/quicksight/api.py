"""QuickSight's asset APIs added to moto's server: data sets in full, SPICE ingestions, dashboards
with definitions and versions (`dashboards.py`), permissions, and tags that persist.

moto 5 keeps only a data set's id and name, does nothing on CreateIngestion and has no dashboard
versions, definitions or permissions. `install(state_dir)` (called before `ThreadedMotoServer`
starts) routes every QuickSight request to `QuickSightAssets`, moto's own response class with these
operations added or replaced, on AWS's URIs, status codes, error codes and response shapes
(botocore's service model), and keeps what they create in `<state_dir>/store.json` (`store.py`).
Ingestions run in a background thread (`ingest.py`) and write the local SPICE snapshots
(`<state_dir>/spice`, `spice.py`).
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import botocore.session
from botocore import xform_name
from botocore.validate import ParamValidator
from moto.quicksight import urls as moto_urls
from moto.quicksight.models import quicksight_backends
from moto.quicksight.responses import QuickSightResponse

from gitgoods.local.quicksight import ingest
from gitgoods.local.quicksight.spice import SpiceStore
from gitgoods.local.quicksight.store import Store, merge_permissions, trim_ingestions

MODEL = botocore.session.get_session().get_service_model("quicksight")
# operations whose `Status` is a body member (elsewhere it is the HTTP status code)
STATUS_IN_BODY = {
    xform_name(name)
    for name in MODEL.operation_names
    if "Status" in MODEL.operation_model(name).output_shape.members
    and MODEL.operation_model(name).output_shape.members["Status"].serialization.get("location") != "statusCode"
}
DATASET_MEMBERS = set(MODEL.shape_for("DataSet").members)
SUMMARY_MEMBERS = set(MODEL.shape_for("DataSetSummary").members)
ERROR_STATUS = {
    "ResourceNotFoundException": 404,
    "ResourceExistsException": 409,
    "ConflictException": 409,
    "InvalidParameterValueException": 400,
    "InvalidNextTokenException": 400,
}
ACCOUNT = r"{0}/accounts/(?P<AwsAccountId>[^/]+)"
ROUTES = [
    ACCOUNT + r"/data-sets$",
    ACCOUNT + r"/data-sets/(?P<DataSetId>[^/]+)$",
    ACCOUNT + r"/data-sets/(?P<DataSetId>[^/]+)/permissions$",
    ACCOUNT + r"/data-sets/(?P<DataSetId>[^/]+)/ingestions$",
    ACCOUNT + r"/data-sets/(?P<DataSetId>[^/]+)/ingestions/(?P<IngestionId>[^/]+)$",
    ACCOUNT + r"/data-sources/(?P<DataSourceId>[^/]+)/permissions$",
    ACCOUNT + r"/dashboards$",
    ACCOUNT + r"/dashboards/(?P<DashboardId>[^/]+)$",
    ACCOUNT + r"/dashboards/(?P<DashboardId>[^/]+)/definition$",
    ACCOUNT + r"/dashboards/(?P<DashboardId>[^/]+)/permissions$",
    ACCOUNT + r"/dashboards/(?P<DashboardId>[^/]+)/versions$",
    ACCOUNT + r"/dashboards/(?P<DashboardId>[^/]+)/versions/(?P<VersionNumber>[^/]+)$",
]
_installed: dict[str, Any] = {}


class QsError(Exception):
    def __init__(self, code: str, message: str, resource_type: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.resource_type = code, message, resource_type


def not_found(kind: str, ident: str, resource_type: str | None = None) -> QsError:
    return QsError("ResourceNotFoundException", f"{kind} {ident} not found", resource_type)


def store() -> Store:
    if "store" not in _installed:
        raise RuntimeError("gitgoods.local.quicksight is not installed (call install(state_dir))")
    return _installed["store"]


def spice() -> SpiceStore:
    return _installed["spice"]


def installed_state_dir() -> Path | None:
    """The state folder the extension was last installed with (None before `install`)."""
    return _installed.get("dir")


def operation(status: int = 200) -> Callable:
    """Wrap a handler: its dict becomes the JSON body (with RequestId) under HTTP `status`; a
    QsError becomes AWS's error response."""

    def wrap(fn: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
        @wraps(fn)
        def handler(self: QuickSightAssets) -> tuple[int, dict[str, Any], str]:
            request_id = str(uuid.uuid4())
            try:
                with store().lock:
                    body = fn(self)
                code = status
            except QsError as exc:
                return error_response(exc)
            body = {k: v for k, v in body.items() if v is not None}
            if fn.__name__ in STATUS_IN_BODY:
                body["Status"] = code
            headers = {"status": code, "Content-Type": "application/json"}
            return code, headers, json.dumps({**body, "RequestId": request_id})

        return handler

    return wrap


def error_response(exc: QsError) -> tuple[int, dict[str, Any], str]:
    code = ERROR_STATUS.get(exc.code, 400)
    body = {"Message": exc.message, "RequestId": str(uuid.uuid4())}
    if exc.resource_type:
        body["ResourceType"] = exc.resource_type
    return code, {"status": code, "x-amzn-ErrorType": exc.code, "Content-Type": "application/json"}, json.dumps(body)


def page(items: list[Any], token: str | None, max_results: str | None) -> tuple[list[Any], str | None]:
    start = 0
    if token:
        try:
            start = int(token)
        except ValueError:
            raise QsError("InvalidNextTokenException", f"invalid NextToken {token!r}") from None
    size = int(max_results) if max_results else 100
    return items[start : start + size], (str(start + size) if start + size < len(items) else None)


class QuickSightAssets(QuickSightResponse):
    """moto's QuickSight responses plus the asset APIs (dashboards, data sources' permissions and
    tags come from the mixins in `dashboards.py` and `sources.py`)."""

    # -- request helpers -----------------------------------------------------------------------

    def _body(self) -> dict[str, Any]:
        return json.loads(self.body) if self.body else {}

    def _uri(self, name: str) -> str:
        return unquote(self.uri_match[name])

    def _query(self, name: str) -> str | None:
        value = self.querystring.get(name)
        return value[0] if isinstance(value, list) and value else None

    def _validated(self, op: str) -> dict[str, Any]:
        """The request body, validated against the operation's input shape (as AWS does)."""
        body = self._body()
        shape = MODEL.operation_model(op).input_shape
        params = dict(body)
        for name, member in shape.members.items():
            if member.serialization.get("location") == "uri" and name in self.uri_match:
                raw = self._uri(name)
                params[name] = int(raw) if member.type_name in ("long", "integer") and raw.isdigit() else raw
        report = ParamValidator().validate(params, shape)
        if report.has_errors():
            raise QsError("InvalidParameterValueException", report.generate_report())
        return body

    @property
    def _account(self) -> str:
        return self._uri("AwsAccountId")

    def _scope(self) -> dict[str, dict[str, Any]]:
        return store().scope(self._account, self.region)

    def _arn(self, kind: str, ident: str) -> str:
        return f"arn:{self.partition}:quicksight:{self.region}:{self._account}:{kind}/{ident}"

    def _backend(self) -> Any:
        return quicksight_backends[self._account][self.region]

    def _data_set(self) -> tuple[str, dict[str, Any]]:
        ident = self._uri("DataSetId")
        record = self._scope()["data_sets"].get(ident)
        if record is None:
            raise not_found("Data set", ident, "DATA_SET")
        return ident, record

    # -- data sets -----------------------------------------------------------------------------

    def _check_definition(self, definition: dict[str, Any]) -> None:
        physical = definition.get("PhysicalTableMap") or {}
        for table in (definition.get("LogicalTableMap") or {}).values():
            source = table.get("Source", {}).get("PhysicalTableId")
            if source is not None and source not in physical:
                raise QsError("InvalidParameterValueException", f"unknown PhysicalTableId {source!r}")
        problem = ingest.problem(definition)
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
        columns = ingest.output_columns(record["Definition"])
        if columns is not None:
            out["OutputColumns"] = columns
        out["ConsumedSpiceCapacityInBytes"] = 0
        try:
            pointer = spice().pointer(ident) if out.get("ImportMode") == "SPICE" else None
        except ValueError:  # an id the local SPICE cannot hold (its ingestions fail saying so)
            pointer = None
        if pointer:
            snapshot = spice().root / ident / f"{pointer['ingestion_id']}.parquet"
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

    # -- ingestions ----------------------------------------------------------------------------

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
    lock = _installed["locks"].setdefault(f"{account}/{region}/{ident}", threading.Lock())

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
            size = (spice().root / ident / f"{ingestion_id}.parquet").stat().st_size
            rows = result.data.num_rows
            done = {
                "IngestionStatus": "COMPLETED",
                "IngestionSizeInBytes": size,
                "RowInfo": {"RowsIngested": rows, "RowsDropped": result.dropped, "TotalRowsInDataset": rows},
            }
        except ingest.IngestionError as exc:
            done = {"IngestionStatus": "FAILED", "ErrorInfo": {"Type": exc.kind, "Message": exc.message}}
        except Exception as exc:  # anything else is an internal error of the ingestion, never of the server
            done = {"IngestionStatus": "FAILED", "ErrorInfo": {"Type": "INTERNAL_SERVICE_ERROR", "Message": repr(exc)}}
        update(**done, IngestionTimeInSeconds=int(round(time.time() - started)))
    finally:
        lock.release()


def _restore(st: Store) -> None:
    """Put the stored data sources and tags back into moto; fail ingestions a restart cut short."""
    for account, region, scope in st.scopes():
        backend = quicksight_backends[account][region]
        for ident, record in scope["data_sources"].items():
            req = record.get("Request")
            if req and ident not in backend.data_sources:
                backend.create_data_source(
                    account,
                    ident,
                    req["Name"],
                    req["Type"],
                    req.get("DataSourceParameters"),
                    req.get("VpcConnectionProperties"),
                    req.get("SslProperties"),
                )
        for kind in ("data_sets", "dashboards", "data_sources"):
            for record in scope[kind].values():
                if record.get("Tags") and record.get("Arn"):
                    backend.tagger.tag_resource(record["Arn"], record["Tags"])
        for record in scope["data_sets"].values():
            for ing in record["Ingestions"].values():
                if ing["IngestionStatus"] in ("INITIALIZED", "QUEUED", "RUNNING"):
                    ing["IngestionStatus"] = "FAILED"
                    ing["ErrorInfo"] = {"Type": "INTERNAL_SERVICE_ERROR", "Message": "the server stopped during it"}


def install(state_dir: Path) -> None:
    """Load the store from `state_dir` and route QuickSight to `QuickSightAssets` (before the
    moto server starts: moto builds its QuickSight routes on the first QuickSight request)."""
    from gitgoods.local.quicksight.dashboards import DashboardOperations
    from gitgoods.local.quicksight.sources import SourceAndTagOperations

    state_dir = Path(state_dir)
    st = Store(state_dir).load()
    _restore(st)
    _installed.update(store=st, spice=SpiceStore(state_dir / "spice"), dir=state_dir)
    _installed.setdefault("locks", {})
    st.save()
    if "routes" not in _installed:
        cls = type("QuickSightAssetsAll", (DashboardOperations, SourceAndTagOperations, QuickSightAssets), {})
        paths = {pattern: cls.dispatch for pattern in moto_urls.url_paths}
        paths.update({pattern: cls.dispatch for pattern in ROUTES})
        moto_urls.url_paths.clear()
        moto_urls.url_paths.update(paths)
        _installed["routes"] = cls
