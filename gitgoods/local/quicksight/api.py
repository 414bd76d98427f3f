"""QuickSight's asset APIs added to moto's server: data sets in full (`datasets.py`), SPICE
ingestions (`ingestions.py`), dashboards with definitions and versions (`dashboards.py`),
permissions, and tags that persist (`sources.py`).

moto 5 keeps only a data set's id and name, does nothing on CreateIngestion and has no dashboard
versions, definitions or permissions. `install(state_dir)` (called before `ThreadedMotoServer`
starts) routes every QuickSight request to moto's own response class with these operations added
or replaced (`protocol.QuickSightAssets` and the mixins), on AWS's URIs, status codes, error codes
and response shapes (botocore's service model), and keeps what they create in
`<state_dir>/store.json` (`store.py`). Ingestions run in a background thread (`ingest.py`) and
write the local SPICE snapshots (`<state_dir>/spice`, `spice.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from moto.quicksight import urls as moto_urls
from moto.quicksight.models import quicksight_backends

from gitgoods.local.quicksight.dashboards import DashboardOperations
from gitgoods.local.quicksight.datasets import DataSetOperations
from gitgoods.local.quicksight.ingestions import IngestionOperations
from gitgoods.local.quicksight.protocol import QuickSightAssets
from gitgoods.local.quicksight.sources import SourceAndTagOperations
from gitgoods.local.quicksight.spice import SpiceStore
from gitgoods.local.quicksight.state import activate, installed_state_dir
from gitgoods.local.quicksight.store import Store

__all__ = ["ROUTES", "install", "installed_state_dir"]

ACCOUNT = r"{0}/accounts/(?P<AwsAccountId>[^/]+)"
ROUTES = [
    ACCOUNT + r"/data-sets$",
    ACCOUNT + r"/data-sets/(?P<DataSetId>[^/]+)$",
    ACCOUNT + r"/data-sets/(?P<DataSetId>[^/]+)/permissions$",
    ACCOUNT + r"/data-sets/(?P<DataSetId>[^/]+)/ingestions$",
    ACCOUNT + r"/data-sets/(?P<DataSetId>[^/]+)/ingestions/(?P<IngestionId>[^/]+)$",
    ACCOUNT + r"/data-sources/(?P<DataSourceId>[^/]+)/permissions$",
    ACCOUNT + r"/dashboards$",
    ACCOUNT + r"/dashboards/(?P<DashboardId>[^/]+)$",
    ACCOUNT + r"/dashboards/(?P<DashboardId>[^/]+)/definition$",
    ACCOUNT + r"/dashboards/(?P<DashboardId>[^/]+)/permissions$",
    ACCOUNT + r"/dashboards/(?P<DashboardId>[^/]+)/versions$",
    ACCOUNT + r"/dashboards/(?P<DashboardId>[^/]+)/versions/(?P<VersionNumber>[^/]+)$",
]
_routed: dict[str, Any] = {}  # "routes": the response class moto's QuickSight routes were pointed at


def _restore(st: Store) -> None:
    """Put the stored data sources and tags back into moto; fail ingestions a restart cut short."""
    for account, region, scope in st.scopes():
        backend = quicksight_backends[account][region]
        for ident, record in scope["data_sources"].items():
            req = record.get("Request")
            if req and ident not in backend.data_sources:
                backend.create_data_source(
                    account,
                    ident,
                    req["Name"],
                    req["Type"],
                    req.get("DataSourceParameters"),
                    req.get("VpcConnectionProperties"),
                    req.get("SslProperties"),
                )
        for kind in ("data_sets", "dashboards", "data_sources"):
            for record in scope[kind].values():
                if record.get("Tags") and record.get("Arn"):
                    backend.tagger.tag_resource(record["Arn"], record["Tags"])
        for record in scope["data_sets"].values():
            for ing in record["Ingestions"].values():
                if ing["IngestionStatus"] in ("INITIALIZED", "QUEUED", "RUNNING"):
                    ing["IngestionStatus"] = "FAILED"
                    ing["ErrorInfo"] = {"Type": "INTERNAL_SERVICE_ERROR", "Message": "the server stopped during it"}


def install(state_dir: Path) -> None:
    """Load the store from `state_dir` and route QuickSight to the asset operations (before the
    moto server starts: moto builds its QuickSight routes on the first QuickSight request)."""
    state_dir = Path(state_dir)
    st = Store(state_dir).load()
    _restore(st)
    activate(st, SpiceStore(state_dir / "spice"), state_dir)
    st.save()
    if "routes" not in _routed:
        mixins = (DashboardOperations, SourceAndTagOperations, DataSetOperations, IngestionOperations)
        cls = type("QuickSightAssetsAll", (*mixins, QuickSightAssets), {})
        paths = {pattern: cls.dispatch for pattern in moto_urls.url_paths}
        paths.update({pattern: cls.dispatch for pattern in ROUTES})
        moto_urls.url_paths.clear()
        moto_urls.url_paths.update(paths)
        _routed["routes"] = cls
