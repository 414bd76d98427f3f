"""aws mode: the report page embeds the seller's QuickSight dashboard. QuickSight applies the RLS
rules to the registered user, so the URL shows only what that user may see."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from gitgoods import aws
from gitgoods.settings import Settings
from portal.reports import Viewer

DASHBOARD = "seller-insights"


class Embedder:
    def __init__(self, settings: Settings, client: Any = None):
        self.settings = settings
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws.client("quicksight", self.settings)
        return self._client

    @property
    def dashboard_id(self) -> str:
        return f"{self.settings.quicksight_prefix}{DASHBOARD}"

    def user_arn(self, viewer: Viewer) -> str:
        s = self.settings
        user = f"user/{s.quicksight_namespace}/{viewer.username}"
        return f"arn:aws:quicksight:{s.region}:{s.quicksight_account_id}:{user}"

    def default_origin(self) -> str:
        return f"https://{self.settings.region}.quicksight.aws.amazon.com"

    def dashboard_url(self, viewer: Viewer) -> str:
        """A one-time embed URL of the dashboard for the viewer's QuickSight user."""
        response = self.client.generate_embed_url_for_registered_user(
            AwsAccountId=self.settings.quicksight_account_id,
            UserArn=self.user_arn(viewer),
            ExperienceConfiguration={"Dashboard": {"InitialDashboardId": self.dashboard_id}},
            AllowedDomains=[self.settings.portal_url],
        )
        return response["EmbedUrl"]


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
