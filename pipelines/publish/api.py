"""Calls to the QuickSight API: retried when throttled, and SPICE ingestions waited for.

Every call of the publish step goes through `call`, which retries QuickSight's throttling and
concurrent-update answers with jittered exponential backoff (tenacity) and raises anything else at
once. botocore retries throttling by itself too, but only on the wire; `call` also covers the
cases botocore gives up on, with its own bound. Write calls are counted in `writes` so a test (and
the asset's metadata) can tell that a run changed nothing.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

log = logging.getLogger(__name__)

RETRYABLE = {"ThrottlingException", "LimitExceededException", "ConcurrentUpdatingException"}
READ_PREFIXES = ("Describe", "List", "Search", "Get")
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}


class PublishError(RuntimeError):
    """Publishing could not be done; the message says what and where."""


def error_code(exc: BaseException) -> str | None:
    return exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None


def _retryable(exc: BaseException) -> bool:
    return error_code(exc) in RETRYABLE


@dataclass
class QuickSight:
    """A QuickSight client with the account id, counting write calls."""

    client: Any
    account_id: str
    attempts: int = 6
    max_wait_s: float = 8.0
    writes: Counter = field(default_factory=Counter)

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        """`client.<operation>(AwsAccountId=..., **params)`, retried when throttled."""
        method = getattr(self.client, operation)
        pascal = self.client.meta.method_to_api_mapping[operation]
        if not pascal.startswith(READ_PREFIXES):
            self.writes[pascal] += 1
        if "AwsAccountId" in self.client.meta.service_model.operation_model(pascal).input_shape.members:
            params = {"AwsAccountId": self.account_id, **params}
        retrying = Retrying(
            retry=retry_if_exception(_retryable),
            wait=wait_random_exponential(multiplier=0.25, max=self.max_wait_s),
            stop=stop_after_attempt(self.attempts),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                if attempt.retry_state.attempt_number > 1:
                    log.info("QuickSight %s: retry %d after throttling", pascal, attempt.retry_state.attempt_number)
                return method(**params)
        raise AssertionError("unreachable")  # pragma: no cover

    def describe(self, operation: str, **params: Any) -> dict[str, Any] | None:
        """A Describe call, or None when the resource does not exist."""
        try:
            return self.call(operation, **params)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise

    def arn(self, kind: str, resource_id: str, region: str) -> str:
        return f"arn:aws:quicksight:{region}:{self.account_id}:{kind}/{resource_id}"


@dataclass(frozen=True)
class IngestionResult:
    ingestion_id: str
    status: str
    rows_ingested: int | None = None
    rows_dropped: int | None = None
    total_rows: int | None = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "COMPLETED"

    def metadata(self) -> dict[str, Any]:
        return {
            "ingestion_id": self.ingestion_id,
            "ingestion_status": self.status,
            "rows_ingested": self.rows_ingested,
            "rows_dropped": self.rows_dropped,
            "total_rows_in_dataset": self.total_rows,
            "ingestion_error": self.error,
            "ingestion_seconds": round(self.seconds, 2),
        }


def new_ingestion_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"gg-{now.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"


def ingest(
    qs: QuickSight,
    dataset_id: str,
    *,
    timeout_s: float,
    poll_s: float = 1.0,
    ingestion_id: str | None = None,
    sleep: Any = time.sleep,
    clock: Any = time.monotonic,
) -> IngestionResult:
    """Start a full SPICE refresh of `dataset_id` and wait for it to end (or `timeout_s`)."""
    ingestion_id = ingestion_id or new_ingestion_id()
    started = clock()
    qs.call("create_ingestion", DataSetId=dataset_id, IngestionId=ingestion_id, IngestionType="FULL_REFRESH")
    return wait_ingestion(qs, dataset_id, ingestion_id, timeout_s=timeout_s, poll_s=poll_s, sleep=sleep,
                          clock=clock, started=started)


def wait_ingestion(
    qs: QuickSight,
    dataset_id: str,
    ingestion_id: str,
    *,
    timeout_s: float,
    poll_s: float = 1.0,
    sleep: Any = time.sleep,
    clock: Any = time.monotonic,
    started: float | None = None,
) -> IngestionResult:
    """Wait for an ingestion to end (or `timeout_s`): the one a refresh started, or the one
    QuickSight starts by itself when a SPICE data set is created or its definition updated.

    A timeout is reported (status TIMED_OUT) and the ingestion is left running: QuickSight keeps the
    previous SPICE data until a refresh completes, so nothing half-loaded is ever shown.
    """
    started = clock() if started is None else started
    while True:
        ingestion = qs.call("describe_ingestion", DataSetId=dataset_id, IngestionId=ingestion_id)["Ingestion"]
        status = ingestion.get("IngestionStatus", "UNKNOWN")
        if status in TERMINAL:
            rows = ingestion.get("RowInfo") or {}
            error = ingestion.get("ErrorInfo") or {}
            return IngestionResult(
                ingestion_id=ingestion_id,
                status=status,
                rows_ingested=rows.get("RowsIngested"),
                rows_dropped=rows.get("RowsDropped"),
                total_rows=rows.get("TotalRowsInDataset"),
                error=f"{error.get('Type', '')}: {error.get('Message', '')}".strip(": ") or None,
                seconds=clock() - started,
            )
        if clock() - started >= timeout_s:
            return IngestionResult(
                ingestion_id, "TIMED_OUT", error=f"not finished after {timeout_s:.0f} s", seconds=clock() - started
            )
        sleep(poll_s)
