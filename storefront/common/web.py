"""Request helpers shared by the services: strict JSON bodies and query strings, internal auth."""

from __future__ import annotations

import hmac
import json
import re
from decimal import Decimal
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel
from werkzeug.exceptions import RequestEntityTooLarge

from storefront.common.errors import ApiError

M = TypeVar("M", bound=BaseModel)

# No payload of these services nests deeper than 4 levels; 32 leaves room and stays far below
# Python's recursion limit, which the standard parser would otherwise hit (RecursionError, a 500).
MAX_JSON_DEPTH = 32

# A JSON string (an unterminated one runs to the end) or a bracket: strings are skipped whole, so
# brackets inside them do not count towards the depth.
_DEPTH_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)


def _invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_json", message)


def _json_depth(text: str, limit: int) -> int:
    """The deepest nesting of arrays and objects in `text`, counted up to `limit + 1`."""
    depth = deepest = 0
    for token in _DEPTH_TOKENS.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        elif char in "]}":
            depth -= 1
    return deepest


class _Refused(ValueError):
    """Valid to Python's parser, not to RFC 8259 or to this service; the message says why."""


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Parsers disagree on which of two equal keys wins; a body that says two things is refused.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Refused("the body has an object with the same key twice")
    return result


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def parse_json_object(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    """A request body as a JSON object, or an `invalid_json` 400 that says what is wrong.

    Strict RFC 8259: UTF-8 only (no byte order mark, no UTF-16/32 guessing), no NaN or Infinity,
    no duplicate keys, no lone surrogates (they cannot be stored or encrypted as UTF-8), at most
    `max_depth` levels. Non-integral numbers are `Decimal`s, so that `2.0000000000000001` is not
    mistaken for an integer the way a float would be.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid("the body is not UTF-8") from exc
    if text.startswith("\ufeff"):
        raise _invalid("the body starts with a byte order mark; send plain UTF-8")
    if _json_depth(text, max_depth) > max_depth:
        raise _invalid(f"the body nests more than {max_depth} levels")
    try:
        data = json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_no_constant,
            object_pairs_hook=_object_without_duplicates,
        )
    except RecursionError as exc:  # the depth check should have caught it; never a 500
        raise _invalid(f"the body nests more than {max_depth} levels") from exc
    except _Refused as exc:
        raise _invalid(str(exc)) from exc
    except ValueError as exc:  # JSONDecodeError, integers over Python's 4300 digits
        raise _invalid("the body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise _invalid("the body must be a JSON object")
    try:
        json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _invalid("the body holds a lone UTF-16 surrogate (\\ud800-\\udfff)") from exc
    return data


def request_bytes() -> bytes:
    """The whole body, read at most once.

    Werkzeug answers 413 for a Content-Length above MAX_CONTENT_LENGTH and 400 when the client
    stops sending early or breaks the chunked framing. A chunked body, though, it silently cuts at
    the limit: the first 64 KiB would be taken for the whole body. So a streamed body that fills
    the limit is refused as too large.
    """
    try:
        data = request.get_data(cache=True)
    except OSError as exc:  # a server whose input stream reports broken framing this way
        raise ApiError(400, "bad_request", "the request body is cut short or its chunked framing is broken") from exc
    limit = request.max_content_length
    if limit is not None and request.content_length is None and len(data) >= limit:
        raise RequestEntityTooLarge()
    return data


def json_body(model: type[M]) -> M:
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send a JSON body (Content-Type: application/json)")
    return model.model_validate(parse_json_object(request_bytes()))


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
