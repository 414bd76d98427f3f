"""A deadline for the AWS work of one request, and what counts as an AWS outage.

Each request path client (`bounded`) has short timeouts and few retries (the `request` profile
of `gitgoods.aws`); on top, every request carries a deadline (`DEFAULT_BUDGET_S` from its
start, held in a context variable) and a botocore hook refuses to start an attempt that cannot
finish in time:

- a first attempt only while the deadline has not passed;
- a retry only if a whole read timeout still fits before it (a retry that would be cut short
  anyway only makes the shopper wait longer for the same 503).

So when DynamoDB or KMS hangs, a request gives up after one read timeout and a short backoff
(about 1 s); when it refuses connections or throttles, after the few fast retries that fit. The
bound is the deadline plus one attempt in the worst case (a backend that answered slowly for
almost the whole budget and then hangs). Outside a request (no deadline set) the hook does nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from gitgoods import aws

DEFAULT_BUDGET_S = 2.0
T = TypeVar("T")

_deadline: ContextVar[float | None] = ContextVar("gitgoods_aws_deadline", default=None)

# Error codes that mean "the service cannot serve now" rather than "this request is wrong".
UNAVAILABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "KMSInternalException",
        "DependencyTimeoutException",
    }
)


class DeadlineExceeded(Exception):
    """The request's time for AWS calls ran out before this attempt could start."""


def remaining() -> float | None:
    """Seconds left of the current request's budget (None: no deadline set)."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


@contextmanager
def budget(seconds: float = DEFAULT_BUDGET_S) -> Iterator[None]:
    """Run the block under a deadline `seconds` from now (never later than an enclosing one)."""
    deadline = time.monotonic() + seconds
    outer = _deadline.get()
    token = _deadline.set(deadline if outer is None else min(outer, deadline))
    try:
        yield
    finally:
        _deadline.reset(token)


def carry(fn: Callable[..., T]) -> Callable[..., T]:
    """`fn` to run in a worker thread under the caller's deadline (threads start without it)."""
    deadline = _deadline.get()

    def run(*args: Any, **kwargs: Any) -> T:
        token = _deadline.set(deadline)
        try:
            return fn(*args, **kwargs)
        finally:
            _deadline.reset(token)

    return run


def bounded(client: Any, read_timeout_s: float | None = None) -> Any:
    """A client like `client` with the request profile (its read timeout overridden when given)
    and the deadline hook."""
    overrides = {"read_timeout": read_timeout_s} if read_timeout_s is not None else {}
    bounded_client = aws.with_profile(client, "request", **overrides)
    read_timeout = float(bounded_client.meta.config.read_timeout)

    def refuse_late_attempt(request: Any, **_: Any) -> None:
        left = remaining()
        if left is None:
            return
        attempt = request.context.get("retries", {}).get("attempt", 1)
        if left <= 0 or (attempt > 1 and left < read_timeout):
            raise DeadlineExceeded(f"no time left for attempt {attempt} (deadline in {left:.2f} s)")

    # `request-created` fires once per attempt, retries included, before anything is sent.
    bounded_client.meta.events.register("request-created", refuse_late_attempt)
    return bounded_client


def is_outage(exc: BaseException) -> bool:
    """DynamoDB or KMS unreachable, slow, throttled after retries, or out of time."""
    if isinstance(exc, DeadlineExceeded | BotoConnectionError | HTTPClientError):
        return True
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in UNAVAILABLE_CODES or status >= 500
    return False
