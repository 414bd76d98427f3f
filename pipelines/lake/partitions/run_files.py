"""The Parquet files of one run: row groups streamed into files rolled at `max_file_rows`
(`RunFiles`), and which columns are worth dictionary-encoding (`dictionary_columns`)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from pipelines.lake.partitions.writer import PartitionWriter


class RunFiles:
    """Streams row groups into the Parquet files of one run, rolling files at `max_file_rows`."""

    def __init__(self, writer: PartitionWriter, rel: str, run_id: str) -> None:
        self.w = writer
        self.rel = rel
        self.run_id = run_id
        self.files: list[dict[str, Any]] = []
        self._sink: Any = None
        self._pq: pq.ParquetWriter | None = None
        self._name = ""
        self._rows = 0
        self._row_groups = 0

    @property
    def room(self) -> int:
        """Rows that still fit in the open (or next) file."""
        return self.w.max_file_rows - self._rows if self._pq is not None else self.w.max_file_rows

    def reuse(self, base_rel: str, entries: Sequence[dict[str, Any]]) -> None:
        """Take files of another run of the partition unchanged: a hard link on disk (no byte
        written; the file lives on while any run names it, whatever garbage collection deletes),
        a server-side copy on S3. Their manifest entries are kept as they are."""
        for entry in entries:
            source, target = self.w.lake.path(base_rel, entry["name"]), self.w.lake.path(self.rel, entry["name"])
            if self.w.lake.is_local:
                os.link(source, target)
            else:
                self.w.lake.fs.copy_file(source, target)
            self.files.append(dict(entry))

    def _open(self) -> None:
        self._name = f"part-{len(self.files):05d}-{self.run_id.rsplit('-', 1)[-1]}.parquet"
        while any(f["name"] == self._name for f in self.files):  # a reused file of the same number
            self._name = f"part-{len(self.files):05d}-{os.urandom(4).hex()}.parquet"
        self._sink = self.w.lake.fs.open_output_stream(self.w.lake.path(self.rel, self._name))
        self._pq = pq.ParquetWriter(
            self._sink,
            self.w.schema,
            compression=self.w.compression,
            compression_level=self.w.compression_level,
            write_statistics=True,
            use_dictionary=self.w.use_dictionary,
        )
        self._rows = 0
        self._row_groups = 0

    def write_row_group(self, table: pa.Table) -> None:
        if self._pq is None:
            self._open()
        assert self._pq is not None
        self._pq.write_table(table, row_group_size=max(table.num_rows, 1))
        self._rows += table.num_rows
        self._row_groups += 1
        if self._rows >= self.w.max_file_rows:
            self._close_file()

    def _close_file(self) -> None:
        assert self._pq is not None
        self._pq.close()
        size = self._sink.tell()
        self._sink.close()
        if self.w.lake.is_local:
            fd = os.open(self.w.lake.path(self.rel, self._name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self.files.append({"name": self._name, "rows": self._rows, "bytes": size, "row_groups": self._row_groups})
        self._pq = None
        self._sink = None

    def finish(self) -> None:
        if self._pq is None and not self.files:
            self._open()  # an empty day is an empty partition (one file, no rows), not a missing one
        if self._pq is not None:
            self._close_file()

    def abandon(self) -> None:
        # The run has no manifest and is never read; close the sink first so no footer follows.
        if self._sink is not None:
            with contextlib.suppress(Exception):
                self._sink.close()
            self._sink = None
        if self._pq is not None:
            self._pq.is_open = False
            self._pq = None


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """Parquet leaf columns worth dictionary-encoding: all but timestamps, dates and floats.

    Those are nearly unique per row, so their dictionary only grows until the writer falls back to
    plain encoding at the 1 MiB dictionary page limit (131,072 int64 values) - and that fallback
    re-encodes the buffered pages, about doubling the writer's memory for the row group.
    """
    sink = pa.BufferOutputStream()
    pq.write_table(schema.empty_table(), sink)
    parquet_schema = pq.ParquetFile(pa.BufferReader(sink.getvalue())).schema
    out = []
    for i in range(len(parquet_schema)):
        column = parquet_schema.column(i)
        logical = str(column.logical_type)
        if column.physical_type in ("FLOAT", "DOUBLE") or logical.startswith(("Timestamp", "Date", "Time")):
            continue
        out.append(column.path)
    return out
