"""The federated catalog's reads: a `FetchPlan` performed against DynamoDB into one Arrow table.

`DynamoDBReader` sends the plan's operations with signed raw requests
(`pipelines.ingest.reader.DynamoDBHttp`: pooled, retried, no botocore response parsing), in
parallel (key values, `BatchGetItem` chunks, `Scan` segments), follows `LastEvaluatedKey` and
`UnprocessedKeys`, converts each response body with `pipelines.sql.federated_arrow`, and completes
the table with the columns the query names (from a cached sample of the table when nothing was
read). `pipelines.sql.federated.DynamoDBCatalog` is a reader that also plans and rewrites queries.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa

from gitgoods.contract.tables import Table
from gitgoods.settings import Settings
from pipelines.sql.federated_arrow import body_to_arrow, items_to_arrow, unify
from pipelines.sql.federated_plan import FederatedError, FetchPlan

BATCH_GET_KEYS = 100
SAMPLE_ITEMS = 100
SAMPLE_TTL_S = 300.0


@dataclass
class FetchResult:
    plan: FetchPlan
    table: pa.Table
    requests: int = 0
    seconds: float = 0.0


class DynamoDBReader:
    """Reads `FetchPlan`s of the contract tables `tables` from DynamoDB into Arrow.

    Thread-safe: `calls` counts the DynamoDB operations sent (GetItem, BatchGetItem, Query, Scan).
    """

    def __init__(
        self,
        settings: Settings,
        tables: Mapping[str, Table],
        *,
        http: Any = None,
        segments: int = 4,
        max_workers: int = 8,
        page_limit: int | None = None,
    ) -> None:
        self.settings = settings
        self.segments = max(1, segments)
        self.max_workers = max(1, max_workers)
        self.tables = dict(tables)
        self.page_limit = page_limit
        self._http = http
        self._own_http = http is None
        self._lock = threading.Lock()
        self._samples: dict[str, tuple[float, pa.Schema]] = {}
        self.calls: Counter[str] = Counter()

    # -- plumbing ----------------------------------------------------------------------------------

    @property
    def http(self) -> Any:
        with self._lock:
            if self._http is None:
                from pipelines.ingest.reader import DynamoDBHttp

                self._http = DynamoDBHttp(self.settings, max_connections=max(self.max_workers, self.segments))
            return self._http

    def _call(self, operation: str, payload: dict[str, Any]) -> bytes:
        with self._lock:
            self.calls[operation] += 1
        return self.http.call(operation, payload)

    def close(self) -> None:
        if self._own_http and self._http is not None:
            self._http.close()
            self._http = None

    # -- reading ---------------------------------------------------------------------------------------

    def fetch(self, plan: FetchPlan) -> FetchResult:
        """Read what `plan` says into one Arrow table."""
        started = time.perf_counter()
        calls_before = sum(self.calls.values())
        spec = self.tables[plan.table]
        key_order = [k for k in (spec.hash_key, spec.range_key) if k]
        if plan.operation == "none":
            pages: list[pa.Table] = []
        elif plan.operation == "GetItem":
            pages = [self._get_item(plan, plan.values[0], key_order)]
        elif plan.operation == "BatchGetItem":
            chunks = [plan.values[i : i + BATCH_GET_KEYS] for i in range(0, len(plan.values), BATCH_GET_KEYS)]
            pages = self._parallel(lambda chunk: self._batch_get(plan, chunk, key_order), chunks)
        elif plan.operation == "Query":
            pages = self._parallel(lambda value: self._query(plan, value, key_order), list(plan.values))
        elif plan.operation == "Scan":
            pages = self._parallel(lambda segment: self._scan(plan, segment, key_order), list(range(plan.segments)))
        else:
            raise FederatedError(f"unknown operation {plan.operation!r}")
        table = unify(pages)
        table = self._complete(plan, table)
        return FetchResult(plan, table, sum(self.calls.values()) - calls_before, time.perf_counter() - started)

    def _parallel(self, fn: Callable[[Any], list[pa.Table] | pa.Table], work: list[Any]) -> list[pa.Table]:
        if len(work) <= 1:
            results = [fn(w) for w in work]
        else:
            with ThreadPoolExecutor(max_workers=min(self.max_workers, len(work)), thread_name_prefix="ddb-fed") as pool:
                results = list(pool.map(fn, work))
        out: list[pa.Table] = []
        for r in results:
            out.extend(r if isinstance(r, list) else [r])
        return out

    def _expression(self, plan: FetchPlan, value: str | None = None) -> dict[str, Any]:
        names: dict[str, str] = {}
        values: dict[str, Any] = {}

        def name(attribute: str) -> str:
            if attribute not in names:
                names[attribute] = f"#n{len(names)}"
            return names[attribute]

        def val(v: Any) -> str:
            placeholder = f":v{len(values)}"
            values[placeholder] = (
                {"BOOL": v} if isinstance(v, bool) else {"S": v} if isinstance(v, str) else {"N": str(v)}
            )
            return placeholder

        payload: dict[str, Any] = {}
        if value is not None and plan.key:
            conditions = [f"{name(plan.key)} = {val(value)}"]
            if plan.range_condition and plan.range_key:
                conditions.append(_key_condition(name(plan.range_key), plan.range_condition, val))
            payload["KeyConditionExpression"] = " AND ".join(conditions)
        if plan.filters and plan.operation in ("Query", "Scan"):
            terms = []
            for p in plan.filters:
                if p.op == "eq":
                    terms.append(f"{name(p.column)} = {val(p.values[0])}")
                else:
                    terms.append(f"{name(p.column)} IN ({', '.join(val(v) for v in p.values)})")
            payload["FilterExpression"] = " AND ".join(terms)
        if plan.projection is not None:
            payload["ProjectionExpression"] = ", ".join(name(a) for a in plan.projection)
        if names:
            payload["ExpressionAttributeNames"] = {v: k for k, v in names.items()}
        if values:
            payload["ExpressionAttributeValues"] = values
        return payload

    def _paginate(self, operation: str, payload: dict[str, Any], key_order: list[str]) -> list[pa.Table]:
        pages = []
        if self.page_limit:
            payload["Limit"] = self.page_limit
        while True:
            body = self._call(operation, payload)
            table, last_key = body_to_arrow(body, key_order)
            if table.num_rows:
                pages.append(table)
            if not last_key:
                return pages
            payload = {**payload, "ExclusiveStartKey": last_key}

    def _query(self, plan: FetchPlan, value: str, key_order: list[str]) -> list[pa.Table]:
        payload = {"TableName": plan.physical, **self._expression(plan, value)}
        if plan.index:
            payload["IndexName"] = plan.index
        return self._paginate("Query", payload, key_order)

    def _scan(self, plan: FetchPlan, segment: int, key_order: list[str]) -> list[pa.Table]:
        payload = {"TableName": plan.physical, **self._expression(plan)}
        if plan.segments > 1:
            payload.update(Segment=segment, TotalSegments=plan.segments)
        return self._paginate("Scan", payload, key_order)

    def _get_item(self, plan: FetchPlan, value: str, key_order: list[str]) -> pa.Table:
        payload = {"TableName": plan.physical, "Key": {plan.key: {"S": value}}, **self._expression(plan)}
        doc = orjson.loads(self._call("GetItem", payload))
        return items_to_arrow([doc["Item"]] if doc.get("Item") else [], key_order)

    def _batch_get(self, plan: FetchPlan, values: tuple[str, ...], key_order: list[str]) -> pa.Table:
        request: dict[str, Any] = {"Keys": [{plan.key: {"S": v}} for v in values], **self._expression(plan)}
        pending = {plan.physical: request}
        items: list[dict[str, Any]] = []
        delay = 0.05
        while pending:
            doc = orjson.loads(self._call("BatchGetItem", {"RequestItems": pending}))
            items.extend((doc.get("Responses") or {}).get(plan.physical, []))
            pending = doc.get("UnprocessedKeys") or {}
            if pending:  # throttled: back off before asking for the rest
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        return items_to_arrow(items, key_order)

    # -- schema ----------------------------------------------------------------------------------------

    def sample_schema(self, table: str) -> pa.Schema:
        """The columns of a sample of the table (one `Scan` page of `SAMPLE_ITEMS`), cached."""
        now = time.monotonic()
        with self._lock:
            cached = self._samples.get(table)
        if cached and now - cached[0] < SAMPLE_TTL_S:
            return cached[1]
        spec = self.tables[table]
        body = self._call("Scan", {"TableName": self.settings.table(table), "Limit": SAMPLE_ITEMS})
        sample, _ = body_to_arrow(body, [k for k in (spec.hash_key, spec.range_key) if k])
        with self._lock:
            self._samples[table] = (now, sample.schema)
        return sample.schema

    def _complete(self, plan: FetchPlan, table: pa.Table) -> pa.Table:
        """Add the columns the query names as `alias.col` but the fetched items lack (nulls), and,
        when nothing was fetched, the columns of the table's sample (so the query still binds)."""
        have = set(table.column_names)
        wanted = set(plan.projection) if plan.projection is not None else None
        missing_required = [c for c in plan.required if c not in have]
        if table.num_rows == 0:
            sample = self.sample_schema(plan.table)
            for f in sample:
                if f.name not in have and (wanted is None or f.name in wanted):
                    table = table.append_column(f.name, pa.nulls(table.num_rows, f.type))
                    have.add(f.name)
        for name in missing_required:
            if name not in have:
                table = table.append_column(name, pa.nulls(table.num_rows))
                have.add(name)
        if table.num_columns == 0:
            spec = self.tables[plan.table]
            table = pa.table({spec.hash_key: pa.array([], pa.string())})
        return table


_KEY_OPS = {"eq": "=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _key_condition(name: str, condition: tuple[str, tuple[str, ...]], val: Callable[[Any], str]) -> str:
    op, values = condition
    if op in _KEY_OPS:
        return f"{name} {_KEY_OPS[op]} {val(values[0])}"
    if op == "between":
        return f"{name} BETWEEN {val(values[0])} AND {val(values[1])}"
    if op == "prefix":
        return f"begins_with({name}, {val(values[0])})"
    raise FederatedError(f"no key condition for {op!r}")


__all__ = ["DynamoDBReader", "FetchResult"]
