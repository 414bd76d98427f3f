"""History from a DynamoDB table export to S3 (`ExportTableToPointInTime`, `DYNAMODB_JSON`).

An export is a folder `<prefix>/AWSDynamoDB/<export-id>/` holding

- `manifest-summary.json`: one JSON object (`exportArn`, `tableArn`, `exportTime`, `itemCount`,
  `outputFormat`, `manifestFilesS3Key`, ...);
- `manifest-files.json`: JSON lines, one per data file (`itemCount`, `md5Checksum`, `etag`,
  `dataFileS3Key`, the key in the bucket);
- `data/<name>.json.gz`: gzip JSON lines, each `{"Item": {...DynamoDB JSON...}}`;
- `_started` and `*.checksum` files, not needed to read it.

`read_export` streams the data files (never a whole file in memory), parses each chunk of lines
with `pyarrow.json` straight into the wire columns of `convert.wire`, routes every item to its day
(the date of its `day_shard`, as the `by_day` index does; the date of `sold_at` / `occurred_at`
when the day key is unreadable) and converts it with the same rules as a day read from
DynamoDB. The emulators have no export API: `write_export` writes the same layout from a list of
items, for tests and benchmarks.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs

from pipelines.ingest.convert.results import PageResult, merge_results
from pipelines.ingest.convert.rows import _parse_day, convert_items, convert_wire_by_day
from pipelines.ingest.convert.wire import TIME_ATTRIBUTE, contract_table, read_wire_json

MANIFEST_SUMMARY = "manifest-summary.json"
MANIFEST_FILES = "manifest-files.json"
OUTPUT_FORMAT = "DYNAMODB_JSON"

_DAY_PREFIX_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") if i else p.rstrip("/") for i, p in enumerate(parts) if p)


def _read_bytes(fs: pafs.FileSystem, path: str) -> bytes:
    with fs.open_input_stream(path, compression=None) as stream:
        return stream.read()


def find_export(fs: pafs.FileSystem, root: str) -> str:
    """The export folder: `root` itself, or the one `AWSDynamoDB/<export-id>/` below it."""
    root = root.rstrip("/")
    if fs.get_file_info(_join(root, MANIFEST_SUMMARY)).type == pafs.FileType.File:
        return root
    base = _join(root, "AWSDynamoDB")
    if fs.get_file_info(base).type != pafs.FileType.Directory:
        raise FileNotFoundError(f"no DynamoDB export at {root} (no {MANIFEST_SUMMARY}, no AWSDynamoDB/)")
    found = [
        info.path
        for info in fs.get_file_info(pafs.FileSelector(base))
        if info.type == pafs.FileType.Directory
        and fs.get_file_info(_join(info.path, MANIFEST_SUMMARY)).type == pafs.FileType.File
    ]
    if len(found) != 1:
        raise ValueError(f"expected one export under {base}, found {len(found)}: {sorted(found)}")
    return found[0]


def read_manifests(fs: pafs.FileSystem, export_dir: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(summary, data file entries) of an export folder."""
    summary = orjson.loads(_read_bytes(fs, _join(export_dir, MANIFEST_SUMMARY)))
    if summary.get("outputFormat", OUTPUT_FORMAT) != OUTPUT_FORMAT:
        raise ValueError(f"export format {summary.get('outputFormat')!r} is not {OUTPUT_FORMAT}")
    files = [
        orjson.loads(line) for line in _read_bytes(fs, _join(export_dir, MANIFEST_FILES)).splitlines() if line.strip()
    ]
    listed = sum(int(f.get("itemCount", 0)) for f in files)
    if "itemCount" in summary and int(summary["itemCount"]) != listed:
        raise ValueError(f"manifest-summary counts {summary['itemCount']} items, manifest-files {listed}")
    return summary, files


def _data_path(export_dir: str, key: str) -> str:
    """A `dataFileS3Key` (a key in the bucket, with the export prefix) as a path in this export."""
    marker = "/data/"
    at = ("/" + key).rfind(marker)
    relative = ("/" + key)[at + 1 :] if at >= 0 else _join("data", key.rsplit("/", 1)[-1])
    return _join(export_dir, relative)


def _line_chunks(fs: pafs.FileSystem, path: str, chunk_bytes: int) -> Iterator[list[bytes]]:
    """The non-empty lines of a gzip file, a few MB at a time."""
    with fs.open_input_stream(path, compression="gzip" if path.endswith(".gz") else None) as stream:
        rest = b""
        while True:
            block = stream.read(chunk_bytes)
            if not block:
                break
            data = rest + block
            cut = data.rfind(b"\n")
            if cut < 0:
                rest = data
                continue
            rest = data[cut + 1 :]
            lines = [line for line in data[:cut].split(b"\n") if line.strip()]
            if lines:
                yield lines
        if rest.strip():
            yield [rest]


