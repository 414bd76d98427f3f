"""At most one run writes a lake table at a time: every asset that writes lake partitions holds
its table's Dagster concurrency pool, and the instance the local stack writes limits each pool to
one step, also for the runs `make up` starts in its own process. (A race that gets past the
orchestrator fails at the switch: tests/test_lake.py::test_a_lost_race_fails_loudly.)"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import dagster as dg

from gitgoods.local.stack import write_dagster_instance
from gitgoods.settings import Settings
from pipelines.defs.ingest.assets import ASSETS as INGEST_ASSETS
from pipelines.defs.marts.assets import ASSETS as MART_ASSETS
from pipelines.defs.marts.assets import DAILY_ASSETS, MODELS
from pipelines.lake.partitions.layout import writers_pool
from pipelines.resources import LakeResource


def test_every_lake_writer_holds_its_tables_pool() -> None:
    expected = {("raw", a.key.to_user_string()): a for a in INGEST_ASSETS}
    expected |= {(m.zone, m.name): a for a, m in zip(MART_ASSETS, MODELS.values(), strict=True)}
    for (zone, table), asset in expected.items():
        assert asset.op.pool == writers_pool(zone, table) == f"lake/{zone}/{table}"
    assert len({a.op.pool for a in expected.values()}) == len(expected)  # one pool per table


def test_the_stacks_instance_limits_every_pool_to_one_step(tmp_path: Path) -> None:
    settings = Settings(env="local", home=tmp_path)
    write_dagster_instance(settings)
    write_dagster_instance(settings)  # rewritten at every start, the same
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        assert instance.event_log_storage.supports_global_concurrency_limits


def test_a_second_run_of_a_table_waits_for_the_first(tmp_path: Path) -> None:
    """Another run's step holds the table's pool: a run of the same asset and partition, in this
    process as `make up` runs them, does not start its step until that slot is freed."""
    settings = Settings(env="local", home=tmp_path)
    write_dagster_instance(settings)
    asset = DAILY_ASSETS[0]
    pool = asset.op.pool
    day = asset.partitions_def.get_partition_keys()[0]
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default(pool)
        assert storage.claim_concurrency_slot(pool, "first-run", "first-step").is_claimed
        results: list[dg.ExecuteInProcessResult] = []

        def second_run() -> None:
            # The step's body is not the point here: the lake URI is unusable, so it fails as soon
            # as it starts. What matters is when it starts.
            results.append(
                dg.materialize(
                    [asset], partition_key=day, instance=instance, raise_on_error=False,
                    resources={"lake": LakeResource(uri="ftp://nowhere/lake", glue_database="unused")},
                )
            )

        thread = threading.Thread(target=second_run)
        thread.start()
        deadline = time.monotonic() + 30
        while not storage.get_concurrency_info(pool).pending_step_count and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # waiting, not about to start
        info = storage.get_concurrency_info(pool)
        assert info.pending_step_count == 1 and [s.run_id for s in info.claimed_slots] == ["first-run"]
        assert thread.is_alive()

        storage.free_concurrency_slots_for_run("first-run")
        thread.join(60)
        (result,) = results
        events = [e.event_type_value for e in result.all_events]
        assert "STEP_START" in events  # it ran once the slot was free ...
        info = storage.get_concurrency_info(pool)
        assert not info.claimed_slots and not info.pending_step_count  # ... and gave the slot back


def test_a_killed_make_up_s_runs_give_their_pools_back_to_the_next(tmp_path: Path) -> None:
    """A `make up` killed mid-load leaves its run marked as running and its step holding the
    table's slot; the next `make up` marks that run failed and frees the slot, so its own load of
    the table does not wait forever. Runs not made by `make up` are left alone."""
    from pipelines.backfill import release_abandoned_runs

    settings = Settings(env="local", home=tmp_path)
    write_dagster_instance(settings)
    pool = DAILY_ASSETS[0].op.pool
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default(pool)
        killed = instance.create_run_for_job(
            dg.define_asset_job("killed").resolve(asset_graph=dg.Definitions(assets=[]).resolve_asset_graph()),
            tags={"gitgoods/reason": "initial-load"}, status=dg.DagsterRunStatus.STARTED,
        )
        scheduled = instance.create_run_for_job(
            dg.define_asset_job("scheduled").resolve(asset_graph=dg.Definitions(assets=[]).resolve_asset_graph()),
            tags={"dagster/schedule_name": "daily_ingest"}, status=dg.DagsterRunStatus.STARTED,
        )
        assert storage.claim_concurrency_slot(pool, killed.run_id, "raw_sales").is_claimed

        assert release_abandoned_runs(instance) == [killed.run_id]
        assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
        assert not storage.get_concurrency_info(pool).claimed_slots
        assert instance.get_run_by_id(scheduled.run_id).status == dg.DagsterRunStatus.STARTED
        assert release_abandoned_runs(instance) == []
