"""A published world for the sellers' insight tests: the hand-made story of `tests/marts_data.py`
built into every mart by Dagster (behind their blocking checks), registered in Glue on the moto
server, sellers S1-S3 and an analyst in a Cognito pool, and everything published to the local
QuickSight with SPICE ingested - exactly what `make up` does, at the size of a test.

Use the `world` fixture (session-wide: building it takes a while); tests that change it (disable a
seller, add a column) undo what they did.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest

from gitgoods.identity import Identities
from gitgoods.local.quicksight.spice import SpiceStore
from gitgoods.local.secrets import ensure_local_secrets
from gitgoods.settings import Settings, get_settings, reset_settings
from pipelines.lake.fs import LakeFS
from tests.marts_data import days_between, put_dimensions, record_raw_checks, story_days, write_raw

_this_month = dt.date.today().replace(day=1)
DAYS = story_days((_this_month - dt.timedelta(days=1)).replace(day=1))
MONTH = DAYS[0][:7] + "-01"


@dataclass
class World:
    settings: Settings
    lake: LakeFS
    instance: dg.DagsterInstance
    spice: SpiceStore
    identities: Identities
    env: dict[str, str] = field(default_factory=dict)
    days: tuple[str, str, str] = DAYS

    def publish(self) -> dg.ExecuteInJobResult:
        """One run of the `publish` group, with the world's settings in the environment (only then:
        other tests on the same worker must not see them)."""
        from pipelines.defs.publish.assets import ASSETS
        from pipelines.resources import resources_for

        with activated(self.env):
            return dg.materialize(ASSETS, resources=resources_for(), instance=self.instance, raise_on_error=False)


@contextlib.contextmanager
def activated(env: dict[str, str]) -> Iterator[Settings]:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        reset_settings()
        try:
            yield get_settings()
        finally:
            reset_settings()


def _build_marts(instance: dg.DagsterInstance) -> None:
    from pipelines.defs.marts.assets import DAILY_ASSETS, MONTHLY_ASSETS
    from pipelines.resources import resources_for

    # the hand-made raw partitions, as if reconciled by the ingest (after D3 they are empty); the daily
    # models run up to today, since a month's cohorts read every day of the month
    today = dt.date.today().isoformat()
    record_raw_checks(instance, days_between(DAYS[0], today))
    for assets, start, end in ((DAILY_ASSETS, DAYS[0], today), (MONTHLY_ASSETS, MONTH, DAYS[2][:7] + "-01")):
        result = dg.materialize(
            assets,
            resources=resources_for(),
            instance=instance,
            tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end},
            raise_on_error=False,
        )
        failed = [e.asset_check_key for e in result.get_asset_check_evaluations() if not e.passed]
        assert result.success and not failed, f"the story's marts must build and pass their checks: {failed}"


@pytest.fixture(scope="session")
def world(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tag = uuid.uuid4().hex[:8]
    home = tmp_path_factory.mktemp("insights-home")
    lake_uri = f"file://{home / 'lake'}"
    env = {
        "GITGOODS_HOME": str(home),
        "GITGOODS_DYNAMODB_PORT": str(settings.dynamodb_port),
        "GITGOODS_MOTO_PORT": str(settings.moto_port),
        "GITGOODS_TABLE_PREFIX": f"w{tag}-",
        "GITGOODS_LAKE_URI": lake_uri,
        "GITGOODS_GLUE_DATABASE": f"gg_{tag}",
        "GITGOODS_QUICKSIGHT_PREFIX": f"w{tag}-",
        "GITGOODS_COGNITO_POOL_NAME": f"sellers-{tag}",
    }
    from gitgoods.local.quicksight.api import installed_state_dir

    with dg.instance_for_test() as instance:
        with activated(env) as s:
            ensure_local_secrets(s)
            put_dimensions(s)
            lake = LakeFS.from_uri(lake_uri, s)
            write_raw(lake, DAYS)
            _build_marts(instance)
            identities = Identities(s)
            identities.rebuild()
            state = installed_state_dir()
            assert state is not None, "the moto fixture installs the local QuickSight"
            # as `make up` does: the moto server's QuickSight store is the settings' quicksight_state_dir
            s.state_dir.mkdir(parents=True, exist_ok=True)
            s.quicksight_state_dir.symlink_to(Path(state), target_is_directory=True)
        w = World(s, lake, instance, SpiceStore(Path(state) / "spice"), identities, env)
        result = w.publish()
        assert result.success, "publishing the story must succeed"
        yield w
