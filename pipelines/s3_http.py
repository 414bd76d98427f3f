"""S3 objects read and replaced whole without boto3: a GET that returns the ETag with the body,
a conditional PUT (`If-Match: <etag>` / `If-None-Match: *`), the compare-and-swap the lake's
partition pointers are switched with, and a LIST of keys with their ETags. The lean ingest worker
switches partitions too, so this goes over `pipelines.aws_http`'s signed requests (botocore's
signer only, no service model): no boto3 client to build (~0.07 s in a new process), and about
half the time per request.

Path-style URLs when an endpoint is configured (the moto server), virtual-hosted ones on AWS.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote, urlencode

from botocore.auth import S3SigV4Auth

from pipelines.aws_http import AwsError, RetryableError, SignedHttp, credentials_for, service_url

_CODE = re.compile(rb"<Code>([^<]*)</Code>")
_MESSAGE = re.compile(rb"<Message>([^<]*)</Message>")


class S3Objects(SignedHttp):
    """GET and conditional PUT of small S3 objects for `config` (an `AwsTarget` or `Settings`).
    Errors are `AwsError`s with S3's code (`PreconditionFailed`, `NoSuchKey`, ...) and status."""

    def __init__(self, config: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_connections", 4)
        kwargs.setdefault("attempts", 5)
        super().__init__(service_url(config, "s3"), "s3", config.region, credentials_for(config), **kwargs)
        self._path_style = bool(config.aws_endpoint)

    def _url(self, bucket: str, key: str) -> str:
        if self._path_style:
            return f"{self.url}{bucket}/{quote(key, safe='/~')}"
        return f"https://{bucket}.s3.{self.region}.amazonaws.com/{quote(key, safe='/~')}"

    def get(self, bucket: str, key: str) -> tuple[str, bytes] | None:
        """(ETag, body) of the object, from one GET; None if there is none."""
        return self._retrying(self._get, bucket, key)

    def _get(self, bucket: str, key: str) -> tuple[str, bytes] | None:
        response = self.send("GET", self._url(bucket, key), None, {}, S3SigV4Auth)
        if response.status == 404 and _error(response.data, 404).code == "NoSuchKey":
            return None
        if response.status != 200:
            raise _error(response.data, response.status)
        return response.headers["ETag"], response.data

    def put(
        self, bucket: str, key: str, body: bytes, *, content_type: str, if_match: str | None = None,
        if_none_match: bool = False,
    ) -> str:
        """PUT the object whole, only if its ETag is still `if_match` (or, with `if_none_match`, if
        there is none); the new ETag. A failed condition raises `AwsError` (412 `PreconditionFailed`,
        409 `ConditionalRequestConflict`, 404 `NoSuchKey`) and is not retried."""
        headers = {"Content-Type": content_type}
        if if_match is not None:
            headers["If-Match"] = if_match
        if if_none_match:
            headers["If-None-Match"] = "*"
        return self._retrying(self._put, self._url(bucket, key), body, headers)

    def _put(self, url: str, body: bytes, headers: dict[str, str]) -> str:
        response = self.send("PUT", url, body, dict(headers), S3SigV4Auth)
        if response.status != 200:
            raise _error(response.data, response.status)
        return response.headers["ETag"]


    def list(self, bucket: str, prefix: str, *, start_after: str | None = None,
             max_keys: int | None = None) -> list[tuple[str, str]]:  # fmt: skip
        """(key, ETag) of the objects under `prefix` in key order (ListObjectsV2, 1,000 a page),
        after `start_after`, at most `max_keys`."""
        out: list[tuple[str, str]] = []
        token = None
        while max_keys is None or len(out) < max_keys:
            query = {"list-type": "2", "prefix": prefix}
            if start_after is not None:
                query["start-after"] = start_after
            if max_keys is not None:
                query["max-keys"] = str(min(1000, max_keys - len(out)))
            if token is not None:
                query["continuation-token"] = token
            page = self._retrying(self._list_page, bucket, query)
            out.extend((item.findtext(f"{_NS}Key") or "", item.findtext(f"{_NS}ETag") or "")
                       for item in page.iterfind(f"{_NS}Contents"))  # fmt: skip
            token = page.findtext(f"{_NS}NextContinuationToken")
            if page.findtext(f"{_NS}IsTruncated") != "true" or not token:
                break
        return out[:max_keys] if max_keys is not None else out

    def _list_page(self, bucket: str, query: dict[str, str]) -> ET.Element:
        url = f"{self._url(bucket, '')}?{urlencode(sorted(query.items()), quote_via=quote)}"  # the bucket's URL
        response = self.send("GET", url, None, {}, S3SigV4Auth)
        if response.status != 200:
            raise _error(response.data, response.status)
        return ET.fromstring(response.data)  # noqa: S314 - S3's answer to a signed request


_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def _error(data: bytes, status: int) -> AwsError:
    code = _CODE.search(data)
    message = _MESSAGE.search(data)
    found = (code.group(1).decode() if code else str(status), message.group(1).decode() if message else "")
    # 409 is S3's answer to two conditional writes at once: the condition decides, not a retry
    if status >= 500 or found[0] in ("SlowDown", "RequestTimeout", "InternalError"):
        return RetryableError(*found, status)
    return AwsError(*found, status)


__all__ = ["S3Objects"]
