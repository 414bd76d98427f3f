"""`gitgoods` command: run the local stack (what `make up` / `make down` call)."""

from __future__ import annotations

import argparse
import os
import sys
import time

from gitgoods.local import processes, stack
from gitgoods.settings import get_settings


def cmd_up(args: argparse.Namespace) -> int:
    settings = get_settings()
    started = time.monotonic()
    if settings.env == "aws":
        print("error: `make up` runs the local stack; GITGOODS_ENV=aws is for the deployed services "
              "(see docs/storefront.md)", file=sys.stderr)
        for problem in settings.unsafe_for_aws():
            print(f"  unsafe here: {problem}", file=sys.stderr)
        return 1
    print(f"Local state folder: {settings.home}")
    try:
        services = stack.start_emulators(settings)
        services += stack.start_services(settings)
        services.append(stack.start_events(settings))
        services.append(stack.start_sweep(settings))
    except processes.StartError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    # moto keeps nothing on disk: put the lake's tables and partitions back into its Glue catalog.
    from pipelines.lake.catalog import GlueCatalog, rebuild_catalog
    from pipelines.lake.fs import open_lake

    rebuild_catalog(
        open_lake(settings=settings), GlueCatalog(settings=settings), zones=("raw", "quarantine", "stg", "marts")
    )
    if args.seed:
        from storefront.simulate.run import seed_and_simulate

        seed_and_simulate(settings, seed=args.random_seed, days=args.days)
    # moto forgets the Cognito pool: rebuild it (same users, same local passwords) at every start.
    from gitgoods.identity import Identities

    identities = Identities(settings)
    identities.rebuild()
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    try:
        services.append(stack.start_dagster(settings))
    except processes.StartError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.ingest:
        from pipelines.backfill import load_all_days

        summary = load_all_days()
        print(
            f"ingest: {summary['loaded']} day partitions loaded, {summary['failed']} failed, {summary['days']} in all"
        )
        from pipelines.defs.marts.backfill import build_all

        marts = build_all()
        failed = marts["failed_checks"]
        print(f"models: {'built and checked' if marts['success'] else 'FAILED'}"
              + (f"; failing checks: {', '.join(failed)}" if failed else ""))
        from pipelines.defs.publish.run import publish_all

        published = publish_all()
        refreshed = sum(1 for v in published["ingestions"].values() if v == "completed")
        print(f"publish: {'done' if published['success'] else 'FAILED'} ({refreshed} SPICE data sets refreshed)")
    try:
        services.append(stack.start_portal(settings))
    except processes.StartError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"\nReady in {time.monotonic() - started:.0f}s:")
    for service in services:
        print(f"  {service.name:<40} {service.url}")
    print(f"  {'logs':<40} {settings.log_dir}")
    _print_sign_ins(identities)
    print("Stop everything with `make down`.")
    return 0


def _print_sign_ins(identities) -> None:  # noqa: ANN001 - gitgoods.identity.Identities
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


def cmd_password(args: argparse.Namespace) -> int:
    """Print a local portal user's password (kept owner-only in the local secrets folder)."""
    from gitgoods.identity import Identities

    password = Identities(get_settings()).local_password(args.user)
    if password is None:
        print(f"error: no local password for {args.user!r}", file=sys.stderr)
        return 1
    print(password)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    stopped = stack.stop_all(get_settings())
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    for name, pid in stack.state_summary(get_settings()).items():
        print(f"{name:<10} {f'running (pid {pid})' if pid else 'stopped'}")
    return 0


def cmd_tables(args: argparse.Namespace) -> int:
    from gitgoods.contract.tables import ensure_tables

    created = ensure_tables(get_settings())
    print("created: " + (", ".join(created) if created else "all tables already exist"))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gitgoods", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the local stack, seed it once, return when ready")
    up.add_argument("--no-seed", dest="seed", action="store_false")
    up.add_argument("--random-seed", type=int, default=42)
    up.add_argument("--days", type=int, default=90)
    up.add_argument("--no-ingest", dest="ingest", action="store_false", help="do not load the lake")
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop everything `up` started").set_defaults(func=cmd_down)
    sub.add_parser("status", help="what is running").set_defaults(func=cmd_status)
    sub.add_parser("tables", help="create the missing DynamoDB tables").set_defaults(func=cmd_tables)
    password = sub.add_parser("password", help="show a local portal user's password")
    password.add_argument("user")
    password.set_defaults(func=cmd_password)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
