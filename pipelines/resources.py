"""Resources by environment: the one place that turns `GITGOODS_ENV` into the pipeline's clients.

`local` (default): DynamoDB Local and the moto server on loopback, the lake in a folder on disk
(or `s3://` on moto when `GITGOODS_LAKE_URI` says so), the Glue catalog on moto.
`aws`: the same code against DynamoDB, S3 and Glue.
"""

from __future__ import annotations

import dagster as dg

from gitgoods.settings import Settings, get_settings
from pipelines.lake.catalog import GlueCatalog
from pipelines.lake.fs import LakeFS


class DynamoResource(dg.ConfigurableResource):
    """Where the storefront's tables are: the endpoint comes from the settings."""

    table_prefix: str

    def settings(self) -> Settings:
        base = get_settings()
        if base.table_prefix == self.table_prefix:
            return base
        return base.model_copy(update={"table_prefix": self.table_prefix})


class LakeResource(dg.ConfigurableResource):
    """The lake (disk or S3) and its Glue catalog."""

    uri: str
    glue_database: str
    register_in_glue: bool = True

    def open(self) -> LakeFS:
        return LakeFS.from_uri(self.uri, settings=get_settings())

    def catalog(self) -> GlueCatalog | None:
        if not self.register_in_glue:
            return None
        return GlueCatalog(settings=get_settings(), database=self.glue_database)


class QuickSightResource(dg.ConfigurableResource):
    """The QuickSight API of the environment (the moto server with the local extension, or AWS)."""

    account_id: str

    def open(self):  # noqa: ANN201 - pipelines.publish.api.QuickSight, imported lazily
        from gitgoods import aws
        from pipelines.publish.api import QuickSight

        return QuickSight(aws.client("quicksight", get_settings()), self.account_id)


class MissingSetting(RuntimeError):
    pass


def resources_for(settings: Settings | None = None) -> dict[str, dg.ConfigurableResource]:
    settings = settings or get_settings()
    if settings.env == "aws" and not (settings.lake_uri or "").startswith("s3://"):
        raise MissingSetting("GITGOODS_ENV=aws needs the lake on S3: set GITGOODS_LAKE_URI=s3://bucket/prefix")
    return {
        "dynamo": DynamoResource(table_prefix=settings.table_prefix),
        "lake": LakeResource(uri=settings.lake, glue_database=settings.glue_database),
        "quicksight": QuickSightResource(account_id=settings.quicksight_account_id),
    }
