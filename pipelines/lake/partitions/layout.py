"""Layout and naming of lake partitions: table, run and pointer paths, run ids, name checks.

See the package docstring (`pipelines.lake.partitions`) for the layout these paths make.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime

from pipelines.lake.fs import LakeFS

RUNS_DIR = "_runs"
CURRENT_DIR = "_current"
MANIFEST = "_manifest.json"

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_DT = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RUN_ID = re.compile(r"^(\d{8}T\d{12}Z)-[0-9a-f]{8,32}$")


# -- names -------------------------------------------------------------------------------------


def check_name(name: str, what: str = "table") -> str:
    if not _NAME.match(name):
        raise ValueError(f"bad {what} name {name!r}: lower-case letters, digits and _ (starting with a letter)")
    return name


def check_dt(dt: str | date) -> str:
    if isinstance(dt, date):
        return dt.isoformat()
    if not isinstance(dt, str) or not _DT.match(dt):
        raise ValueError(f"bad partition dt {dt!r}: expected YYYY-MM-DD")
    date.fromisoformat(dt)  # a real day
    return dt


def new_run_id(now: datetime | None = None) -> str:
    """A sortable run id: UTC time to the microsecond plus randomness (`20240501T120000123456Z-1a2b3c4d`)."""
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%S%f')}Z-{uuid.uuid4().hex[:8]}"


def run_started_at(run_id: str) -> float | None:
    m = _RUN_ID.match(run_id)
    if not m:
        return None
    return datetime.strptime(m.group(1), "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC).timestamp()


def glue_table_name(zone: str, table: str) -> str:
    """Glue name of a lake table: `<zone>_<table>`, unless the table name already starts so
    (`raw/raw_sales` -> `raw_sales`, `quarantine/sales` -> `quarantine_sales`)."""
    return table if table.startswith(f"{zone}_") else f"{zone}_{table}"


def writers_pool(zone: str, table: str) -> str:
    """The Dagster concurrency pool of the steps that write a lake table (`lake/raw/raw_sales`):
    the instance limits every pool to one step at a time, so two runs never write one partition
    at once (docs/lake.md)."""
    return f"lake/{table_rel(zone, table)}"


def table_rel(zone: str, table: str) -> str:
    return LakeFS.join(check_name(zone, "zone"), check_name(table))


def runs_rel(zone: str, table: str, dt: str) -> str:
    return LakeFS.join(table_rel(zone, table), RUNS_DIR, f"dt={dt}")


def run_rel(zone: str, table: str, dt: str, run_id: str) -> str:
    return LakeFS.join(runs_rel(zone, table, dt), f"run={run_id}")


def pointer_rel(zone: str, table: str, dt: str) -> str:
    return LakeFS.join(table_rel(zone, table), CURRENT_DIR, f"dt={dt}.json")


__all__ = [
    "glue_table_name",
    "new_run_id",
    "writers_pool",
]
