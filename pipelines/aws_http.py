"""Signed AWS JSON-protocol calls without boto3, and the plain configuration they need.

The ingest runs in a lean worker process (`pipelines.ingest.worker`) that must not pay for
boto3's sessions and service models nor for pydantic-settings (~60 MB of the ~170 MB an
in-process ingest starts from). Everything it talks to AWS through is here:

- `AwsTarget`: region, endpoints, table prefix and (optionally) credentials, as plain values a
  parent process hands over as JSON. Code that takes the project's `Settings` takes an
  `AwsTarget` too: both have `region`, `dynamodb_endpoint`, `aws_endpoint` and `table()`.
- `SignedJsonClient`: POSTs JSON-protocol requests (DynamoDB, Glue), signed with botocore's
  SigV4 signer (only `botocore.auth`, no session), over a pooled urllib3 connection, with
  jittered exponential backoff on throttling, 5xx, transport errors and damaged bodies.
- `JsonApi`: boto3's calling convention on top of it (`glue.get_partition(DatabaseName=...)`),
  raising `AwsError`, whose `response["Error"]["Code"]` reads like boto3's `ClientError`, so code
  written against a boto3 client (the Glue catalog) runs unchanged.
"""

from __future__ import annotations

import logging
import re
import threading
import zlib
from dataclasses import asdict, dataclass
from typing import Any

import orjson
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

log = logging.getLogger(__name__)

# Error codes (`__type` after the `#`) worth another attempt, as botocore's standard retry mode has them.
RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottledException",
        "RequestThrottled",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "LimitExceededException",
        "TransactionInProgressException",
        "InternalServerError",
        "InternalFailure",
        "InternalServiceException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)


class AwsError(Exception):
    """An error answer of an AWS JSON API (or a transport failure), with its code.

    `response` has the shape of botocore's `ClientError.response`, for code that reads the code
    from there.
    """

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}" + (f" (HTTP {status})" if status else ""))
        self.code = code
        self.message = message
        self.status = status

    @property
    def response(self) -> dict[str, Any]:
        return {
            "Error": {"Code": self.code, "Message": self.message},
            "ResponseMetadata": {"HTTPStatusCode": self.status},
        }


class RetryableError(AwsError):
    """Throttling, a 5xx, a broken connection or a damaged body: worth another attempt."""


# -- configuration ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaticCredentials:
    """Credentials as plain values (what botocore's signer reads: access_key, secret_key, token)."""

    access_key: str
    secret_key: str
    token: str | None = None

    def get_frozen_credentials(self) -> StaticCredentials:
        return self


@dataclass(frozen=True)
class AwsTarget:
    """Where the pipeline's AWS services are, as plain values (no pydantic, no boto3).

    `credentials=None` means: resolve them in this process with botocore's default chain
    (environment, profile, container or instance role), refreshable. A parent passes explicit
    credentials only where the chain would not find the ones it uses (the emulators' fixed ones).
    """

    region: str = "us-east-1"
    table_prefix: str = ""
    dynamodb_endpoint: str | None = None
    aws_endpoint: str | None = None
    credentials: StaticCredentials | None = None

    def table(self, name: str) -> str:
        return f"{self.table_prefix}{name}"

    @classmethod
    def from_settings(cls, settings: Any, *, table_prefix: str | None = None) -> AwsTarget:
        """The target of the project's `Settings` (imports boto3 to look up the credentials)."""
        credentials = None
        if settings.env == "local":
            # The emulators take any credentials; gitgoods.aws uses fixed ones unless the
            # environment has some, so the worker must sign with exactly those.
            from gitgoods import aws

            frozen = aws.session(settings).get_credentials().get_frozen_credentials()
            credentials = StaticCredentials(frozen.access_key, frozen.secret_key, frozen.token)
        return cls(
            region=settings.region,
            table_prefix=settings.table_prefix if table_prefix is None else table_prefix,
            dynamodb_endpoint=settings.dynamodb_endpoint,
            aws_endpoint=settings.aws_endpoint,
            credentials=credentials,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AwsTarget:
        data = dict(data)
        creds = data.pop("credentials", None)
        return cls(**data, credentials=StaticCredentials(**creds) if creds else None)


def credentials_for(config: Any) -> Any:
    """Credentials with `get_frozen_credentials()` for `config` (an `AwsTarget` or `Settings`)."""
    explicit = getattr(config, "credentials", None)
    if explicit is not None:
        return explicit
    if isinstance(config, AwsTarget):
        import botocore.session  # the default chain, without boto3 or any service model

        found = botocore.session.get_session().get_credentials()
    else:
        from gitgoods import aws

        found = aws.session(config).get_credentials()
    if found is None:
        raise AwsError("NoCredentials", "no AWS credentials found")
    return found


def service_url(config: Any, service: str) -> str:
    """The endpoint of `service` for `config`: the emulator's locally, AWS's regional one otherwise."""
    explicit = config.dynamodb_endpoint if service == "dynamodb" else config.aws_endpoint
    return (explicit or f"https://{service}.{config.region}.amazonaws.com").rstrip("/") + "/"


# -- the client ------------------------------------------------------------------------------------


class SignedHttp:
    """Signed requests over a pooled urllib3 connection, with retries: what every API client here
    shares. One instance is shared by threads (urllib3's pool is thread-safe). Retries throttling,
    5xx, transport errors and CRC mismatches (`RetryableError`) with jittered exponential backoff
    (tenacity)."""

    def __init__(
        self,
        url: str,
        service: str,
        region: str,
        credentials: Any,
        *,
        max_connections: int = 16,
        attempts: int = 10,
        backoff: float = 0.05,
        max_backoff: float = 10.0,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
    ) -> None:
        self.url = url
        self.service = service
        self.region = region
        self._credentials = credentials
        pool_kwargs: dict[str, Any] = {}
        if self.url.startswith("https:"):
            try:
                import certifi

                pool_kwargs["ca_certs"] = certifi.where()
            except ImportError:  # the system's store
                pass
        self._http = urllib3.PoolManager(
            num_pools=4,
            maxsize=max_connections,
            retries=False,
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            **pool_kwargs,
        )
        self._retrying = Retrying(
            retry=retry_if_exception_type(RetryableError),
            stop=stop_after_attempt(attempts),
            wait=wait_random_exponential(multiplier=backoff, max=max_backoff),
            before_sleep=self._count_retry,
            reraise=True,
        )
        self._lock = threading.Lock()
        self.requests = 0  # attempts sent, retries included
        self.retries = 0

    def _count_retry(self, state: Any) -> None:
        with self._lock:
            self.retries += 1
        log.info(
            "%s %s, attempt %d: %s", self.service, state.fn.__name__, state.attempt_number, state.outcome.exception()
        )

    def send(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str], auth: type[SigV4Auth] = SigV4Auth
    ) -> urllib3.BaseHTTPResponse:
        """One attempt: sign (the date is part of the signature, so per attempt) and send; a
        transport failure is a `RetryableError`. The caller reads the status."""
        with self._lock:
            self.requests += 1
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        auth(self._credentials.get_frozen_credentials(), self.service, self.region).add_auth(request)
        try:
            return self._http.request(
                method, url, body=body, headers=dict(request.headers.items()), preload_content=True
            )
        except urllib3.exceptions.HTTPError as exc:
            raise RetryableError(type(exc).__name__, str(exc)) from exc

    def close(self) -> None:
        self._http.clear()


