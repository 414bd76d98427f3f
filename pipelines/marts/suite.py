"""A model's great-expectations suite over a build's new runs, with what it needs besides the
data: the staged partitions read back from the lake (so it sees what readers will see), the seller and product
ids of the live DynamoDB tables for the `known_*` expectations, and the row counts of earlier
partitions for the band (`pipelines.marts.expectations`)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from gitgoods.settings import get_settings
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.manifest import list_partitions, partition_info
from pipelines.lake.partitions.reading import read_partition
from pipelines.lake.partitions.writer import StagedRun
from pipelines.marts.expectations import Dimensions, Outcome, needs, validate
from pipelines.marts.models import Model
from pipelines.sql.engine import engine_for


def dimensions(model: Model, lake: LakeFS) -> Dimensions:
    want_sellers, want_products = needs(model)
    if not (want_sellers or want_products):
        return Dimensions()
    settings = get_settings()
    with engine_for(settings, **({"lake": lake} if settings.env == "local" else {})) as engine:
        sellers = engine.query("SELECT seller_id FROM dynamodb.default.sellers") if want_sellers else None
        products = engine.query("SELECT product_id FROM dynamodb.default.catalog") if want_products else None
    return Dimensions(
        sellers=frozenset(sellers["seller_id"].to_pylist()) if sellers is not None else None,
        products=frozenset(products["product_id"].to_pylist()) if products is not None else None,
    )


def history(model: Model, lake: LakeFS, keys: list[str], rows: dict[str, int] | None = None,
            today: dt.date | None = None) -> dict[str, list[int]]:  # fmt: skip
    """For each partition of the run, the row counts of the partitions before it (from manifests;
    for the run's own partitions, `rows` when given: the runs being audited, not yet current).

    A day that has not ended (`today`, UTC, or later: the stream refreshes it all day) gets no
    history, so the band does not judge it: at 00:05 a day holds a few sellers' rows, which is not
    an anomaly. It is judged once the nightly build rebuilds it complete."""
    cfg = model.checks.get("row_count_band")
    if not cfg:
        return {}
    open_from = (today or dt.datetime.now(dt.UTC).date()).isoformat()
    days = int(cfg.get("days", 28))
    earlier = [d for d in list_partitions(lake, model.name, zone=model.zone) if d < keys[0]][-days:]
    counts = {d: info.rows for d in earlier if (info := partition_info(lake, model.name, d, zone=model.zone))}
    out: dict[str, list[int]] = {}
    for key in keys:
        previous = [counts[d] for d in sorted(counts) if d < key][-days:]
        out[key] = previous if key < open_from else []
        if rows is not None:
            counts[key] = rows[key]
        elif (info := partition_info(lake, model.name, key, zone=model.zone)) is not None:
            counts[key] = info.rows
    return out


def validate_staged(model: Model, lake: LakeFS, staged: list[StagedRun]) -> Outcome:
    """The suite of `model` over runs staged by the partition writer, before they are published
    (write-audit-publish): each partition is read from its new run, not from the current one."""
    keys = [s.info.dt for s in staged]
    tables = [
        (t := read_partition(lake, model.name, key, zone=model.zone, run_id=s.info.run_id)).append_column(
            "dt", pa.array([key] * t.num_rows, pa.string())
        )
        for key, s in zip(keys, staged, strict=True)
    ]
    data = pa.concat_tables(tables)
    rows = {s.info.dt: s.info.rows for s in staged}
    return validate(model, data, dims=dimensions(model, lake), history=history(model, lake, keys, rows))
