"""The lean ingest worker: it runs the same load as the in-process path (same rows, same quarantine,
same metadata), imports neither Dagster nor boto3 nor the settings, and the assets run it through
Dagster Pipes."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
import uuid
import warnings
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from gitgoods import aws
from gitgoods.contract.tables import ensure_tables
from gitgoods.settings import Settings, reset_settings
from pipelines.aws_http import AwsError, AwsTarget, glue_api
from pipelines.defs.ingest.assets import ASSETS, worker_extras
from pipelines.ingest.load import ingest_day, partition_metadata
from pipelines.ingest.worker import WorkerConfig
from pipelines.lake.catalog import GlueCatalog
from pipelines.lake.fs import LakeFS
from pipelines.lake.partitions.reading import read_partition
from pipelines.resources import DynamoResource, LakeResource
from tests.test_ingest_convert import at, event_item, funnel_item, sale_item
from tests.test_ingest_reader import put_items

pytestmark = pytest.mark.stack
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

DAY = (dt.datetime.now(dt.UTC) - dt.timedelta(days=30)).date()  # inside the daily partitions
FORBIDDEN = ("dagster", "boto3", "s3transfer", "pydantic", "pydantic_settings", "jsonschema", "pandas", "gitgoods.aws")

# Runs the worker's real entry point (`python -m pipelines.ingest.worker --config ...`), then says
# which of the forbidden modules the process had loaded.
RUN_WORKER = textwrap.dedent(
    """
    import json, runpy, sys
    sys.argv = ["pipelines.ingest.worker", "--config", sys.argv[1]]
    try:
        runpy.run_module("pipelines.ingest.worker", run_name="__main__", alter_sys=True)
    except SystemExit as exit:
        assert not exit.code, exit.code
    forbidden = [m for m in sys.modules if m.split(".")[0] in {forbidden_roots!r} or m in {forbidden_names!r}]
    print("MODULES " + json.dumps(sorted(forbidden)), file=sys.stderr)
    """
).format(
    forbidden_roots={m for m in FORBIDDEN if "." not in m},
    forbidden_names={m for m in FORBIDDEN if "." in m},
)


@pytest.fixture(scope="module")
def settings(settings: Settings) -> Settings:
    """Tables of their own, with a day of clean and broken items in both contract tables."""
    own = settings.model_copy(update={"table_prefix": f"wk{uuid.uuid4().hex[:6]}-"})
    ensure_tables(own)
    events = [event_item(at(DAY, 86400 * i / 90)) for i in range(90)]
    events += [funnel_item(at(DAY, 50.0 * i)) for i in range(7)]
    events[3]["currency"] = {"S": "eur"}
    events[4]["coupon"] = {"S": "SPRING"}
    sales = [sale_item(at(DAY, 700.0 * i), qty=1 + i % 4) for i in range(60)]
    sales[5]["status"] = {"S": "lost"}
    put_items(own, "order_events", events)
    put_items(own, "sales", sales)
    return own


def worker_config(settings: Settings, lake_uri: str, glue_database: str | None = None) -> WorkerConfig:
    return WorkerConfig(
        target=AwsTarget.from_settings(settings).to_dict(),
        lake_uri=lake_uri,
        glue_database=glue_database,
        tables=["raw_order_events", "raw_sales"],
        days=[DAY.isoformat()],
    )


def run_worker(config: WorkerConfig, tmp_path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    path = tmp_path / f"worker-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(config.to_dict()))
    proc = subprocess.run(
        [sys.executable, "-c", RUN_WORKER, str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    modules = json.loads(proc.stderr.rsplit("MODULES ", 1)[1])
    return lines, modules


def _sorted(table, key):  # type: ignore[no-untyped-def]
    return table.sort_by([(k, "ascending") for k in key])


def test_the_worker_loads_what_the_in_process_path_loads_and_imports_no_dagster_or_boto3(settings, tmp_path):
    # the in-process path, as the assets' `in_process` mode and the history job run it
    here = LakeFS.from_uri(f"file://{tmp_path / 'here'}", settings)
    expected = {t: ingest_day(t, DAY, settings, here) for t in ("raw_order_events", "raw_sales")}

    lines, modules = run_worker(worker_config(settings, f"file://{tmp_path / 'worker'}"), tmp_path)
    assert modules == []  # no dagster, boto3, pydantic(-settings), jsonschema, pandas in the worker
    *per_partition, last = lines
    summary = last["summary"]
    assert summary["partitions"] == 2 and summary["items"] == 97 + 60
    assert summary["quarantined"] == 3 and summary["peak_rss_mb"] >= summary["baseline_rss_mb"] > 0

    worker_lake = LakeFS.from_uri(f"file://{tmp_path / 'worker'}", settings)
    keys = {"raw_order_events": ["event_id"], "raw_sales": ["seller_id", "sk"]}
    for line in per_partition:
        table = line["table"]
        loaded = expected[table]
        assert loaded.published and line["published"]
        raw, quarantined, tally = loaded.raw, loaded.quarantined, loaded.tally
        ours = read_partition(worker_lake, table, DAY.isoformat())
        theirs = read_partition(here, table, DAY.isoformat())
        assert ours.schema.equals(theirs.schema) and ours.num_rows == theirs.num_rows == raw.rows > 50
        assert _sorted(ours, keys[table]).equals(_sorted(theirs, keys[table]))  # row for row
        source = {"raw_order_events": "order_events", "raw_sales": "sales"}[table]
        bad_ours = read_partition(worker_lake, source, DAY.isoformat(), zone="quarantine")
        bad_theirs = read_partition(here, source, DAY.isoformat(), zone="quarantine")
        assert _sorted(bad_ours, ["item_key"]).equals(_sorted(bad_theirs, ["item_key"]))
        assert bad_ours.num_rows == quarantined.rows >= 1
        # the same materialisation metadata, but for where the runs were written
        # (the preview shows the first page to arrive, from whichever shard answers first)
        theirs_meta = partition_metadata(raw, quarantined, tally)
        previews = [m.pop("preview")["raw_value"].splitlines() for m in (theirs_meta, line["metadata"])]
        assert previews[0][0] == previews[1][0] and min(map(len, previews)) > 2  # the header and rows
        for key in ("location", "quarantine_location", "bytes"):
            theirs_meta.pop(key), line["metadata"].pop(key)
        assert line["metadata"] == theirs_meta
        assert (line["items"], line["clean"], line["quarantined"]) == (tally.items, tally.clean, quarantined.rows)


def test_the_worker_writes_to_s3_and_registers_glue_without_boto3(settings, moto_server, tmp_path):
    bucket = f"wk-{uuid.uuid4().hex[:8]}"
    aws.client("s3", settings).create_bucket(Bucket=bucket)
    database = f"wk_{uuid.uuid4().hex[:8]}"
    lines, modules = run_worker(worker_config(settings, f"s3://{bucket}/lake", database), tmp_path)
    assert modules == []
    assert lines[-1]["summary"]["rows"] == 97 + 60 - 3
    lake = LakeFS.from_uri(f"s3://{bucket}/lake", settings)
    assert read_partition(lake, "raw_sales", DAY.isoformat()).num_rows == 59
    glue = aws.client("glue", settings)
    location = glue.get_partition(DatabaseName=database, TableName="raw_sales", PartitionValues=[DAY.isoformat()])[
        "Partition"
    ]["StorageDescriptor"]["Location"]
    assert location == lines[1]["location"] and location.startswith(f"s3://{bucket}/lake/raw/raw_sales/_runs/")
    types = {
        c["Name"]: c["Type"]
        for c in glue.get_table(DatabaseName=database, Name="quarantine_order_events")["Table"]["StorageDescriptor"][
            "Columns"
        ]
    }
    assert types["reasons"] == "array<string>"
    pointer = aws.client("s3", settings).get_object(Bucket=bucket, Key=f"lake/raw/raw_sales/_current/dt={DAY}.json")
    assert pointer["ContentType"] == "application/json"


def test_glue_and_s3_from_a_plain_target_read_like_boto3(settings, moto_server):
    target = AwsTarget.from_settings(settings)
    with pytest.raises(AwsError) as info:
        glue_api(target).get_table(DatabaseName="no_such_database_here", Name="t")
    assert info.value.response["Error"]["Code"] == "EntityNotFoundException"  # what GlueCatalog reads
    catalog = GlueCatalog(settings=target, database=f"wk_{uuid.uuid4().hex[:8]}")
    assert catalog.ensure_database() and not catalog.ensure_database()
    assert catalog.get_table("raw_sales") is None and catalog.get_partition_location("raw_sales", "2034-01-01") is None

    bucket = f"wk-{uuid.uuid4().hex[:8]}"
    aws.client("s3", settings).create_bucket(Bucket=bucket)
    lake = LakeFS.from_uri(f"s3://{bucket}/x", target)
    lake.write_bytes(b'{"a": 1}', "d", "m.json", content_type="application/json")
    assert lake.read_bytes("d", "m.json", immutable=True) == lake.read_bytes("d", "m.json") == b'{"a": 1}'
    for immutable in (True, False):
        with pytest.raises(FileNotFoundError):
            lake.read_bytes("d", "missing.json", immutable=immutable)


@pytest.fixture()
def pipes_env(settings, monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    for name, value in {
        "GITGOODS_HOME": str(settings.home),
        "GITGOODS_DYNAMODB_PORT": str(settings.dynamodb_port),
        "GITGOODS_MOTO_PORT": str(settings.moto_port),
        "GITGOODS_TABLE_PREFIX": settings.table_prefix,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GITGOODS_INGEST_IN_PROCESS", raising=False)
    reset_settings()
    yield tmp_path
    reset_settings()


def test_the_asset_runs_the_worker_through_pipes_and_reports_the_same_metadata(settings, pipes_env):
    def run(lake_dir: str, in_process: bool | None):  # type: ignore[no-untyped-def]
        resources = {
            "dynamo": DynamoResource(table_prefix=settings.table_prefix),
            "lake": LakeResource(uri=f"file://{pipes_env / lake_dir}", glue_database="unused", register_in_glue=False),
        }
        config = {} if in_process is None else {"in_process": in_process}
        result = dg.materialize(
            ASSETS,
            partition_key=DAY.isoformat(),
            resources=resources,
            instance=dg.DagsterInstance.ephemeral(),
            run_config={"ops": {a.key.to_user_string(): {"config": config} for a in ASSETS}},
            raise_on_error=False,
        )
        assert result.success
        checks = result.get_asset_check_evaluations()
        assert len(checks) == 2 and all(c.passed for c in checks)  # the blocking reconciliation, after the worker
        events = result.get_asset_materialization_events()
        mats = {m.asset_key.to_user_string(): m.materialization.metadata for m in events}
        assert set(mats) == {"raw_sales", "raw_order_events"}
        return mats, resources

    piped, resources = run("piped", None)  # the default: a worker through Pipes
    inline, _ = run("inline", True)
    for table in ("raw_sales", "raw_order_events"):
        a, b = dict(piped[table]), dict(inline[table])
        assert a.pop("worker_peak_rss_mb").value > 0  # only the worker reports its own peak
        assert "worker_peak_rss_mb" not in b
        assert a["location"].value.startswith(f"file://{pipes_env / 'piped'}/raw/{table}/_runs/dt={DAY}/run=")
        for key in ("location", "quarantine_location", "bytes", "preview"):
            a.pop(key), b.pop(key)
        assert a == b
    assert piped["raw_order_events"]["quarantined"].value == 2
    assert set(piped["raw_order_events"]["quarantine_reasons"].value) == {
        "coupon: unknown attribute",
        "currency: does not match ^[A-Z]{3}$",
    }
    columns = {c.name for c in piped["raw_sales"]["dagster/column_schema"].schema.columns}
    assert {"seller_id", "sold_at", "amount_cents"} <= columns
    assert "sold_at" in piped["raw_sales"]["preview"].value
    assert worker_extras(resources["dynamo"], resources["lake"])["glue_database"] is None
