"""DynamoDB JSON -> typed Arrow: exact conversion, every quarantine rule, and the event rules
cross-checked against the contract's JSON schema (a table of mutations and hypothesis)."""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitgoods.contract import events
from gitgoods.contract.ids import day_shard, new_id, utc_iso
from pipelines.ingest.convert.integers import readable_amount
from pipelines.ingest.convert.results import merge_results, quarantine_batch
from pipelines.ingest.convert.rows import convert_body, convert_items, convert_page, convert_wire_by_day
from pipelines.ingest.convert.wire import EVENTS_WIRE
from pipelines.ingest.schemas import QUARANTINE, RAW_ORDER_EVENTS, RAW_SALES
from storefront.common.ddb import to_attr

DAY = dt.date(2031, 3, 14)
UTC = dt.UTC


# -- item factories (DynamoDB JSON, as the storefront stores them) -------------------------------
def ddb(value: Any) -> dict[str, Any]:
    return to_attr(value)  # the storefront's own encoding, exactly as it stores items


def item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: ddb(v) for k, v in values.items() if v is not None}


def plain(attr: dict[str, Any]) -> Any:
    """A DynamoDB attribute value as the JSON value the event schema validates."""
    ((tag, value),) = attr.items()
    if tag == "N":
        return int(value) if re.fullmatch(r"-?[0-9]+", value) else float(value)
    if tag == "M":
        return {k: plain(v) for k, v in value.items()}
    if tag == "L":
        return [plain(v) for v in value]
    if tag == "NULL":
        return None
    if tag in ("SS", "BS"):
        return list(value)
    if tag == "NS":
        return [plain({"N": v}) for v in value]
    return value  # S, B, BOOL


def plain_item(it: dict[str, Any]) -> dict[str, Any]:
    return {k: plain(v) for k, v in it.items()}


def at(day: dt.date = DAY, seconds: float = 3600.5) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=UTC) + dt.timedelta(seconds=seconds)


def event_values(when: dt.datetime | None = None, n_lines: int = 2, event_type: str = "order_placed") -> dict[str, Any]:
    when = when or at()
    event_id = new_id("evt", when)
    lines = [
        {
            "line": i,
            "seller_id": new_id("sel"),
            "product_id": new_id("prd"),
            "qty": i,
            "unit_cents": 1999,
            "amount_cents": 1999 * i,
            "kind": "game",
            "platform": "PC",
        }
        for i in range(1, n_lines + 1)
    ]
    return {
        "event_id": event_id,
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": utc_iso(when),
        "day_shard": day_shard(when, event_id),
        "order_id": new_id("ord", when),
        "customer": "0123456789abcdef0123456789abcdef",
        "country": "DE",
        "currency": "EUR",
        "amount_cents": sum(line["amount_cents"] for line in lines),
        "lines": lines,
    }


def event_item(when: dt.datetime | None = None, **kw: Any) -> dict[str, Any]:
    return item(event_values(when, **kw))


def funnel_item(when: dt.datetime | None = None) -> dict[str, Any]:
    when = when or at()
    event_id = new_id("evt", when)
    return item(
        {
            "event_id": event_id,
            "event_type": "product_viewed",
            "schema_version": 1,
            "occurred_at": utc_iso(when),
            "day_shard": day_shard(when, event_id),
            "session_id": "sess-42",
            "customer": "fedcba9876543210fedcba9876543210",
            "lines": [
                {
                    "line": 1,
                    "seller_id": new_id("sel"),
                    "product_id": new_id("prd"),
                    "qty": 0,
                    "unit_cents": 500,
                    "amount_cents": 0,
                }
            ],
        }
    )


def sale_values(when: dt.datetime | None = None, line: int = 1, qty: int = 2, unit: int = 1250) -> dict[str, Any]:
    when = when or at()
    order_id = new_id("ord", when)
    sold_at = utc_iso(when)
    return {
        "seller_id": new_id("sel"),
        "sk": f"{sold_at}#{order_id}#{line:02d}",
        "day_shard": day_shard(when, order_id),
        "sold_at": sold_at,
        "order_id": order_id,
        "line": line,
        "product_id": new_id("prd"),
        "kind": "merch",
        "platform": "Switch",
        "genre": "platformer",
        "qty": qty,
        "unit_cents": unit,
        "amount_cents": qty * unit,
        "currency": "USD",
        "country": "US",
        "customer": "00112233445566778899aabbccddeeff",
        "status": "placed",
        "updated_at": sold_at,
    }


