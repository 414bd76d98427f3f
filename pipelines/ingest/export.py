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
DynamoDB.

Every data file is checked against its manifest entry as it is read: its MD5 (`md5Checksum`, and
`etag` where that is a single-part upload's MD5) and its item count (`itemCount`); a file that
differs - corrupted, truncated, or not the one exported - raises `ExportMismatch`, naming the file
and what did not match. A reader that must not act on part of a refused file reads the whole
export before it writes anything, as the history load does (`pipelines.ingest.history`: staged
first, then written to the lake). The emulators have no export API: the tests write exports
(`tests/dynamodb_export.py`).
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import zlib
from collections import defaultdict
from collections.abc import Iterator
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


class ExportMismatch(ValueError):
    """A data file of an export is not what its manifest entry says (corrupted, truncated, or a
    different item count)."""


class _Hashed:
    """A raw input stream that keeps the MD5 and the size of what is read through it."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.md5.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


def _check_checksum(path: str, entry: dict[str, Any], raw: _Hashed) -> None:
    """The data file's bytes against its manifest entry: `md5Checksum` (base64 MD5 of the file) and
    `etag` where it is a plain MD5 (a single-part upload's; a multipart ETag ends in `-<parts>`)."""
    expected = entry.get("md5Checksum")
    got = base64.b64encode(raw.md5.digest()).decode()
    if expected is not None and got != expected:
        raise ExportMismatch(
            f"{path}: MD5 {got} ({raw.size} bytes), its manifest entry says md5Checksum {expected}:"
            " the file is corrupted or truncated"
        )
    etag = str(entry.get("etag") or "").strip('"')
    if etag and "-" not in etag and etag != raw.md5.hexdigest():
        raise ExportMismatch(
            f"{path}: MD5 {raw.md5.hexdigest()} ({raw.size} bytes), its manifest entry says etag {etag}:"
            " the file is corrupted or truncated"
        )


def _line_chunks(fs: pafs.FileSystem, path: str, chunk_bytes: int, entry: dict[str, Any]) -> Iterator[list[bytes]]:
    """The non-empty lines of a (gzip) data file, a few MB at a time; at the end the file's bytes
    are checked against its manifest entry (`ExportMismatch`), also when they do not decompress."""
    with fs.open_input_stream(path, compression=None) as stream:
        raw = _Hashed(stream)
        text = gzip.GzipFile(fileobj=raw, mode="rb") if path.endswith(".gz") else raw
        rest = b""
        try:
            while True:
                block = text.read(chunk_bytes)
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
        except (EOFError, OSError, zlib.error) as exc:  # a truncated or damaged gzip stream
            raw.drain()
            _check_checksum(path, entry, raw)
            raise ExportMismatch(
                f"{path}: not a readable gzip file ({exc}), though it matches its manifest entry"
            ) from exc
        raw.drain()
        _check_checksum(path, entry, raw)
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
        for lines in _line_chunks(fs, path, chunk_bytes, entry):
            seen += len(lines)
            for day, result in _convert_chunk(lines, table):
                buffered[day].append(result)
                sizes[day] += result.raw_count
                if sizes[day] >= batch_rows:
                    yield flush(day)
            while sizes and sum(sizes.values()) > max_buffered_rows:
                yield flush(max(sizes, key=sizes.__getitem__))
        if "itemCount" in entry and int(entry["itemCount"]) != seen:
            raise ExportMismatch(f"{path}: {seen} items, its manifest entry says itemCount {entry['itemCount']}")
    for day in sorted(buffered, key=lambda d: (d is None, d or dt.date.min)):
        yield flush(day)
