"""One engine over the sample lake for the whole conformance suite (tests/sql_conformance/harness.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipelines.sql.duckdb_engine import DuckDBEngine
from tests.sql_conformance.harness import make_engine


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBEngine]:
    with make_engine(tmp_path_factory.mktemp("conf-home"), tmp_path_factory.mktemp("conf-lake")) as eng:
        yield eng
