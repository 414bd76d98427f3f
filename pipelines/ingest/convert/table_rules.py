"""The per-table rules: every attribute of an `order_events` item (and its lines) and of a `sales`
item checked with the validation toolkit and typed into the output columns (`_TABLE_RULES`)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gitgoods.contract.events import FUNNEL_EVENT_TYPES, SCHEMA_VERSION
from pipelines.ingest.convert.arrays import _child, _np, _parent_positions
from pipelines.ingest.convert.contract import (
    COUNTRY_RE,
    CURRENCY_RE,
    CUSTOMER_RE,
    EVENT_ID_RE,
    EVENT_QTY_RANGE,
    EVENT_REQUIRED,
    EVENT_TYPES,
    FUNNEL_REQUIRED,
    KINDS,
    LINE_RANGE,
    LINE_REQUIRED,
    MAX_LINES,
    ORDER_ID_RE,
    ORDER_REQUIRED,
    PLATFORM_MIN_LEN,
    PRODUCT_ID_RE,
    SALE_QTY_RANGE,
    SALE_STATUSES,
    SELLER_ID_RE,
    SESSION_ID_LEN,
)
from pipelines.ingest.convert.validation import _Attrs, _Days, _Failures
from pipelines.ingest.convert.wire import EVENT_LINE_WIRE
from pipelines.ingest.schemas import EVENT_LINE


# -- the tables -------------------------------------------------------------------------------------
def _events(a: _Attrs, days: _Days) -> tuple[list[pa.Array], pa.Array]:
    f = a.failures
    event_type = a.get("event_type", "S", "event_type" in EVENT_REQUIRED)
    a.one_of("event_type", event_type, EVENT_TYPES)
    # The schema's if/then/else: `if` holds when event_type is absent or a funnel type.
    funnel = ~a.present["event_type"] | _np(pc.is_in(event_type, pa.array(list(FUNNEL_EVENT_TYPES))))

    def required(name: str) -> bool | np.ndarray:
        if name in EVENT_REQUIRED:
            return True
        return ((name in FUNNEL_REQUIRED) & funnel) | ((name in ORDER_REQUIRED) & ~funnel)

    event_id = a.get("event_id", "S", required("event_id"))
    a.match("event_id", event_id, EVENT_ID_RE)
    version = a.get("schema_version", "N", required("schema_version"))
    f.fail(pc.not_equal(version, str(SCHEMA_VERSION)), f"schema_version: not {SCHEMA_VERSION}")
    occurred_at = a.get("occurred_at", "S", required("occurred_at"))
    occurred = a.timestamp("occurred_at", occurred_at, days)
    day_shard = a.get("day_shard", "S", required("day_shard"))
    a.day_shard(day_shard, days)
    order_id = a.get("order_id", "S", required("order_id"))
    a.match("order_id", order_id, ORDER_ID_RE)
    session_id = a.get("session_id", "S", required("session_id"))
    a.length("session_id", session_id, *SESSION_ID_LEN)
    customer = a.get("customer", "S", required("customer"))
    a.match("customer", customer, CUSTOMER_RE)
    country = a.get("country", "S", required("country"))
    a.match("country", country, COUNTRY_RE)
    currency = a.get("currency", "S", required("currency"))
    a.match("currency", currency, CURRENCY_RE)
    amount_raw = a.get("amount_cents", "N", required("amount_cents"))
    amount = a.uint("amount_cents", amount_raw)
    lines = _event_lines(a, a.get("lines", "L", required("lines")))
    columns = [
        event_id,
        event_type,
        pc.if_else(
            pc.equal(version, str(SCHEMA_VERSION)), pa.scalar(SCHEMA_VERSION, pa.int32()), pa.scalar(None, pa.int32())
        ),
        occurred,
        order_id,
        session_id,
        customer,
        country,
        currency,
        amount,
        lines,
        day_shard,
    ]
    return columns, amount_raw


def _event_lines(a: _Attrs, seq: pa.Array) -> pa.Array:
    f = a.failures
    if not pa.types.is_list(seq.type) or not pa.types.is_struct(seq.type.value_type):
        # no row has a list of maps here (all missing, or another type): nothing to read
        return pa.nulls(a.n, pa.list_(EVENT_LINE))
    lengths = pc.list_value_length(seq)
    f.fail(pc.greater(lengths, MAX_LINES), f"lines: more than {MAX_LINES} lines")
    elements = seq.flatten()
    parent, pos = _parent_positions(seq)
    nl = len(elements)
    lf = _Failures(nl)
    if "M" in elements.type.names and pa.types.is_struct(elements.type.field("M").type):
        m = _child(elements, "M")
    else:
        m = pa.nulls(nl, pa.struct([]))
    is_map = _np(m.is_valid())
    lf.fail(~is_map, "not a map")
    la = _Attrs(m, lf)
    # (the `enforce` mask keeps a non-map line to its one reason)
    req = {name: name in LINE_REQUIRED for name in EVENT_LINE_WIRE.names}
    line_no = la.uint("line", la.get("line", "N", req["line"], enforce=is_map), *LINE_RANGE)
    seller_id = la.get("seller_id", "S", req["seller_id"], enforce=is_map)
    la.match("seller_id", seller_id, SELLER_ID_RE)
    product_id = la.get("product_id", "S", req["product_id"], enforce=is_map)
    la.match("product_id", product_id, PRODUCT_ID_RE)
    qty = la.uint("qty", la.get("qty", "N", req["qty"], enforce=is_map), *EVENT_QTY_RANGE)
    unit = la.uint("unit_cents", la.get("unit_cents", "N", req["unit_cents"], enforce=is_map))
    amount = la.uint("amount_cents", la.get("amount_cents", "N", req["amount_cents"], enforce=is_map))
    kind = la.get("kind", "S", req["kind"], enforce=is_map)
    la.one_of("kind", kind, KINDS)
    platform = la.get("platform", "S", req["platform"], enforce=is_map)
    la.length("platform", platform, PLATFORM_MIN_LEN)
    if lf.bad.any():
        bad_lines = np.flatnonzero(lf.bad)
        for j, reasons in lf.reasons(bad_lines).items():
            for reason in reasons:
                f.fail_row(
                    int(parent[j]),
                    f"lines[{pos[j]}]: {reason}" if reason == "not a map" else f"lines[{pos[j]}].{reason}",
                )
    values = pa.StructArray.from_arrays(
        [
            line_no.cast(pa.int32(), safe=False),
            seller_id,
            product_id,
            qty.cast(pa.int32(), safe=False),
            unit,
            amount,
            kind,
            platform,
        ],
        fields=list(EVENT_LINE),
    )
    offsets = np.zeros(a.n + 1, dtype=np.int32)
    np.cumsum(_np(pc.fill_null(lengths, 0)), out=offsets[1:])
    return pa.ListArray.from_arrays(
        pa.array(offsets), values, type=pa.list_(EVENT_LINE), mask=pc.invert(seq.is_valid())
    )


def _sales(a: _Attrs, days: _Days) -> tuple[list[pa.Array], pa.Array]:
    f = a.failures
    seller_id = a.get("seller_id", "S", True)
    a.match("seller_id", seller_id, SELLER_ID_RE)
    sk = a.get("sk", "S", True)
    day_shard = a.get("day_shard", "S", True)
    a.day_shard(day_shard, days)
    sold_at_raw = a.get("sold_at", "S", True)
    sold_at = a.timestamp("sold_at", sold_at_raw, days)
    order_id = a.get("order_id", "S", True)
    a.match("order_id", order_id, ORDER_ID_RE)
    line_raw = a.get("line", "N", True)
    line = a.uint("line", line_raw, *LINE_RANGE)
    expected_sk = pc.binary_join_element_wise(sold_at_raw, order_id, pc.utf8_lpad(line_raw, 2, "0"), "#")
    f.fail(pc.not_equal(sk, expected_sk), "sk: is not sold_at#order_id#line")
    product_id = a.get("product_id", "S", True)
    a.match("product_id", product_id, PRODUCT_ID_RE)
    kind = a.get("kind", "S", False)
    a.one_of("kind", kind, KINDS)
    platform = a.get("platform", "S", False)
    a.length("platform", platform, 1)
    genre = a.get("genre", "S", False)
    a.length("genre", genre, 1)
    qty = a.uint("qty", a.get("qty", "N", True), *SALE_QTY_RANGE)
    unit = a.uint("unit_cents", a.get("unit_cents", "N", True))
    amount_raw = a.get("amount_cents", "N", True)
    amount = a.uint("amount_cents", amount_raw)
    try:
        product = pc.multiply_checked(qty, unit)
    except pa.ArrowInvalid:  # an absurd unit price: compare exactly in Python
        product = pa.array(
            [
                None if q is None or u is None else min(q * u, 2**63 - 1)
                for q, u in zip(qty.to_pylist(), unit.to_pylist(), strict=True)
            ],
            pa.int64(),
        )
    f.fail(pc.not_equal(amount, product), "amount_cents: is not qty * unit_cents")
    currency = a.get("currency", "S", True)
    a.match("currency", currency, CURRENCY_RE)
    country = a.get("country", "S", False)
    a.match("country", country, COUNTRY_RE)
    customer = a.get("customer", "S", True)
    a.match("customer", customer, CUSTOMER_RE)
    status = a.get("status", "S", True)
    a.one_of("status", status, SALE_STATUSES)
    updated_at = a.timestamp("updated_at", a.get("updated_at", "S", False))
    columns = [
        seller_id,
        sk,
        order_id,
        line.cast(pa.int32(), safe=False),
        sold_at,
        product_id,
        kind,
        platform,
        genre,
        qty.cast(pa.int32(), safe=False),
        unit,
        amount,
        currency,
        country,
        customer,
        status,
        updated_at,
        day_shard,
    ]
    return columns, amount_raw


_TABLE_RULES = {"sales": _sales, "order_events": _events}
