"""A model's great-expectations suite over partitions of the lake, with what it needs besides the
data: the partitions read back from the lake (so it sees what readers see), the seller and product
ids of the live DynamoDB tables for the `known_*` expectations, and the row counts of earlier
partitions for the band (`pipelines.marts.expectations`)."""

from __future__ import annotations

import pyarrow as pa

from gitgoods.settings import get_settings
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.manifest import list_partitions, partition_info
from pipelines.lake.partitions.reading import dataset
from pipelines.marts.expectations import Dimensions, Outcome, needs, validate
from pipelines.marts.models import Model
from pipelines.marts.runner import partition_keys
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


def history(model: Model, lake: LakeFS, keys: list[str]) -> dict[str, list[int]]:
    """For each partition of the run, the row counts of the partitions before it (from manifests)."""
    cfg = model.checks.get("row_count_band")
    if not cfg:
        return {}
    days = int(cfg.get("days", 28))
    earlier = [d for d in list_partitions(lake, model.name, zone=model.zone) if d < keys[0]][-days:]
    counts = {d: info.rows for d in earlier if (info := partition_info(lake, model.name, d, zone=model.zone))}
    out: dict[str, list[int]] = {}
    for key in keys:
        previous = [counts[d] for d in sorted(counts) if d < key][-days:]
        out[key] = previous
        info = partition_info(lake, model.name, key, zone=model.zone)
        if info is not None:
            counts[key] = info.rows
    return out


def validate_partitions(model: Model, lake: LakeFS, start: str, end: str) -> Outcome:
    """The suite of `model` over its partitions `start`..`end` as they are in the lake."""
    keys = partition_keys(model, start, end)
    data = dataset(lake, model.name, zone=model.zone, dts=keys).to_table()
    if data.num_rows and data.schema.field("dt").type != pa.string():
        data = data.set_column(data.schema.get_field_index("dt"), "dt", data["dt"].cast(pa.string()))
    return validate(model, data, dims=dimensions(model, lake), history=history(model, lake, keys))
