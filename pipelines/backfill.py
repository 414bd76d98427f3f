"""What `make up` materialises after the shopper simulation, in this process: the ingest of every
missing day (`load_all_days`), every model over the whole range (`build_all`), and the publish
(`publish_all`). Each is one or more runs in the Dagster instance, so the UI shows every partition
with its metadata and check results; all go through `materialize`, which writes the runs' event
logs to a file (`RUN_LOG` in the log folder) rather than to the terminal.

The ingest runs in this process (`in_process: true` in the run config), not in a worker process
per asset and day as scheduled runs do: this process ends after the load, so no long-lived process
keeps the memory, and 182 worker processes would add ~0.3 s a partition (measured: ~1.0 s a day
through workers against ~0.4 s in process, both assets and both checks, on `make up`'s data).

Each step does only what is missing: the days and the model partitions not yet materialised,
always with the open (current) day and month, which keep changing; the publish refreshes only
the SPICE data sets whose marts changed (`pipelines/defs/publish/assets.py`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import dagster as dg
from dagster._core.definitions.materialize import EPHEMERAL_JOB_NAME  # the name dg.materialize gives
from tqdm import tqdm

from gitgoods.settings import get_settings
from pipelines.defs.ingest.assets import ASSETS as INGEST_ASSETS
from pipelines.defs.marts.assets import DAILY_ASSETS, MONTHLY_ASSETS
from pipelines.defs.partitions import daily, monthly
from pipelines.defs.publish.assets import ASSETS as PUBLISH_ASSETS
from pipelines.resources import resources_for

RUN_LOG = "dagster-runs.log"


@dg.logger(config_schema={"path": str}, description="Every event of the run, DEBUG included, appended to a file.")
def run_log(context: dg.InitLoggerContext) -> logging.Logger:
    path = Path(context.logger_config["path"])
    logger = logging.getLogger(f"gitgoods.runs.{path}")  # one per file, its handler added once
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    if not logger.handlers:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    return logger


def materialize(
    assets: Sequence[dg.AssetsDefinition | dg.AssetChecksDefinition],
    *,
    instance: dg.DagsterInstance,
    resources: Mapping[str, object],
    tags: Mapping[str, str],
    partition_key: str | None = None,
    run_config: Mapping[str, object] | None = None,
    log_file: Path | None = None,
) -> dg.ExecuteInProcessResult:
    """`dg.materialize` (one run in this process, same job name, never raising on a failure), with
    the run's log in `log_file` (default: `RUN_LOG` in the log folder) instead of the console."""
    log_file = log_file or get_settings().log_dir / RUN_LOG
    defs = dg.Definitions(
        jobs=[dg.define_asset_job(EPHEMERAL_JOB_NAME)], assets=assets, resources=resources,
        loggers={"file": run_log},
    )
    return defs.resolve_job_def(EPHEMERAL_JOB_NAME).execute_in_process(
        run_config={**(run_config or {}), "loggers": {"file": {"config": {"path": str(log_file)}}}},
        instance=instance, partition_key=partition_key, raise_on_error=False, tags=dict(tags),
    )


REASONS = ("initial-load", "initial-publish")  # the `gitgoods/reason` tag of the runs made here


