"""The portal as the benchmark serves it (gunicorn `portal_app:app()` with `--pythonpath bench`).

`BENCH_VARIANT=spice` is the portal as shipped: reports from the local SPICE snapshots with the
render cache. `BENCH_VARIANT=live` is the competing approach: no snapshots and no render cache;
every request reads the seller's rows of each mart from the lake (pyarrow dataset, filters on the
seller and the days pushed down), applies the data set's casts and renames, and renders.
Seller names come from `BENCH_NAMES` (a JSON file) instead of the sellers table.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from gitgoods import aws
from gitgoods.local.quicksight.casts import convert, drop_unconverted
from gitgoods.local.quicksight.dataprep import apply_transforms, source_table
from gitgoods.local.quicksight.spice import Snapshot, SpiceStore
from gitgoods.settings import get_settings
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.reading import dataset as lake_dataset
from pipelines.publish import rls as rls_rules
from portal.app import create_app
from portal.render.local import DataSetChecks
from portal.render.published import published_definitions
from portal.render.reports import LocalReports


class LiveReports(LocalReports):
    """Reads the lake on every request instead of a snapshot (see the module docstring)."""

    def __init__(self, *args: Any, lake: LakeFS, **kwargs: Any) -> None:
        super().__init__(*args, cache_bytes=1, **kwargs)
        self._lake = lake
        self._request = threading.local()

    def page(self, viewer, seller_id: str, start: date | None, end: date | None):  # type: ignore[no-untyped-def]
        self._request.memo, self._request.seller = {}, seller_id
        try:
            return super().page(viewer, seller_id, start, end)
        finally:
            self._request.memo = None

    def _snapshot(self, dataset_id: str) -> Snapshot | None:
        memo = getattr(self._request, "memo", None)
        if memo is None:  # outside a page (seller lists): the snapshots
            return super()._snapshot(dataset_id)
        if dataset_id not in memo:
            memo[dataset_id] = self._read(dataset_id, self._request.seller)
        return memo[dataset_id]

    def _read(self, dataset_id: str, seller_id: str) -> Snapshot:
        _raw, datasets = self._definitions()
        definition = next((d for d in datasets.values() if d["DataSetId"] == dataset_id), None)
        if definition is None:  # the RLS data set: the rules file
            rules = rls_rules.read_rules(self._lake) or []
            data = pa.table({"UserName": [r.user_name for r in rules], "GroupName": [r.group_name for r in rules],
                             "seller_id": [r.seller_id for r in rules]})
        else:
            relational, transforms = source_table(definition)
            mart = relational["Name"].removeprefix("marts_")
            table = lake_dataset(self._lake, mart, zone="marts").to_table(filter=ds.field("seller_id") == seller_id)
            columns = {}
            bad = None
            for column in relational["InputColumns"]:
                values, failed = convert(table[column["Name"]], column["Type"])
                columns[column["Name"]] = values
                bad = failed if bad is None else (pc.or_(bad, failed) if failed is not None else bad)
            data, _ = drop_unconverted(pa.table(columns), bad)
            data, _ = apply_transforms(data, transforms)
        return Snapshot(dataset_id, uuid.uuid4().hex, datetime.now(UTC), data.num_rows, "", 0, None, None, data)


def app():  # type: ignore[no-untyped-def]
    settings = get_settings()
    client = aws.client("quicksight", settings)
    account, dashboard_id = settings.quicksight_account_id, f"{settings.quicksight_prefix}seller-insights"
    names = json.loads(Path(os.environ["BENCH_NAMES"]).read_text())
    args = (lambda: published_definitions(client, account, dashboard_id),
            SpiceStore(settings.quicksight_state_dir / "spice"), lambda: names)
    checks = DataSetChecks(client, settings)
    if os.environ.get("BENCH_VARIANT") == "live":
        reports = LiveReports(*args, checks=checks, lake=LakeFS.from_uri(settings.lake, settings))
    else:
        reports = LocalReports(*args, checks=checks)
    return create_app(settings=settings, reports=reports)