def sale_item(when: dt.datetime | None = None, **kw: Any) -> dict[str, Any]:
    return item(sale_values(when, **kw))


def both_paths(items: list[dict[str, Any]], table: str, day: dt.date = DAY):
    """Convert through the dict path and the raw-body path; they must agree exactly."""
    a = convert_items(items, table, day)
    b, lek = convert_body(orjson.dumps({"Count": len(items), "Items": items}), table, day)
    assert lek is None
    assert a.batch.equals(b.batch)
    assert a.quarantine == b.quarantine
    assert (a.raw_count, a.raw_amount, a.unknown_attributes) == (b.raw_count, b.raw_amount, b.unknown_attributes)
    return a


# -- exact conversion -------------------------------------------------------------------------------
def test_event_converts_exactly():
    values = event_values(at(seconds=18 * 3600 + 245.123))
    values["lines"][1].pop("kind")
    values["lines"][1].pop("platform")
    result = both_paths([item(values)], "order_events")
    assert result.quarantine == []
    assert result.batch.schema == RAW_ORDER_EVENTS
    (row,) = result.batch.to_pylist()
    assert row["occurred_at"] == dt.datetime(2031, 3, 14, 18, 4, 5, 123000, tzinfo=UTC)
    assert row["schema_version"] == 1 and row["session_id"] is None
    assert row["amount_cents"] == values["amount_cents"]
    assert row["lines"] == [
        {**values["lines"][0]},
        {**values["lines"][1], "kind": None, "platform": None},
    ]
    assert {
        k: row[k] for k in ("event_id", "event_type", "order_id", "customer", "country", "currency", "day_shard")
    } == {k: values[k] for k in ("event_id", "event_type", "order_id", "customer", "country", "currency", "day_shard")}
    assert result.batch.schema.field("lines").type == pa.list_(RAW_ORDER_EVENTS.field("lines").type.value_type)


def test_funnel_event_has_nulls_where_order_fields_are_absent():
    result = both_paths([funnel_item(), funnel_item()], "order_events")
    assert result.quarantine == [] and result.batch.num_rows == 2
    row = result.batch.to_pylist()[0]
    assert (row["order_id"], row["country"], row["currency"], row["amount_cents"]) == (None, None, None, None)
    assert row["session_id"] == "sess-42" and row["lines"][0]["qty"] == 0
    assert result.raw_amount == 0


def test_event_with_no_lines_and_empty_page():
    values = event_values(n_lines=0)
    values["amount_cents"] = 0
    result = both_paths([item(values)], "order_events")
    assert result.batch.column("lines").to_pylist() == [[]]
    empty = both_paths([], "order_events")
    assert empty.batch.num_rows == 0 and empty.batch.schema == RAW_ORDER_EVENTS and empty.raw_count == 0


def test_sale_converts_exactly():
    values = sale_values(at(seconds=59.5), line=3, qty=4, unit=999)
    values.pop("genre")
    result = both_paths([item(values)], "sales")
    assert result.quarantine == [] and result.batch.schema == RAW_SALES
    (row,) = result.batch.to_pylist()
    expected = {**values, "genre": None}
    expected["sold_at"] = expected["updated_at"] = dt.datetime(2031, 3, 14, 0, 0, 59, 500000, tzinfo=UTC)
    assert row == {name: expected[name] for name in RAW_SALES.names}
    assert result.raw_amount == 4 * 999 == result.clean_amount


