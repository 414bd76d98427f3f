"""A conversion bug, for the write-audit-publish tests: the first page with clean rows loses its
last row while its counts still say the item was read, so the lake is one row short of DynamoDB.

`install()` puts it in this process (the in-process load); `SITECUSTOMIZE`, as a `sitecustomize`
module on the `PYTHONPATH`, puts it in the ingest worker that Dagster Pipes launches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

from pipelines.ingest import reader
from pipelines.ingest.convert.results import PageResult

SITECUSTOMIZE = "import tests.lossy_read\ntests.lossy_read.install()\n"


def lossy(read_day: Callable[..., Iterator[PageResult]]) -> Callable[..., Iterator[PageResult]]:
    def read(*args: Any, **kwargs: Any) -> Iterator[PageResult]:
        dropped = False
        for page in read_day(*args, **kwargs):
            if not dropped and page.batch.num_rows:
                page = dataclasses.replace(page, batch=page.batch.slice(0, page.batch.num_rows - 1))
                dropped = True
            yield page

    return read


def install() -> None:
    reader.read_day = lossy(reader.read_day)
