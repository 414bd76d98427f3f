"""One Dagster asset per SQL model in `sql/` (found at load time: a new `.sql` file is a new asset).

Each asset depends on what its SQL reads (other models, raw tables), runs the SQL on the engine of
the environment (embedded DuckDB locally, Athena on AWS) for the partitions of the run - a backfill
is one run and one query per chunk of partitions - and writes each partition to `stg/<model>/` or
`marts/<model>/` with the documented schema, registered in Glue.

Write-audit-publish: the partitions are staged as new runs; the model's blocking check
`expectations` (its great-expectations suite, `pipelines.defs.marts.checks`) runs on those runs in
the asset's step, and only a chunk that passed is switched in. A failure leaves the previous
versions current, keeps the new runs (named in the check's metadata) and fails the step.

Before building, the gate (`pipelines.defs.marts.gates`) refuses to run on upstream partitions
whose latest blocking check failed or never ran, also when they were built in earlier runs.
"""

import warnings
from collections.abc import Iterator

import dagster as dg
import pyarrow as pa

from gitgoods.settings import get_settings
from pipelines.defs.marts.checks import check_spec, failed_result, passed_result
from pipelines.defs.marts.gates import blocked_upstream
from pipelines.defs.partitions import daily, monthly
from pipelines.lake.partitions.layout import writers_pool
from pipelines.lake.partitions.manifest import PartitionInfo
from pipelines.lake.preview import PREVIEW_ROWS, markdown_preview
from pipelines.marts.models import SQL_DIR, Model, discover, upstream
from pipelines.marts.runner import AuditFailed, build, pack
from pipelines.marts.snapshots import RETAKE_TAG
from pipelines.marts.suite import validate_staged
from pipelines.resources import LakeResource
from pipelines.sql.engine import engine_for

MODELS = discover()
OWNERS = ["team:data"]
GROUPS = {"dimensions": "dimensions", "staging": "staging", "state": "state", "marts": "marts"}


def partitions_of(model: Model) -> dg.PartitionsDefinition:
    return monthly if model.partitioned_by == "month" else daily


def run_keys(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> tuple[str, str]:
    """First and last partition key of the run (one key, or a backfill's range)."""
    tags = context.run.tags
    if "dagster/asset_partition_range_start" in tags:
        return tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]
    if "dagster/partition" in tags:
        return tags["dagster/partition"], tags["dagster/partition"]
    raise dg.Failure("a model asset runs for a partition or a range of partitions")


def column_schema(model: Model, schema: pa.Schema) -> dg.TableSchema:
    docs = {c.name: c.description for c in model.columns}
    return dg.TableSchema(
        columns=[dg.TableColumn(f.name, str(f.type), description=docs.get(f.name)) for f in schema]
        + [dg.TableColumn("dt", "string (partition)", description=docs.get("dt", "partition"))]
    )


def _metadata(model: Model, parts: list[PartitionInfo], query_s: float, write_s: float, lake) -> dict:
    from pipelines.lake.partitions.reading import read_partition

    last = next((p for p in reversed(parts) if p.rows), parts[-1])
    preview = read_partition(lake, model.name, last.dt, zone=model.zone).slice(0, PREVIEW_ROWS)
    return {
        "dagster/row_count": sum(p.rows for p in parts),
        "dagster/column_schema": column_schema(model, last.schema),
        "partitions": len(parts),
        "first_partition": parts[0].dt,
        "last_partition": parts[-1].dt,
        "rows_by_partition": dg.MetadataValue.json({p.dt: p.rows for p in parts[-31:]}),
        "bytes": sum(p.bytes for p in parts),
        "location": dg.MetadataValue.path(last.location),
        "table": f"{model.zone}/{model.name} (Glue: {model.lake_name})",
        "query_seconds": round(query_s, 3),
        "write_seconds": round(write_s, 3),
        "preview": dg.MetadataValue.md(f"{last.dt}:\n\n" + markdown_preview(preview)),
    }


def own_history(model: Model) -> list[dg.AssetDep]:
    """A state model reads its own partitions before the run's first: its partition D depends on
    D - 1 (so a partition is built after the one before it; a range is one run)."""
    if not model.reads_itself:
        return []
    return [dg.AssetDep(model.name, partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1))]


def _upstream(models: list[str], raw: list[str]) -> dict[str, tuple[dg.PartitionsDefinition, bool]]:
    return {**{m: (partitions_of(MODELS[m]), True) for m in models}, **{r: (daily, False) for r in raw}}


