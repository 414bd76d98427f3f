"""The published version of a dashboard from the QuickSight API: its Definition and its data
sets, fetched again only when the published version number changes.

    reports = LocalReports(lambda: published_definitions(quicksight, account_id, dashboard_id), spice)
"""

from __future__ import annotations

import threading
import time
from typing import Any

from portal.render.model import dataset_id_from_arn

_published_lock = threading.Lock()
_published: dict[tuple[str, str], tuple[int, dict, dict[str, dict], float]] = {}


def published_definitions(
    quicksight_client: Any, account_id: str, dashboard_id: str, *, ttl: float = 5.0
) -> tuple[dict, dict[str, dict]]:
    """(Definition, {data set ARN: DataSet}) of the dashboard's published version.

    DescribeDashboard (no version: the published one) gives the version number, checked at most
    every `ttl` seconds; DescribeDashboardDefinition of that version and DescribeDataSet of its
    data sets are fetched only when the number changes. The same objects are returned while it
    does not, so `LocalReports` keeps its parsed definition and its cache.
    """
    key = (account_id, dashboard_id)
    now = time.monotonic()
    with _published_lock:
        cached = _published.get(key)
    if cached is not None and now - cached[3] < ttl:
        return cached[1], cached[2]
    described = quicksight_client.describe_dashboard(AwsAccountId=account_id, DashboardId=dashboard_id)
    version = int(described["Dashboard"]["Version"]["VersionNumber"])
    if cached is not None and cached[0] == version:
        with _published_lock:
            _published[key] = (version, cached[1], cached[2], now)
        return cached[1], cached[2]
    definition = quicksight_client.describe_dashboard_definition(
        AwsAccountId=account_id, DashboardId=dashboard_id, VersionNumber=version
    )["Definition"]
    datasets: dict[str, dict] = {}
    for declaration in definition.get("DataSetIdentifierDeclarations") or []:
        arn = declaration["DataSetArn"]
        if arn not in datasets:
            datasets[arn] = quicksight_client.describe_data_set(
                AwsAccountId=account_id, DataSetId=dataset_id_from_arn(arn)
            )["DataSet"]
    with _published_lock:
        _published[key] = (version, definition, datasets, now)
    return definition, datasets