def test_timestamps_vectorised_parse():
    day_start = "2031-03-14T"
    cases = {
        "2031-03-14T00:00:00Z": dt.datetime(2031, 3, 14, tzinfo=UTC),
        "2031-03-14T23:59:59.999Z": dt.datetime(2031, 3, 14, 23, 59, 59, 999000, tzinfo=UTC),
        "2031-03-14T12:00:00.5Z": dt.datetime(2031, 3, 14, 12, 0, 0, 500000, tzinfo=UTC),
        "2031-03-14T12:00:00.123456Z": dt.datetime(2031, 3, 14, 12, 0, 0, 123000, tzinfo=UTC),  # truncated to ms
    }
    bad = [
        "2031-03-14T25:00:00Z",
        "2031-03-14T12:60:00Z",
        "2031-02-30T12:00:00Z",
        "2031-03-14T12:00:00+00:00",
        "2031-03-14 12:00:00Z",
        "2031-03-14T12:00:00z",
        "2031-03-14T12:00:00.1234567Z",
        "2031-03-14T12:00Z",
        "2031-03-14",
        "yesterday",
        "",
    ]
    items = []
    for text in [*cases, *bad]:
        values = sale_values()
        values["sold_at"] = text
        values["sk"] = f"{text}#{values['order_id']}#01"
        items.append(item(values))
    result = both_paths(items, "sales")
    assert result.batch.column("sold_at").to_pylist() == list(cases.values())
    assert len(result.quarantine) == len(bad)
    for q in result.quarantine:
        assert q["reasons"] == ["sold_at: not a UTC ISO-8601 timestamp"], q
    assert all(text.startswith(day_start) for text in cases)


# -- quarantine rules ---------------------------------------------------------------------------------
Mutation = Callable[[dict[str, Any]], Any]


def _set(name: str, attr: dict[str, Any]) -> Mutation:
    return lambda it: it.__setitem__(name, attr)


def _drop(name: str) -> Mutation:
    return lambda it: it.pop(name)


def _line(k: int, name: str, attr: dict[str, Any] | None) -> Mutation:
    def mutate(it: dict[str, Any]) -> None:
        m = it["lines"]["L"][k]["M"]
        if attr is None:
            m.pop(name)
        else:
            m[name] = attr

    return mutate


EVENT_RULES: list[tuple[str, Mutation, str]] = [
    ("missing event_id", _drop("event_id"), "event_id: missing"),
    ("event_id as N", _set("event_id", {"N": "12"}), "event_id: wrong DynamoDB type, expected S"),
    ("event_id pattern", _set("event_id", {"S": "evt_lowercase"}), "event_id: does not match"),
    ("unknown event_type", _set("event_type", {"S": "order_lost"}), "event_type: not one of"),
    ("schema_version 2", _set("schema_version", {"N": "2"}), "schema_version: not 1"),
    ("schema_version as S", _set("schema_version", {"S": "1"}), "schema_version: wrong DynamoDB type, expected N"),
    ("occurred_at unparsable", _set("occurred_at", {"S": "yesterday"}), "occurred_at: not a UTC ISO-8601 timestamp"),
    ("occurred_at impossible", _set("occurred_at", {"S": "2031-03-14T24:00:01Z"}), "occurred_at: not a UTC ISO"),
    (
        "occurred_at day before",
        _set("occurred_at", {"S": "2031-03-13T23:59:59.999Z"}),
        "occurred_at: outside the partition",
    ),
    (
        "occurred_at day after",
        _set("occurred_at", {"S": "2031-03-15T00:00:00.000Z"}),
        "occurred_at: outside the partition",
    ),
    ("day_shard other day", _set("day_shard", {"S": "2031-03-15#1"}), "day_shard: not one of the 8 shards"),
    ("day_shard no such shard", _set("day_shard", {"S": "2031-03-14#8"}), "day_shard: not one of the 8 shards"),
    ("day_shard pattern", _set("day_shard", {"S": "2031-03-14"}), "day_shard: does not match"),
    ("order event without order_id", _drop("order_id"), "order_id: missing"),
    ("order event without amount", _drop("amount_cents"), "amount_cents: missing"),
    ("order event without currency", _drop("currency"), "currency: missing"),
    ("customer not a pseudonym", _set("customer", {"S": "alice@example.com"}), "customer: does not match"),
    ("country lowercase", _set("country", {"S": "de"}), "country: does not match"),
    ("currency lowercase", _set("currency", {"S": "eur"}), "currency: does not match ^[A-Z]{3}$"),
    ("currency NULL", _set("currency", {"NULL": True}), "currency: wrong DynamoDB type, expected S"),
    ("negative amount", _set("amount_cents", {"N": "-1"}), "amount_cents: not a non-negative integer"),
    ("fractional amount", _set("amount_cents", {"N": "10.5"}), "amount_cents: not a non-negative integer"),
    ("amount as S", _set("amount_cents", {"S": "10"}), "amount_cents: wrong DynamoDB type, expected N"),
    ("missing lines", _drop("lines"), "lines: missing"),
    ("lines as M", _set("lines", {"M": {}}), "lines: wrong DynamoDB type, expected L"),
    ("21 lines", lambda it: it["lines"]["L"].extend(copy.deepcopy(it["lines"]["L"][:1]) * 19), "lines: more than 20"),
    ("line not a map", lambda it: it["lines"]["L"].append({"S": "x"}), "lines[2]: not a map"),
    ("line NULL", lambda it: it["lines"]["L"].insert(0, {"NULL": True}), "lines[0]: not a map"),
    ("line without qty", _line(1, "qty", None), "lines[1].qty: missing"),
    ("line qty 11", _line(0, "qty", {"N": "11"}), "lines[0].qty: out of range 0..10"),
    ("line qty negative", _line(0, "qty", {"N": "-1"}), "lines[0].qty: not a non-negative integer"),
    ("line qty 1.5", _line(0, "qty", {"N": "1.5"}), "lines[0].qty: not a non-negative integer"),
    ("line number 0", _line(0, "line", {"N": "0"}), "lines[0].line: out of range 1..20"),
    ("line unit negative", _line(1, "unit_cents", {"N": "-5"}), "lines[1].unit_cents: not a non-negative integer"),
    ("line seller pattern", _line(0, "seller_id", {"S": "seller-1"}), "lines[0].seller_id: does not match"),
    ("line kind", _line(0, "kind", {"S": "toy"}), "lines[0].kind: not one of"),
    ("line platform empty", _line(0, "platform", {"S": ""}), "lines[0].platform: length not at least 1"),
    ("line product as N", _line(0, "product_id", {"N": "1"}), "lines[0].product_id: wrong DynamoDB type, expected S"),
    ("line unknown attribute", _line(0, "title", {"S": "Halo"}), "lines[0].title: unknown attribute"),
    ("unknown attribute", _set("title", {"S": "x"}), "title: unknown attribute"),
    ("session_id too long", _set("session_id", {"S": "s" * 65}), "session_id: length not 1..64"),
]

