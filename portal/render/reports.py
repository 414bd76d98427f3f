"""`LocalReports`: the portal's reports rendered from the published definition and the local SPICE.

    reports = LocalReports(lambda: published_definitions(quicksight, account_id, dashboard_id), spice)

`definitions()` returns (the dashboard Definition, {data set ARN: DescribeDataSet's DataSet});
`published.published_definitions` fetches them from the QuickSight API (the published version,
cached by its version number). Who may open which seller is decided here by the RLS data set's
rules, exactly as QuickSight would (the portal's own check comes first): an unknown seller, a seller
the rules do not grant the viewer, or an unknown visual is `ReportNotFound`.

Rendered visuals are cached (bounded, by bytes) under (definition generation, visual, seller,
range, the ingestion ids of the visual's data set and of its RLS data set), so a new snapshot
or a new published version is never served stale. The freshness line, and the last day of data
(the default end of the range), come from `freshness`.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import pyarrow as pa
import pyarrow.compute as pc
from cachetools import LRUCache
from markupsafe import Markup

from gitgoods.local.quicksight.spice import Snapshot, SpiceStore
from portal.render import data, pdf
from portal.render.definition import parse_definition
from portal.render.errors import RenderError
from portal.render.freshness import checks_state, data_freshness, last_day
from portal.render.html_visuals import env, trusted, visual_html
from portal.render.images import chart_png
from portal.render.model import CHART_KINDS, DEFAULT_WINDOW_DAYS, Dashboard, Visual, dataset_id_from_arn
from portal.render.published import published_definitions
from portal.reports import ReportNotFound, ReportPage, Viewer

REPORT_TITLE = "Seller insights"
CACHE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class _Parsed:
    raw: dict
    datasets: dict[str, dict]
    dashboard: Dashboard
    generation: int
    rls: dict[str, str]  # visual id -> RLS data set id


def _sizeof(value: Any) -> int:
    if isinstance(value, bytes | str):
        return len(value) + 64
    if isinstance(value, data.VisualData):
        return value.table.nbytes + 512
    if isinstance(value, pa.Table):
        return value.nbytes + 256
    return 1024


class LocalReports:
    """The `portal.reports.Reports` protocol over the local SPICE."""

    def __init__(
        self,
        definitions: Callable[[], tuple[dict, dict[str, dict]]],
        spice: SpiceStore,
        seller_names: Callable[[], dict[str, str]] | None = None,
        *,
        checks: Callable[[str], str] | None = None,
        cache_bytes: int = CACHE_BYTES,
        title: str = REPORT_TITLE,
    ) -> None:
        """`checks(data set id)` says whether its data passed its blocking checks: "passed",
        "held-back" (SPICE keeps the last checked data, a newer build did not pass) or "unknown";
        without it the snapshot pointer's optional `checks` field is read."""
        self._checks = checks
        self._definitions = definitions
        self._spice = spice
        self._seller_names = seller_names
        self._title = title
        self._lock = threading.Lock()
        self._parsed: _Parsed | None = None
        self._generation = 0
        self._cache: LRUCache = LRUCache(maxsize=cache_bytes, getsizeof=_sizeof)
        self._small: LRUCache = LRUCache(maxsize=4096)  # grants, seller lists (small values)

    # --- definitions and snapshots ----------------------------------------------------------

    def _load(self) -> _Parsed:
        raw, datasets = self._definitions()
        with self._lock:
            parsed = self._parsed
            if parsed is not None and parsed.raw is raw and parsed.datasets is datasets:
                return parsed
        dashboard = parse_definition(raw)
        rls = {v.visual_id: data.dataset_rls_id(v, datasets) for v in dashboard.visuals}
        with self._lock:
            self._generation += 1
            self._parsed = _Parsed(raw, datasets, dashboard, self._generation, rls)
            return self._parsed

    def _cached(self, key: tuple, make: Callable[[], Any], cache: LRUCache | None = None) -> Any:
        cache = self._cache if cache is None else cache
        with self._lock:
            try:
                return cache[key]
            except KeyError:
                pass
        value = make()
        with self._lock, contextlib.suppress(ValueError):  # larger than the whole cache
            cache[key] = value
        return value

    def _snapshot(self, dataset_id: str) -> Snapshot | None:
        return self._spice.current(dataset_id)

    def _data_ids(self, parsed: _Parsed) -> list[str]:
        ids: list[str] = []
        for visual in parsed.dashboard.visuals:
            dataset_id = dataset_id_from_arn(visual.dataset_arn)
            if dataset_id not in ids:
                ids.append(dataset_id)
        return ids

    # --- who sees what ------------------------------------------------------------------------

    def _grant(self, viewer: Viewer, rls_id: str) -> data.Grant:
        snapshot = self._snapshot(rls_id)
        if snapshot is None:
            return frozenset()
        key = ("grant", rls_id, snapshot.ingestion_id, viewer.username, frozenset(viewer.groups))
        return self._cached(
            key, lambda: data.granted_sellers(snapshot.data, viewer.username, viewer.groups), self._small
        )

    def _known_sellers(self, parsed: _Parsed) -> dict[str, str]:
        names = dict(self._seller_names()) if self._seller_names else {}
        known = dict.fromkeys(names)
        for dataset_id in self._data_ids(parsed):
            snapshot = self._snapshot(dataset_id)
            if snapshot is None or data.SELLER_COLUMN not in snapshot.data.column_names:
                continue
            ids = self._cached(
                ("sellers", dataset_id, snapshot.ingestion_id),
                lambda s=snapshot: tuple(
                    str(v) for v in pc.unique(s.data[data.SELLER_COLUMN]).to_pylist() if v is not None
                ),
                self._small,
            )
            known.update(dict.fromkeys(ids))
        return {seller: names.get(seller) or seller for seller in known}

    def _allowed(self, viewer: Viewer, parsed: _Parsed, seller_id: str) -> bool:
        return all(seller_id in self._grant(viewer, rls_id) for rls_id in set(parsed.rls.values()))

    def _open(self, viewer: Viewer, seller_id: str) -> tuple[_Parsed, str]:
        parsed = self._load()
        known = self._known_sellers(parsed)
        if seller_id not in known or not self._allowed(viewer, parsed, seller_id):
            raise ReportNotFound(seller_id)
        return parsed, known[seller_id]

    def sellers(self, viewer: Viewer) -> list[tuple[str, str]]:
        parsed = self._load()
        known = self._known_sellers(parsed)
        allowed = [(s, n) for s, n in known.items() if self._allowed(viewer, parsed, s)]
        return sorted(allowed, key=lambda item: (item[1].lower(), item[0]))

    # --- range and freshness --------------------------------------------------------------------

    def _range(self, parsed: _Parsed, start: date | None, end: date | None) -> tuple[date, date]:
        if end is None:
            days = [last_day(s) for s in map(self._snapshot, self._data_ids(parsed)) if s is not None]
            end = max((d for d in days if d is not None), default=datetime.now(UTC).date())
        if start is None:
            window = parsed.dashboard.date_filter.default_days if parsed.dashboard.date_filter else DEFAULT_WINDOW_DAYS
            start = end - timedelta(days=window - 1)
        if start > end:
            start, end = end, start
        return start, end

    def _freshness(self, parsed: _Parsed) -> tuple[str, list[dict[str, Any]]]:
        return data_freshness(self._spice, self._data_ids(parsed), self._checks)

    # --- a visual ------------------------------------------------------------------------------

    def _key(self, parsed: _Parsed, visual: Visual, seller_id: str, start: date, end: date) -> tuple:
        dataset_id = dataset_id_from_arn(visual.dataset_arn)
        snapshot = self._snapshot(dataset_id)
        rls = self._snapshot(parsed.rls[visual.visual_id])
        return (
            parsed.generation,
            visual.visual_id,
            seller_id,
            start,
            end,
            snapshot.ingestion_id if snapshot else None,
            rls.ingestion_id if rls else None,
        )

    def _visual_data(
        self, viewer: Viewer, parsed: _Parsed, visual: Visual, seller_id: str, start: date, end: date
    ) -> data.VisualData:
        # The result depends only on the seller's rows: every viewer this far is granted the seller
        # (checked in `_open`), so RLS ∩ seller is the seller's rows whoever asks.
        key = ("data", *self._key(parsed, visual, seller_id, start, end))

        def make() -> data.VisualData:
            dataset_id = dataset_id_from_arn(visual.dataset_arn)
            snapshot = self._snapshot(dataset_id)
            grant = self._grant(viewer, parsed.rls[visual.visual_id])
            if snapshot is None:
                return data.empty_data(visual)
            rows = data.filter_rows(parsed.dashboard, visual, snapshot.data, grant, seller_id, start, end)
            return data.compute(parsed.dashboard, visual, rows)

        return self._cached(key, make)

    def _visual_html(
        self, viewer: Viewer, parsed: _Parsed, visual: Visual, seller_id: str, start: date, end: date
    ) -> Markup:
        key = ("html", *self._key(parsed, visual, seller_id, start, end))
        return self._cached(key, lambda: visual_html(self._visual_data(viewer, parsed, visual, seller_id, start, end)))

    def _visual_png(
        self, viewer: Viewer, parsed: _Parsed, visual: Visual, seller_id: str, start: date, end: date
    ) -> bytes | None:
        if visual.kind not in CHART_KINDS:
            return None
        key = ("png", *self._key(parsed, visual, seller_id, start, end))
        return self._cached(key, lambda: chart_png(self._visual_data(viewer, parsed, visual, seller_id, start, end)))

    # --- the protocol ------------------------------------------------------------------------

    def page(self, viewer: Viewer, seller_id: str, start: date | None, end: date | None) -> ReportPage:
        parsed, name = self._open(viewer, seller_id)
        start, end = self._range(parsed, start, end)
        freshness, datasets = self._freshness(parsed)
        query = urlencode({"from": start.isoformat(), "to": end.isoformat()})
        base = f"/sellers/{quote(seller_id, safe='')}"
        sheets = []
        for sheet in parsed.dashboard.sheets:
            visuals = [
                {
                    "visual": visual,
                    "html": self._visual_html(viewer, parsed, visual, seller_id, start, end),
                    "csv_url": f"{base}/visuals/{quote(visual.visual_id, safe='')}.csv?{query}",
                }
                for visual in sheet.visuals
            ]
            sheets.append({"sheet_id": sheet.sheet_id, "title": sheet.title or sheet.name, "visuals": visuals})
        html = (
            env()
            .get_template("report/report.html")
            .render(
                seller_id=seller_id,
                seller_name=name,
                start=start,
                end=end,
                freshness=freshness,
                datasets=datasets,
                sheets=sheets,
                pdf_url=f"{base}/report.pdf?{query}",
            )
        )
        return ReportPage(title=f"{self._title}: {name}", html=trusted(html), freshness=freshness, start=start, end=end)

    def csv(
        self, viewer: Viewer, seller_id: str, visual_id: str, start: date | None, end: date | None
    ) -> tuple[str, bytes]:
        parsed, _name = self._open(viewer, seller_id)
        visual = parsed.dashboard.visual(visual_id)
        if visual is None:
            raise ReportNotFound(visual_id)
        start, end = self._range(parsed, start, end)
        body = pdf.visual_csv(self._visual_data(viewer, parsed, visual, seller_id, start, end))
        return f"{_safe(seller_id)}-{_safe(visual_id)}-{start.isoformat()}-{end.isoformat()}.csv", body

    def pdf(self, viewer: Viewer, seller_id: str, start: date | None, end: date | None) -> bytes:
        parsed, name = self._open(viewer, seller_id)
        start, end = self._range(parsed, start, end)
        freshness, _ = self._freshness(parsed)
        sheets = []
        for sheet in parsed.dashboard.sheets:
            items = [
                pdf.PdfVisual(
                    visual,
                    self._visual_data(viewer, parsed, visual, seller_id, start, end),
                    self._visual_png(viewer, parsed, visual, seller_id, start, end),
                )
                for visual in sheet.visuals
            ]
            sheets.append((sheet.title or sheet.name, items))
        return pdf.report_pdf(
            title=self._title,
            seller_name=name,
            seller_id=seller_id,
            start=start,
            end=end,
            freshness=freshness,
            sheets=sheets,
        )


def _safe(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", value)[:80] or "_"


__all__ = ["LocalReports", "RenderError", "checks_state", "published_definitions"]
