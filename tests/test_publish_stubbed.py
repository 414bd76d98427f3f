"""The publish step's QuickSight calls where the emulator has nothing to offer: the exact requests
AWS would receive (checked by botocore's Stubber against the service model), dashboard versions,
ingestion status, failures and throttling."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber

from pipelines.publish.api import PublishError, QuickSight, ingest
from pipelines.publish.diff import diff
from pipelines.publish.plan import Change, Wanted, apply, plan, plan_one

ACCOUNT = "111122223333"
ANALYSTS = f"arn:aws:quicksight:us-east-1:{ACCOUNT}:group/default/analysts"
VIEW = ("quicksight:DescribeDashboard", "quicksight:ListDashboardVersions", "quicksight:QueryDashboard")


def _client():
    return boto3.client(
        "quicksight", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"  # noqa: S106
    )


def _definition(title: str) -> dict:
    return {
        "DataSetIdentifierDeclarations": [
            {"Identifier": "sales", "DataSetArn": f"arn:aws:quicksight:us-east-1:{ACCOUNT}:dataset/gitgoods-sales"}
        ],
        "Sheets": [
            {
                "SheetId": "overview",
                "Name": "Overview",
                "Visuals": [
                    {
                        "KPIVisual": {
                            "VisualId": "orders",
                            "Title": {"Visibility": "VISIBLE", "FormatText": {"PlainText": title}},
                        }
                    }
                ],
            }
        ],
    }


def _dashboard(title: str) -> Wanted:
    return Wanted(
        "dashboard",
        {"DashboardId": "gitgoods-seller-insights", "Name": "Seller insights", "Definition": _definition(title)},
        {ANALYSTS: VIEW},
    )


def test_field_diff_matches_lists_by_id():
    before = {"Visuals": [{"KPIVisual": {"VisualId": "a", "T": 1}}, {"KPIVisual": {"VisualId": "b", "T": 2}}]}
    after = {"Visuals": [{"KPIVisual": {"VisualId": "new", "T": 0}}, {"KPIVisual": {"VisualId": "a", "T": 1}},
                         {"KPIVisual": {"VisualId": "b", "T": 3}}]}
    lines = sorted(str(d) for d in diff(before, after))
    assert lines == [
        "+ Visuals[KPIVisual:VisualId=new] = {\"KPIVisual\": {\"T\": 0, \"VisualId\": \"new\"}}",
        "~ Visuals[KPIVisual:VisualId=b].KPIVisual.T: 2 -> 3",
    ]
    assert diff({"a": {"b": [1, 2]}}, {"a": {"b": [1, 2]}}) == []
    cols = sorted(str(d) for d in diff({"P": ["a", "b", "c"]}, {"P": ["a", "c", "d"]}))
    assert cols == ['+ P["d"] = "d"', '- P["b"] (was "b")']
    assert [str(d) for d in diff({"P": ["a", "b"]}, {"P": ["b", "a"]})] == ['~ P (order): ["a", "b"] -> ["b", "a"]']
    assert [str(d) for d in diff({"x": 1, "y": 2}, {"x": 1})] == ["- y (was 2)"]


def test_changed_dashboard_becomes_a_new_published_version():
    client = _client()
    qs = QuickSight(client, ACCOUNT)
    wanted = _dashboard("Orders (new title)")
    with Stubber(client) as stub:
        stub.add_response(
            "describe_dashboard_definition",
            {"DashboardId": wanted.id, "Name": "Seller insights", "Definition": _definition("Orders"), "Status": 200},
            {"AwsAccountId": ACCOUNT, "DashboardId": wanted.id},
        )
        stub.add_response(
            "describe_dashboard_permissions",
            {"DashboardId": wanted.id, "Permissions": [{"Principal": ANALYSTS, "Actions": list(VIEW)}], "Status": 200},
            {"AwsAccountId": ACCOUNT, "DashboardId": wanted.id},
        )
        change = plan_one(qs, wanted)
        assert change.action == "update"
        assert [str(d) for d in change.fields] == [
            '~ Definition.Sheets[SheetId=overview].Visuals[KPIVisual:VisualId=orders].KPIVisual.Title.FormatText'
            '.PlainText: "Orders" -> "Orders (new title)"'
        ]
        assert not change.grant and not change.revoke
        stub.add_response(
            "update_dashboard",
            {"Arn": "arn", "VersionArn": f"arn:aws:quicksight:us-east-1:{ACCOUNT}:dashboard/{wanted.id}/version/4",
             "DashboardId": wanted.id, "CreationStatus": "CREATION_SUCCESSFUL", "Status": 202},
            {"AwsAccountId": ACCOUNT, "DashboardId": wanted.id, "Name": "Seller insights",
             "Definition": _definition("Orders (new title)")},
        )
        stub.add_response(
            "update_dashboard_published_version",
            {"DashboardId": wanted.id, "Status": 200},
            {"AwsAccountId": ACCOUNT, "DashboardId": wanted.id, "VersionNumber": 4},
        )
        assert apply(qs, change) == {"action": "update", "version": 4, "fields_changed": 1}
        stub.assert_no_pending_responses()
    assert qs.writes["UpdateDashboard"] == 1 and qs.writes["UpdateDashboardPublishedVersion"] == 1


def test_unchanged_dashboard_makes_no_write_call_and_missing_grant_is_granted():
    client = _client()
    qs = QuickSight(client, ACCOUNT)
    wanted = _dashboard("Orders")
    with Stubber(client) as stub:
        stub.add_response(
            "describe_dashboard_definition",
            {"DashboardId": wanted.id, "Name": "Seller insights", "Definition": _definition("Orders"), "Status": 200},
        )
        stub.add_response("describe_dashboard_permissions", {"DashboardId": wanted.id, "Permissions": []})
        change = plan_one(qs, wanted)
        assert change.action == "unchanged" and change.grant == {ANALYSTS: tuple(sorted(VIEW))}
        stub.add_response(
            "update_dashboard_permissions",
            {"DashboardId": wanted.id, "Status": 200},
            {"AwsAccountId": ACCOUNT, "DashboardId": wanted.id,
             "GrantPermissions": [{"Principal": ANALYSTS, "Actions": sorted(VIEW)}]},
        )
        apply(qs, change)
        stub.assert_no_pending_responses()
    assert sum(qs.writes.values()) == 1


def test_plan_lists_removals_and_apply_removes_only_with_the_flag():
    client = _client()
    qs = QuickSight(client, ACCOUNT)
    with Stubber(client) as stub:
        stub.add_response("list_dashboards", {"DashboardSummaryList": [
            {"DashboardId": "gitgoods-old-board"}, {"DashboardId": "someone-elses"}]})
        stub.add_response("list_data_sets", {"DataSetSummaries": [{"DataSetId": "gitgoods-retired_mart"}]})
        stub.add_response("list_data_sources", {"DataSources": []})
        changes = plan(qs, [], prefix="gitgoods-", removals=True)
        assert [(c.kind, c.id, c.action) for c in changes] == [
            ("dashboard", "gitgoods-old-board", "remove"),
            ("data_set", "gitgoods-retired_mart", "remove"),
        ]
        with pytest.raises(PublishError, match="explicit removal flag"):
            apply(qs, changes[0])
        stub.add_response("delete_dashboard", {"DashboardId": "gitgoods-old-board", "Status": 200},
                          {"AwsAccountId": ACCOUNT, "DashboardId": "gitgoods-old-board"})
        apply(qs, changes[0], allow_remove=True)
        stub.assert_no_pending_responses()


def test_throttled_calls_are_retried_then_given_up():
    client = _client()
    qs = QuickSight(client, ACCOUNT, attempts=3, max_wait_s=0.01)
    with Stubber(client) as stub:
        stub.add_client_error("describe_data_set", "ThrottlingException", "Rate exceeded", 429)
        stub.add_client_error("describe_data_set", "ThrottlingException", "Rate exceeded", 429)
        stub.add_client_error("describe_data_set", "ResourceNotFoundException", "no such data set", 404)
        assert qs.describe("describe_data_set", DataSetId="gitgoods-x") is None
        for _ in range(3):
            stub.add_client_error("create_ingestion", "ThrottlingException", "Rate exceeded", 429)
        with pytest.raises(Exception, match="ThrottlingException"):
            qs.call("create_ingestion", DataSetId="gitgoods-x", IngestionId="i1")
        stub.add_client_error("create_data_set", "AccessDeniedException", "no", 403)
        with pytest.raises(Exception, match="AccessDeniedException"):  # not retried: one response only
            qs.call("create_data_set", DataSetId="gitgoods-x", Name="x", PhysicalTableMap={}, ImportMode="SPICE")
        stub.assert_no_pending_responses()


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _ingestion(status: str, **extra) -> dict:
    return {"Ingestion": {"Arn": "arn", "IngestionId": "i1", "IngestionStatus": status,
                          "CreatedTime": datetime(2026, 11, 30, tzinfo=UTC), **extra}}


def test_ingestion_is_waited_for_and_reports_rows():
    client = _client()
    qs = QuickSight(client, ACCOUNT)
    clock = _Clock()
    with Stubber(client) as stub:
        stub.add_response("create_ingestion", {"Arn": "arn", "IngestionId": "i1", "IngestionStatus": "INITIALIZED"},
                          {"AwsAccountId": ACCOUNT, "DataSetId": "gitgoods-sales", "IngestionId": "i1",
                           "IngestionType": "FULL_REFRESH"})
        stub.add_response("describe_ingestion", _ingestion("QUEUED"))
        stub.add_response("describe_ingestion", _ingestion("RUNNING"))
        stub.add_response("describe_ingestion", _ingestion(
            "COMPLETED", RowInfo={"RowsIngested": 2928, "RowsDropped": 3, "TotalRowsInDataset": 2928}))
        result = ingest(qs, "gitgoods-sales", timeout_s=60, poll_s=2, ingestion_id="i1", sleep=clock.sleep,
                        clock=clock)
    assert result.ok and (result.rows_ingested, result.rows_dropped, result.total_rows) == (2928, 3, 2928)
    assert result.seconds == 4.0  # two polls of 2 s before the third answer


def test_failed_and_timed_out_ingestions_say_why():
    client = _client()
    qs = QuickSight(client, ACCOUNT)
    clock = _Clock()
    with Stubber(client) as stub:
        stub.add_response("create_ingestion", {"IngestionId": "i2", "IngestionStatus": "INITIALIZED"})
        stub.add_response("describe_ingestion", _ingestion(
            "FAILED", ErrorInfo={"Type": "DATA_SET_NOT_FOUND", "Message": "table marts_x not found"}))
        failed = ingest(qs, "gitgoods-x", timeout_s=60, ingestion_id="i2", sleep=clock.sleep, clock=clock)
        assert not failed.ok and failed.error == "DATA_SET_NOT_FOUND: table marts_x not found"
        stub.add_response("create_ingestion", {"IngestionId": "i3", "IngestionStatus": "INITIALIZED"})
        for _ in range(4):
            stub.add_response("describe_ingestion", _ingestion("RUNNING"))
        slow = ingest(qs, "gitgoods-x", timeout_s=5, poll_s=2, ingestion_id="i3", sleep=clock.sleep, clock=clock)
    assert slow.status == "TIMED_OUT" and "5 s" in slow.error


def test_create_sends_permissions_in_the_create_call():
    client = _client()
    qs = QuickSight(client, ACCOUNT)
    wanted = _dashboard("Orders")
    change = Change("dashboard", wanted.id, "create", grant=dict(wanted.permissions), wanted=wanted)
    with Stubber(client) as stub:
        stub.add_response(
            "create_dashboard",
            {"Arn": "arn", "VersionArn": f"arn:aws:quicksight:us-east-1:{ACCOUNT}:dashboard/{wanted.id}/version/1",
             "DashboardId": wanted.id, "CreationStatus": "CREATION_IN_PROGRESS", "Status": 202},
            {"AwsAccountId": ACCOUNT, "DashboardId": wanted.id, "Name": "Seller insights",
             "Definition": ANY, "Permissions": [{"Principal": ANALYSTS, "Actions": list(VIEW)}]},
        )
        assert apply(qs, change) == {"action": "create", "version": 1}
        stub.assert_no_pending_responses()