FUNNEL_RULES: list[tuple[str, Mutation, str]] = [
    ("funnel without session", _drop("session_id"), "session_id: missing"),
    ("funnel with empty session", _set("session_id", {"S": ""}), "session_id: length not 1..64"),
    ("funnel with NULL country", _set("country", {"NULL": True}), "country: wrong DynamoDB type"),
]

SALE_RULES: list[tuple[str, Mutation, str]] = [
    ("missing seller_id", _drop("seller_id"), "seller_id: missing"),
    ("missing customer", _drop("customer"), "customer: missing"),
    ("qty as S", _set("qty", {"S": "2"}), "qty: wrong DynamoDB type, expected N"),
    ("qty 0", lambda it: it.update(qty={"N": "0"}, amount_cents={"N": "0"}), "qty: out of range 1..10"),
    ("qty 11", lambda it: it.update(qty={"N": "11"}, amount_cents={"N": "13750"}), "qty: out of range 1..10"),
    ("qty 1.5", _set("qty", {"N": "1.5"}), "qty: not a non-negative integer"),
    ("unit negative", _set("unit_cents", {"N": "-1250"}), "unit_cents: not a non-negative integer"),
    ("amount is not qty*unit", _set("amount_cents", {"N": "2499"}), "amount_cents: is not qty * unit_cents"),
    ("amount fractional", _set("amount_cents", {"N": "2500.5"}), "amount_cents: not a non-negative integer"),
    ("currency", _set("currency", {"S": "US$"}), "currency: does not match ^[A-Z]{3}$"),
    ("status", _set("status", {"S": "lost"}), "status: not one of placed, cancelled, refunded"),
    ("kind", _set("kind", {"S": "toy"}), "kind: not one of"),
    ("day_shard other day", _set("day_shard", {"S": "2031-03-13#0"}), "day_shard: not one of the 8 shards"),
    ("sk mismatch", _set("sk", {"S": "2031-03-14T00:00:00.000Z#ord_x#01"}), "sk: is not sold_at#order_id#line"),
    ("updated_at unparsable", _set("updated_at", {"S": "soon"}), "updated_at: not a UTC ISO-8601 timestamp"),
    ("order_id pattern", _set("order_id", {"S": "order-1"}), "order_id: does not match"),
    ("line 21", _set("line", {"N": "21"}), "line: out of range 1..20"),
]


