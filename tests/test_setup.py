"""The setup commands say clearly what is missing, and the stack's tables come from one definition."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gitgoods.contract.tables import TABLES, ensure_tables
from tests.helpers import missing_prerequisite

REPO = Path(__file__).resolve().parent.parent


def _path_without(tmp_path: Path, missing: set[str]) -> str:
    """A PATH holding the usual tools except the `missing` ones."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("make", "sh", "bash", "awk", "test", "env", "cat", "java", "npm"):
        found = shutil.which(tool)
        if found and tool not in missing:
            (bin_dir / tool).symlink_to(found)
    (bin_dir / "python3").symlink_to(sys.executable)
    return str(bin_dir)


@pytest.mark.parametrize(
    "missing,message",
    [({"java"}, "Java 17+ is required"), ({"npm"}, "npm is required")],
)
def test_make_says_what_is_missing(tmp_path, missing, message):
    if shutil.which("make") is None:
        missing_prerequisite("make is not installed")
    if "npm" in missing and (REPO / ".tools/dynamodb-local/DynamoDBLocal.jar").exists():
        # npm is only needed to fetch DynamoDB Local: check from a copy of the Makefile alone.
        shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
        cwd = tmp_path
    else:
        cwd = REPO
    env = {"PATH": _path_without(tmp_path, missing), "HOME": str(tmp_path)}
    result = subprocess.run(
        ["make", "-s", "check-prereqs"], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


def test_make_accepts_a_complete_machine(tmp_path):
    if not (shutil.which("make") and shutil.which("java") and shutil.which("npm")):
        missing_prerequisite("make, java and npm are needed for this check")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    result = subprocess.run(["make", "-s", "check-prereqs"], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.stack
def test_tables_are_created_once_with_their_indexes(settings):
    from gitgoods import aws

    assert ensure_tables(settings) == []  # all exist already: nothing created, nothing fails
    ddb = aws.client("dynamodb", settings)
    for table in TABLES.values():
        desc = ddb.describe_table(TableName=settings.table(table.name))["Table"]
        assert [k["AttributeName"] for k in desc["KeySchema"]] == [
            k for k in (table.hash_key, table.range_key) if k
        ]
        assert {ix["IndexName"] for ix in desc.get("GlobalSecondaryIndexes", [])} == {ix.name for ix in table.indexes}
