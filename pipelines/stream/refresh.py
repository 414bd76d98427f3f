"""Today's models from the micro-batches: the ones the freshness goal is about right after each
micro-batch, every other daily model coalesced.

- `Refresher` (called by the consumer with the days a micro-batch published): rebuilds
  `REFRESHED_MODELS` (staging, the first-purchase state, `seller_daily_sales`) for the recent days
  the batch touched (today and the `recent_days` before it; older days changed by a late refund
  are the nightly marts schedule's, which rebuilds the last 35 days), then hands those days to
- `CoalescedRefresh`: every other daily model (the dimension snapshots, then the other marts, in
  dependency order) for the pending days, at most once every `interval_s` seconds while changes are
  pending: a refresh starts `interval_s` after the first change it covers, so a burst of
  micro-batches gives one refresh. It builds one model per call of `tick` (the consumer calls it
  between micro-batches), so a micro-batch waits for at most one of its builds.

Every build is the model asset's write-audit-publish (`pipelines.marts.runner.build` with the
model's suite as audit): a failing suite leaves the previous version current. Each partition
published and each check outcome is reported to the Dagster instance, if there is one. A model is
not built on a day where a model it reads failed (or was skipped) in its latest refresh of that day,
as the gate across runs (`pipelines.defs.marts.gates`) refuses it: it is skipped, with the reason
logged. Monthly models (`buyer_cohorts`) are left to their nightly schedule.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitgoods.settings import Settings
    from pipelines.lake.catalog import GlueCatalog
    from pipelines.lake.fs import LakeFS
    from pipelines.lake.partitions.writer import StagedRun
    from pipelines.marts.models import Model
    from pipelines.stream.apply import DayResult

log = logging.getLogger(__name__)

# The models a micro-batch refreshes at once for the days it touched, in dependency order (the day's
# first purchases before seller_daily_sales, which reads them: docs/incremental.md).
REFRESHED_MODELS = ("stg_sales", "stg_order_events", "stg_event_lines", "state_first_purchase", "seller_daily_sales")
MARTS_INTERVAL_S = 30.0  # the other daily models: at most one refresh per this many seconds

Audit = Callable[["Model", "LakeFS", "list[StagedRun]"], Any]


def coalesced_models(models: dict[str, Model], refreshed: Iterable[str] = REFRESHED_MODELS) -> tuple[str, ...]:
    """The daily models not refreshed with each micro-batch, in dependency order (`models` is
    `discover()`'s, already so ordered): the dimension snapshots and the other marts."""
    skip = set(refreshed)
    return tuple(name for name, m in models.items() if m.partitioned_by == "day" and name not in skip)


class ModelBuilds:
    """Builds one model for one day as its asset does, reports it, and remembers, per day, the
    models whose latest refresh did not publish (so the models reading them wait)."""

    def __init__(self, settings: Settings, lake: LakeFS, catalog: GlueCatalog | None, instance: Any = None,
                 audit: Audit | None = None) -> None:  # fmt: skip
        from pipelines.marts.models import discover
        from pipelines.sql.engine import engine_for

        self.models = discover()
        self.engine = engine_for(settings, lake=lake)
        self.lake, self.catalog = lake, catalog
        self.instance = instance  # a DagsterInstance to report to, or None
        self.audit = audit
        self.failing: dict[str, set[str]] = {}  # day -> models not published by their latest refresh

    def blocked_by(self, model: Model, day: str) -> list[str]:
        from pipelines.marts.models import upstream

        failing = self.failing.get(day, set())
        return [name for name in upstream(model, self.models)[0] if name in failing]

    def build(self, name: str, day: str) -> bool:
        """Refresh `name` for `day`; whether a new version was published. A failing audit is
        reported and logged, not raised; any other error is raised (the caller decides)."""
        from pipelines.defs.marts.checks import failed_metadata, passed_metadata
        from pipelines.marts.runner import AuditFailed, build
        from pipelines.marts.suite import validate_staged

        model = self.models[name]
        blocked = self.blocked_by(model, day)
        if blocked:
            log.warning("%s dt=%s not refreshed: %s did not publish in its latest refresh of the day", name, day,
                        ", ".join(blocked))  # fmt: skip
            self.failing.setdefault(day, set()).add(name)
            return False
        audit = self.audit or validate_staged
        self.failing.setdefault(day, set()).add(name)  # until it is published
        t0 = time.perf_counter()
        try:  # write-audit-publish, as the model's asset does: its suite on the staged runs
            result = build(model, day, day, engine=self.engine, lake=self.lake, catalog=self.catalog,
                           audit=lambda staged: audit(model, self.lake, staged))  # fmt: skip
        except AuditFailed as failed:  # the previous version stays; the models reading it wait
            log.error("%s dt=%s not refreshed: %s", name, day, failed)
            self.report_check(name, False, failed_metadata(failed, day, day))
            return False
        kept = set(getattr(result, "kept", ()))  # a final snapshot is kept, not taken again
        for info in result.partitions:
            if info.dt not in kept:
                self.report(name, info.dt, {"run_id": info.run_id, "rows": info.rows, "source": "stream"})
        self.report_check(name, True, passed_metadata(result, day, day))
        self.failing[day].discard(name)
        log.info("%s dt=%s refreshed: %d rows in %.2f s", name, day, result.rows, time.perf_counter() - t0)
        return True

    def forget_before(self, day: str) -> None:
        for old in [d for d in self.failing if d < day]:
            del self.failing[old]

    def report_check(self, asset: str, passed: bool, metadata: dict[str, Any]) -> None:
        """The model's blocking check as its asset records it (the gate and the publish read it)."""
        if self.instance is None:
            return
        import dagster as dg

        from pipelines.defs.marts.gates import MODEL_CHECK

        self.instance.report_runless_asset_event(
            dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey(asset), check_name=MODEL_CHECK, passed=passed, metadata=metadata
            )  # fmt: skip
        )

    def report(self, asset: str, partition: str, metadata: dict[str, Any]) -> None:
        if self.instance is None:
            return
        import dagster as dg

        self.instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key=asset, partition=partition, metadata=metadata)
        )


