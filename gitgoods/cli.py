"""`gitgoods` command: the foundation's own chores, which need neither the storefront nor the
pipelines: create the DynamoDB tables (the compose file's table job) and show a local portal
user's password. `make up`/`down`/`status` are `python -m launcher` (launcher/)."""

from __future__ import annotations

import argparse
import sys

from gitgoods.settings import get_settings


def cmd_password(args: argparse.Namespace) -> int:
    """Print a local portal user's password (kept owner-only in the local secrets folder)."""
    from gitgoods.identity import Identities

    password = Identities(get_settings()).local_password(args.user)
    if password is None:
        print(f"error: no local password for {args.user!r}", file=sys.stderr)
        return 1
    print(password)
    return 0


def cmd_tables(args: argparse.Namespace) -> int:
    from gitgoods.contract.tables import ensure_tables

    created = ensure_tables(get_settings())
    print("created: " + (", ".join(created) if created else "all tables already exist"))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gitgoods", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("tables", help="create the missing DynamoDB tables").set_defaults(func=cmd_tables)
    password = sub.add_parser("password", help="show a local portal user's password")
    password.add_argument("user")
    password.set_defaults(func=cmd_password)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
