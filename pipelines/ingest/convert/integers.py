"""DynamoDB numbers read as integers: `amount_cents` read for reconciliation, one attribute at a
time (`readable_amount`), by the rule the converter applies to a whole column
(`pipelines.dynamodb_wire.read_int64`): `gitgoods.dynamodb.read_number` with `only_int64`, an
integer of at most 18 digits (negative too), else None. The contract's non-negative integers are
tested with `pipelines.dynamodb_wire.is_int64_digits` (`validation._Attrs.uint`)."""

from __future__ import annotations

from typing import Any

from gitgoods.dynamodb import read_number


def readable_amount(attr: Any) -> int | None:
    """An `amount_cents` attribute value (`{"N": "123"}`) as reconciliation reads it."""
    value = attr.get("N") if isinstance(attr, dict) else None
    return read_number(value, only_int64=True) if isinstance(value, str) else None
