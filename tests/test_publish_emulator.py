"""Publishing end to end on the emulator: marts built and checked by Dagster, then the `publish`
group against the moto server with the local QuickSight. Publishing twice changes nothing; a mart
column added shows in `plan`; the RLS rules follow the pool; SPICE holds exactly the marts' rows."""

from __future__ import annotations

import dataclasses

import pyarrow.parquet as pq
import pytest

from gitgoods import aws
from pipelines.lake.partitions.reading import dataset
from pipelines.marts.models import Column, discover
from pipelines.publish import rls
from pipelines.publish.api import QuickSight
from pipelines.publish.plan import plan
from pipelines.publish.wanted import publication
from tests.insights_world import World, world  # noqa: F401 - the fixture
from tests.marts_data import S1, S2, S3

# one published world per test session: these modules run on one xdist worker
pytestmark = [pytest.mark.stack, pytest.mark.xdist_group("insights_world")]

PUBLISHED_MARTS = ("seller_daily_sales", "seller_daily_segments", "product_performance", "seller_kpis",
                   "buyer_cohorts", "fulfilment", "funnel")


def _qs(w: World) -> QuickSight:
    return QuickSight(aws.client("quicksight", w.settings), w.settings.quicksight_account_id)


def _metadata(result, name: str) -> dict:  # type: ignore[no-untyped-def]
    events = [e for e in result.get_asset_materialization_events()
              if e.event_specific_data.materialization.asset_key.to_user_string() == name]
    assert events, f"{name} was not materialised"
    return {k: v.value for k, v in events[-1].event_specific_data.materialization.metadata.items()}


def test_spice_holds_exactly_the_rows_of_each_mart(world: World):  # noqa: F811
    prefix = world.settings.quicksight_prefix
    for mart in PUBLISHED_MARTS:
        rows = dataset(world.lake, mart, zone="marts").to_table().num_rows
        snapshot = world.spice.current(f"{prefix}{mart}")
        assert snapshot is not None, mart
        assert snapshot.rows == rows, mart
        assert "seller_id" in snapshot.data.column_names
    rules = world.spice.current(f"{prefix}seller_rls").data.to_pylist()
    assert sorted((r["UserName"], r["GroupName"], r["seller_id"]) for r in rules if r["UserName"]) == [
        (S1, None, S1), (S2, None, S2), (S3, None, S3)]
    assert [r for r in rules if r["GroupName"]] == [{"UserName": None, "GroupName": "analysts", "seller_id": None}]


def test_publishing_again_makes_no_write_call_and_no_ingestion(world: World):  # noqa: F811
    result = world.publish()
    assert result.success
    names = ["quicksight_data_source", "quicksight_seller_rls", *(f"quicksight_{m}" for m in PUBLISHED_MARTS),
             "seller_insights_dashboard"]
    for name in names:
        meta = _metadata(result, name)
        assert meta["write_calls"] == 0, (name, meta)
        assert meta["action"] == "unchanged"
        if name != "quicksight_data_source" and name != "seller_insights_dashboard":
            assert meta["ingestion"].startswith("skipped"), (name, meta["ingestion"])
    changes = plan(_qs(world), publication(world.settings).all(), prefix=world.settings.quicksight_prefix,
                   removals=True)
    assert [c for c in changes if c.changes_anything] == []


def test_a_column_added_to_a_mart_shows_in_plan_as_a_data_set_change(world: World):  # noqa: F811
    models = discover()
    sales = models["seller_daily_sales"]
    extra = Column(name="gift_card_units", type="bigint", description="Units of gift cards sold that day.")
    models = {**models, "seller_daily_sales": dataclasses.replace(sales, columns=(*sales.columns[:-1], extra,
                                                                                 sales.columns[-1]))}
    changes = plan(_qs(world), publication(world.settings, models=models).all(),
                   prefix=world.settings.quicksight_prefix)
    pending = [c for c in changes if c.changes_anything]
    assert [(c.kind, c.id, c.action) for c in pending] == [
        ("data_set", f"{world.settings.quicksight_prefix}seller_daily_sales", "update")]
    lines = "\n".join(pending[0].lines())
    assert '+ PhysicalTableMap.seller_daily_sales.RelationalTable.InputColumns[Name=gift_card_units] = ' \
           '{"Name": "gift_card_units", "Type": "INTEGER"}' in lines
    assert "TagColumnOperation:ColumnName=gift_card_units" in lines
    assert "ProjectedColumns" in lines


