"""The local QuickSight: the asset APIs moto lacks (added to its server by `install`), the store
that keeps them across restarts, and the local SPICE (ingestions and their snapshots)."""

from __future__ import annotations

from pathlib import Path


def install(state_dir: Path) -> None:
    """Add the asset APIs to moto's QuickSight, with their store in `state_dir` (see `api.py`)."""
    from gitgoods.local.quicksight.api import install as _install

    _install(state_dir)


def installed_state_dir() -> Path | None:
    """The state folder of the installed extension, or None."""
    from gitgoods.local.quicksight.api import installed_state_dir as _dir

    return _dir()
