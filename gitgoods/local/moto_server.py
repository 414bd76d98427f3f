"""The moto server for every AWS API but DynamoDB, with the KMS keys kept on disk.

moto keeps everything in memory. A KMS key that only lived there would vanish on a restart and
take every encrypted PII field with it, so this launcher plays the part of KMS's hardware: the
platform's keys (id and key material) are stored in the state folder, readable by the owner only,
and put back into moto's KMS before it serves its first request. Everything else is still called
through the real KMS API (GenerateDataKey, Decrypt, GenerateMac), exactly as on AWS.

QuickSight's asset APIs, which moto lacks (data sets in full, SPICE ingestions, dashboards with
definitions and versions, permissions), are added to it by `gitgoods.local.quicksight`, whose store
(`--quicksight-state`, by default the `quicksight` folder next to `--state`) survives restarts.

Run: python -m gitgoods.local.moto_server --port 4566 --state DIR [--quicksight-state DIR]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

from gitgoods.settings import get_settings

ACCOUNT_ID = "123456789012"

# alias -> (key spec, key usage)
PLATFORM_KEYS = {
    "pii": ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"),
    "lookup-hmac": ("HMAC_256", "GENERATE_VERIFY_MAC"),
    "pseudonym-hmac": ("HMAC_256", "GENERATE_VERIFY_MAC"),
}


def _alias_names() -> dict[str, str]:
    s = get_settings()
    return {
        "pii": s.pii_key_alias,
        "lookup-hmac": s.lookup_hmac_key_alias,
        "pseudonym-hmac": s.pseudonym_hmac_key_alias,
    }


def _backend(region: str) -> Any:
    from moto.kms.models import kms_backends

    return kms_backends[ACCOUNT_ID][region]


def restore_or_create_keys(state_file: Path, region: str) -> dict[str, str]:
    """Make the platform keys exist in moto's KMS with their saved ids and material."""
    backend = _backend(region)
    saved: dict[str, Any] = json.loads(state_file.read_text()) if state_file.exists() else {}
    aliases = _alias_names()
    for name, (spec, usage) in PLATFORM_KEYS.items():
        key = backend.create_key(
            policy=None,
            key_usage=usage,
            key_spec=spec,
            description=f"gitgoods {name}",
            tags=None,
        )
        if name in saved:
            record = saved[name]
            del backend.keys[key.id]
            key.id = record["id"]
            key.arn = f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{key.id}"
            key.key_material = base64.b64decode(record["material"])
            backend.keys[key.id] = key
        else:
            saved[name] = {
                "id": key.id,
                "material": base64.b64encode(key.key_material).decode(),
                "spec": spec,
            }
        backend.create_alias(key.id, aliases[name])
    state_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = state_file.with_suffix(".tmp")
    # Written with owner-only permissions and renamed into place: a crash never leaves half a
    # key file behind.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(saved, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, state_file)
    return {name: saved[name]["id"] for name in PLATFORM_KEYS}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--region", default=get_settings().region)
    parser.add_argument(
        "--quicksight-state",
        type=Path,
        default=None,
        help="the local QuickSight's store and SPICE snapshots (default: <state>/../quicksight)",
    )
    args = parser.parse_args(argv)

    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    from gitgoods.local.quicksight import install

    restore_or_create_keys(args.state / "kms-keys.json", args.region)
    install(args.quicksight_state or args.state.resolve().parent / "quicksight")
    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    print(f"moto server on http://{args.host}:{args.port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
