"""Write-audit-publish for the raw layer, end to end (DynamoDB Local -> Dagster -> the lake): a
new run of a day becomes current only after its blocking reconciliation passed on that run, in
process and through the worker. A run that fails is not seen by any reader (the lake's readers,
the embedded SQL engine, the Glue catalog), stops the downstream assets of its run, and is kept
for inspection; the next good run publishes."""

from __future__ import annotations

import os
import warnings
from datetime import timedelta

import dagster as dg
import pytest

from gitgoods import aws
from pipelines.defs.ingest.assets import raw_sales
from pipelines.defs.partitions import daily
from pipelines.ingest import reader
from pipelines.lake.partitions.reading import dataset, read_partition
from pipelines.sql.duckdb_engine import DuckDBEngine
from tests.lossy_read import SITECUSTOMIZE, lossy
from tests.test_ingest_assets import DAY, pipeline_env, place_orders  # noqa: F401  (a fixture)

pytestmark = pytest.mark.stack
warnings.filterwarnings("ignore", category=dg.PreviewWarning)


def materialize(resources, day, assets, in_process):  # type: ignore[no-untyped-def]
    return dg.materialize(
        assets,
        partition_key=day,
        resources=resources,
        instance=dg.DagsterInstance.ephemeral(),
        run_config={"ops": {"raw_sales": {"config": {"in_process": in_process}}}},
        raise_on_error=False,
    )


@pytest.mark.parametrize("in_process", [True, False], ids=["in-process", "worker"])
def test_a_run_that_does_not_reconcile_is_not_published_and_the_next_good_run_is(
    pipeline_env, orders_app, catalog_data, settings, monkeypatch, tmp_path, in_process  # noqa: F811
):
    day_dt = DAY - timedelta(days=6 if in_process else 7)
    day = day_dt.date().isoformat()
    lake = pipeline_env["lake"]
    fs = lake.open()
    place_orders(orders_app, catalog_data, settings, 4, day_dt, f"wap{in_process}")

    ran: list[str] = []

    @dg.asset(deps=[raw_sales], partitions_def=daily)
    def seller_mart() -> None:  # a downstream asset: it must not run on a day that failed
        ran.append(day)

    def glue_location() -> str:
        partition = aws.client("glue", settings).get_partition(
            DatabaseName=lake.glue_database, TableName="raw_sales", PartitionValues=[day]
        )
        return partition["Partition"]["StorageDescriptor"]["Location"]

    def engine_figures() -> dict:
        with DuckDBEngine(settings, lake=fs, dynamodb=False) as engine:
            sql = f"SELECT count(*) AS n, CAST(sum(amount_cents) AS BIGINT) AS cents FROM raw_sales WHERE dt = '{day}'"
            return engine.query(sql).to_pylist()[0]

    first = materialize(pipeline_env, day, [raw_sales, seller_mart], in_process)
    assert first.success and ran == [day]
    before = read_partition(fs, "raw_sales", day)
    published = glue_location()
    assert engine_figures() == {"n": len(before), "cents": sum(before["amount_cents"].to_pylist())}

    # Three more orders arrive, and the next load has a conversion bug that drops a row.
    place_orders(orders_app, catalog_data, settings, 3, day_dt + timedelta(hours=2), f"wap-more{in_process}")
    python_path = os.environ.get("PYTHONPATH")
    if in_process:
        monkeypatch.setattr(reader, "read_day", lossy(reader.read_day))
    else:
        (tmp_path / "site").mkdir()
        (tmp_path / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path / "site"), os.getcwd()]))
    bad = materialize(pipeline_env, day, [raw_sales, seller_mart], in_process)

    assert not bad.success and ran == [day]  # the step failed and the downstream asset did not run
    [check] = bad.get_asset_check_evaluations()
    assert check.asset_check_key.name == "reconciles_with_dynamodb" and not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["difference_items"].value == 1 and check.metadata["published"].value is False
    assert not bad.get_asset_materialization_events()  # nothing claims the new run is current
    # every reader still sees the previous figures
    assert read_partition(fs, "raw_sales", day).sort_by("sk").equals(before.sort_by("sk"))
    assert dataset(fs, "raw_sales", dts=[day]).count_rows() == len(before)
    assert engine_figures() == {"n": len(before), "cents": sum(before["amount_cents"].to_pylist())}
    assert glue_location() == published
    # the failed run is kept, and named, for inspection: the new day, one row short
    run_id = check.metadata["run_id"].value
    assert check.metadata["kept_for_inspection"].value == check.metadata["location"].value
    assert check.metadata["location"].value.endswith(f"/raw/raw_sales/_runs/dt={day}/run={run_id}/")
    assert read_partition(fs, "raw_sales", day, run_id=run_id).num_rows == len(before) + 3 - 1

    # the bug fixed, the next run publishes, and every reader sees it
    if in_process:
        monkeypatch.setattr(reader, "read_day", reader.read_day.__closure__[0].cell_contents)
    elif python_path is None:
        monkeypatch.delenv("PYTHONPATH")
    else:
        monkeypatch.setenv("PYTHONPATH", python_path)
    good = materialize(pipeline_env, day, [raw_sales, seller_mart], in_process)
    assert good.success and ran == [day, day]
    [check] = good.get_asset_check_evaluations()
    assert check.passed and check.metadata["published"].value is True and "kept_for_inspection" not in check.metadata
    after = read_partition(fs, "raw_sales", day)
    assert len(after) == len(before) + 3
    assert dataset(fs, "raw_sales", dts=[day]).count_rows() == len(after)
    assert engine_figures() == {"n": len(after), "cents": sum(after["amount_cents"].to_pylist())}
    assert glue_location() == check.metadata["location"].value != published
    [mat] = [m for m in good.get_asset_materialization_events() if m.asset_key == raw_sales.key]
    assert mat.materialization.metadata["location"].value == glue_location()
