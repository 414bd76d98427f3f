"""DynamoDB exports for tests: the emulators have no export API, so `write_export` writes the
layout `ExportTableToPointInTime` leaves in S3 (DYNAMODB_JSON: manifests with each data file's
item count, MD5 and ETag; gzip JSON lines), which `pipelines.ingest.export.read_export` reads."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import pyarrow.fs as pafs

from pipelines.ingest.export import MANIFEST_FILES, MANIFEST_SUMMARY, OUTPUT_FORMAT, _join


def _entry(data: bytes, item_count: int, key: str) -> dict[str, Any]:
    """A manifest-files.json line for a data file of these bytes."""
    digest = hashlib.md5(data, usedforsecurity=False)
    return {
        "itemCount": item_count,
        "md5Checksum": base64.b64encode(digest.digest()).decode(),
        "etag": digest.hexdigest(),
        "dataFileS3Key": key,
    }


def write_export(
    fs: pafs.FileSystem,
    root: str,
    items: Iterable[dict[str, Any]],
    *,
    table_arn: str = "arn:aws:dynamodb:us-east-1:000000000000:table/gitgoods-table",
    export_id: str | None = None,
    export_time: dt.datetime | None = None,
    items_per_file: int = 10_000,
    s3_bucket: str = "",
    s3_prefix: str = "",
) -> str:
    """Write `items` (DynamoDB JSON) as a DYNAMODB_JSON export under `root`; the export folder.

    `s3_bucket` / `s3_prefix` only fill the manifests (`dataFileS3Key` is `<prefix>/AWSDynamoDB/...`
    as in a real export); the files go under `root` on `fs`.
    """
    started = dt.datetime.now(dt.UTC)
    export_time = export_time or started
    export_id = export_id or f"{int(started.timestamp() * 1000):014d}-{uuid.uuid4().hex[:8]}"
    relative = f"AWSDynamoDB/{export_id}"
    export_dir = _join(root, relative)
    key_prefix = f"{s3_prefix.strip('/')}/" if s3_prefix.strip("/") else ""
    fs.create_dir(_join(export_dir, "data"), recursive=True)
    _write(fs, _join(export_dir, "_started"), b"")

    entries: list[dict[str, Any]] = []
    total = 0
    billed = 0

    def write_file(lines: list[bytes]) -> None:
        nonlocal total, billed
        name = f"{uuid.uuid4().hex[:26]}.json.gz"
        data = gzip.compress(b"".join(lines), compresslevel=6, mtime=0)
        _write(fs, _join(export_dir, "data", name), data)
        entries.append(_entry(data, len(lines), f"{key_prefix}{relative}/data/{name}"))
        total += len(lines)
        billed += sum(map(len, lines))

    lines: list[bytes] = []
    for item in items:
        lines.append(orjson.dumps({"Item": item}) + b"\n")
        if len(lines) >= items_per_file:
            write_file(lines)
            lines = []
    if lines or not entries:
        write_file(lines)  # an empty partition still has its (empty) file

    files_json = b"".join(orjson.dumps(e) + b"\n" for e in entries)
    _write(fs, _join(export_dir, MANIFEST_FILES), files_json)
    _write(
        fs,
        _join(export_dir, "manifest-files.checksum"),
        hashlib.md5(files_json, usedforsecurity=False).hexdigest().encode(),
    )
    iso = "%Y-%m-%dT%H:%M:%S.%f"
    summary = {
        "version": "2020-06-30",
        "exportArn": f"{table_arn}/export/{export_id}",
        "startTime": started.strftime(iso)[:-3] + "Z",
        "endTime": dt.datetime.now(dt.UTC).strftime(iso)[:-3] + "Z",
        "tableArn": table_arn,
        "tableId": str(uuid.uuid5(uuid.NAMESPACE_URL, table_arn)),
        "exportTime": export_time.astimezone(dt.UTC).strftime(iso)[:-3] + "Z",
        "s3Bucket": s3_bucket,
        "s3Prefix": s3_prefix or None,
        "s3SseAlgorithm": "AES256",
        "s3SseKmsKeyId": None,
        "manifestFilesS3Key": f"{key_prefix}{relative}/{MANIFEST_FILES}",
        "billedSizeBytes": billed,
        "itemCount": total,
        "outputFormat": OUTPUT_FORMAT,
        "exportType": "FULL_EXPORT",
    }
    summary_json = orjson.dumps(summary, option=orjson.OPT_INDENT_2)
    _write(fs, _join(export_dir, MANIFEST_SUMMARY), summary_json)
    _write(
        fs,
        _join(export_dir, "manifest-summary.checksum"),
        hashlib.md5(summary_json, usedforsecurity=False).hexdigest().encode(),
    )
    return export_dir


def _write(fs: pafs.FileSystem, path: str, data: bytes) -> None:
    with fs.open_output_stream(path, compression=None) as out:
        out.write(data)


def rewrite_data_file(export_dir: str | Path, data_file: Path, lines: list[bytes]) -> None:
    """Replace a (local) export's data file by these lines and make its manifests say so, as if
    the export had held them (lines that are not items, say)."""
    data = gzip.compress(b"".join(line.rstrip(b"\n") + b"\n" for line in lines), mtime=0)
    data_file.write_bytes(data)
    manifest = Path(export_dir, MANIFEST_FILES)
    entries = [orjson.loads(line) for line in manifest.read_bytes().splitlines() if line.strip()]
    for i, entry in enumerate(entries):
        if entry["dataFileS3Key"].endswith("/" + data_file.name):
            entries[i] = _entry(data, len(lines), entry["dataFileS3Key"])
    manifest.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in entries))
    summary = Path(export_dir, MANIFEST_SUMMARY)
    count = sum(e["itemCount"] for e in entries)
    summary.write_bytes(orjson.dumps({**orjson.loads(summary.read_bytes()), "itemCount": count}))
