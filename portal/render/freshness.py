"""How fresh the report's data is: per data set, the SPICE snapshot's last partition, build and
ingestion times and whether its blocking checks passed; and the one-line summary the page and the
PDF show ("Data through 2026-11-30; built ...; every blocking check passed.")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from gitgoods.local.quicksight.spice import Snapshot, SpiceStore


def last_day(snapshot: Snapshot) -> date | None:
    """The day of the snapshot's last partition (None when it has none or it is not a date)."""
    value = snapshot.last_partition
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def when(value: datetime | None) -> str:
    """A time as shown on the report (UTC, to the minute); empty when unknown."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else ""


def checks_state(pointer: dict | None) -> str:
    """ "passed", "failed" or "unknown" from the snapshot pointer's optional `checks` field: a
    bool, "passed"/"failed", or an object with `passed`/`checks_passed`/`all_passed` or `status`.
    Nothing is claimed without it."""
    value = (pointer or {}).get("checks")
    if isinstance(value, dict):
        for key in ("checks_passed", "passed", "all_passed"):
            if isinstance(value.get(key), bool):
                value = value[key]
                break
        else:
            value = value.get("status")
    if isinstance(value, bool):
        return "passed" if value else "failed"
    if isinstance(value, str) and value.lower() in ("passed", "failed"):
        return value.lower()
    return "unknown"


def data_freshness(
    spice: SpiceStore, dataset_ids: list[str], checks: Callable[[str], str] | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """The summary and one item per data set. `checks(data set id)` says whether its data passed
    its blocking checks; without it the snapshot pointer's optional `checks` field is read."""
    items = []
    for dataset_id in dataset_ids:
        pointer = spice.pointer(dataset_id)
        snapshot = spice.current(dataset_id) if pointer else None
        items.append(
            {
                "name": dataset_id,
                "ingestion_id": snapshot.ingestion_id if snapshot else None,
                "last_partition": snapshot.last_partition if snapshot else None,
                "built_at": when(snapshot.built_at) if snapshot else "",
                "ingested": when(snapshot.created_time) if snapshot else "",
                "checks": (checks(dataset_id) if checks else checks_state(pointer)) if snapshot else "unknown",
            }
        )
    return summary(items), items


def summary(items: list[dict[str, Any]]) -> str:
    """One line over the data sets' items (the newest day, the oldest build and ingestion; the checks)."""
    present = [i for i in items if i["ingestion_id"]]
    if not present:
        return "No data has been ingested yet."
    partitions = [i["last_partition"] for i in present if i["last_partition"]]
    built = [i["built_at"] for i in present if i["built_at"]]
    ingested = [i["ingested"] for i in present if i["ingested"]]
    states = {i["checks"] for i in items}
    if states == {"passed"}:
        checks = "every blocking check passed"
    elif "held-back" in states:
        held = ", ".join(i["name"] for i in items if i["checks"] == "held-back")
        checks = f"newer data of {held} did not pass its blocking checks and is held back"
    elif "failed" in states:
        failed = ", ".join(i["name"] for i in items if i["checks"] == "failed")
        checks = f"blocking checks failed for {failed}"
    else:
        checks = "blocking checks: unknown"
    # The newest partition: monthly data sets name the first day of their (current) month, so the
    # oldest one would understate a daily report; each data set's own day is in the details.
    parts = [f"Data through {max(partitions)}" if partitions else "Data through an unknown day"]
    if built:
        parts.append(f"built {min(built)}")
    if ingested:
        parts.append(f"ingested {min(ingested)}")
    if len(present) < len(items):
        parts.append(f"{len(items) - len(present)} data set(s) not ingested yet")
    return "; ".join(parts) + f"; {checks}."
