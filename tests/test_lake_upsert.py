"""Upserts and compaction of a lake partition, on disk and on S3 (moto): rows replaced by key in
their own day, files reused (not rewritten) where no key changed, compaction keeps every row in
fewer files, and the manifest carries what the run recorded (stream positions)."""

from __future__ import annotations

import os

import pyarrow as pa
import pytest

from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.layout import run_rel
from pipelines.lake.partitions.manifest import current_manifest
from pipelines.lake.partitions.reading import read_partition
from pipelines.lake.partitions.switch import PartitionRaceLost
from pipelines.lake.partitions.upsert import stage_compaction, stage_upsert
from pipelines.lake.partitions.writer import PartitionWriter
from tests.test_lake import _make_lake, lake_settings  # noqa: F401  (a fixture)

SCHEMA = pa.schema([pa.field("k", pa.string(), nullable=False), pa.field("v", pa.int64())])
DAY = "2026-03-01"


def rows(*pairs: tuple[str, int]) -> pa.Table:
    return pa.table({"k": [k for k, _ in pairs], "v": [v for _, v in pairs]}, schema=SCHEMA)


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path) -> LakeFS:  # type: ignore[no-untyped-def]
    """A lake on disk and one on moto's S3 (as tests/test_lake.py makes them)."""
    return _make_lake(request.param, tmp_path, request.getfixturevalue("lake_settings"))


def content(lake: LakeFS) -> list[tuple[str, int]]:
    return sorted(zip(*read_partition(lake, "t", DAY).to_pydict().values(), strict=True))


def upsert(writer: PartitionWriter, table: pa.Table, extra=None):  # type: ignore[no-untyped-def]
    change = stage_upsert(writer, DAY, table, table.column("k").to_pylist(), ["k"], extra=extra)
    writer.publish(change.staged)
    return change


def test_upserts_append_files_and_replace_rows_by_key(lake: LakeFS) -> None:
    writer = PartitionWriter(lake, "t", SCHEMA)
    first = upsert(writer, rows(("a", 1), ("b", 2)), {"stream": {"s1": "10"}})
    assert (first.previous_rows, first.added, first.replaced) == (0, 2, 0)
    second = upsert(writer, rows(("c", 3)))
    assert (second.previous_rows, second.added, second.replaced, second.reused_files) == (2, 1, 0, 1)
    assert content(lake) == [("a", 1), ("b", 2), ("c", 3)]
    manifest = current_manifest(lake, "t", DAY)
    assert manifest["stream"] == {"s1": "10"}  # carried from the run it built on
    assert len(manifest["files"]) == 2
    # the reused file is the same file on disk (a hard link), a server-side copy on S3
    kept = manifest["files"][0]["name"]
    before, after = run_rel("raw", "t", DAY, first.staged.info.run_id), run_rel("raw", "t", DAY, manifest["run_id"])
    if lake.is_local:
        assert os.path.samefile(lake.path(before, kept), lake.path(after, kept))
    else:
        assert lake.read_bytes(before, kept, immutable=True) == lake.read_bytes(after, kept, immutable=True)
    # "b" changes: its file is rewritten without it, "c"'s file is reused, the new "b" is added
    third = upsert(writer, rows(("b", 20)), {"stream": {"s1": "12"}})
    assert (third.previous_rows, third.added, third.replaced) == (3, 1, 1)
    assert (third.reused_files, third.rewritten_files) == (1, 1)
    assert third.staged.info.rows == third.expected_rows == 3
    assert content(lake) == [("a", 1), ("b", 20), ("c", 3)]
    assert current_manifest(lake, "t", DAY)["stream"] == {"s1": "12"}


def test_an_upsert_built_on_a_run_that_is_no_longer_current_is_not_published(lake: LakeFS) -> None:
    writer = PartitionWriter(lake, "t", SCHEMA)
    upsert(writer, rows(("a", 1)))
    late = stage_upsert(writer, DAY, rows(("b", 2)), ["b"], ["k"])
    upsert(writer, rows(("c", 3)))  # another change switched the partition meanwhile
    with pytest.raises(PartitionRaceLost):
        writer.publish(late.staged)
    assert content(lake) == [("a", 1), ("c", 3)]


def test_compaction_keeps_every_row_in_fewer_files(lake: LakeFS) -> None:
    writer = PartitionWriter(lake, "t", SCHEMA)
    for i in range(40):
        upsert(writer, rows((f"k{i:02d}", i)), {"stream": {"s": str(i)}})
    upsert(writer, rows(("k05", 500)))  # one replaced row among them
    before = read_partition(lake, "t", DAY).sort_by("k")
    assert len(current_manifest(lake, "t", DAY)["files"]) == 40
    change = stage_compaction(writer, DAY)
    assert change is not None
    writer.publish(change.staged)
    after_manifest = current_manifest(lake, "t", DAY)
    assert len(after_manifest["files"]) == 1
    assert after_manifest["stream"] == {"s": "39"}
    assert after_manifest["compacted_from"] == 40
    after = read_partition(lake, "t", DAY).sort_by("k")
    assert after.equals(before)
    assert after.num_rows == 40
    assert dict(zip(*after.to_pydict().values(), strict=True))["k05"] == 500
    assert stage_compaction(writer, DAY) is None  # one file: nothing to do
    assert stage_upsert(writer, DAY, rows(), ["absent"], ["k"]) is None  # nothing to add or replace
