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

Who writes it: the mart runner at the end of a build (`refresh_digest`). Usually without a LIST:
one GET of the old digest, its entries for the partitions the build switched replaced by what the
build wrote (the ETag S3 answered to its pointer's PUT, and the manifest in that pointer), one PUT.
Entries of other partitions stay as they were, right or stale; a stale one only costs its readers a
GET of the pointer. Once the listing is older than `RELIST_AFTER` (or when asked, or without a
usable digest) the refresh lists the pointers: entries of partitions gone are dropped, and each
pointer that changed since is read. On disk there is no digest: pointers are symlinks and
manifests local files.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.layout import CURRENT_DIR, table_rel
from pipelines.lake.partitions.manifest import PartitionInfo, fetch_pointer, list_pointers

log = logging.getLogger(__name__)

DIGEST_NAME = "_digest.json.gz"
DIGEST_FORMAT = 1
THREADS = 16  # pointers fetched at once
RELIST_AFTER = timedelta(days=7)  # a refresh lists the pointers again once its listing is this old


def digest_key(lake: LakeFS, zone: str, table: str) -> tuple[str, str]:
    return lake.bucket_key(table_rel(zone, table), CURRENT_DIR, DIGEST_NAME)


def read_digest(lake: LakeFS, zone: str, table: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """dt -> (pointer ETag, manifest) as last written; empty when there is no usable digest."""
    return _read(lake, zone, table)[0]


def _read(lake: LakeFS, zone: str, table: str) -> tuple[dict[str, tuple[str, dict[str, Any]]], datetime | None]:
    """The digest's entries and when its pointers were last listed (None: no usable digest)."""
    bucket, key = digest_key(lake, zone, table)
    found = lake.objects.get(bucket, key)
    if found is None:
        return {}, None
    body = found[1]
    try:
        doc = json.loads(gzip.decompress(body))
        if doc.get("format") != DIGEST_FORMAT:
            raise ValueError(f"format {doc.get('format')!r}")
        entries = {dt: (e["etag"], e["manifest"]) for dt, e in doc["partitions"].items()}
        return entries, datetime.fromisoformat(doc.get("listed_at") or doc["written_at"])
    except (OSError, ValueError, KeyError, TypeError) as exc:  # OSError: not gzip
        log.warning("ignoring the unreadable digest s3://%s/%s: %s", bucket, key, exc)
        return {}, None


@dataclass(frozen=True)
class DigestRefresh:
    partitions: int  # entries written
    fetched: int  # pointers read: changed since the last digest (or not in it), and not known
    bytes: int  # size of the digest object
    listed: bool  # whether the pointers were listed (else the build's own entries were merged in)
    # what was written: dt -> (ETag, manifest); with `listed`, exactly the table's current partitions
    entries: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict, compare=False, repr=False)


def refresh_digest(lake: LakeFS, zone: str, table: str, written: Iterable[PartitionInfo] = (), *,
                   relist: bool = False) -> DigestRefresh | None:  # fmt: skip
    """Bring the table's digest up to date (S3 only; None on disk).

    `written`: partitions this process just switched, each with the ETag S3 answered to its
    pointer's PUT and the manifest it PUT. Without `relist`, and with a digest whose listing is
    younger than `RELIST_AFTER`, those entries replace the old ones and nothing is listed. Else the
    pointers are listed: an entry is kept where its ETag is the one listed, a written partition
    taken where its PUT's ETag is, and every other pointer read.
    """
    if lake.is_local:
        return None
    written = [w for w in written if w.manifest is not None and w.pointer_etag]
    old, listed_at = _read(lake, zone, table)
    now = datetime.now(UTC)
    fetched = 0
    if not relist and listed_at is not None and now - listed_at < RELIST_AFTER:
        entries = {**old, **{w.dt: (w.pointer_etag, w.manifest) for w in written}}
    else:
        listed_at = now
        etags = list_pointers(lake, zone, table)
        entries = {dt: old[dt] for dt, etag in etags.items() if dt in old and old[dt][0] == etag}
        entries.update({w.dt: (w.pointer_etag, w.manifest) for w in written if etags.get(w.dt) == w.pointer_etag})
        changed = sorted(set(etags) - set(entries))
        if changed:
            _ = lake.objects  # made once here, not by every thread at once
            with ThreadPoolExecutor(min(THREADS, len(changed))) as pool:
                for dt, found in zip(changed, pool.map(lambda d: fetch_pointer(lake, zone, table, d), changed),
                                     strict=True):  # fmt: skip
                    if found is not None:
                        entries[dt] = found
        fetched = len(changed)
    doc = {
        "format": DIGEST_FORMAT,
        "zone": zone,
        "table": table,
        "written_at": now.isoformat(),
        "listed_at": listed_at.isoformat(),
        "partitions": {dt: {"etag": etag, "manifest": m} for dt, (etag, m) in sorted(entries.items())},
    }
    body = gzip.compress(json.dumps(doc, separators=(",", ":")).encode(), compresslevel=6)
    bucket, key = digest_key(lake, zone, table)
    lake.objects.put(bucket, key, body, content_type="application/gzip")
    return DigestRefresh(len(entries), fetched, len(body), listed_at == now, entries)
