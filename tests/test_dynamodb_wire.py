"""DynamoDB's wire format and numbers, read one way: `gitgoods.dynamodb.read_number` (the storefront,
the ingest's reconciliation and the federated reads all use it) and `pipelines.dynamodb_wire` (the
one parser of response bodies and export lines into Arrow, under the ingest and the federated
catalog). Expected values are worked out by hand beside each case."""

from __future__ import annotations

import orjson
import pyarrow as pa
import pytest

from gitgoods.dynamodb import INT64_DIGITS, read_number
from pipelines.dynamodb_wire import read_body, read_int64, read_lines, tagged
from pipelines.ingest.convert.integers import readable_amount
from pipelines.sql.federated_arrow import body_to_arrow
from storefront.common.ddb import from_attr

# text -> what read_number gives: integers exact at any size, every other number a float
NUMBERS = [
    ("0", 0),
    ("12", 12),
    ("-5", -5),
    ("-0", 0),
    ("007", 7),
    ("9007199254740993", 9007199254740993),  # 2**53 + 1: a float would give ...992
    ("-9007199254740993", -9007199254740993),
    ("123456789012345678901234567890", 123456789012345678901234567890),  # 30 digits, beyond int64
    ("1.5", 1.5),
    ("-0.25", -0.25),
    ("1E+2", 100.0),  # an exponent is never an integer, even when the value is whole
    ("1e2", 100.0),
    ("2.5E-3", 0.0025),
    ("12.0", 12.0),
]


@pytest.mark.parametrize(("text", "expected"), NUMBERS)
def test_a_number_is_an_exact_int_when_integer_else_a_float(text, expected) -> None:
    value = read_number(text)
    assert value == expected and type(value) is type(expected)
    assert from_attr({"N": text}) == expected and type(from_attr({"N": text})) is type(expected)


@pytest.mark.parametrize("text", ["", "-", "--1", "1-", "abc", "1.2.3"])
def test_text_that_is_no_number_is_an_error(text) -> None:
    with pytest.raises(ValueError):
        read_number(text)
    assert read_number(text, only_int64=True) is None


# text -> the int64 reading (reconciliation's amounts, and an int64 column's): integers of at most
# 18 digits whatever their sign, None for everything else
INT64 = [
    ("0", 0),
    ("-5", -5),
    ("9" * 18, 999_999_999_999_999_999),
    ("-" + "9" * 18, -999_999_999_999_999_999),
    ("1" + "0" * 18, None),  # 10**18: 19 digits
    ("9007199254740993", 9007199254740993),
    ("1E+2", None),
    ("1.5", None),
    ("+5", None),
    (" 1", None),
    ("٣", None),  # an Arabic-Indic three: not an ASCII digit
    ("", None),
    ("-", None),
]


def test_the_int64_reading_is_the_same_per_value_per_attribute_and_per_column() -> None:
    texts = [t for t, _ in INT64]
    expected = [e for _, e in INT64]
    assert INT64_DIGITS == 18
    assert [read_number(t, only_int64=True) for t in texts] == expected
    assert [readable_amount({"N": t}) for t in texts] == expected
    assert read_int64(pa.array([*texts, None], pa.string())).to_pylist() == [*expected, None]
    assert readable_amount({"S": "5"}) is None and readable_amount({"N": 5}) is None and readable_amount(None) is None


def test_a_body_is_parsed_into_wire_rows_against_a_given_item_type() -> None:
    item_type = pa.struct([("id", tagged("S")), ("qty", tagged("N"))])
    body = orjson.dumps(
        {
            "Items": [
                {"id": {"S": "a"}, "qty": {"N": "2"}, "extra": {"BOOL": True}},
                {"id": {"S": "b"}},
            ],
            "Count": 2,
            "LastEvaluatedKey": {"id": {"S": "b"}},
        }
    )
    wire, last_key = read_body(body, item_type)
    assert wire.type.names == ["id", "qty", "extra"]  # the given fields first, the rest inferred
    assert wire.to_pylist() == [
        {"id": {"S": "a"}, "qty": {"N": "2"}, "extra": {"BOOL": True}},
        {"id": {"S": "b"}, "qty": None, "extra": None},
    ]
    assert last_key == {"id": {"S": "b"}}  # the tags pyarrow filled with nulls are gone
    empty, no_key = read_body(b'{"Items": []}', item_type)
    assert empty.type == item_type and len(empty) == 0 and no_key is None
    assert read_body(b'{"Items": []}') == (None, None)  # nothing to infer a type from
    assert read_body(b'{"Count": 0}', item_type) == (None, None)


def test_a_body_pyarrow_cannot_type_or_that_is_not_one_object_raises() -> None:
    with pytest.raises(pa.ArrowInvalid):
        read_body(b'{"Items": [{"id": {"S": 1}}]}', pa.struct([("id", tagged("S"))]))
    with pytest.raises(ValueError, match="one JSON object, got 2"):
        read_body(b'{"Items": []}\n{"Items": []}')


def test_export_lines_are_parsed_into_wire_rows() -> None:
    item_type = pa.struct([("id", tagged("S"))])
    lines = b'{"Item": {"id": {"S": "a"}}}\n{"Item": {"id": {"S": "b"}, "n": {"N": "-1"}}}\n'
    assert read_lines(lines, item_type, root="Item").to_pylist() == [
        {"id": {"S": "a"}, "n": None},
        {"id": {"S": "b"}, "n": {"N": "-1"}},
    ]
    with pytest.raises(pa.ArrowInvalid, match="no 'Item'"):
        read_lines(b'{"Item": {"id": {"S": "a"}}}\n{"Other": 1}\n', item_type, root="Item")


def test_schemaless_decoding_of_nested_values_sets_and_nulls() -> None:
    body = orjson.dumps(
        {
            "Items": [
                {
                    "k": {"S": "a"},
                    "big": {"N": "9007199254740993"},
                    "sizes": {"NS": ["1", "-2"]},
                    "rates": {"NS": ["0.5", "2"]},
                    "dims": {"M": {"w": {"N": "3"}, "tags": {"L": [{"S": "x"}, {"S": "y"}]}}},
                    "gone": {"NULL": True},
                    "mixed": {"M": {"e": {"N": "1E+2"}, "n": {"N": "9007199254740993"}, "z": {"NULL": True}}},
                },
                {"k": {"S": "b"}, "big": {"N": "-1"}, "mixed": {"L": [{"N": "1.5"}, {"BOOL": False}]}},
            ]
        }
    )
    table, last_key = body_to_arrow(body, ["k"])
    assert last_key is None
    types = {f.name: f.type for f in table.schema}
    assert types["big"] == pa.int64() and types["sizes"] == pa.list_(pa.int64())
    assert types["rates"] == pa.list_(pa.decimal128(38, 9)) and types["mixed"] == pa.string()
    first, second = table.to_pylist()
    assert first["big"] == 9007199254740993 and second["big"] == -1  # exact, not through a float
    assert first["sizes"] == [1, -2] and [float(r) for r in first["rates"]] == [0.5, 2.0]
    assert first["dims"] == {"w": 3, "tags": ["x", "y"]} and second["dims"] is None
    assert first["gone"] is None
    # a column of several types is JSON text of the plain values, numbers read by read_number
    assert first["mixed"] == '{"e":100.0,"n":9007199254740993,"z":null}'
    assert second["mixed"] == "[1.5,false]"
