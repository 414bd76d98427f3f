"""The pipeline's one `Definitions`: every group's assets, checks, schedules and sensors, with
the resources of the current environment (`GITGOODS_ENV`)."""

from __future__ import annotations

import dagster as dg

from pipelines.defs.dimensions.schedules import JOBS as DIMENSION_JOBS
from pipelines.defs.dimensions.schedules import SCHEDULES as DIMENSION_SCHEDULES
from pipelines.defs.ingest.assets import ASSETS as INGEST_ASSETS
from pipelines.defs.ingest.history import JOBS as HISTORY_JOBS
from pipelines.defs.ingest.schedules import JOBS as INGEST_JOBS
from pipelines.defs.ingest.schedules import SCHEDULES as INGEST_SCHEDULES
from pipelines.defs.marts.assets import ASSETS as MART_ASSETS
from pipelines.defs.marts.assets import PACK_ASSETS
from pipelines.defs.marts.schedules import JOBS as MART_JOBS
from pipelines.defs.marts.schedules import SCHEDULES as MART_SCHEDULES
from pipelines.defs.publish.assets import ASSETS as PUBLISH_ASSETS
from pipelines.defs.publish.assets import JOBS as PUBLISH_JOBS
from pipelines.defs.publish.schedules import SCHEDULES as PUBLISH_SCHEDULES
from pipelines.resources import resources_for

defs = dg.Definitions(
    assets=[*INGEST_ASSETS, *MART_ASSETS, *PACK_ASSETS, *PUBLISH_ASSETS],
    jobs=[*INGEST_JOBS, *HISTORY_JOBS, *MART_JOBS, *DIMENSION_JOBS, *PUBLISH_JOBS],
    schedules=[*INGEST_SCHEDULES, *MART_SCHEDULES, *DIMENSION_SCHEDULES, *PUBLISH_SCHEDULES],
    resources=resources_for(),
)
