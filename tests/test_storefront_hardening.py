"""A storefront that holds up under abuse: broken framing gets a 4xx (never a 500), control
characters in customer fields are refused, pagination cursors are signed, and the OpenAPI
document and the server agree on what a `qty` is."""

from __future__ import annotations

import base64
import json
import socket
from decimal import Decimal
from typing import Any

import jsonschema
import jsonschema_rs
import pytest

from storefront.common.errors import ApiError
from tests.helpers import order_body, pick

pytestmark = pytest.mark.stack

JSON = {"Content-Type": "application/json"}


def post_raw(client, data: bytes | str, key: str = "hardening", **headers: str):  # type: ignore[no-untyped-def]
    return client.post("/orders", data=data, headers={**JSON, "Idempotency-Key": key, **headers})


def nested(depth: int) -> str:
    """An order body whose customer name is `depth - 1` arrays deep (the body itself is level 1)."""
    return '{"customer": {"name": ' + "[" * (depth - 2) + "]" * (depth - 2) + "}}"


def assert_error(resp, status: int, code: str, field: str | None = None) -> None:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.is_json, resp.headers
    error = resp.json["error"]
    assert error["code"] == code, error
    if field is not None:
        assert error["field"] == field, error


# -- 1. Framing -------------------------------------------------------------------------------


def test_json_nested_a_thousand_levels_is_a_400_not_a_500(orders_app):
    client = orders_app.test_client()
    body = '{"a":' + "[" * 1000 + "]" * 1000 + "}"
    assert_error(post_raw(client, body), 400, "invalid_json")
    # Deeper than Python's own recursion limit, and objects instead of arrays.
    body = '{"a":' * 5000 + "1" + "}" * 5000
    assert_error(post_raw(client, body), 400, "invalid_json")


def test_depth_limit_is_exact_and_ignores_brackets_in_strings():
    from storefront.common.web import MAX_JSON_DEPTH, parse_json_object

    assert parse_json_object(nested(MAX_JSON_DEPTH).encode())
    with pytest.raises(ApiError) as exc:
        parse_json_object(nested(MAX_JSON_DEPTH + 1).encode())
    assert exc.value.code == "invalid_json" and "levels" in exc.value.message
    # Brackets and escaped quotes inside strings are text, not nesting.
    text = json.dumps({"name": '[{"\\' * 200})
    assert parse_json_object(text.encode()) == {"name": '[{"\\' * 200}


@pytest.mark.parametrize(
    "raw,why",
    [
        ('{"name": "Jos\xe9"}'.encode("latin-1"), "not UTF-8"),
        ('{"name": "x"}'.encode("utf-16"), "not UTF-8"),
        ('{"name": "x"}'.encode("utf-32"), "not UTF-8"),
        (b'\xef\xbb\xbf{"name": "x"}', "byte order mark"),
        (b'{"qty": NaN}', "NaN"),
        (b'{"qty": -Infinity}', "Infinity"),
        (b'{"qty": 1, "qty": 2}', "same key twice"),
        (b'{"name": "\\ud800"}', "surrogate"),
        (b'{"qty": ' + b"9" * 5000 + b"}", "not valid JSON"),
        (b'{"name": "x"', "not valid JSON"),
        (b"[1, 2]", "JSON object"),
    ],
    ids=["latin-1", "utf-16", "utf-32", "bom", "nan", "infinity", "duplicate", "surrogate", "bigint", "cut", "array"],
)
def test_bodies_that_are_not_strict_json_objects_get_invalid_json(orders_app, raw, why):
    resp = post_raw(orders_app.test_client(), raw)
    assert_error(resp, 400, "invalid_json")
    assert why in resp.json["error"]["message"]


def test_lone_surrogate_in_a_customer_name_is_a_400(orders_app, catalog_data):
    body = json.dumps(order_body(pick(catalog_data))).replace('"Shopper', '"\\udc00Shopper', 1)
    assert_error(post_raw(orders_app.test_client(), body), 400, "invalid_json")


def test_body_over_the_limit_is_a_json_413_and_documented(orders_app):
    from storefront.orders.app import openapi_document

    resp = post_raw(orders_app.test_client(), b'{"a": "' + b"x" * (64 * 1024) + b'"}')
    assert_error(resp, 413, "payload_too_large")
    assert "413" in openapi_document()["paths"]["/orders"]["post"]["responses"]


