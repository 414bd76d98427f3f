"""`python -m storefront.web`: the shop on 127.0.0.1:8080 (GITGOODS_WEB_PORT), for local use."""

from __future__ import annotations

import os

from storefront.web.app import create_app
from storefront.web.config import DEFAULT_PORT

create_app().run(host="127.0.0.1", port=int(os.environ.get("GITGOODS_WEB_PORT", DEFAULT_PORT)))
