"""Importing the code location (`pipelines.definitions`) has no side effects on the process or the
disk: no warnings filter of the project's own, Arrow's allocator untouched, nothing opened or
created under the home folder (where the lake, the state and the logs live)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

PROBE = r"""
import json, sys, warnings

home, repo = sys.argv[1], sys.argv[2]
opened, filters_set = [], []


def audit(event, args):
    if event in ("open", "os.listdir", "os.scandir") and str(args[0]).startswith(home):
        opened.append(f"{event} {args[0]}")


sys.addaudithook(audit)


def spy(real):
    def call(*args, **kwargs):
        caller = sys._getframe(1).f_code.co_filename
        if caller.startswith(repo) and "/.venv/" not in caller:
            filters_set.append(f"{caller}: {real.__name__}{args}")
        return real(*args, **kwargs)
    return call


warnings.filterwarnings = spy(warnings.filterwarnings)
warnings.simplefilter = spy(warnings.simplefilter)

import pyarrow as pa

pool_before = pa.default_memory_pool().backend_name
import pipelines.definitions  # noqa: E402,F401
import dagster as dg  # noqa: E402
from pipelines.defs.partitions import daily  # noqa: E402

print(json.dumps({
    "pool_before": pool_before,
    "pool_after": pa.default_memory_pool().backend_name,
    "filters_set": filters_set,
    "dagster_filters": [str(f) for f in warnings.filters if isinstance(f[2], type)
                        and issubclass(f[2], (dg.PreviewWarning, dg.BetaWarning))],
    "opened": opened,
    "first_partition": daily.get_first_partition_key(),
}))
"""


def test_importing_the_code_location_has_no_side_effects(tmp_path: Path) -> None:
    home = tmp_path / "home"
    # a simulation's marker, which the pipeline's first day was once worked out from at import
    (home / "state").mkdir(parents=True)
    marker = home / "state" / "simulation-42.json"
    marker.write_text('{"end": "2026-03-01T00:00:00Z", "days": 30}')
    env = {k: v for k, v in os.environ.items() if k not in {"ARROW_DEFAULT_MEMORY_POOL", "GITGOODS_LAKE_URI"}}
    env.update({"GITGOODS_HOME": str(home), "GITGOODS_ENV": "local", "GITGOODS_PIPELINE_START": "2026-01-15"})
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(home), str(REPO_ROOT)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])

    # Arrow's default pool stays the one pyarrow chose (mimalloc or jemalloc where it is built in)
    assert seen["pool_before"] != "system", "pyarrow defaults to the system pool here: the check cannot fail"
    assert seen["pool_after"] == seen["pool_before"]
    # the project's modules set no process-wide warnings filter (third-party packages may)
    assert seen["filters_set"] == []
    assert seen["dagster_filters"] == []
    # the partitions begin on the configured first day, not on one read from the disk or the clock
    assert seen["first_partition"] == "2026-01-15"
    # nothing under the home folder is listed, opened or created
    assert seen["opened"] == []
    assert sorted(p.relative_to(home) for p in home.rglob("*")) == [Path("state"), Path("state/simulation-42.json")]


ENTRY_PROBE = r"""
import os, sys
import pyarrow as pa

before = pa.default_memory_pool().backend_name
entry = sys.argv[1]
if entry == "worker":
    from pipelines.ingest import worker

    try:
        worker.main([])  # not under Pipes and no --config: stops at the arguments, after its setup
    except SystemExit:
        pass
else:
    from pipelines.defs.ingest import assets

    assets.load.ingest_day = lambda *args, **kwargs: None  # the allocator is all this probe looks at
    assets.ingest_partition("raw_sales", None, assets.DynamoResource(table_prefix="x-"),
                            assets.LakeResource(uri="file:///nonexistent", glue_database="x", register_in_glue=False))
print(before, pa.default_memory_pool().backend_name, os.environ.get("ARROW_DEFAULT_MEMORY_POOL"))
"""


def test_the_ingest_entry_points_put_arrow_on_the_system_allocator(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    env["GITGOODS_HOME"] = str(tmp_path)
    for entry in ("worker", "in-process"):
        out = subprocess.run(
            [sys.executable, "-c", ENTRY_PROBE, entry], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
            timeout=300,
        )
        assert out.returncode == 0, out.stderr
        before, after, variable = out.stdout.split()[-3:]
        assert before != "system", "pyarrow defaults to the system pool here: the check cannot fail"
        assert (after, variable) == ("system", "system"), entry
