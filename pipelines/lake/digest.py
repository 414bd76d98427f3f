"""A table's digest on S3: every current partition's manifest, with its pointer's ETag, in one object.

On S3 a partition is current through its pointer (`<zone>/<table>/_current/dt=....json`, which
holds the manifest), so a reader that starts cold pays one GET per partition before it reads any
data: 90 GETs for a 90-day report, 730 for a year of two tables. The digest
(`<zone>/<table>/_current/_digest.json.gz`) gathers those pointers in one object, so a cold reader
pays one LIST (which it needs anyway: the listing is what says which partitions are current, and
with which ETag) plus one GET.

The digest is an accelerator, never the truth: a reader uses an entry only when its recorded ETag
equals the ETag the listing shows for that pointer now, and GETs the pointer otherwise (a
partition switched after the digest was written, or missing from it). Each entry's ETag and
manifest come from the same GET of the pointer, so an entry can be old but never wrong. A digest
that cannot be read is ignored.

Who writes it: the mart runner at the end of a build (`refresh_digest`): one LIST, one GET of the
old digest, one PUT, and a GET of each pointer that changed since - except the pointers the build
wrote itself, whose listed ETag is the MD5 of the bytes it PUT. On disk there is no digest:
pointers are symlinks and manifests local files.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.layout import CURRENT_DIR, table_rel
from pipelines.lake.partitions.manifest import PartitionInfo, fetch_pointer, list_pointers

log = logging.getLogger(__name__)

DIGEST_NAME = "_digest.json.gz"
DIGEST_FORMAT = 1
THREADS = 16  # pointers fetched at once


def digest_key(lake: LakeFS, zone: str, table: str) -> tuple[str, str]:
    return lake.bucket_key(table_rel(zone, table), CURRENT_DIR, DIGEST_NAME)


def read_digest(lake: LakeFS, zone: str, table: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """dt -> (pointer ETag, manifest) as last written; empty when there is no usable digest."""
    bucket, key = digest_key(lake, zone, table)
    try:
        body = lake.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except lake.s3.exceptions.NoSuchKey:
        return {}
    try:
        doc = json.loads(gzip.decompress(body))
        if doc.get("format") != DIGEST_FORMAT:
            raise ValueError(f"format {doc.get('format')!r}")
        return {dt: (e["etag"], e["manifest"]) for dt, e in doc["partitions"].items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:  # OSError: not gzip
        log.warning("ignoring the unreadable digest s3://%s/%s: %s", bucket, key, exc)
        return {}


@dataclass(frozen=True)
class DigestRefresh:
    partitions: int  # entries written
    fetched: int  # pointers read: changed since the last digest (or not in it), and not known
    bytes: int  # size of the digest object
    # what was written: dt -> (the listed ETag, the manifest), every current partition of the table
    entries: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict, compare=False, repr=False)


def refresh_digest(lake: LakeFS, zone: str, table: str, written: Iterable[PartitionInfo] = ()) -> DigestRefresh | None:
    """Bring the table's digest up to date with its pointers (S3 only; None on disk).

    `written`: partitions this process just switched. A pointer it wrote is taken without a GET
    when the listing's ETag is the MD5 of what it PUT (a single-part PUT, not KMS-encrypted): the
    object is then exactly those bytes. Any other changed pointer is read.
    """
    if lake.is_local:
        return None
    etags = list_pointers(lake, zone, table)
    old = read_digest(lake, zone, table)
    entries = {dt: old[dt] for dt, etag in etags.items() if dt in old and old[dt][0] == etag}
    for info in written:
        etag = etags.get(info.dt)
        if info.manifest is not None and etag is not None and etag.strip('"') == info.pointer_md5:
            entries.setdefault(info.dt, (etag, info.manifest))
    changed = sorted(set(etags) - set(entries))
    if changed:
        _ = lake.s3  # made once here, not by every thread at once
        with ThreadPoolExecutor(min(THREADS, len(changed))) as pool:
            for dt, found in zip(changed, pool.map(lambda d: fetch_pointer(lake, zone, table, d), changed),
                                 strict=True):  # fmt: skip
                if found is not None:
                    entries[dt] = found
    doc = {
        "format": DIGEST_FORMAT,
        "zone": zone,
        "table": table,
        "written_at": datetime.now(UTC).isoformat(),
        "partitions": {dt: {"etag": etag, "manifest": m} for dt, (etag, m) in sorted(entries.items())},
    }
    body = gzip.compress(json.dumps(doc, separators=(",", ":")).encode(), compresslevel=6)
    bucket, key = digest_key(lake, zone, table)
    lake.s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/gzip")
    return DigestRefresh(len(entries), len(changed), len(body), entries)
