"""The resources publishing wants: the definitions of `quicksight/` with their permissions.

Analysts (the QuickSight group `analysts`) may use the data source, read every data set and its
ingestions, and open the dashboard; sellers (group `sellers`) may open the dashboard, where the RLS
data set limits each to its own rows. The definitions are completed from `models.yml` first: a
column a mart gains is published in its data set (see `definitions.complete`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gitgoods.settings import Settings
from pipelines.marts.models import Model, discover
from pipelines.publish import definitions
from pipelines.publish.complete import complete
from pipelines.publish.plan import Wanted

DATA_SOURCE_ACTIONS = (
    "quicksight:DescribeDataSource",
    "quicksight:DescribeDataSourcePermissions",
    "quicksight:PassDataSource",
)
DATA_SET_ACTIONS = (
    "quicksight:DescribeDataSet",
    "quicksight:DescribeDataSetPermissions",
    "quicksight:DescribeIngestion",
    "quicksight:ListIngestions",
    "quicksight:PassDataSet",
)
DASHBOARD_ACTIONS = (
    "quicksight:DescribeDashboard",
    "quicksight:ListDashboardVersions",
    "quicksight:QueryDashboard",
)


def group_arn(settings: Settings, group: str) -> str:
    return (
        f"arn:aws:quicksight:{settings.region}:{settings.quicksight_account_id}:group/"
        f"{settings.quicksight_namespace}/{group}"
    )


def _request(req: dict) -> dict:
    return {k: v for k, v in req.items() if k != "AwsAccountId"}


@dataclass(frozen=True)
class Publication:
    """Everything to publish, by asset: the data source, the RLS data set, one data set per mart,
    the dashboard."""

    data_source: Wanted
    rls: Wanted
    datasets: dict[str, Wanted]
    dashboard: Wanted

    def all(self) -> list[Wanted]:
        return [self.data_source, self.rls, *self.datasets.values(), self.dashboard]


def publication(
    settings: Settings, defs: definitions.Definitions | None = None, models: Mapping[str, Model] | None = None
) -> Publication:
    """The definitions checked against the models (a column they name that a mart no longer has
    stops here), completed with the columns the marts gained, with their permissions."""
    defs = defs or definitions.load(settings)
    models = models if models is not None else discover()
    definitions.validate_all(defs, models)
    datasets = complete(defs.datasets, models)
    analysts = group_arn(settings, settings.analysts_group)
    sellers = group_arn(settings, settings.sellers_group)
    return Publication(
        data_source=Wanted("data_source", _request(defs.data_source), {analysts: DATA_SOURCE_ACTIONS}),
        rls=Wanted("data_set", _request(defs.rls), {analysts: DATA_SET_ACTIONS}),
        datasets={
            mart: Wanted("data_set", _request(req), {analysts: DATA_SET_ACTIONS})
            for mart, req in sorted(datasets.items())
        },
        dashboard=Wanted(
            "dashboard", _request(defs.dashboard), {analysts: DASHBOARD_ACTIONS, sellers: DASHBOARD_ACTIONS}
        ),
    )
