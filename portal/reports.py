"""What the portal's routes need from the report renderer, and who is looking.

The routes decide who may open which seller (`Viewer.may_open`) before they call `Reports`; an
implementation only renders what it is asked for and raises `ReportNotFound` for an unknown seller
or visual.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from markupsafe import Markup


@dataclass(frozen=True)
class Viewer:
    """The signed-in user, from a verified ID token."""

    username: str
    groups: frozenset[str]
    seller_id: str | None
    # The group names in use (settings `sellers_group`, `analysts_group`).
    sellers_group: str = field(default="sellers", compare=False, repr=False)
    analysts_group: str = field(default="analysts", compare=False, repr=False)

    @property
    def is_analyst(self) -> bool:
        return self.analysts_group in self.groups

    @property
    def is_seller(self) -> bool:
        return self.sellers_group in self.groups and bool(self.seller_id)

    def may_open(self, seller_id: str) -> bool:
        """Analysts open every seller; a seller only its own (its `custom:seller_id`)."""
        return self.is_analyst or (self.is_seller and self.seller_id == seller_id)


@dataclass(frozen=True)
class ReportPage:
    title: str
    html: Markup  # already escaped by the renderer's own templates
    freshness: str
    # The date range the page shows (the renderer's default window when none was asked for).
    start: date | None = None
    end: date | None = None


class ReportNotFound(LookupError):
    """An unknown seller or visual; the routes answer 404."""


class ReportUnavailable(RuntimeError):
    """What was asked for does not exist in this mode (a download beside an embedded dashboard);
    the routes answer 501 with the reason."""


class Reports(Protocol):
    def sellers(self, viewer: Viewer) -> list[tuple[str, str]]:
        """(seller_id, display name) of every seller the viewer may open."""
        ...

    def page(self, viewer: Viewer, seller_id: str, start: date | None, end: date | None) -> ReportPage: ...

    def csv(
        self, viewer: Viewer, seller_id: str, visual_id: str, start: date | None, end: date | None
    ) -> tuple[str, bytes]:
        """(file name, CSV bytes) of one visual's data."""
        ...

    def pdf(self, viewer: Viewer, seller_id: str, start: date | None, end: date | None) -> bytes: ...
