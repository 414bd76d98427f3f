"""`make up`: start the local stack in the background, seed it once, load the lake, print where
everything listens. Each phase shows one progress bar; what the phases print, the Dagster runs'
logs and Python's warnings go to the log folder; the summary ends with each phase's seconds
(also written to `up-timings.json` in the log folder).

A second `make up` does only what is missing: running processes are kept, the simulation runs
once per seed, the ingest loads the days not loaded yet and the models build the partitions not
built yet (both always refresh the open day), the publish refreshes the data sets whose marts
changed."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import IO

from gitgoods.identity import Identities
from gitgoods.local import processes, stack
from gitgoods.settings import Settings, get_settings

UP_LOG = "up.log"
TIMINGS = "up-timings.json"
# The history a stack without simulated shoppers starts with.
DEFAULT_HISTORY_DAYS = 90


def send_logs_to(log: IO[str]) -> None:
    """Python's logging and warnings (Dagster's PreviewWarning among them) into `log`, none on the
    terminal: called once, by the command, before the pipeline is imported."""
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)


@contextlib.contextmanager
def only_one_up(settings: Settings) -> Iterator[bool]:
    """An exclusive lock on the home's `state/up.lock` while `make up` runs (released by the kernel
    if it dies): False when another `make up` on the same home holds it."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(settings.state_dir / "up.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def up(settings: Settings, *, seed: bool, random_seed: int, days: int, ingest: bool) -> int:
    with only_one_up(settings) as alone:
        if not alone:
            print(f"error: another `make up` is running on {settings.home}", file=sys.stderr)
            return 1
        return _up(settings, seed=seed, random_seed=random_seed, days=days, ingest=ingest)


def _up(settings: Settings, *, seed: bool, random_seed: int, days: int, ingest: bool) -> int:
    from launcher.phases import Phases

    settings.log_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.log_dir / UP_LOG, "a") as log:
        send_logs_to(log)
        print(f"Local state folder: {settings.home} (logs in {settings.log_dir})")
        phases = Phases(log)
        started = time.monotonic()
        try:
            services, identities, results = _run(settings, phases, seed=seed, random_seed=random_seed, days=days,
                                                 ingest=ingest)
        except processes.StartError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            phases.write(settings.log_dir / TIMINGS)
    for line in results:
        print(line)
    print(f"\nReady in {time.monotonic() - started:.0f}s:")
    for service in services:
        print(f"  {service.name:<40} {service.url}")
    print(f"  {'logs':<40} {settings.log_dir}")
    _print_sign_ins(identities)
    print(f"Phases (seconds, also in {settings.log_dir / TIMINGS}):")
    print("\n".join(phases.table()))
    print("Stop everything with `make down`.")
    return 0


def _run(settings: Settings, phases, *, seed: bool, random_seed: int, days: int, ingest: bool  # noqa: ANN001
         ) -> tuple[list[stack.Service], Identities, list[str]]:
    from pipelines.lake.catalog import GlueCatalog, rebuild_catalog
    from pipelines.lake.fs import open_lake

    services: list[stack.Service] = []
    # moto keeps nothing on disk: put the lake's tables and partitions back into its Glue catalog.
    phases.steps("emulators", [
        ("DynamoDB Local, moto", lambda: services.extend(stack.start_emulators(settings))),
        ("Glue catalog", lambda: rebuild_catalog(open_lake(settings=settings), GlueCatalog(settings=settings),
                                                 zones=("raw", "quarantine", "dim", "stg", "state", "marts"))),
    ])
    phases.steps("services", [
        ("catalog, orders, web", lambda: services.extend(stack.start_services(settings))),
        ("order events", lambda: services.append(stack.start_events(settings))),
        ("unpaid-order sweep", lambda: services.append(stack.start_sweep(settings))),
    ])
    if seed:
        from storefront.simulate.run import seed_and_simulate

        with phases.timed("seed and simulate"):  # its bars: the shoppers' orders, then their visits
            seed_and_simulate(settings, seed=random_seed, days=days)
    # moto forgets the Cognito pool: rebuild it (same users, same local passwords) at every start.
    identities = Identities(settings)
    phases.steps("sign-ins", [("Cognito users", identities.rebuild)])
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    settings = set_pipeline_start(settings)
    phases.steps("dagster", [("Dagster UI", lambda: services.append(stack.start_dagster(settings)))])
    results = []
    if ingest:
        results = _load_the_lake(phases)
    # After the first load: from then on every change reaches the lake through the streams.
    phases.steps("change capture", [("stream consumer", lambda: services.append(stack.start_stream(settings)))])
    phases.steps("portal", [("seller portal", lambda: services.append(stack.start_portal(settings)))])
    return services, identities, results


def set_pipeline_start(settings: Settings) -> Settings:
    """The pipeline's first day for the Dagster processes started from here and the loads run here:
    `GITGOODS_PIPELINE_START` when set, else the first day the shopper simulation wrote, else
    `DEFAULT_HISTORY_DAYS` before today (a stack without simulated shoppers). The pipeline reads it
    as a setting (`pipelines.pipeline_start`), so it goes into this process's environment, which
    the Dagster UI and its runs inherit."""
    if settings.pipeline_start is None:
        from storefront.simulate.run import simulated_first_day

        start = simulated_first_day(settings) or datetime.now(UTC).date() - timedelta(days=DEFAULT_HISTORY_DAYS)
        os.environ["GITGOODS_PIPELINE_START"] = start.isoformat()
        get_settings.cache_clear()
        settings = settings.model_copy(update={"pipeline_start": start})
    return settings


def _load_the_lake(phases) -> list[str]:  # noqa: ANN001 - launcher.phases.Phases
    import dagster as dg

    from pipelines.backfill import build_all, load_all_days, publish_all, release_abandoned_runs

    instance = dg.DagsterInstance.get()  # opened once for the three (each opening checks its storage)
    release_abandoned_runs(instance)  # a killed earlier make up's runs would hold their tables' pools
    with phases.timed("ingest"):
        summary = load_all_days(instance)
    with phases.timed("marts"):
        marts = build_all(instance)
    with phases.timed("publish"):
        published = publish_all(instance)
    failed = marts["failed_checks"]
    refreshed = sum(1 for v in published["ingestions"].values() if v == "completed")
    return [
        f"ingest: {summary['loaded']} day partitions loaded, {summary['failed']} failed, {summary['days']} in all",
        f"models: {'built and checked' if marts['success'] else 'FAILED'}"
        + (f"; failing checks: {', '.join(failed)}" if failed else ""),
        f"publish: {'done' if published['success'] else 'FAILED'} ({refreshed} SPICE data sets refreshed)",
    ]


def _print_sign_ins(identities: Identities) -> None:
    """One seller's and the analyst's local sign-in for the portal. Passwords are shown only on a
    terminal, so they never end up in a captured log; elsewhere the command that shows them."""
    sellers = sorted(s.username for s in identities.sellers() if s.enabled)
    users = [("seller", sellers[0])] if sellers else []
    users += [("analyst", name) for name in sorted(identities.analysts())[:1]]
    for role, name in users:
        if sys.stdout.isatty():
            secret = identities.local_password(name)
        else:
            secret = f"(run `.venv/bin/gitgoods password {name}`)"
        print(f"  {'portal sign-in (' + role + ')':<40} {name} / {secret}")

