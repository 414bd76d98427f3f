"""The installed extension's state: its store, its local SPICE, its state folder, and the lock that
runs one ingestion at a time per data set. Set by `api.install`."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from gitgoods.local.quicksight.spice import SpiceStore
from gitgoods.local.quicksight.store import Store

_installed: dict[str, Any] = {}


def activate(st: Store, spice_store: SpiceStore, state_dir: Path) -> None:
    """Make `st` and `spice_store` (kept in `state_dir`) the ones the operations use."""
    _installed.update(store=st, spice=spice_store, dir=state_dir)
    _installed.setdefault("locks", {})


def store() -> Store:
    if "store" not in _installed:
        raise RuntimeError("gitgoods.local.quicksight is not installed (call install(state_dir))")
    return _installed["store"]


def spice() -> SpiceStore:
    return _installed["spice"]


def installed_state_dir() -> Path | None:
    """The state folder the extension was last installed with (None before `install`)."""
    return _installed.get("dir")


def ingestion_lock(account: str, region: str, ident: str) -> threading.Lock:
    """The lock of one data set's ingestions (kept across re-installs)."""
    return _installed["locks"].setdefault(f"{account}/{region}/{ident}", threading.Lock())