def raw_request(port: int, head: str, body: bytes = b"") -> tuple[int, dict[str, Any]]:
    """Send bytes as they are, read the answer to the end; (status, JSON body). The write side is
    closed after the body: the dev server drains what it did not read until the client stops."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head_bytes, _, payload = data.partition(b"\r\n\r\n")
    status = int(head_bytes.split(b" ", 2)[1])
    headers = head_bytes.decode("latin-1").lower()
    if "transfer-encoding: chunked" in headers:  # the dev server chunks answers it cannot size
        text, out = payload, b""
        while True:
            size_line, _, text = text.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            out, text = out + text[:size], text[size + 2 :]
        payload = out
    return status, json.loads(payload)


def request_head(extra: str) -> str:
    return (
        "POST /orders HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\n"
        f"Idempotency-Key: framing\nConnection: close\n{extra}"
    )


def test_malformed_chunked_body_is_a_400(orders_server):
    status, body = raw_request(
        orders_server.port,
        request_head("Transfer-Encoding: chunked\n"),
        b"zz\r\n{}\r\n0\r\n\r\n",  # the chunk size is not hexadecimal
    )
    assert status == 400 and body["error"]["code"] == "bad_request"


def test_chunked_body_over_the_limit_is_a_413(orders_server):
    chunk = b"x" * 8192
    chunks = (f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n") * 10 + b"0\r\n\r\n"
    status, body = raw_request(orders_server.port, request_head("Transfer-Encoding: chunked\n"), chunks)
    assert status == 413 and body["error"]["code"] == "payload_too_large"


def test_body_shorter_than_its_content_length_is_a_400(orders_server):
    status, body = raw_request(orders_server.port, request_head("Content-Length: 100\n"), b'{"a": 1}')
    assert status == 400 and body["error"]["code"] == "bad_request"


def test_well_framed_chunked_order_still_works(orders_server, catalog_data):
    payload = json.dumps(order_body(pick(catalog_data))).encode()
    chunks = b"".join(
        f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (payload[:10], payload[10:])
    ) + b"0\r\n\r\n"
    status, body = raw_request(orders_server.port, request_head("Transfer-Encoding: chunked\n"), chunks)
    assert status == 201, body


# -- 2. Control characters in customer fields -------------------------------------------------

CONTROLS = ["\x00", "\x07", "\t", "\n", "\r", "\x1b", "\x1f", "\x7f", "\x85", "\x9b", "\u2028", "\u2029"]


@pytest.mark.parametrize("field", ["name", "address", "phone", "email", "country"])
@pytest.mark.parametrize("char", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
def test_control_characters_in_customer_fields_are_refused(orders_app, catalog_data, field, char):
    body = order_body(pick(catalog_data))
    value = body["customer"][field]
    for placed in (value[:2] + char + value[2:], value + char):  # inside, and where trimming would hide it
        body["customer"][field] = placed
        resp = orders_app.test_client().post("/orders", json=body, headers={"Idempotency-Key": "ctl"})
        assert_error(resp, 400, "invalid_field", f"customer.{field}")
        assert placed not in resp.get_data(as_text=True)  # never echoed


def test_ordinary_unicode_and_surrounding_spaces_are_still_accepted(orders_app, catalog_data):
    body = order_body(pick(catalog_data), n=7)
    body["customer"].update(name="  Zoë Ångström-Núñez 田中 ", address="\u3000Rue de l'Église 3, Genève\xa0")
    resp = orders_app.test_client().post("/orders", json=body, headers={"Idempotency-Key": "unicode-ok"})
    assert resp.status_code == 201, resp.json


def test_openapi_patterns_refuse_what_the_server_refuses():
    from storefront.orders.app import openapi_document

    # ECMA-262 patterns, as OpenAPI 3.1 reads them (Python's `$` would also match before a final
    # line feed); jsonschema-rs implements them so.
    doc = openapi_document()
    validator = jsonschema_rs.validator_for({**doc, "$ref": "#/components/schemas/CustomerIn"})
    good = {
        "email": "zoe@mail.example",
        "name": "  Zoë Ångström ",
        "address": "Rue de l'Église 3, Genève",
        "phone": "+41 22 555 1234",
        "country": "CH",
    }
    assert validator.is_valid(good)
    for field in ("email", "name", "address", "phone"):
        for char in CONTROLS:
            for placed in (good[field][:3] + char + good[field][3:], good[field] + char, char + good[field]):
                assert not validator.is_valid(dict(good, **{field: placed})), (field, char)


# -- 3. Signed cursors and id filters ---------------------------------------------------------


def first_page_cursor(client, **params: Any) -> str:  # type: ignore[no-untyped-def]
    resp = client.get("/products", query_string={"limit": 2, **params})
    assert resp.status_code == 200 and resp.json["next_cursor"]
    return resp.json["next_cursor"]


def test_genuine_cursor_pages_on(catalog_app):
    client = catalog_app.test_client()
    first = client.get("/products", query_string={"limit": 2}).json
    cursor = first["next_cursor"]
    second = client.get("/products", query_string={"limit": 2, "cursor": cursor}).json
    assert second["items"][0]["product_id"] > first["items"][-1]["product_id"]


def _unsigned(after: str, filters: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"a": after, "h": filters}).encode()).decode()


def test_forged_and_edited_cursors_are_refused(catalog_app, catalog_data):
    client = catalog_app.test_client()
    cursor = first_page_cursor(client)
    payload, _, mac = cursor.partition(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    last_id = sorted(p["product_id"] for p in catalog_data.products)[-5]
    edited = base64.urlsafe_b64encode(json.dumps({**data, "a": last_id}).encode()).rstrip(b"=").decode()
    flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
    forgeries = {
        "unsigned, as cursors used to be": _unsigned(last_id, data["h"]),
        "payload edited, old MAC": f"{edited}.{mac}",
        "MAC changed": f"{payload}.{flipped}",
        "MAC missing": payload,
        "MAC empty": f"{payload}.",
        "MAC of another key": f"{payload}.{base64.urlsafe_b64encode(b'k' * 32).rstrip(b'=').decode()}",
        "not base64": "%%%.***",
        "non-ASCII": f"{payload}é.{mac}",
    }
    for why, forged in forgeries.items():
        resp = client.get("/products", query_string={"limit": 2, "cursor": forged})
        assert resp.status_code == 400, why
        assert resp.json["error"] == {
            "code": "invalid_cursor",
            "message": "the cursor is not one this service gave",
            "field": "cursor",
        }, why


def test_cursor_stays_bound_to_its_filters(catalog_app):
    client = catalog_app.test_client()
    cursor = first_page_cursor(client, kind="game")
    resp = client.get("/products", query_string={"limit": 2, "kind": "merch", "cursor": cursor})
    assert_error(resp, 400, "invalid_cursor", "cursor")
    assert "other filters" in resp.json["error"]["message"]


def test_cursors_from_another_key_are_refused(settings, catalog_data):
    from storefront.catalog.app import create_app

    other = create_app({"TESTING": True}, settings=settings.model_copy(update={"cursor_key": "another-key-0123456789"}))
    ours = create_app({"TESTING": True}, settings=settings)
    cursor = first_page_cursor(other.test_client())
    resp = ours.test_client().get("/products", query_string={"limit": 2, "cursor": cursor})
    assert_error(resp, 400, "invalid_cursor", "cursor")
    # Two instances with the same settings accept each other's cursors.
    twin = create_app({"TESTING": True}, settings=settings)
    cursor = first_page_cursor(ours.test_client())
    resp = twin.test_client().get("/products", query_string={"limit": 2, "cursor": cursor})
    assert resp.status_code == 200


def test_cursor_key_is_derived_not_the_internal_token(settings):
    key = settings.resolved_cursor_key()
    assert key and settings.internal_token
    assert settings.internal_token.encode() not in key


def test_openapi_lists_400_for_the_cursor():
    from storefront.catalog.app import openapi_document

    op = openapi_document()["paths"]["/products"]["get"]
    assert "400" in op["responses"]
    cursor = next(p for p in op["parameters"] if p["name"] == "cursor")
    assert "invalid_cursor" in cursor["description"]
    seller = next(p for p in op["parameters"] if p["name"] == "seller_id")
    assert seller["schema"]["pattern"] == "^sel_[0-9A-HJKMNP-TV-Z]{26}$"


@pytest.mark.parametrize(
    "value",
    [
        "prd_01ARZ3NDEKTSV4RRFFQ69G5FAV",  # an id of another kind
        "ord_01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "sel_01arz3ndektsv4rrffq69g5fav",  # lower case is not Crockford as the contract writes it
        "sel_01ARZ3NDEKTSV4RRFFQ69G5FAI",  # I is not in the alphabet
        "sel_01ARZ3NDEKTSV4RRFFQ69G5FA",  # 25 characters
        "sel_",
    ],
)
def test_seller_filter_checks_the_kind_of_id(catalog_app, value):
    resp = catalog_app.test_client().get("/products", query_string={"seller_id": value})
    assert_error(resp, 400, "invalid_field", "seller_id")


def test_seller_filter_with_a_real_seller_still_works(catalog_app, catalog_data):
    seller = catalog_data.sellers[0]["seller_id"]
    resp = catalog_app.test_client().get("/products", query_string={"seller_id": seller})
    assert resp.status_code == 200 and all(p["seller_id"] == seller for p in resp.json["items"])


# -- 4. qty: the document and the server agree ------------------------------------------------

# As JSON text on the wire: (text, accepted). 2.0 is the integer 2 in JSON Schema; the server
# takes it as 2. 2.0000000000000001 is not an integer (a float parser would round it to 2.0).
QTY_CASES = [
    ("2", True),
    ("2.0", True),
    ("2e0", True),
    ("2.5", False),
    ('"2"', False),
    ("true", False),
    ("2.0000000000000001", False),
    ("1e400", False),
]


def _is_integer(checker: Any, value: Any) -> bool:
    """JSON Schema's `integer`, "a number with a zero fractional part", on exact numbers."""
    if isinstance(value, Decimal):
        return value.is_finite() and value == value.to_integral_value()
    return jsonschema.Draft202012Validator.TYPE_CHECKER.is_type(value, "integer")


