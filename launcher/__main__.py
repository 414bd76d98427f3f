"""`python -m launcher up|down|status`: what `make up`, `make down` and `make status` run."""

from __future__ import annotations

import argparse
import sys

from gitgoods.local import stack
from gitgoods.settings import get_settings


def cmd_up(args: argparse.Namespace) -> int:
    settings = get_settings()
    if settings.env == "aws":
        print("error: `make up` runs the local stack; GITGOODS_ENV=aws is for the deployed services "
              "(see docs/storefront.md)", file=sys.stderr)
        for problem in settings.unsafe_for_aws():
            print(f"  unsafe here: {problem}", file=sys.stderr)
        return 1
    from launcher.up import up

    return up(settings, seed=args.seed, random_seed=args.random_seed, days=args.days, ingest=args.ingest)


def cmd_down(args: argparse.Namespace) -> int:
    stopped = stack.stop_all(get_settings())
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    for name, pid in stack.state_summary(get_settings()).items():
        print(f"{name:<10} {f'running (pid {pid})' if pid else 'stopped'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m launcher", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the local stack, seed it once, return when ready")
    up.add_argument("--no-seed", dest="seed", action="store_false")
    up.add_argument("--random-seed", type=int, default=42)
    up.add_argument("--days", type=int, default=90)
    up.add_argument("--no-ingest", dest="ingest", action="store_false", help="do not load the lake")
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop everything `up` started").set_defaults(func=cmd_down)
    sub.add_parser("status", help="what is running").set_defaults(func=cmd_status)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
