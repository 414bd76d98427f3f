"""AWS's REST-JSON protocol for the local QuickSight's operations, from botocore's service model:
the request (body, URI and query members, validation against the input shape), the response
(`operation`: JSON body with RequestId under the operation's HTTP status), AWS's error responses
and paging. `QuickSightAssets` is moto's response class with these request helpers; the operations
are mixed into it by `api.install`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import unquote

import botocore.session
from botocore import xform_name
from botocore.validate import ParamValidator
from moto.quicksight.models import quicksight_backends
from moto.quicksight.responses import QuickSightResponse

from gitgoods.local.quicksight.errors import QsError, not_found
from gitgoods.local.quicksight.state import store

MODEL = botocore.session.get_session().get_service_model("quicksight")
# operations whose `Status` is a body member (elsewhere it is the HTTP status code)
STATUS_IN_BODY = {
    xform_name(name)
    for name in MODEL.operation_names
    if "Status" in MODEL.operation_model(name).output_shape.members
    and MODEL.operation_model(name).output_shape.members["Status"].serialization.get("location") != "statusCode"
}
ERROR_STATUS = {
    "ResourceNotFoundException": 404,
    "ResourceExistsException": 409,
    "ConflictException": 409,
    "InvalidParameterValueException": 400,
    "InvalidNextTokenException": 400,
}


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
    """moto's QuickSight responses plus the request helpers of the asset APIs (data sets,
    ingestions, dashboards, data sources' permissions and tags come from the mixins in
    `datasets.py`, `ingestions.py`, `dashboards.py` and `sources.py`)."""

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

    def _record(
        self, collection: str, id_param: str, label: str, resource_type: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """The stored resource the request's URI names (`ResourceNotFoundException` without one)."""
        ident = self._uri(id_param)
        record = self._scope()[collection].get(ident)
        if record is None:
            raise not_found(label, ident, resource_type)
        return ident, record

    def _arn(self, kind: str, ident: str) -> str:
        return f"arn:{self.partition}:quicksight:{self.region}:{self._account}:{kind}/{ident}"

    def _backend(self) -> Any:
        return quicksight_backends[self._account][self.region]