class SignedJsonClient(SignedHttp):
    """Signed JSON-protocol calls (DynamoDB, Glue) that return the raw response body."""

    def __init__(
        self, *args: Any, target_prefix: str, content_type: str = "application/x-amz-json-1.1", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)  # url, service, region, credentials and the pool's settings
        self.target_prefix = target_prefix
        self.content_type = content_type

    def call(self, operation: str, payload: dict[str, Any]) -> bytes:
        """POST one request (with retries); the raw JSON body of the successful answer."""
        body = orjson.dumps(payload)
        return self._retrying(self._once, operation, body)

    def _once(self, operation: str, body: bytes) -> bytes:
        headers = {"Content-Type": self.content_type, "X-Amz-Target": f"{self.target_prefix}.{operation}"}
        response = self.send("POST", self.url, body, headers)
        data = response.data
        if response.status == 200:
            crc = response.headers.get("x-amz-crc32")
            if crc is not None and zlib.crc32(data) != int(crc):
                raise RetryableError("CRC32CheckFailed", "the response body does not match its x-amz-crc32", 200)
            return data
        code, message = error_of(data, response.headers.get("x-amzn-errortype"))
        if response.status >= 500 or code in RETRYABLE_CODES:
            raise RetryableError(code, message, response.status)
        raise AwsError(code, message, response.status)


def error_of(data: bytes, header: str | None = None) -> tuple[str, str]:
    """(code, message) of an error answer of a JSON-protocol API."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        doc = None
    if not isinstance(doc, dict):
        code = (header or "UnknownError").split(":", 1)[0]
        return code, data[:200].decode(errors="replace")
    code = str(doc.get("__type") or header or "UnknownError").split(":", 1)[0].rsplit("#", 1)[-1]
    return code, str(doc.get("message") or doc.get("Message") or "")


_CAMEL = re.compile(r"(?:^|_)([a-z])")


class JsonApi:
    """boto3's calling convention over a `SignedJsonClient`: `api.get_table(DatabaseName=...)`
    POSTs `<prefix>.GetTable` with the keyword arguments as the JSON body and returns the decoded
    answer. Only for APIs whose requests and answers are plain JSON (no blobs, no timestamps read)."""

    def __init__(self, client: SignedJsonClient) -> None:
        self.client = client

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        operation = _CAMEL.sub(lambda m: m.group(1).upper(), name)

        def call(**kwargs: Any) -> dict[str, Any]:
            return orjson.loads(self.client.call(operation, kwargs) or b"{}")

        call.__name__ = name
        return call

    def close(self) -> None:
        self.client.close()


def glue_api(config: Any, **kwargs: Any) -> JsonApi:
    """The Glue API of `config` (an `AwsTarget` or `Settings`) without boto3."""
    client = SignedJsonClient(
        service_url(config, "glue"),
        "glue",
        config.region,
        credentials_for(config),
        target_prefix="AWSGlue",
        max_connections=kwargs.pop("max_connections", 4),
        attempts=kwargs.pop("attempts", 5),
        **kwargs,
    )
    return JsonApi(client)
