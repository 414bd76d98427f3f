"""Conversion results: `PageResult` (clean batch, quarantine rows, and the counts reconciliation
needs), the quarantine batch, merging results and the empty result of a table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from pipelines.ingest.convert.arrays import _int_sum
from pipelines.ingest.convert.wire import AMOUNT_ATTRIBUTE, OUTPUT, _day, contract_table
from pipelines.ingest.schemas import QUARANTINE


# -- results ---------------------------------------------------------------------------------------
@dataclass
class PageResult:
    """One converted page: the clean rows, the quarantined ones, and what reconciliation needs.

    `raw_count == batch.num_rows + len(quarantine)` always; `raw_amount` is the sum of every
    readable (integer) `amount_cents` of the raw items, i.e. of the clean batch's column plus the
    quarantine rows' `amount_cents`.
    """

    table: str
    day: dt.date | None
    batch: pa.RecordBatch
    quarantine: list[dict[str, Any]]
    raw_count: int
    raw_amount: int
    unknown_attributes: frozenset[str] = frozenset()
    shard: int | None = None

    @property
    def clean_count(self) -> int:
        return self.batch.num_rows

    @property
    def clean_amount(self) -> int:
        return _int_sum(self.batch.column(AMOUNT_ATTRIBUTE))

    def quarantine_batch(self) -> pa.RecordBatch:
        return quarantine_batch(self.quarantine)


def quarantine_batch(rows: Sequence[dict[str, Any]]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(list(rows), schema=QUARANTINE)


def merge_results(results: Sequence[PageResult]) -> PageResult:
    """Several results of one table and day as one (one batch, all quarantine rows)."""
    if not results:
        raise ValueError("nothing to merge")
    first = results[0]
    batches = [r.batch for r in results if r.batch.num_rows] or [first.batch]
    return PageResult(
        table=first.table,
        day=first.day,
        batch=pa.concat_batches(batches) if len(batches) > 1 else batches[0],
        quarantine=[row for r in results for row in r.quarantine],
        raw_count=sum(r.raw_count for r in results),
        raw_amount=sum(r.raw_amount for r in results),
        unknown_attributes=frozenset().union(*(r.unknown_attributes for r in results)),
        shard=first.shard if all(r.shard == first.shard for r in results) else None,
    )


def empty_result(table: str, day: dt.date | None) -> PageResult:
    table = contract_table(table)
    return PageResult(table, _day(day), _empty(table), [], 0, 0)


def _empty(table: str) -> pa.RecordBatch:
    schema_ = OUTPUT[table]
    return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema_], schema=schema_)