def gate(context: dg.AssetExecutionContext, model: Model, start: str, end: str,
         upstream: dict[str, tuple[dg.PartitionsDefinition, bool]]) -> None:  # fmt: skip
    """Fail the step before anything is built if an upstream partition it reads is not checked and passed."""
    blocked = blocked_upstream(context.instance, model, start, end, upstream)
    if blocked:
        raise dg.Failure(
            description=(
                f"{model.name} {start}..{end} not built: {len(blocked)} upstream partition(s) it reads have a "
                f"failing or missing blocking check (first: {blocked[0]})"
            ),
            metadata={"blocked": dg.MetadataValue.json([str(b) for b in blocked[:200]])},
        )


def build_model_asset(model: Model) -> dg.AssetsDefinition:
    models, raw = upstream(model, MODELS)
    sql_path = model.path.relative_to(SQL_DIR.parent).as_posix()
    reads = _upstream(models, raw)

    @dg.asset(
        name=model.name,
        group_name=GROUPS[model.layer],
        partitions_def=partitions_of(model),
        pool=writers_pool(model.zone, model.name),
        deps=[*(dg.AssetKey(name) for name in [*models, *raw]), *own_history(model)],
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"sql", "parquet"},
        owners=OWNERS,
        description=f"{model.description}\n\nSQL: `{sql_path}`; columns documented in `models.yml`.",
        metadata={"sql": dg.MetadataValue.md(f"```sql\n{model.sql}\n```"), "reads_dynamodb": list(model.federated)},
        tags={"layer": model.layer},
        check_specs=[check_spec(model)],
    )
    def model_asset(
        context: dg.AssetExecutionContext, lake: LakeResource
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        start, end = run_keys(context)
        gate(context, model, start, end, reads)
        fs = lake.open()
        with engine_for(get_settings(), **({"lake": fs} if get_settings().env == "local" else {})) as engine:
            try:
                result = build(
                    model, start, end, engine=engine, lake=fs, catalog=lake.catalog(),
                    progress=lambda key, done, total: context.log.debug(f"{model.name} {key} ({done}/{total})"),
                    audit=lambda staged: validate_staged(model, fs, staged),
                    retake=context.run.tags.get(RETAKE_TAG) == "true",
                )
            except AuditFailed as failed:
                check = failed_result(failed, start, end)
                yield check
                raise dg.Failure(
                    description=f"{failed}: the previous versions stay current, the new runs are kept for inspection",
                    metadata=check.metadata,
                ) from None
        context.log.info(
            f"{model.name} {start}..{end}: {result.rows} rows in {len(result.partitions)} partitions "
            f"(query {result.query_s:.2f} s, write {result.write_s:.2f} s)"
        )
        yield dg.MaterializeResult(metadata=_metadata(model, result.partitions, result.query_s, result.write_s, fs))
        yield passed_result(result, start, end)

    return model_asset


def build_packs_asset(model: Model) -> dg.AssetsDefinition:
    """`<model>_packs`: the month packs of a packed model (`packs: month`), made again after its
    partitions are built, beside the marts that read them rather than before: the figures do not
    wait for it, and a pack only speeds up later reads of the history (docs/incremental.md)."""

    @dg.asset(
        name=f"{model.name}_packs",
        group_name=GROUPS[model.layer],
        partitions_def=partitions_of(model),
        pool=writers_pool(model.zone, model.name),
        deps=[dg.AssetKey(model.name)],
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"parquet"},
        owners=OWNERS,
        description=f"Month packs of `{model.name}`: each ended month's days in one file, read in their "
        "place while every day is still at its packed version (docs/lake.md, Month packs).",
        tags={"layer": model.layer},
    )
    def packs_asset(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
        start, end = run_keys(context)
        written = pack(model, lake.open(), start, end)
        context.log.info(f"{model.name} {start}..{end}: {len(written)} month(s) packed")
        return dg.MaterializeResult(metadata={
            "months_packed": [p.month for p in written],
            "rows": sum(p.rows for p in written),
            "bytes": sum(p.bytes for p in written),
        })  # fmt: skip

    return packs_asset


with warnings.catch_warnings(action="ignore", category=dg.BetaWarning):  # backfill_policy
    ASSETS = [build_model_asset(m) for m in MODELS.values()]
    PACK_ASSETS = [build_packs_asset(m) for m in MODELS.values() if m.packed]
DAILY_ASSETS = [a for a, m in zip(ASSETS, MODELS.values(), strict=True) if m.partitioned_by == "day"] + PACK_ASSETS
MONTHLY_ASSETS = [a for a, m in zip(ASSETS, MODELS.values(), strict=True) if m.partitioned_by == "month"]
