"""Request and response shapes of the order service. Unknown fields are rejected everywhere."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictInt, field_validator

from gitgoods.contract.money import is_iso_country, is_iso_currency

PRODUCT_ID = r"^prd_[0-9A-HJKMNP-TV-Z]{26}$"


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: EmailStr = Field(max_length=254)
    name: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=1, max_length=500)
    phone: str = Field(pattern=r"^\+?[0-9][0-9 ()\-]{4,24}$")
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        if not is_iso_country(value):
            raise ValueError("not an ISO 3166-1 country code")
        return value


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: str = Field(pattern=PRODUCT_ID)
    qty: Annotated[StrictInt, Field(ge=1, le=10)]


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer: CustomerIn
    lines: list[LineIn] = Field(min_length=1, max_length=20)
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217")

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
    lines: list[Annotated[StrictInt, Field(ge=1, le=20)]] | None = Field(
        None, description="For a refund: the order lines refunded (all when absent)"
    )