def release_abandoned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Runs made here that are still marked as running although the process that ran them is gone
    (a `make up` killed mid-load): marked failed, and their writers' pool slots given back, so the
    next load of their tables does not wait for them forever. Only call it when no other process
    is loading (`make up` holds its lock). Returns their run ids."""
    stale = instance.get_runs(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED],
            tags={"gitgoods/reason": list(REASONS)},
        )
    )
    for run in stale:
        instance.report_run_failed(run, "the process that ran it is gone (released by the next make up)")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
    return [run.run_id for run in stale]


def _done(instance: dg.DagsterInstance, assets: Sequence[dg.AssetsDefinition]) -> set[str]:
    """The partitions every one of `assets` has materialised."""
    done: set[str] | None = None
    for asset in assets:
        materialized = set(instance.get_materialized_partitions(asset.key))
        done = materialized if done is None else done & materialized
    return done or set()


def _bar(total: int, desc: str, unit: str, progress: bool) -> tqdm:
    # `disable=None`: a bar on a terminal, nothing in a log file.
    return tqdm(total=total, desc=desc, unit=unit, disable=None if progress else True)


# -- ingest: every missing day -----------------------------------------------------------------
def missing_days(instance: dg.DagsterInstance, keys: list[str]) -> list[str]:
    """Partitions with no materialisation of every ingest asset yet (today's is always reloaded)."""
    done = _done(instance, INGEST_ASSETS)
    return [k for k in keys if k not in done or k == keys[-1]]


def load_all_days(instance: dg.DagsterInstance | None = None, progress: bool = True) -> dict[str, int]:
    instance = instance or dg.DagsterInstance.get()
    keys = daily.get_partition_keys()
    todo = missing_days(instance, keys)
    resources = resources_for()
    failed = []
    with _bar(len(todo), "ingest", "day", progress) as bar:
        for key in todo:
            result = materialize(
                INGEST_ASSETS,  # with their blocking check inside (write-audit-publish)
                partition_key=key,
                resources=resources,
                instance=instance,
                tags={"gitgoods/reason": "initial-load"},
                run_config={"ops": {a.key.to_user_string(): {"config": {"in_process": True}} for a in INGEST_ASSETS}},
            )
            if not result.success or not all(e.passed for e in result.get_asset_check_evaluations()):
                failed.append(key)
            bar.update(1)
    return {"days": len(keys), "loaded": len(todo) - len(failed), "failed": len(failed)}


# -- marts: every model over the whole range -----------------------------------------------------
def first_missing(instance: dg.DagsterInstance, assets: list[dg.AssetsDefinition], keys: list[str]) -> str:
    """The first partition key some asset has not materialised; the last key when none is missing
    (the open partition is always refreshed, as the ingest refreshes today)."""
    done = _done(instance, assets)
    return next((k for k in keys if k not in done), keys[-1])


def build_all(instance: dg.DagsterInstance | None = None, progress: bool = True) -> dict[str, object]:
    """One run for the daily models and one for the monthly ones, each from the first partition
    missing to the last. Returns {"runs": n, "failed_checks": [...], "success": bool}."""
    instance = instance or dg.DagsterInstance.get()
    resources = resources_for()
    failed: list[str] = []
    success = True
    groups = [(DAILY_ASSETS, daily.get_partition_keys()), (MONTHLY_ASSETS, monthly.get_partition_keys())]
    with _bar(len(groups), "marts", "run", progress) as bar:
        for assets, keys in groups:
            if assets and keys:
                result = materialize(
                    assets,  # with their blocking checks inside (write-audit-publish)
                    resources=resources,
                    instance=instance,
                    tags={
                        "dagster/asset_partition_range_start": first_missing(instance, assets, keys),
                        "dagster/asset_partition_range_end": keys[-1],
                        "gitgoods/reason": "initial-load",
                    },
                )
                success = success and result.success
                failed += [e.asset_key.to_user_string() for e in result.get_asset_check_evaluations() if not e.passed]
            bar.update(1)
    return {"runs": 2, "failed_checks": failed, "success": success}


# -- publish: everything once -----------------------------------------------------------------------
def publish_all(instance: dg.DagsterInstance | None = None, progress: bool = True) -> dict[str, object]:
    """One run of the group `publish`. Returns {"success": bool, "ingestions": {asset: what
    happened to its SPICE data}}."""
    instance = instance or dg.DagsterInstance.get()
    with _bar(1, "publish", "run", progress) as bar:
        result = materialize(
            PUBLISH_ASSETS, resources=resources_for(), instance=instance, tags={"gitgoods/reason": "initial-publish"},
        )
        bar.update(1)
    ingestions = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        value = materialization.metadata.get("ingestion")
        if value is not None:
            ingestions[materialization.asset_key.to_user_string()] = value.value
    return {"success": result.success, "ingestions": ingestions}
