"""No plaintext PII anywhere: DynamoDB items, the emulator's files on disk, events, logs."""

from __future__ import annotations

import logging
import random

import pytest

from gitgoods import aws
from storefront.common.pii import PiiError, PiiProtector
from tests.helpers import customer, pick

pytestmark = pytest.mark.stack


def _protector(settings):  # type: ignore[no-untyped-def]
    return PiiProtector(
        aws.client("kms", settings),
        settings.pii_key_alias,
        settings.lookup_hmac_key_alias,
        settings.pseudonym_hmac_key_alias,
    )


def test_seeded_pii_is_found_nowhere_in_plaintext(orders_app, catalog_data, settings, caplog):
    caplog.set_level(logging.DEBUG)
    client = orders_app.test_client()
    rng = random.Random(3)
    seeded: list[str] = []
    for n in range(15):
        who = customer(9000 + n, country=rng.choice(["US", "DE", "JP"]))
        product = pick(catalog_data, rng=rng)
        body = {
            "customer": who,
            "lines": [{"product_id": product["product_id"], "qty": 1}],
            "currency": product["currency"],
        }
        resp = client.post("/orders", json=body, headers={"Idempotency-Key": f"pii-{n}"})
        assert resp.status_code == 201
        # a bad request carrying PII must not leak it into logs or errors either
        bad = dict(body, customer=dict(who, country="ZZ"))
        bad_resp = client.post("/orders", json=bad, headers={"Idempotency-Key": f"pii-bad-{n}"})
        assert bad_resp.status_code == 400
        assert who["email"] not in bad_resp.get_data(as_text=True)
        seeded += [who["email"], who["email"].lower(), who["name"], who["address"], who["phone"]]

    ddb = aws.client("dynamodb", settings)
    # every page: the emulator is shared, and ListTables answers at most 100 names a page
    names = [t for page in ddb.get_paginator("list_tables").paginate() for t in page["TableNames"]]
    tables = [t for t in names if t.startswith(settings.table_prefix)]
    assert len(tables) >= 6
    dumped = []
    for table in tables:
        kwargs = {"TableName": table}
        while True:
            page = ddb.scan(**kwargs)
            dumped.append(repr(page["Items"]))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    items_text = "\n".join(dumped)

    # Everything the emulator wrote to disk (its SQLite file and journals), as raw bytes.
    disk = b"".join(p.read_bytes() for p in settings.home.rglob("*") if p.is_file())
    logs = "\n".join(r.getMessage() for r in caplog.records)

    # The scans do see stored data: a plain catalog value is there, in DynamoDB and on disk.
    seller_name = catalog_data.sellers[0]["display_name"]
    assert seller_name in items_text and seller_name.encode() in disk

    for value in seeded:
        assert value not in items_text, f"plaintext PII in DynamoDB: {value!r}"
        assert value.encode() not in disk, f"plaintext PII on disk: {value!r}"
        assert value not in logs, f"plaintext PII in logs: {value!r}"


def test_fields_are_bound_to_their_record_and_field(settings):
    pii = _protector(settings)
    sealed = pii.seal("customers", "cus_A", {"email": "a@x.example", "name": "Ann"})
    assert pii.open("customers", "cus_A", sealed, ["email", "name"]) == {"email": "a@x.example", "name": "Ann"}
    with pytest.raises(PiiError):
        pii.open("customers", "cus_B", sealed, ["email"])  # moved to another record
    swapped = dict(sealed, name=sealed["email"])
    with pytest.raises(PiiError):
        pii.open("customers", "cus_A", swapped, ["name"])  # moved to another field
    tampered = dict(sealed, email=sealed["email"][:-1] + bytes([sealed["email"][-1] ^ 1]))
    with pytest.raises(PiiError):
        pii.open("customers", "cus_A", tampered, ["email"])


def test_stored_customer_decrypts_with_kms_and_pseudonyms_differ_from_lookups(orders_app, catalog_data, settings):
    client = orders_app.test_client()
    who = customer(777)
    product = pick(catalog_data)
    resp = client.post(
        "/orders",
        json={
            "customer": who,
            "lines": [{"product_id": product["product_id"], "qty": 1}],
            "currency": product["currency"],
        },
        headers={"Idempotency-Key": "pii-roundtrip"},
    )
    assert resp.status_code == 201
    pii = _protector(settings)
    customer_id = pii.customer_id_for_email(who["email"].upper())  # e-mail is normalised
    item = aws.client("dynamodb", settings).get_item(
        TableName=settings.table("customers"), Key={"customer_id": {"S": customer_id}}
    )["Item"]
    stored = {k: v["B"] for k, v in item.items() if "B" in v}
    opened = pii.open("customers", customer_id, stored, ["email", "name", "address", "phone"])
    assert opened == {k: who[k] for k in ("email", "name", "address", "phone")}
    pseudonym = item["customer"]["S"]
    assert pseudonym == pii.pseudonym(customer_id)
    assert pseudonym not in item["email_hmac"]["S"] and len(pseudonym) == 32
