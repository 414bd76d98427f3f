"""`python -m storefront.web`: the shop on 127.0.0.1:8080 (GITGOODS_WEB_PORT), for local use."""

from __future__ import annotations

from gitgoods.settings import get_settings
from storefront.web.app import create_app

create_app().run(host="127.0.0.1", port=get_settings().web_port)