def _check_rule(make: Callable[[], dict[str, Any]], table: str, mutate: Mutation, reason: str) -> None:
    good = make()
    bad = make()
    mutate(bad)
    raw_bad = copy.deepcopy(bad)
    result = both_paths([good, bad, make()], table)
    assert result.batch.num_rows == 2, result.quarantine
    (q,) = result.quarantine
    assert any(r.startswith(reason) for r in q["reasons"]), q["reasons"]
    assert orjson.loads(q["item_json"]) == raw_bad
    assert q["source_table"] == table
    assert result.raw_count == 3
    assert result.raw_amount == result.clean_amount + (q["amount_cents"] or 0)
    amount = readable_amount(raw_bad.get("amount_cents"))
    assert q["amount_cents"] == amount
    quarantine_batch(result.quarantine).validate(full=True)


@pytest.mark.parametrize("name,mutate,reason", EVENT_RULES, ids=[r[0] for r in EVENT_RULES])
def test_event_quarantine_rules(name, mutate, reason):
    _check_rule(event_item, "order_events", mutate, reason)


@pytest.mark.parametrize("name,mutate,reason", FUNNEL_RULES, ids=[r[0] for r in FUNNEL_RULES])
def test_funnel_quarantine_rules(name, mutate, reason):
    _check_rule(funnel_item, "order_events", mutate, reason)


@pytest.mark.parametrize("name,mutate,reason", SALE_RULES, ids=[r[0] for r in SALE_RULES])
def test_sale_quarantine_rules(name, mutate, reason):
    _check_rule(sale_item, "sales", mutate, reason)


def test_every_reason_is_reported_and_keys_kept():
    bad = event_item()
    bad["currency"] = {"S": "eur"}
    bad["lines"]["L"][1]["M"]["qty"] = {"N": "99"}
    bad["schema_version"] = {"N": "3"}
    bad["extra"] = {"BOOL": True}
    result = both_paths([bad], "order_events")
    (q,) = result.quarantine
    assert q["item_key"] == bad["event_id"]["S"]
    assert sorted(q["reasons"]) == sorted(
        [
            "currency: does not match ^[A-Z]{3}$",
            "lines[1].qty: out of range 0..10",
            "schema_version: not 1",
            "extra: unknown attribute",
        ]
    )
    assert q["amount_cents"] == int(bad["amount_cents"]["N"])
    sale = sale_item()
    sale["qty"] = {"N": "-2"}
    sale["currency"] = {"N": "840"}
    (qs,) = both_paths([sale], "sales").quarantine
    assert qs["item_key"] == f"{sale['seller_id']['S']}|{sale['sk']['S']}"
    assert qs["reasons"] == ["qty: not a non-negative integer", "currency: wrong DynamoDB type, expected S"]


def test_sales_keep_unknown_attributes_as_a_signal_not_an_error():
    sale = sale_item()
    sale["title"] = {"S": "Zelda"}
    result = both_paths([sale], "sales")
    assert result.quarantine == [] and result.unknown_attributes == {"title"}


def test_malformed_dynamodb_json_is_quarantined_not_fatal():
    good = event_item()
    tag_holds_number = event_item()
    tag_holds_number["event_id"] = {"S": 5}
    not_a_map = event_item()
    not_a_map["lines"] = {"L": "nope"}
    items: list[Any] = [good, tag_holds_number, "not an item", not_a_map]
    result = convert_items(items, "order_events", DAY)
    assert result.batch.num_rows == 1 and result.raw_count == 4
    assert [q["reasons"][0].split(":")[0] for q in result.quarantine] == ["malformed DynamoDB JSON"] * 3
    assert result.quarantine[0]["amount_cents"] == int(tag_holds_number["amount_cents"]["N"])
    assert result.raw_amount == int(good["amount_cents"]["N"]) * 1 + int(tag_holds_number["amount_cents"]["N"]) + int(
        not_a_map["amount_cents"]["N"]
    )
    body_result, _ = convert_body(orjson.dumps({"Items": items}), "order_events", DAY)
    assert body_result.quarantine == result.quarantine and body_result.batch.equals(result.batch)