def _route(wire: pa.StructArray, table: str) -> pa.Array:
    """The day of every wire row as `YYYY-MM-DD` (null when neither day key nor time has one)."""
    names = wire.type.names

    def prefix(attr: str) -> pa.Array:
        if attr not in names:
            return pa.nulls(len(wire), pa.string())
        wrapper = pc.struct_field(wire, attr)
        if not pa.types.is_struct(wrapper.type) or "S" not in wrapper.type.names:
            return pa.nulls(len(wire), pa.string())
        values = pc.struct_field(wrapper, "S")
        ok = pc.match_substring_regex(values, _DAY_PREFIX_RE)
        return pc.if_else(ok, pc.utf8_slice_codeunits(values, 0, 10), pa.scalar(None, pa.string()))

    return pc.coalesce(prefix("day_shard"), prefix(TIME_ATTRIBUTE[table]))


def _convert_chunk(lines: list[bytes], table: str) -> Iterator[tuple[dt.date | None, PageResult]]:
    try:
        wire = read_wire_json(b"\n".join(lines), table, root="Item")
        if len(wire) != len(lines):
            raise pa.ArrowInvalid(f"{len(wire)} rows from {len(lines)} lines")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # something pyarrow cannot type: route and convert these lines through Python dicts
        yield from _convert_chunk_slowly(lines, table)
        return

    def raw_item(i: int) -> Any:
        return orjson.loads(lines[i]).get("Item")

    yield from convert_wire_by_day(wire, table, _route(wire, table), raw_item)


def _convert_chunk_slowly(lines: list[bytes], table: str) -> Iterator[tuple[dt.date | None, PageResult]]:
    groups: dict[dt.date | None, list[Any]] = defaultdict(list)
    for line in lines:
        try:
            item = orjson.loads(line).get("Item")
        except (orjson.JSONDecodeError, AttributeError):
            item = line.decode(errors="replace")  # not an item: quarantined as malformed, as it was
        day = None
        if isinstance(item, dict):
            for attr in ("day_shard", TIME_ATTRIBUTE[table]):
                value = item.get(attr)
                text = value.get("S") if isinstance(value, dict) else None
                day = _parse_day(text[:10]) if isinstance(text, str) else None
                if day:
                    break
        groups[day].append(item)
    for day, items in groups.items():
        yield day, convert_items(items, table, day)


def read_export(
    fs: pafs.FileSystem,
    export_root: str,
    table: str,
    *,
    chunk_bytes: int = 8 << 20,
    batch_rows: int = 100_000,
    max_buffered_rows: int = 1_000_000,
) -> Iterator[tuple[dt.date | None, PageResult]]:
    """(day, result) for the items of an export, routed to their day partition.

    The items of a day are spread over every data file, so results are buffered per day and a
    day is yielded when it has `batch_rows` raw items, when everything buffered passes
    `max_buffered_rows` (the biggest days go first), and at the end: a day may come more than
    once, all its results together make the day. Items without a readable day come under `None`,
    all quarantined. Each data file's line count is checked against its manifest entry.
    """
    table = contract_table(table)
    export_dir = find_export(fs, export_root)
    _, files = read_manifests(fs, export_dir)
    buffered: dict[dt.date | None, list[PageResult]] = defaultdict(list)
    sizes: dict[dt.date | None, int] = defaultdict(int)

    def flush(day: dt.date | None) -> tuple[dt.date | None, PageResult]:
        results = buffered.pop(day)
        sizes.pop(day)
        return day, merge_results(results)

    for entry in files:
        path = _data_path(export_dir, entry["dataFileS3Key"])
        seen = 0
        for lines in _line_chunks(fs, path, chunk_bytes):
            seen += len(lines)
            for day, result in _convert_chunk(lines, table):
                buffered[day].append(result)
                sizes[day] += result.raw_count
                if sizes[day] >= batch_rows:
                    yield flush(day)
            while sizes and sum(sizes.values()) > max_buffered_rows:
                yield flush(max(sizes, key=sizes.__getitem__))
        if "itemCount" in entry and int(entry["itemCount"]) != seen:
            raise ValueError(f"{path}: {seen} items, its manifest entry says {entry['itemCount']}")
    for day in sorted(buffered, key=lambda d: (d is None, d or dt.date.min)):
        yield flush(day)


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
        digest = hashlib.md5(data, usedforsecurity=False)
        entries.append(
            {
                "itemCount": len(lines),
                "md5Checksum": base64.b64encode(digest.digest()).decode(),
                "etag": digest.hexdigest(),
                "dataFileS3Key": f"{key_prefix}{relative}/data/{name}",
            }
        )
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
