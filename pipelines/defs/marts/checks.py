"""A blocking great-expectations check per model: nothing below a model whose partitions fail
their suite runs in that run (the marts below a staging model, publishing below a mart).

The check validates the partitions the run wrote (read back from the lake, so it sees what
readers see), with the seller and product ids of the live DynamoDB tables for the `known_*`
expectations and the row counts of earlier partitions for the band.
"""


import dagster as dg
import pyarrow as pa

from gitgoods.settings import get_settings
from pipelines.defs.marts.assets import ASSETS, MODELS, run_keys
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.manifest import list_partitions, partition_info
from pipelines.lake.partitions.reading import dataset
from pipelines.marts.expectations import Dimensions, needs, validate
from pipelines.marts.models import Model
from pipelines.marts.runner import partition_keys
from pipelines.resources import LakeResource
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


def run_suite(model: Model, lake: LakeFS, start: str, end: str) -> dg.AssetCheckResult:
    keys = partition_keys(model, start, end)
    data = dataset(lake, model.name, zone=model.zone, dts=keys).to_table()
    if data.num_rows and data.schema.field("dt").type != pa.string():
        data = data.set_column(data.schema.get_field_index("dt"), "dt", data["dt"].cast(pa.string()))
    outcome = validate(model, data, dims=dimensions(model, lake), history=history(model, lake, keys))
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={**outcome.metadata(), "first_partition": start, "last_partition": end},
        description=None if outcome.passed else f"{len(outcome.failures)} expectation(s) failed",
    )


def build_expectations_check(asset: dg.AssetsDefinition, model: Model) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name="expectations",
        blocking=True,
        description=f"great-expectations suite of `{model.name}` (from its models.yml) over the run's partitions.",
    )
    def check(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> dg.AssetCheckResult:
        start, end = run_keys(context)
        return run_suite(model, lake.open(), start, end)

    return check


CHECKS = [build_expectations_check(a, m) for a, m in zip(ASSETS, MODELS.values(), strict=True)]