def test_a_disabled_seller_leaves_the_rules_on_the_next_run(world: World):  # noqa: F811
    world.identities.disable(S2)
    try:
        result = world.publish()
        assert result.success
        assert _metadata(result, "seller_rls")["sellers_disabled"] == 1
        assert _metadata(result, "quicksight_seller_rls")["ingestion"] == "completed"
        rules = rls.read_rules(world.lake)
        assert [r.seller_id for r in rules if r.user_name] == [S1, S3]
        snapshot = world.spice.current(f"{world.settings.quicksight_prefix}seller_rls")
        assert S2 not in snapshot.data.column("seller_id").to_pylist()
        users = _qs(world).call("list_users", Namespace="default")["UserList"]
        assert S2 not in {u["UserName"] for u in users}
    finally:
        world.identities.enable(S2)
        assert world.publish().success
    assert S2 in [r.seller_id for r in rls.read_rules(world.lake)]


def test_a_seller_added_to_the_pool_is_in_the_rules_on_the_next_run(world: World):  # noqa: F811
    newcomer = "sel_00000000000000000000000S9"
    world.identities.ensure_sellers([newcomer])
    pool = world.identities.pool_id()
    try:
        assert world.publish().success
        assert [r.seller_id for r in rls.read_rules(world.lake) if r.user_name] == [S1, S2, S3, newcomer]
        users = _qs(world).call("list_users", Namespace="default")["UserList"]
        assert newcomer in {u["UserName"] for u in users}
    finally:
        world.identities.cognito.admin_delete_user(UserPoolId=pool, Username=newcomer)
        assert world.publish().success
    assert [r.seller_id for r in rls.read_rules(world.lake) if r.user_name] == [S1, S2, S3]
    users = _qs(world).call("list_users", Namespace="default")["UserList"]
    assert newcomer not in {u["UserName"] for u in users}  # gone from the pool: gone from QuickSight


def test_snapshot_files_hold_no_buyer_identifier(world: World):  # noqa: F811
    """What SPICE holds for sellers carries no buyer-level column."""
    for mart in PUBLISHED_MARTS:
        pointer = world.spice.pointer(f"{world.settings.quicksight_prefix}{mart}")
        path = world.spice.root / f"{world.settings.quicksight_prefix}{mart}" / f"{pointer['ingestion_id']}.parquet"
        names = [n.lower() for n in pq.read_schema(path).names]
        assert not [n for n in names if "buyer_id" in n or "customer" in n or "pseudonym" in n or "email" in n]


def test_the_plan_command_prints_changes_and_changes_nothing(world: World, capsys, monkeypatch):  # noqa: F811
    from pipelines.publish import __main__ as cli
    from pipelines.publish import wanted
    from tests.insights_world import activated

    with activated(world.env):
        assert cli.main(["plan"]) == 0
        out = capsys.readouterr().out
        assert "0 to change, 10 unchanged." in out
        assert f"data set {world.settings.quicksight_prefix}seller_daily_sales: unchanged" in out
        models = discover()
        sales = models["seller_daily_sales"]
        extra = Column(name="gift_card_units", type="bigint", description="Units of gift cards sold that day.")
        grown = {**models, "seller_daily_sales": dataclasses.replace(sales, columns=(*sales.columns, extra))}
        monkeypatch.setattr(wanted, "discover", lambda: grown)
        listed_before = _qs(world).call("list_data_sets")["DataSetSummaries"]
        assert cli.main(["plan"]) == 2
        out = capsys.readouterr().out
        assert f"data set {world.settings.quicksight_prefix}seller_daily_sales: update" in out
        assert "InputColumns[Name=gift_card_units]" in out and "1 to change, 9 unchanged." in out
        # nothing was changed: the published data set does not have the column
        dataset_id = f"{world.settings.quicksight_prefix}seller_daily_sales"
        table = _qs(world).call("describe_data_set", DataSetId=dataset_id)["DataSet"]["PhysicalTableMap"]
        names = [c["Name"] for c in table["seller_daily_sales"]["RelationalTable"]["InputColumns"]]
        assert "gift_card_units" not in names
        assert _qs(world).call("list_data_sets")["DataSetSummaries"] == listed_before