EXACT = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


def _openapi_accepts_qty(doc: dict[str, Any], qty: Any) -> bool:
    schema = {**doc, "$ref": "#/components/schemas/LineIn"}
    return EXACT(schema).is_valid({"product_id": "prd_01ARZ3NDEKTSV4RRFFQ69G5FAV", "qty": qty})


@pytest.mark.parametrize("text,accepted", QTY_CASES)
def test_qty_server_and_document_agree(orders_app, catalog_data, text, accepted):
    from storefront.orders.app import openapi_document

    # The document, read as JSON Schema with exact numbers (how the value is written does not
    # matter to JSON Schema: 2.0 and 2 are the same number).
    qty = json.loads(text, parse_float=Decimal)
    assert _openapi_accepts_qty(openapi_document(), qty) is accepted
    body = json.dumps(order_body(pick(catalog_data), n=3)).replace('"qty": 1', f'"qty": {text}')
    resp = post_raw(orders_app.test_client(), body, key=f"qty-{text}")
    if accepted:
        assert resp.status_code == 201, resp.json
        assert resp.json["lines"][0]["qty"] == 2
    else:
        assert_error(resp, 400, "invalid_field", "lines.0.qty")


def test_qty_bounds_are_in_the_document():
    from storefront.orders.app import openapi_document

    qty = openapi_document()["components"]["schemas"]["LineIn"]["properties"]["qty"]
    assert qty["type"] == "integer" and qty["minimum"] == 1 and qty["maximum"] == 10


def test_lifecycle_lines_follow_the_same_integer_rule():
    from storefront.orders.schemas import LifecycleIn

    assert LifecycleIn.model_validate({"type": "order_refunded", "lines": [Decimal("2.0"), 1.0]}).lines == [2, 1]
    for bad in (Decimal("1.5"), "1", True):
        with pytest.raises(ValueError):
            LifecycleIn.model_validate({"type": "order_refunded", "lines": [bad]})


def test_huge_exponents_are_refused_quickly(orders_app, catalog_data):
    body = order_body(pick(catalog_data))
    text = json.dumps(body).replace('"qty": 1', '"qty": 1e999999999')
    assert_error(post_raw(orders_app.test_client(), text), 400, "invalid_field", "lines.0.qty")
