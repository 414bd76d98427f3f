"""Where the reading of a table's stream stands: `_stream/<table>.json` in the lake.

The checkpoint is written after every micro-batch whose runs are all published, so it is never
ahead of the lake. It is a shortcut, not the truth: the positions that decide whether a record is
already in a partition are those in the partition's current manifest (`pipelines.stream.apply`),
so a checkpoint behind the lake (a crash between a publish and the checkpoint) only makes the
consumer read records it then skips, and a lost checkpoint only makes it start at the trim horizon.
The stream's ARN is kept with the positions: positions of another stream (the table's stream was
turned off and on) mean nothing for the current one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pipelines.stream.shards import Positions

if TYPE_CHECKING:
    from pipelines.lake.fs import LakeFS

FOLDER = "_stream"


def load(lake: LakeFS, table: str, arn: str) -> Positions:
    try:
        data = json.loads(lake.read_bytes(FOLDER, f"{table}.json"))
    except FileNotFoundError:
        return Positions()
    return Positions.from_json(data.get("positions")) if data.get("arn") == arn else Positions()


def save(lake: LakeFS, table: str, arn: str, positions: Positions) -> None:
    data = {"arn": arn, "positions": positions.to_json(), "saved_at": datetime.now(UTC).isoformat()}
    lake.write_bytes(json.dumps(data, indent=1).encode(), FOLDER, f"{table}.json", content_type="application/json")


__all__ = ["load", "save"]
