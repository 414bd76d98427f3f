"""Request helpers shared by the services: strict JSON bodies and query strings, internal auth."""

from __future__ import annotations

import hmac
from typing import TypeVar

from flask import request
from pydantic import BaseModel

from storefront.common.errors import ApiError

M = TypeVar("M", bound=BaseModel)


def json_body(model: type[M]) -> M:
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send a JSON body (Content-Type: application/json)")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return model.model_validate(data)


def query_args(model: type[M]) -> M:
    raw = request.args.to_dict(flat=False)
    for name, values in raw.items():
        if len(values) > 1:
            raise ApiError(400, "invalid_field", "give this parameter once", name)
    return model.model_validate({k: v[0] for k, v in raw.items()})


def require_internal_token(expected: str | None) -> None:
    given = request.headers.get("X-Internal-Token", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(401, "unauthorized", "internal endpoint: a valid X-Internal-Token is required")
