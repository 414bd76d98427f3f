"""Guest orders: knowing a shopper's e-mail address must not let anyone overwrite what is stored
about that shopper; each order keeps its own shipping details."""

from __future__ import annotations

import pytest

from gitgoods import aws
from storefront.common.pii import PiiProtector
from tests.helpers import pick

pytestmark = pytest.mark.stack


def protector(settings) -> PiiProtector:  # type: ignore[no-untyped-def]
    return PiiProtector(
        aws.client("kms", settings),
        settings.pii_key_alias,
        settings.lookup_hmac_key_alias,
        settings.pseudonym_hmac_key_alias,
    )


def get(settings, table: str, key: dict) -> dict:  # type: ignore[no-untyped-def]
    return aws.client("dynamodb", settings).get_item(TableName=settings.table(table), Key=key, ConsistentRead=True)[
        "Item"
    ]


def sealed(item: dict) -> dict[str, bytes]:
    return {k: v["B"] for k, v in item.items() if "B" in v}


def test_a_second_order_under_a_known_email_does_not_overwrite_the_customer(orders_app, catalog_data, settings):
    client = orders_app.test_client()
    product = pick(catalog_data)
    email = "same.person@mail.example"
    first = {"email": email, "name": "Ada First", "address": "1 First Street, Springfield",
             "phone": "+1 555 0101", "country": "US"}
    second = {"email": email.upper(), "name": "Bob Second", "address": "2 Second Road, Riverton",
              "phone": "+1 555 0202", "country": "CA"}
    orders = []
    for n, who in enumerate((first, second)):
        resp = client.post(
            "/orders",
            json={"customer": who, "lines": [{"product_id": product["product_id"], "qty": 1}],
                  "currency": product["currency"]},
            headers={"Idempotency-Key": f"guest-{n}"},
        )
        assert resp.status_code == 201, resp.json
        orders.append(resp.json["order_id"])

    pii = protector(settings)
    customer_id = pii.customer_id_for_email(email)
    item = get(settings, "customers", {"customer_id": {"S": customer_id}})
    opened = pii.open("customers", customer_id, sealed(item), ["email", "name", "address", "phone"])
    assert opened == {"email": email, "name": "Ada First", "address": "1 First Street, Springfield",
                      "phone": "+1 555 0101"}
    assert item["country"]["S"] == "US"
    assert item["order_count"]["N"] == "2"  # the order is still counted for the customer

    fields = ["shipping_name", "shipping_address", "shipping_phone"]
    for order_id, who in zip(orders, (first, second), strict=True):
        order = get(settings, "orders", {"order_id": {"S": order_id}})
        assert order["customer_id"]["S"] == customer_id
        assert pii.open("orders", order_id, sealed(order), fields) == {
            "shipping_name": who["name"],
            "shipping_address": who["address"],
            "shipping_phone": who["phone"],
        }
