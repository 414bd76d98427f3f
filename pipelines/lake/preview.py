"""A table's first rows as a Markdown table: the `preview` a materialisation reports, the same for
a raw partition (the ingest) and a model's partition (the marts)."""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

# Rows a preview shows.
PREVIEW_ROWS = 10


def markdown_preview(table: pa.Table | pa.RecordBatch | None, *, omit: Iterable[str] = ()) -> str:
    """The first `PREVIEW_ROWS` rows of `table` as Markdown, without the columns `omit` names."""
    if table is None or table.num_rows == 0:
        return "_no rows_"
    left_out = set(omit)
    names = [n for n in table.schema.names if n not in left_out]
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    for row in table.select(names).slice(0, PREVIEW_ROWS).to_pylist():
        lines.append("| " + " | ".join(str(row[n]) for n in names) + " |")
    return "\n".join(lines)
