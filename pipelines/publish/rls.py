"""The row-level-security rules: who may see which seller's rows, kept in step with Cognito.

One row per enabled member of the `sellers` group (its user name and `custom:seller_id`) and one
row for the `analysts` group with a null `seller_id` (QuickSight grants every value of a field
left empty in a rule). A disabled or deleted seller has no row, so QuickSight shows it nothing.

The rules live in the lake as one small Parquet file, `publish/seller_rls/seller_rls.parquet`,
replaced whole (a temp file and a rename on disk, one PutObject on S3), under the Glue table
`publish_seller_rls` (not partitioned) that the RLS data set reads through Athena.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.lake.fs import LakeFS

ZONE = "publish"
TABLE = "seller_rls"
GLUE_TABLE = f"{ZONE}_{TABLE}"
FILE = f"{TABLE}.parquet"
SCHEMA = pa.schema(
    [
        pa.field("user_name", pa.string()),
        pa.field("group_name", pa.string()),
        pa.field("seller_id", pa.string()),
    ]
)


@dataclass(frozen=True)
class Rule:
    user_name: str | None
    group_name: str | None
    seller_id: str | None


def rules(sellers: Iterable[tuple[str, str, bool]], analysts_group: str) -> list[Rule]:
    """Rules from (user name, seller id, enabled) of the sellers group, sorted (equal inputs give
    equal files), and the analysts' rule last."""
    out = {Rule(user, None, seller) for user, seller, enabled in sellers if enabled and seller}
    ordered = sorted(out, key=lambda r: (r.user_name or "", r.seller_id or ""))
    return [*ordered, Rule(None, analysts_group, None)]


def to_table(rows: list[Rule]) -> pa.Table:
    return pa.table(
        {
            "user_name": [r.user_name for r in rows],
            "group_name": [r.group_name for r in rows],
            "seller_id": [r.seller_id for r in rows],
        },
        schema=SCHEMA,
    )


def fingerprint(rows: list[Rule]) -> str:
    text = "\n".join(f"{r.user_name or ''}\t{r.group_name or ''}\t{r.seller_id or ''}" for r in rows)
    return hashlib.sha256(text.encode()).hexdigest()


def location(lake: LakeFS) -> str:
    return lake.uri_of(ZONE, TABLE) + "/"


def read_rules(lake: LakeFS) -> list[Rule] | None:
    """The rules the lake holds now, or None before the first write."""
    try:
        data = lake.read_bytes(ZONE, TABLE, FILE)
    except FileNotFoundError:
        return None
    table = pq.read_table(io.BytesIO(data))
    return [Rule(r["user_name"], r["group_name"], r["seller_id"]) for r in table.to_pylist()]


def write_rules(lake: LakeFS, rows: list[Rule]) -> bool:
    """Replace the rules when they differ from the lake's; True when written."""
    if read_rules(lake) == rows:
        return False
    sink = io.BytesIO()
    pq.write_table(to_table(rows), sink, compression="zstd")
    lake.write_bytes(sink.getvalue(), ZONE, TABLE, FILE)
    return True
