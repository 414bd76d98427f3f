"""DynamoDB's numbers, read one way by the storefront and the pipeline.

DynamoDB sends a number (`{"N": "..."}`) as text, in its normal form: an optional `-`, digits,
and for a non-integer a fraction and/or an exponent (`"12"`, `"-5"`, `"0.25"`, `"1E+2"`). The rule:

- an integer (`-?[0-9]+`, ASCII digits only) is read as an exact `int`, whatever its size
  (the contract's integers: money in minor units, quantities, stock; beyond 2**53 too);
- any other number (a fraction or an exponent, even `"1E+2"`) is read as a `float`;
- text that is no number raises `ValueError`.

Arrow's readers hold integers in int64: `INT64_DIGITS` is the most digits an integer may have to
be read into int64 whatever its digits (`pipelines.dynamodb_wire` applies the same rule to a
whole column).
"""

from __future__ import annotations

INT64_DIGITS = 18  # every integer of at most 18 digits fits int64 (2**63 - 1 has 19)


def read_number(text: str, *, only_int64: bool = False) -> int | float | None:
    """A DynamoDB number's text -> `int` when it is an integer, else `float` (see the module);
    `ValueError` when it is no number.

    With `only_int64` the answer is an `int` only for an integer of at most `INT64_DIGITS` digits
    and None for anything else (a fraction, an exponent, more digits, no number): how the ingest
    reads `amount_cents` for reconciliation, which must sum what an int64 column would hold and
    never fail on a malformed item.
    """
    # string methods rather than a regex: the storefront reads every number of every item here
    if text.isascii() and (text.isdigit() or (text[1:].isdigit() and text[0] == "-")):
        return int(text) if not only_int64 or len(text.removeprefix("-")) <= INT64_DIGITS else None
    return None if only_int64 else float(text)


__all__ = ["INT64_DIGITS", "read_number"]
