"""Request and response shapes of the order service. Unknown fields are rejected everywhere."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

import pycountry
from pydantic import BaseModel, BeforeValidator, ConfigDict, EmailStr, Field, StrictInt, field_validator

from gitgoods.contract.money import is_iso_country, is_iso_currency

PRODUCT_ID = r"^prd_[0-9A-HJKMNP-TV-Z]{26}$"
# The validators below accept exactly these codes; the OpenAPI document lists them as an `enum`
# so that a client (or a fuzzer) knows that "ZZ" or "AAA" is not accepted.
ISO_COUNTRIES = sorted(c.alpha_2 for c in pycountry.countries)
ISO_CURRENCIES = sorted(c.alpha_3 for c in pycountry.currencies)
# email-validator (behind EmailStr) refuses these special-use domains and their subdomains, in any
# case; `format: email` alone would promise them. ECMA-262 patterns have no inline flags.
SPECIAL_USE_DOMAINS = ("arpa", "invalid", "local", "localhost", "onion", "test")
_SPECIAL_USE_PATTERN = "[.@](" + "|".join(
    "".join(f"[{ch.upper()}{ch}]" for ch in name) for name in SPECIAL_USE_DOMAINS
) + ")$"


# C0 and C1 control characters (with DEL) and the Unicode line and paragraph separators are
# refused anywhere in the customer's fields, surrounding white space included (so "Bob\n" is
# refused, not trimmed): they forge lines in logs, CSV exports and shipping labels, and no name,
# address, phone or e-mail needs them. A multi-line address is sent as one line, with commas.
_CONTROL_CHARS = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
CONTROL = re.compile(f"[{_CONTROL_CHARS}]")
NO_CONTROL = f"^[^{_CONTROL_CHARS}]*$"

# `str_strip_whitespace` trims what Rust's `str::trim` trims (Unicode White_Space) before any
# constraint applies, so the document describes the untrimmed value: optional white space, the
# constrained value, optional white space. White space that is a control character (tab, line
# feed, NEL, U+2028, ...) is refused before trimming, so only the rest appears here. Written as
# explicit escapes, which ECMA-262 and Python regular expressions read alike.
_WS_CHARS = r" \xa0\u1680\u2000-\u200a\u202f\u205f\u3000"
WS, NOT_WS = f"[{_WS_CHARS}]", f"[^{_WS_CHARS}{_CONTROL_CHARS}]"
TEXT_CHAR = f"[^{_CONTROL_CHARS}]"


def _trimmed(core: str, description: str) -> Any:
    """json_schema_extra for a stripped string field whose trimmed value must match `core`."""

    def extra(schema: dict[str, Any]) -> None:
        schema.pop("minLength", None)
        schema.pop("maxLength", None)
        schema["pattern"] = f"^{WS}*{core}{WS}*$"
        schema["description"] = description

    return extra


def _text(max_length: int) -> str:
    """1 to max_length characters, neither first nor last one white space."""
    return f"{NOT_WS}(?:{TEXT_CHAR}{{0,{max_length - 2}}}{NOT_WS})?"


def _json_integer(value: object) -> object:
    """JSON Schema's `integer` is any number whose fractional part is zero, so `2.0` is the integer
    2 and no schema can tell it from `2`: the server takes it as 2 too. `2.5`, `"2"` and `true`
    stay errors. Non-integral JSON numbers arrive as exact `Decimal`s (`common.web`), so
    `2.0000000000000001` is not rounded into an integer."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        # Beyond 10**19 it is out of every range here anyway; int() of 1e999999999 would not end.
        return int(value) if value.adjusted() < 19 else value
    return value


# The validator runs first; the bounds stay on StrictInt so that the document shows them as
# `minimum` and `maximum`.
TO_JSON_INTEGER = BeforeValidator(_json_integer)


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: EmailStr = Field(
        max_length=254,
        description="Not on a special-use domain (.test, .local, .invalid, ...)",
        json_schema_extra={"pattern": NO_CONTROL, "not": {"pattern": _SPECIAL_USE_PATTERN}},
    )
    name: str = Field(
        min_length=1, max_length=200,
        json_schema_extra=_trimmed(_text(200), "1 to 200 characters once surrounding white space is trimmed"),
    )
    address: str = Field(
        min_length=1, max_length=500,
        json_schema_extra=_trimmed(_text(500), "1 to 500 characters once surrounding white space is trimmed"),
    )
    phone: str = Field(
        pattern=r"^\+?[0-9][0-9 ()\-]{4,24}$",
        json_schema_extra=_trimmed(
            r"\+?[0-9][0-9 ()\-]{3,23}[0-9()\-]",
            "Digits, spaces, brackets and dashes (5 to 25, an optional leading +), "
            "once surrounding white space is trimmed",
        ),
    )
    country: str = Field(
        pattern=r"^[A-Z]{2}$",
        description="ISO 3166-1 alpha-2 (surrounding white space is trimmed first)",
        json_schema_extra={"enum": ISO_COUNTRIES},
    )

    @field_validator("email", "name", "address", "phone", "country", mode="before")
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        # Before trimming: a control character is refused even where it would be trimmed away.
        if isinstance(value, str) and CONTROL.search(value):
            raise ValueError("control characters and line or paragraph separators are not allowed")
        return value

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        if not is_iso_country(value):
            raise ValueError("not an ISO 3166-1 country code")
        return value


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: str = Field(pattern=PRODUCT_ID)
    qty: Annotated[
        StrictInt,
        Field(
            ge=1, le=10,
            description="Units, 1 to 10. As in JSON Schema, an integral number such as 2.0 is the "
            'integer 2; 2.5, "2" and true are refused',
        ),
        TO_JSON_INTEGER,
    ]


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer: CustomerIn
    lines: list[LineIn] = Field(min_length=1, max_length=20)
    currency: str = Field(
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217; must be the currency every ordered product is sold in",
        json_schema_extra={"enum": ISO_CURRENCIES},
    )

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not is_iso_currency(value):
            raise ValueError("not an ISO 4217 currency code")
        return value


class LineOut(BaseModel):
    line: int
    product_id: str
    seller_id: str
    title: str
    qty: int
    unit_cents: int
    amount_cents: int
    status: str


OrderStatus = Literal[
    "placed", "paid", "shipped", "delivered", "cancelled", "refunded", "partially_refunded"
]


class OrderOut(BaseModel):
    order_id: str
    status: OrderStatus
    currency: str
    total_cents: int
    lines: list[LineOut]
    created_at: str
    updated_at: str


class OrderCreated(OrderOut):
    receipt_token: str


EventType = Literal[
    "payment_captured", "order_shipped", "order_delivered", "order_cancelled", "order_refunded"
]


class LifecycleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: EventType
    lines: list[Annotated[StrictInt, Field(ge=1, le=20), TO_JSON_INTEGER]] | None = Field(
        None, description="For a refund: the order lines refunded (all when absent)"
    )
