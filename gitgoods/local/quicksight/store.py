"""The local QuickSight's asset store: data sets, dashboards (with versions), permissions, tags,
ingestions and the data sources' create requests, kept in one JSON file so they survive a restart
of the moto server (moto itself keeps everything in memory).

`<state>/store.json`, written whole on every change: temporary file with owner-only permissions,
fsync, rename. Layout (times are epoch seconds):

    {"format": 1, "scopes": {"<account>/<region>": {
        "data_sets":    {id: {"Arn", "CreatedTime", "LastUpdatedTime", "Definition": {the
                              CreateDataSet/UpdateDataSet request without AwsAccountId, DataSetId,
                              Permissions, Tags}, "Permissions": [...], "Tags": [...],
                              "Ingestions": {id: Ingestion as DescribeIngestion returns it}}},
        "dashboards":   {id: {"Arn", "Name", "CreatedTime", "LastUpdatedTime", "LastPublishedTime",
                              "PublishedVersionNumber", "Permissions", "Tags",
                              "LinkSharingConfiguration", "LinkEntities",
                              "Versions": [{"VersionNumber", "CreatedTime", "Status", "Errors",
                                            "Request": {the Create/UpdateDashboard request}}]}},
        "data_sources": {id: {"Request": {CreateDataSource request without Credentials,
                                           Permissions, Tags}, "Permissions", "Tags"}}}}}
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

FORMAT = 1
KINDS = ("data_sets", "dashboards", "data_sources")
MAX_INGESTIONS = 50  # per data set: the most recent ones are kept


class Store:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / "store.json"
        self.lock = threading.RLock()
        self.data: dict[str, Any] = {"format": FORMAT, "scopes": {}}

    def load(self) -> Store:
        with self.lock:
            if self.path.exists():
                data = json.loads(self.path.read_text())
                if data.get("format") != FORMAT:
                    raise ValueError(f"{self.path}: unknown store format {data.get('format')!r}")
                self.data = data
        return self

    def save(self) -> None:
        """Write the whole store atomically (owner-only, fsynced, renamed into place)."""
        with self.lock:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".store.json.{os.getpid()}.{threading.get_ident()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(self.data, fh, separators=(",", ":"))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)

    def scope(self, account: str, region: str) -> dict[str, dict[str, Any]]:
        with self.lock:
            scope = self.data["scopes"].setdefault(f"{account}/{region}", {})
            for kind in KINDS:
                scope.setdefault(kind, {})
            return scope

    def scopes(self) -> list[tuple[str, str, dict[str, dict[str, Any]]]]:
        with self.lock:
            out = []
            for key in list(self.data["scopes"]):
                account, region = key.split("/", 1)
                out.append((account, region, self.scope(account, region)))
            return out

    def find_arn(self, arn: str) -> dict[str, Any] | None:
        """The stored record (data set, dashboard or data source) with this ARN."""
        with self.lock:
            for _, _, scope in self.scopes():
                for kind in KINDS:
                    for record in scope[kind].values():
                        if record.get("Arn") == arn:
                            return record
        return None


def merge_permissions(
    current: list[dict[str, Any]], grant: list[dict[str, Any]] | None, revoke: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """Grant adds actions to a principal, revoke removes them; a principal left with none goes."""
    actions: dict[str, list[str]] = {p["Principal"]: list(p["Actions"]) for p in current}
    for p in grant or []:
        have = actions.setdefault(p["Principal"], [])
        have.extend(a for a in p["Actions"] if a not in have)
    for p in revoke or []:
        if p["Principal"] in actions:
            gone = set(p["Actions"])
            actions[p["Principal"]] = [a for a in actions[p["Principal"]] if a not in gone]
    return [{"Principal": k, "Actions": v} for k, v in actions.items() if v]


def trim_ingestions(ingestions: dict[str, Any]) -> None:
    """Keep the most recent MAX_INGESTIONS ingestions (and every one still running)."""
    done = [k for k, v in ingestions.items() if v["IngestionStatus"] in ("COMPLETED", "FAILED", "CANCELLED")]
    done.sort(key=lambda k: ingestions[k]["CreatedTime"])
    for key in done[: max(0, len(ingestions) - MAX_INGESTIONS)]:
        del ingestions[key]