def test_convert_page_and_partition_day_none():
    batch, quarantine = convert_page([event_item()], "order_events", DAY)
    assert batch.num_rows == 1 and quarantine == []
    batch, quarantine = convert_page([event_item()], "raw_order_events", None)
    assert batch.num_rows == 0 and "no partition day" in quarantine[0]["reasons"][-1]
    with pytest.raises(ValueError):
        convert_page([], "catalog", DAY)


def test_rows_of_several_days_in_one_pass():
    days = [DAY - dt.timedelta(days=1), DAY, DAY + dt.timedelta(days=1)]
    items = [event_item(at(d, 60.0 * i)) for i in range(5) for d in days]
    items[4]["currency"] = {"S": "??"}
    wire = pa.array(items, type=EVENTS_WIRE)
    labels = pa.array([plain(it["day_shard"])[:10] for it in items] + [], pa.string())
    labels = pa.concat_arrays([labels.slice(0, 7), pa.array([None, "2031-02-30"]), labels.slice(9)])
    out = dict(convert_wire_by_day(wire, "order_events", labels, lambda i: items[i]))
    assert set(out) == {*days, None}
    for day in days:
        expected = convert_items(
            [items[i] for i in range(len(items)) if labels[i].as_py() == day.isoformat()], "order_events", day
        )
        assert out[day].batch.equals(expected.batch) and out[day].quarantine == expected.quarantine
    assert out[None].raw_count == 2 and out[None].batch.num_rows == 0
    merged = merge_results(list(out.values()))
    assert merged.raw_count == len(items) == merged.batch.num_rows + len(merged.quarantine)


def test_quarantine_batch_schema():
    result = both_paths([event_item(), {**event_item(), "zz": {"S": "1"}}], "order_events")
    batch = result.quarantine_batch()
    assert batch.schema == QUARANTINE and batch.num_rows == 1


# -- the converter against the JSON schema ------------------------------------------------------------
# Rules of the converter beyond the schema (see `pipelines.ingest.convert`): the day partition,
# real instants, int64 integers, ASCII patterns. A quarantine of an item the schema accepts must
# come from one of these.
DAY_RULES = ("outside the partition's UTC day", "not one of the 8 shards", "not a UTC ISO-8601 timestamp")


def _value(it: dict[str, Any], path: str) -> Any:
    m = re.fullmatch(r"lines\[(\d+)\]\.(\w+)", path)
    if m:
        return plain(it["lines"]["L"][int(m[1])]["M"][m[2]])
    return plain(it[path])


def _stricter_than_schema(reason: str, it: dict[str, Any]) -> bool:
    if any(rule in reason for rule in DAY_RULES):
        return True
    path, _, what = reason.partition(": ")
    if what == "not a non-negative integer":  # an integer int64 cannot hold, or 1.0 / 1e2
        value = _value(it, path)
        return (isinstance(value, int) and value >= 10**18) or (isinstance(value, float) and value.is_integer())
    if what.startswith("does not match"):  # RE2: ASCII \d, `$` is the very end
        value = _value(it, path)
        return not value.isascii() or value.endswith("\n")
    return False


def _agrees_with_schema(it: dict[str, Any], quarantined: dict[str, Any] | None) -> None:
    schema_errors = events.errors(plain_item(it))
    if schema_errors:
        assert quarantined is not None, f"the schema rejects {schema_errors} but the converter accepts {it}"
    elif quarantined is not None:
        assert all(_stricter_than_schema(r, it) for r in quarantined["reasons"]), (quarantined["reasons"], it)


STRICTER_MUTATIONS = {
    "occurred_at impossible",
    "occurred_at day before",
    "occurred_at day after",
    "day_shard other day",
    "day_shard no such shard",
}


@pytest.mark.parametrize(
    "name,mutate,reason", EVENT_RULES + FUNNEL_RULES, ids=[r[0] for r in EVENT_RULES + FUNNEL_RULES]
)
def test_mutations_rejected_by_the_schema_are_quarantined(name, mutate, reason):
    base = funnel_item() if name.startswith("funnel") else event_item()
    mutated = copy.deepcopy(base)
    mutate(mutated)
    assert events.errors(plain_item(base)) == []
    result = both_paths([mutated], "order_events")
    assert result.quarantine, name
    _agrees_with_schema(mutated, result.quarantine[0])
    assert bool(events.errors(plain_item(mutated))) != (name in STRICTER_MUTATIONS), name


