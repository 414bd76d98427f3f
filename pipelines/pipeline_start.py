"""The pipeline's first day: where the daily and monthly partitions begin."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from gitgoods.contract.ids import parse_utc
from gitgoods.settings import Settings, get_settings

DEFAULT_HISTORY_DAYS = 90


def first_day(settings: Settings | None = None) -> date:
    """`GITGOODS_PIPELINE_START`, else the first day the local shopper simulation wrote, else
    90 days ago."""
    settings = settings or get_settings()
    if settings.pipeline_start:
        return date.fromisoformat(settings.pipeline_start)
    starts = []
    for marker in sorted(settings.state_dir.glob("simulation-*.json")):
        try:
            data = json.loads(marker.read_text())
            starts.append((parse_utc(data["end"]) - timedelta(days=int(data["days"]))).date())
        except (OSError, ValueError, KeyError):
            continue
    if starts:
        return min(starts)
    return datetime.now(UTC).date() - timedelta(days=DEFAULT_HISTORY_DAYS)
