"""History from a DynamoDB export lands in the same partitions, with the same rows, as the daily
ingest that reads the table; each day is audited before it is published and its check recorded."""

from datetime import timedelta
from pathlib import Path

import dagster as dg
import pyarrow.fs as pafs
import pytest

from pipelines.defs.ingest.history import history_from_export
from pipelines.defs.marts.gates import blocked_upstream
from pipelines.defs.partitions import daily
from pipelines.ingest import history
from pipelines.lake.partitions.manifest import current_run_id
from pipelines.lake.partitions.reading import read_partition
from pipelines.marts.models import discover
from pipelines.resources import LakeResource
from tests.dynamodb_export import write_export
from tests.helpers import scan_all
from tests.test_ingest_assets import DAY, materialize, pipeline_env, place_orders  # noqa: F401 - fixture

pytestmark = pytest.mark.stack
MODELS = discover()


def _load(export: Path, lake: LakeResource, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return history_from_export.execute_in_process(
        run_config={"ops": {"load_history_from_export": {"config": {"export_uri": f"file://{export}",
                                                                    "table": "raw_order_events"}}}},
        resources={"lake": lake},
        instance=instance,
        raise_on_error=False,
    )


def test_export_history_equals_the_table_ingest(pipeline_env, orders_app, catalog_data, settings, tmp_path,  # noqa: F811
                                                monkeypatch):  # fmt: skip
    days = [DAY - timedelta(days=20 + n) for n in range(3)]
    for n, day in enumerate(days):
        place_orders(orders_app, catalog_data, settings, 4 + n, day, f"hist{n}")

    # the export a team would get from ExportTableToPointInTime (DynamoDB JSON, gzip lines)
    items = scan_all(settings, "order_events")
    ours = [i for i in items if i.get("day_shard", {}).get("S", "")[:10] in {d.date().isoformat() for d in days}]
    bad = dict(ours[0], event_id={"S": "evt_01JBAD00000000000000000HIS"}, amount_cents={"N": "-1"})
    write_export(pafs.LocalFileSystem(), str(tmp_path / "export"), [*items, bad], items_per_file=7)

    history_lake = LakeResource(uri=f"file://{tmp_path / 'history-lake'}", glue_database="history_lake")
    instance = dg.DagsterInstance.ephemeral()
    result = _load(tmp_path / "export", history_lake, instance)
    assert result.success
    materialized = {m.partition for m in result.asset_materializations_for_node("load_history_from_export")}
    keys = sorted(d.date().isoformat() for d in days)
    assert set(keys) <= materialized
    # each day's reconciliation is the raw asset's check for that day: the models' gate accepts them
    checks = {e.partition: e.passed for e in result.get_asset_check_evaluations()}
    assert all(checks[k] for k in keys)
    stg = MODELS["stg_order_events"]
    assert blocked_upstream(instance, stg, keys[0], keys[-1], {"raw_order_events": (daily, False)}) == []

    for day in days:
        key = day.date().isoformat()
        assert materialize(pipeline_env, key).success  # the table path, into the other lake
        from_table = read_partition(pipeline_env["lake"].open(), "raw_order_events", key).sort_by("event_id")
        from_export = read_partition(history_lake.open(), "raw_order_events", key).sort_by("event_id")
        assert from_export.equals(from_table), key
    bad_day = ours[0]["day_shard"]["S"][:10]
    quarantined = read_partition(history_lake.open(), "order_events", bad_day, zone="quarantine")
    assert "evt_01JBAD00000000000000000HIS" in quarantined["item_key"].to_pylist()

    # a load that loses a row (a conversion bug) does not reconcile: nothing of it is published
    before = {k: current_run_id(history_lake.open(), "raw_order_events", k) for k in keys}
    staged_batches = history._staged_batches

    def lossy(files):  # type: ignore[no-untyped-def]
        for n, batch in enumerate(staged_batches(files)):
            yield batch.slice(1) if n == 0 else batch

    monkeypatch.setattr(history, "_staged_batches", lossy)
    broken = _load(tmp_path / "export", history_lake, instance)
    assert not broken.success
    assert not any(e.passed for e in broken.get_asset_check_evaluations())
    assert {k: current_run_id(history_lake.open(), "raw_order_events", k) for k in keys} == before
    blocked = blocked_upstream(instance, stg, keys[0], keys[-1], {"raw_order_events": (daily, False)})
    assert [b.partition for b in blocked] == keys and "failed in run " + broken.run_id in blocked[0].reason


def test_export_that_does_not_match_its_manifest_fails(tmp_path, settings):
    items = [{"event_id": {"S": f"evt_{n}"}} for n in range(3)]
    export_dir = write_export(pafs.LocalFileSystem(), str(tmp_path / "export"), items)
    data = next((tmp_path / "export").rglob("*.json.gz"))
    import gzip

    data.write_bytes(gzip.compress(gzip.decompress(data.read_bytes()).splitlines(keepends=True)[0]))
    result = history_from_export.execute_in_process(
        run_config={"ops": {"load_history_from_export": {"config": {"export_uri": f"file://{export_dir}"}}}},
        resources={"lake": LakeResource(uri=f"file://{tmp_path / 'lake'}", glue_database="x", register_in_glue=False)},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
