"""Secrets that exist only on a local stack: generated once, owner-readable, in the state folder."""

from __future__ import annotations

import os
import secrets

from gitgoods.settings import Settings

LOCAL_SECRETS = ("internal-token", "sim-clock-key", "portal-session-key", "web-session-key")


def ensure_local_secrets(settings: Settings) -> None:
    settings.secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in LOCAL_SECRETS:
        path = settings.secrets_dir / name
        if path.exists():
            continue
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
