"""The portal's reports in `aws` mode: QuickSight renders the dashboard (embedded, RLS applied by
QuickSight), so the portal only lists the sellers a viewer may open. PDF and CSV downloads would
need a reader of QuickSight's data, which is not built: they answer 501 saying so."""

from __future__ import annotations

from datetime import date

from gitgoods.settings import Settings
from portal.reports import ReportNotFound, ReportPage, ReportUnavailable, Viewer
from portal.sellers import SellerNames


class EmbeddedReports:
    def __init__(self, settings: Settings, names: SellerNames | None = None) -> None:
        self._names = names or SellerNames(settings)

    def sellers(self, viewer: Viewer) -> list[tuple[str, str]]:
        names = self._names()
        return sorted(((s, n) for s, n in names.items() if viewer.may_open(s)), key=lambda x: (x[1].lower(), x[0]))

    def page(self, viewer: Viewer, seller_id: str, start: date | None, end: date | None) -> ReportPage:
        raise ReportNotFound(seller_id)  # the page embeds QuickSight's dashboard instead

    def csv(self, viewer: Viewer, seller_id: str, visual_id: str, start: date | None, end: date | None
            ) -> tuple[str, bytes]:
        raise ReportUnavailable("CSV downloads are not available with the embedded QuickSight dashboard yet")

    def pdf(self, viewer: Viewer, seller_id: str, start: date | None, end: date | None) -> bytes:
        raise ReportUnavailable("PDF downloads are not available with the embedded QuickSight dashboard yet")
