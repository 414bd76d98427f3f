"""The harness itself: a wrong value or a wrong type fails a case (so the suite can fail)."""

from __future__ import annotations

import decimal

import pytest

from pipelines.sql.duckdb_engine import DuckDBEngine
from tests.sql_conformance.harness import TRINO, Case, cases, check


@cases(
    Case("1 + 2", 3, "integer", doc="language/types.html#integer"),
    Case("SELECT count(*) FROM marts_sample", 4, "bigint", doc="functions/aggregate.html#count"),
    Case("SELECT name FROM marts_sample ORDER BY id", ["Zelda", "Doom", "Tetris", "Halo"], "varchar",
         doc="language/types.html#varchar", rows=True),  # fmt: skip
    Case("SELECT price FROM marts_sample WHERE id = 2", decimal.Decimal("3.10"), "decimal(12,2)",
         doc="language/types.html#decimal"),  # fmt: skip
)
def test_sample_lake(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)


@pytest.mark.parametrize(
    "wrong",
    [
        Case("1 + 2", 4, "integer", doc=TRINO),  # value
        Case("1 + 2", 3, "bigint", doc=TRINO),  # type
        Case("SELECT price FROM marts_sample WHERE id = 2", decimal.Decimal("3.1"), "decimal(12,2)", doc=TRINO),
        Case("1 + 2", None, error="nope", doc=TRINO),  # not refused
    ],
    ids=["value", "type", "decimal-scale", "not-refused"],
)
def test_a_wrong_expectation_fails(engine: DuckDBEngine, wrong: Case) -> None:
    with pytest.raises((AssertionError, pytest.fail.Exception)):
        check(engine, wrong)
