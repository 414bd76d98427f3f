"""Request and response shapes of the catalog service (one model per payload)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["game", "dlc", "merch", "gift_card"]


def id_pattern(prefix: str) -> str:
    """An id of one kind (`gitgoods.contract.ids.new_id`): its prefix, `_`, a ULID."""
    return f"^{prefix}_[0-9A-HJKMNP-TV-Z]{{26}}$"


SELLER_ID = id_pattern("sel")


class ProductQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(None, min_length=1, max_length=100, description="Words in the title")
    seller_id: str | None = Field(None, pattern=SELLER_ID, description="Only this seller (`sel_` and a ULID)")
    platform: str | None = Field(None, min_length=1, max_length=40)
    genre: str | None = Field(None, min_length=1, max_length=40)
    kind: Kind | None = None
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    min_price_cents: int | None = Field(None, ge=0, le=10_000_000)
    max_price_cents: int | None = Field(None, ge=0, le=10_000_000)
    in_stock: bool | None = Field(None, description="Only products with stock left")
    limit: int = Field(20, ge=1, le=100)
    cursor: str | None = Field(
        None,
        max_length=400,
        description="The `next_cursor` of the previous page of the same query, as given: it is "
        "signed, so an edited or made-up cursor, or one from other filters, is a 400 "
        "`invalid_cursor`",
    )


class Product(BaseModel):
    product_id: str
    seller_id: str
    title: str
    kind: Kind
    platform: str
    genre: str
    price_cents: int = Field(ge=0)
    currency: str
    stock: int = Field(ge=0)
    active: bool


class ProductPage(BaseModel):
    items: list[Product]
    next_cursor: str | None


class Seller(BaseModel):
    seller_id: str
    display_name: str
    country: str
    currency: str
    category: str


class SellerPage(BaseModel):
    items: list[Seller]


class StockNotice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_ids: list[str] = Field(min_length=1, max_length=100)
