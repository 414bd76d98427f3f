"""DynamoDB numbers read as integers: the non-negative-integer test every number of the contract
goes through, and the reading of `amount_cents` for reconciliation (vectorised and per attribute,
the same rule)."""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.ingest.convert.arrays import _NULL_S

UINT_RE = r"^[0-9]{1,18}$"  # a non-negative integer in DynamoDB's normal form that int64 holds
INT_RE = r"^-?[0-9]{1,18}$"  # an amount readable for reconciliation, whatever its sign
_INT_RE_PY = re.compile(INT_RE.strip("^$"), re.ASCII)


def _is_uint(values: pa.Array) -> pa.Array:
    """`UINT_RE` without a regex (two cheap kernels: this runs on every number of every item)."""
    return pc.and_(pc.ascii_is_decimal(values), pc.less_equal(pc.binary_length(values), 18))


def _readable_amounts(values: pa.Array) -> pa.Array:
    """amount_cents as int64 wherever it is an integer at all (negative too), else null."""
    negative = pc.and_(pc.starts_with(values, "-"), _is_uint(pc.utf8_slice_codeunits(values, 1)))
    ok = pc.or_(_is_uint(values), negative)
    return pc.if_else(ok, values, _NULL_S).cast(pa.int64())


def readable_amount(attr: Any) -> int | None:
    """The same reading for one DynamoDB attribute value (`{"N": "123"}`), used by reconciliation."""
    value = attr.get("N") if isinstance(attr, dict) else None
    return int(value) if isinstance(value, str) and _INT_RE_PY.fullmatch(value) else None
