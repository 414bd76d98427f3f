"""What the portal's blueprints share, kept on `app.extensions["portal"]`."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from gitgoods.identity import Identities
from gitgoods.settings import Settings
from portal.embed import Embedder
from portal.reports import Reports
from portal.tokens import TokenVerifier


@dataclass
class Portal:
    settings: Settings
    identities: Identities
    verifier: TokenVerifier
    reports: Reports
    embedder: Embedder | None  # aws mode only: the QuickSight dashboard is embedded

    @property
    def local(self) -> bool:
        return self.settings.env != "aws"


def portal() -> Portal:
    return current_app.extensions["portal"]
