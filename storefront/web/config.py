"""The web app's Flask config, drawn from `gitgoods.settings`: where it finds its services, its
session key, its timeouts."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from gitgoods.settings import Settings

log = logging.getLogger(__name__)

# One call to a service may take this long (connect and read each) ...
SERVICE_TIMEOUT_S = 2.0
# ... and all the calls of one page together at most this long, so a page never hangs.
PAGE_BUDGET_S = 3.0


def web_config(settings: Settings) -> dict[str, Any]:
    """Flask config defaults of the web app; `create_app(config=...)` overrides any of them."""
    return {
        "CATALOG_URL": settings.catalog_url,
        "ORDERS_URL": settings.orders_url,
        "SERVICE_TIMEOUT_S": SERVICE_TIMEOUT_S,
        "PAGE_BUDGET_S": PAGE_BUDGET_S,
        "CATALOG_CACHE_TTL_S": settings.web_cache_ttl_s,
        "SECRET_KEY": settings.resolved_web_secret_key(),
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