class CoalescedRefresh:
    """The other daily models of the pending days, at most once every `interval_s` seconds, one
    model build per `tick` (see the module's docstring). `clock` gives seconds (monotonic)."""

    def __init__(self, builds: ModelBuilds, models: Iterable[str] | None = None, interval_s: float = MARTS_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.builds = builds
        self.models = tuple(models) if models is not None else coalesced_models(builds.models)
        self.interval_s = interval_s
        self.clock = clock
        self.pending: set[str] = set()
        self.since: float | None = None  # when the oldest pending change arrived
        self.queue: deque[tuple[str, str]] = deque()  # (day, model) of the refresh under way
        self.refreshes = 0  # refreshes started

    def add(self, days: Iterable[str]) -> None:
        days = set(days)
        if days and not self.pending:
            self.since = self.clock()
        self.pending |= days

    def due(self) -> bool:
        return bool(self.pending) and self.since is not None and self.clock() - self.since >= self.interval_s

    def tick(self) -> bool:
        """Build the next model of the refresh under way (starting one if it is due); whether more
        work is waiting now."""
        if not self.queue and self.due():
            days, self.pending, self.since = sorted(self.pending), set(), None
            self.queue.extend((day, name) for day in days for name in self.models)
            self.refreshes += 1
            log.info("refreshing %s for %s", ", ".join(self.models), ", ".join(days))
        if not self.queue:
            return False
        day, name = self.queue.popleft()
        try:
            self.builds.build(name, day)
        except Exception:  # e.g. DynamoDB unreachable for a snapshot: this day again at the next refresh
            log.exception("%s dt=%s not refreshed; the day is refreshed again in %.0f s", name, day, self.interval_s)
            self.add([day])
        return bool(self.queue)


class Refresher:
    """Called with the days a micro-batch published: reports the raw partitions, rebuilds `models`
    for the recent ones and hands them to `marts` (a `CoalescedRefresh`) for the other models."""

    def __init__(self, settings: Settings, lake: LakeFS, catalog: GlueCatalog | None,
                 models: Iterable[str] = REFRESHED_MODELS, instance: Any = None, recent_days: int = 1,
                 today: Callable[[], dt.date] | None = None, *, builds: ModelBuilds | None = None,
                 marts: CoalescedRefresh | None = None) -> None:  # fmt: skip
        self.builds = builds or ModelBuilds(settings, lake, catalog, instance)
        self.models = tuple(models)
        self.recent_days = recent_days
        self.today = today or (lambda: dt.datetime.now(dt.UTC).date())
        self.marts = marts

    def __call__(self, days: list[DayResult]) -> None:
        for day in days:
            if "raw" in day.run_ids:
                self.builds.report(day.lake_table, day.day, {"run_id": day.run_ids["raw"], "rows": day.rows["raw"],
                                                            "files": day.files["raw"], "source": "stream"})  # fmt: skip
        oldest = (self.today() - dt.timedelta(days=self.recent_days)).isoformat()
        self.builds.forget_before(oldest)
        keys = sorted({d.day for d in days if d.day >= oldest})
        for key in keys:
            for name in self.models:
                self.builds.build(name, key)
        if self.marts is not None:
            self.marts.add(keys)


__all__ = ["MARTS_INTERVAL_S", "REFRESHED_MODELS", "CoalescedRefresh", "ModelBuilds", "Refresher",
           "coalesced_models"]  # fmt: skip
