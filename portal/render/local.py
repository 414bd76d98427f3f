"""The portal's reports in the embedded default: `LocalReports` wired to the local QuickSight.

The dashboard definition and the data sets are the published ones (read through the QuickSight API
of the moto server), the data the local SPICE snapshots, the sellers' display names the sellers
table, and whether the data passed its checks the tag the publish step leaves on each data set.
"""

from __future__ import annotations

import threading
from typing import Any

from cachetools import TTLCache

from gitgoods import aws
from gitgoods.local.quicksight.spice import SpiceStore
from gitgoods.settings import Settings
from portal.render.published import published_definitions
from portal.render.reports import LocalReports
from portal.sellers import SellerNames

CHECKS_TAG = "gitgoods:checks"  # written by the publish step (pipelines/publish/refresh.py)
CHECKS_TTL_S = 30.0


class DataSetChecks:
    """The `gitgoods:checks` tag of a data set ("passed", "held-back"; "unknown" without it)."""

    def __init__(self, client: Any, settings: Settings) -> None:
        self._client = client
        self._settings = settings
        self._cache: TTLCache = TTLCache(maxsize=256, ttl=CHECKS_TTL_S)
        self._lock = threading.Lock()

    def __call__(self, dataset_id: str) -> str:
        with self._lock:
            if dataset_id in self._cache:
                return self._cache[dataset_id]
        s = self._settings
        arn = f"arn:aws:quicksight:{s.region}:{s.quicksight_account_id}:dataset/{dataset_id}"
        tags = self._client.list_tags_for_resource(ResourceArn=arn).get("Tags") or []
        state = next((t["Value"] for t in tags if t["Key"] == CHECKS_TAG), "unknown")
        with self._lock:
            self._cache[dataset_id] = state
        return state


def local_reports(settings: Settings) -> LocalReports:
    client = aws.client("quicksight", settings)
    account = settings.quicksight_account_id
    dashboard_id = f"{settings.quicksight_prefix}seller-insights"
    return LocalReports(
        lambda: published_definitions(client, account, dashboard_id),
        SpiceStore(settings.quicksight_state_dir / "spice"),
        SellerNames(settings),
        checks=DataSetChecks(client, settings),
    )