_ATTRS = [*EVENTS_WIRE.names, "title"]
_LINE_ATTRS = ["line", "seller_id", "product_id", "qty", "unit_cents", "amount_cents", "kind", "platform", "note"]


def _values() -> st.SearchStrategy[dict[str, Any]]:
    """DynamoDB values: mostly strings near the contract's (valid ones and near misses)."""
    near = st.sampled_from(
        [
            new_id("evt"),
            new_id("ord"),
            new_id("sel"),
            new_id("prd"),
            "evt_x",
            "ord_" + "Z" * 26,
            "sel_" + "U" * 26,
            "prd_" + "0" * 25,
            new_id("prd") + "\n",
            "2031-03-14T10:00:00Z",
            "2031-03-14T10:00:00.1234567Z",
            "2031-03-13T23:59:59.999Z",
            "2031-02-30T10:00:00Z",
            "2031-03-14#3",
            "2031-03-14#9",
            "2031-03-14#3\n",
            "EUR",
            "eur",
            "DE",
            "DEU",
            "game",
            "toy",
            "Game",
            "",
            "s" * 64,
            "s" * 65,
            "0123456789abcdef0123456789abcdef",
            "0123456789ABCDEF0123456789ABCDEF",
            *events.schema()["properties"]["event_type"]["enum"],
            "order_lost",
        ]
    )
    texts = st.one_of(near, near, near, st.text(max_size=70))
    numbers = st.one_of(st.integers(-3, 25), st.integers(0, 10**20), st.sampled_from(["1.5", "-0.5", "2.25"]))
    scalar = st.one_of(
        texts.map(lambda s: {"S": s}),
        texts.map(lambda s: {"S": s}),
        numbers.map(lambda n: {"N": str(n)}),
        st.just({"NULL": True}),
        st.booleans().map(lambda b: {"BOOL": b}),
        st.just({"SS": ["a", "b"]}),
    )
    return st.one_of(scalar, scalar, scalar, st.lists(scalar, max_size=2).map(lambda v: {"L": v}), st.just({"M": {}}))


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    base = draw(st.sampled_from(["order", "funnel", "refund"]))
    it = (
        funnel_item()
        if base == "funnel"
        else event_item(event_type="order_refunded" if base == "refund" else "order_placed")
    )
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
        where = draw(st.sampled_from(["attr", "attr", "line", "line", "line", "drop", "drop_line"]))
        if where == "attr":
            it[draw(st.sampled_from(_ATTRS))] = draw(_values())
        elif where == "drop":
            it.pop(draw(st.sampled_from(_ATTRS)), None)
        elif isinstance(it.get("lines"), dict) and it["lines"].get("L") and "M" in it["lines"]["L"][0]:
            m = it["lines"]["L"][0]["M"]
            if where == "line":
                m[draw(st.sampled_from(_LINE_ATTRS))] = draw(_values())
            else:
                m.pop(draw(st.sampled_from(_LINE_ATTRS)), None)
    return it


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated_events(), min_size=1, max_size=4))
def test_converter_never_accepts_what_the_schema_rejects(items):
    result = both_paths(items, "order_events")
    by_key = {id(it): it for it in items}
    assert len(by_key) == len(items)
    quarantined = {q["item_json"]: q for q in result.quarantine}
    for it in items:
        _agrees_with_schema(it, quarantined.get(orjson.dumps(it).decode()))
    assert result.raw_count == result.batch.num_rows + len(result.quarantine)


def test_amount_reading_is_the_same_vectorised_and_per_item():
    from pipelines.dynamodb_wire import read_int64

    texts = [
        "0",
        "12",
        "-5",
        "-0",
        "1.5",
        "",
        "-",
        "--1",
        "+5",
        " 1",
        "1e3",
        "٣",
        "007",
        "9" * 18,
        "9" * 19,
        "-" + "9" * 18,
    ]
    vectorised = read_int64(pa.array(texts, pa.string())).to_pylist()
    assert vectorised == [readable_amount({"N": t}) for t in texts]
    assert vectorised[:4] == [0, 12, -5, 0] and vectorised[4:12] == [None] * 8
    assert readable_amount({"S": "12"}) is None and readable_amount(None) is None
