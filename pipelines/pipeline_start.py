"""The pipeline's first day: where the daily and monthly partitions begin.

It is a setting (`GITGOODS_PIPELINE_START`), not something worked out when the code location
loads: importing the definitions reads neither the clock nor the disk, and every process that
loads them (the UI, the daemon, a run's workers) agrees on the same partitions. `make up` sets it
from the shopper simulation's window (`launcher.up`); on AWS it is part of the deployment's
configuration."""

from __future__ import annotations

from datetime import date

from gitgoods.settings import Settings, get_settings


class PipelineStartMissing(RuntimeError):
    """The pipeline's first day is not configured."""


def first_day(settings: Settings | None = None) -> date:
    """`GITGOODS_PIPELINE_START`; a clear error when it is not set."""
    settings = settings or get_settings()
    if settings.pipeline_start is None:
        raise PipelineStartMissing(
            "GITGOODS_PIPELINE_START is not set: the pipeline's first day (YYYY-MM-DD), where its daily "
            "and monthly partitions begin. `make up` sets it from the shopper simulation's window; "
            "set it in the environment to load the definitions anywhere else."
        )
    return settings.pipeline_start
