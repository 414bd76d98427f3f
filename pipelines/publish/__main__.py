"""`python -m pipelines.publish plan|apply [--remove]`: what publishing to QuickSight would change.

`plan` only describes: it prints each resource as `create`, `update` (with the field-level
differences) or `unchanged`, the permissions it would grant or revoke, and, with `--remove`, the
project's resources the definitions no longer have. Nothing is changed.
`apply` carries the plan out (definitions and permissions; SPICE refreshes are the Dagster
assets' job); resources are removed only with `--remove`.
Exit status of `plan`: 0 nothing to change, 2 changes pending, 1 error.
"""

from __future__ import annotations

import argparse
import sys

from gitgoods import aws
from gitgoods.settings import get_settings
from pipelines.publish.api import PublishError, QuickSight
from pipelines.publish.definitions import DefinitionError
from pipelines.publish.plan import apply, plan
from pipelines.publish.wanted import publication


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.publish", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("plan", "apply"))
    parser.add_argument("--remove", action="store_true", help="also remove the project's resources no longer defined")
    args = parser.parse_args(argv)
    settings = get_settings()
    try:
        wanted = publication(settings).all()
        qs = QuickSight(aws.client("quicksight", settings), settings.quicksight_account_id)
        changes = plan(qs, wanted, prefix=settings.quicksight_prefix, removals=args.remove)
    except (DefinitionError, PublishError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    pending = [c for c in changes if c.changes_anything]
    for change in changes:
        print("\n".join(change.lines()))
    print(f"\n{len(pending)} to change, {len(changes) - len(pending)} unchanged.")
    if args.command == "plan":
        return 2 if pending else 0
    for change in pending:
        apply(qs, change, allow_remove=args.remove)
        print(f"{change.action}: {change.kind} {change.id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
