"""Where the web app finds its services and its session key. `gitgoods.settings` already names the
catalog; the order service's address and the session key are read here from the environment."""

from __future__ import annotations

import logging
import os
import secrets
from typing import Any

from gitgoods.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_ORDERS_URL = "http://127.0.0.1:5002"
DEFAULT_PORT = 8080
# One call to a service may take this long (connect and read each) ...
SERVICE_TIMEOUT_S = 2.0
# ... and all the calls of one page together at most this long, so a page never hangs.
PAGE_BUDGET_S = 3.0


def web_config(settings: Settings) -> dict[str, Any]:
    """Flask config defaults of the web app; `create_app(config=...)` overrides any of them."""
    return {
        "CATALOG_URL": settings.catalog_url,
        "ORDERS_URL": os.environ.get("GITGOODS_ORDERS_URL", DEFAULT_ORDERS_URL),
        "SERVICE_TIMEOUT_S": SERVICE_TIMEOUT_S,
        "PAGE_BUDGET_S": PAGE_BUDGET_S,
        "CATALOG_CACHE_TTL_S": settings.web_cache_ttl_s,
        "SECRET_KEY": os.environ.get("GITGOODS_WEB_SECRET_KEY")
        or (settings.local_secret("web-session-key") if settings.env == "local" else None),
        # Funnel events go to the order service's internal endpoint (storefront/web/funnel.py).
        "INTERNAL_TOKEN": settings.resolved_internal_token(),
        "FUNNEL_QUEUE_MAX": settings.web_funnel_queue_max,
        "FUNNEL_BATCH_MAX": settings.web_funnel_batch_max,
        "FUNNEL_FLUSH_S": settings.web_funnel_flush_ms / 1000,
        # Only on a local stack: the simulator's signed clock (storefront/web/visits.py).
        "SIM_CLOCK_KEY": settings.resolved_sim_clock_key(),
    }


def ensure_secret_key(config: dict[str, Any], settings: Settings) -> None:
    """Locally, a missing session key becomes a key of this process (carts do not survive a
    restart); anywhere else a missing key is an error, as in the portal."""
    if config.get("SECRET_KEY"):
        return
    if settings.env != "local":
        raise RuntimeError("the shop has no session key: set GITGOODS_WEB_SECRET_KEY")
    log.warning("no GITGOODS_WEB_SECRET_KEY: carts are signed with a key of this process only")
    config["SECRET_KEY"] = secrets.token_hex(32)
