"""The local QuickSight (gitgoods/local/quicksight): asset APIs added to moto's server, through
boto3 against the session's moto server (conftest `moto_server`, extension installed), every
response checked against botocore's output shape; SPICE ingestions over Glue tables whose
partitions are Parquet run folders on disk or on this moto's S3; the store across a restart of
the launcher."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

from gitgoods.local.quicksight import installed_state_dir
from gitgoods.local.quicksight.spice import SpiceStore

ACCOUNT = "123456789012"
REGION = "us-east-1"
MODEL = botocore.session.get_session().get_service_model("quicksight")
OP_NAMES = {MODEL.operation_model(n).name: n for n in MODEL.operation_names}


def client(service: str, port: int) -> Any:
    return boto3.client(
        service,
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def checked(qs: Any, op: str, **kwargs: Any) -> dict[str, Any]:
    """Call `op` and check its response against the operation's output shape (types and
    required members, recursively)."""
    method = "".join("_" + c.lower() if c.isupper() else c for c in op).lstrip("_")
    response = dict(getattr(qs, method)(**kwargs))
    response.pop("ResponseMetadata")
    report = ParamValidator().validate(response, MODEL.operation_model(op).output_shape)
    assert not report.has_errors(), report.generate_report()
    assert "RequestId" in response and isinstance(response["Status"], int)
    return response


def error_of(call: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"], info.value.response["ResponseMetadata"]["HTTPStatusCode"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture()
def qs(moto_server: int) -> Any:
    return client("quicksight", moto_server)


@pytest.fixture()
def glue(moto_server: int) -> Any:
    return client("glue", moto_server)


@pytest.fixture()
def data_source(qs: Any) -> str:
    ident = uid("ds")
    return qs.create_data_source(
        AwsAccountId=ACCOUNT,
        DataSourceId=ident,
        Name=ident,
        Type="ATHENA",
        DataSourceParameters={"AthenaParameters": {"WorkGroup": "primary"}},
    )["Arn"]


INPUTS = [
    {"Name": "seller_id", "Type": "STRING"},
    {"Name": "gross_cents", "Type": "INTEGER"},
    {"Name": "amount", "Type": "STRING"},
    {"Name": "dt", "Type": "STRING"},
]
TRANSFORMS = [
    {"CastColumnTypeOperation": {"ColumnName": "dt", "NewColumnType": "DATETIME", "Format": "yyyy-MM-dd"}},
    {"CastColumnTypeOperation": {"ColumnName": "amount", "NewColumnType": "DECIMAL"}},
    {"RenameColumnOperation": {"ColumnName": "gross_cents", "NewColumnName": "Gross (cents)"}},
    {"RenameColumnOperation": {"ColumnName": "dt", "NewColumnName": "Day"}},
    {"TagColumnOperation": {"ColumnName": "Day", "Tags": [{"ColumnDescription": {"Text": "Sales day (UTC)"}}]}},
    {"ProjectOperation": {"ProjectedColumns": ["seller_id", "Day", "Gross (cents)", "amount"]}},
]


def data_set_input(ident: str, source_arn: str, database: str, table: str, **extra: Any) -> dict[str, Any]:
    request = {
        "AwsAccountId": ACCOUNT,
        "DataSetId": ident,
        "Name": f"Data set {ident}",
        "ImportMode": "SPICE",
        "PhysicalTableMap": {
            "t": {
                "RelationalTable": {
                    "DataSourceArn": source_arn,
                    "Catalog": "AwsDataCatalog",
                    "Schema": database,
                    "Name": table,
                    "InputColumns": INPUTS,
                }
            }
        },
        "LogicalTableMap": {"l": {"Alias": table, "Source": {"PhysicalTableId": "t"}, "DataTransforms": TRANSFORMS}},
        "FieldFolders": {"Sales": {"columns": ["Gross (cents)", "amount"], "description": "money"}},
        "Permissions": [
            {
                "Principal": f"arn:aws:quicksight:{REGION}:{ACCOUNT}:group/default/analysts",
                "Actions": ["quicksight:DescribeDataSet", "quicksight:PassDataSet"],
            }
        ],
        "Tags": [{"Key": "project", "Value": "gitgoods"}],
    }
    request.update(extra)
    return request


def wait(qs: Any, data_set: str, ingestion: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        got = checked(qs, "DescribeIngestion", AwsAccountId=ACCOUNT, DataSetId=data_set, IngestionId=ingestion)
        if got["Ingestion"]["IngestionStatus"] in ("COMPLETED", "FAILED", "CANCELLED"):
            return got["Ingestion"]
        assert time.monotonic() < deadline, got
        time.sleep(0.05)


def ingest(qs: Any, data_set: str) -> dict[str, Any]:
    ingestion = uid("ing")
    got = checked(qs, "CreateIngestion", AwsAccountId=ACCOUNT, DataSetId=data_set, IngestionId=ingestion)
    assert got["Status"] == 201 and got["IngestionStatus"] == "INITIALIZED"
    done = wait(qs, data_set, ingestion)
    assert done["IngestionId"] == ingestion
    return done


# -- the lake --------------------------------------------------------------------------------

DAYS = {  # dt -> rows (seller_id, gross_cents, amount); 3 + 2 + 0 = 5 rows
    "2024-05-01": [("s1", 1200, "12.00"), ("s2", 550, "5.50"), ("s1", 100, "1.00")],
    "2024-05-02": [("s3", 999, "9.99"), ("s2", 1, "0.01")],
    "2024-05-03": [],
}
COMPLETED = {
    "2024-05-01": "2024-05-02T01:00:00+00:00",
    "2024-05-02": "2024-05-03T01:30:00+00:00",
    "2024-05-03": "2024-05-04T00:15:00+00:00",
}
SCHEMA = pa.schema([("seller_id", pa.string()), ("gross_cents", pa.int64()), ("amount", pa.string())])


def run_files(rows: list[tuple], completed: str) -> dict[str, bytes]:
    """A run folder's files: one Parquet part, a leftover to ignore, and the manifest."""
    table = pa.Table.from_pylist([dict(zip(SCHEMA.names, r, strict=True)) for r in rows], schema=SCHEMA)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return {
        "part-00000-abcd.parquet": sink.getvalue().to_pybytes(),
        "_manifest.json": json.dumps({"completed_at": completed, "rows": len(rows)}).encode(),
        ".part-00001-abcd.parquet.tmp": b"not parquet",
    }


def glue_table(glue: Any, database: str, table: str, location: str, partitioned: bool = True) -> None:
    with contextlib.suppress(ClientError):
        glue.create_database(DatabaseInput={"Name": database})
    columns = [
        {"Name": "seller_id", "Type": "string"},
        {"Name": "gross_cents", "Type": "bigint"},
        {"Name": "amount", "Type": "string"},
    ] + ([] if partitioned else [{"Name": "dt", "Type": "string"}])
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": table,
            "TableType": "EXTERNAL_TABLE",
            "PartitionKeys": [{"Name": "dt", "Type": "string"}] if partitioned else [],
            "StorageDescriptor": {"Columns": columns, "Location": location},
        },
    )


def disk_lake(glue: Any, root: Path, database: str, table: str) -> None:
    glue_table(glue, database, table, f"file://{root}/")
    for dt, rows in DAYS.items():
        run = root / "_runs" / f"dt={dt}" / "run=1"
        run.mkdir(parents=True)
        for name, data in run_files(rows, COMPLETED[dt]).items():
            (run / name).write_bytes(data)
        sd = {"Columns": [], "Location": f"file://{run}/"}
        glue.create_partition(
            DatabaseName=database, TableName=table, PartitionInput={"Values": [dt], "StorageDescriptor": sd}
        )


def check_snapshot(state: Path, data_set: str, ingestion: dict[str, Any], table: str) -> None:
    assert ingestion["IngestionStatus"] == "COMPLETED", ingestion
    assert ingestion["RowInfo"] == {"RowsIngested": 5, "RowsDropped": 0, "TotalRowsInDataset": 5}
    snap = SpiceStore(state / "spice").current(data_set)
    assert snap is not None and snap.ingestion_id == ingestion["IngestionId"]
    assert snap.data.schema == pa.schema(
        [
            ("seller_id", pa.string()),
            ("Day", pa.timestamp("ms")),
            ("Gross (cents)", pa.int64()),
            ("amount", pa.float64()),
        ]
    )
    rows = sorted(snap.data.to_pylist(), key=lambda r: (r["Day"], r["seller_id"], r["Gross (cents)"]))
    assert rows[0] == {"seller_id": "s1", "Day": datetime(2024, 5, 1), "Gross (cents)": 100, "amount": 1.0}
    assert [r["Gross (cents)"] for r in rows] == [100, 1200, 550, 1, 999]
    assert (snap.rows, snap.table, snap.partitions, snap.last_partition) == (5, table, 3, "2024-05-03")
    assert snap.built_at == datetime.fromisoformat("2024-05-04T00:15:00+00:00")


# -- data sets -------------------------------------------------------------------------------


def test_data_set_create_describe_update_delete(qs: Any, data_source: str) -> None:
    ident = uid("dset")
    request = data_set_input(ident, data_source, "nodb", "notable")
    created = checked(qs, "CreateDataSet", **request)
    assert created["Status"] == 201 and created["DataSetId"] == ident and created["IngestionId"]
    arn = created["Arn"]
    got = checked(qs, "DescribeDataSet", AwsAccountId=ACCOUNT, DataSetId=ident)["DataSet"]
    for key in ("PhysicalTableMap", "LogicalTableMap", "ImportMode", "FieldFolders", "Name"):
        assert got[key] == request[key], key
    assert got["Arn"] == arn and got["CreatedTime"] <= got["LastUpdatedTime"]
    assert got["OutputColumns"] == [
        {"Name": "seller_id", "Type": "STRING"},
        {"Name": "Day", "Type": "DATETIME", "Description": "Sales day (UTC)"},
        {"Name": "Gross (cents)", "Type": "INTEGER"},
        {"Name": "amount", "Type": "DECIMAL"},
    ]
    assert error_of(qs.create_data_set, **request) == ("ResourceExistsException", 409)
    assert error_of(qs.describe_data_set, AwsAccountId=ACCOUNT, DataSetId=uid("none")) == (
        "ResourceNotFoundException",
        404,
    )

    update = {k: v for k, v in request.items() if k not in ("Permissions", "Tags")}
    update.update(
        Name="Renamed",
        ImportMode="DIRECT_QUERY",
        LogicalTableMap={"l": {"Alias": "x", "Source": {"PhysicalTableId": "t"}}},
    )
    updated = checked(qs, "UpdateDataSet", **update)
    assert "IngestionId" not in updated  # DIRECT_QUERY: no ingestion
    got = checked(qs, "DescribeDataSet", AwsAccountId=ACCOUNT, DataSetId=ident)["DataSet"]
    assert (got["Name"], got["ImportMode"]) == ("Renamed", "DIRECT_QUERY")
    assert [c["Name"] for c in got["OutputColumns"]] == [c["Name"] for c in INPUTS]
    assert error_of(qs.create_ingestion, AwsAccountId=ACCOUNT, DataSetId=ident, IngestionId="i1") == (
        "InvalidParameterValueException",
        400,
    )
    bad = dict(
        update,
        LogicalTableMap={
            "l": {
                "Alias": "x",
                "Source": {"PhysicalTableId": "t"},
                "DataTransforms": [{"RenameColumnOperation": {"ColumnName": "nope", "NewColumnName": "x"}}],
            }
        },
    )
    assert error_of(qs.update_data_set, **bad) == ("InvalidParameterValueException", 400)

    listed = checked(qs, "ListDataSets", AwsAccountId=ACCOUNT)["DataSetSummaries"]
    assert any(s["DataSetId"] == ident and s["Name"] == "Renamed" for s in listed)
    paged = checked(qs, "ListDataSets", AwsAccountId=ACCOUNT, MaxResults=1)
    assert len(paged["DataSetSummaries"]) == 1 and ("NextToken" in paged) == (len(listed) > 1)

    assert checked(qs, "ListTagsForResource", ResourceArn=arn)["Tags"] == [{"Key": "project", "Value": "gitgoods"}]
    checked(qs, "TagResource", ResourceArn=arn, Tags=[{"Key": "owner", "Value": "insights"}])
    checked(qs, "UntagResource", ResourceArn=arn, TagKeys=["project"])
    assert checked(qs, "ListTagsForResource", ResourceArn=arn)["Tags"] == [{"Key": "owner", "Value": "insights"}]

    deleted = checked(qs, "DeleteDataSet", AwsAccountId=ACCOUNT, DataSetId=ident)
    assert deleted["Arn"] == arn
    assert error_of(qs.delete_data_set, AwsAccountId=ACCOUNT, DataSetId=ident) == ("ResourceNotFoundException", 404)
    assert error_of(qs.list_tags_for_resource, ResourceArn=arn)[0] == "ResourceNotFoundException"


def test_permissions_grant_and_revoke(qs: Any, data_source: str) -> None:
    analysts = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:group/default/analysts"
    sellers = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:group/default/sellers"
    ident = uid("dset")
    qs.create_data_set(**data_set_input(ident, data_source, "nodb", "notable", ImportMode="DIRECT_QUERY"))
    got = checked(qs, "DescribeDataSetPermissions", AwsAccountId=ACCOUNT, DataSetId=ident)
    assert got["Permissions"] == [
        {"Principal": analysts, "Actions": ["quicksight:DescribeDataSet", "quicksight:PassDataSet"]}
    ]
    checked(
        qs,
        "UpdateDataSetPermissions",
        AwsAccountId=ACCOUNT,
        DataSetId=ident,
        GrantPermissions=[{"Principal": sellers, "Actions": ["quicksight:DescribeDataSet"]}],
        RevokePermissions=[{"Principal": analysts, "Actions": ["quicksight:PassDataSet"]}],
    )
    got = checked(qs, "DescribeDataSetPermissions", AwsAccountId=ACCOUNT, DataSetId=ident)["Permissions"]
    assert got == [
        {"Principal": analysts, "Actions": ["quicksight:DescribeDataSet"]},
        {"Principal": sellers, "Actions": ["quicksight:DescribeDataSet"]},
    ]
    checked(
        qs,
        "UpdateDataSetPermissions",
        AwsAccountId=ACCOUNT,
        DataSetId=ident,
        RevokePermissions=[{"Principal": sellers, "Actions": ["quicksight:DescribeDataSet"]}],
    )
    assert [
        p["Principal"] for p in qs.describe_data_set_permissions(AwsAccountId=ACCOUNT, DataSetId=ident)["Permissions"]
    ] == [analysts]

    source_id = data_source.rsplit("/", 1)[1]
    assert "Permissions" not in checked(
        qs, "DescribeDataSourcePermissions", AwsAccountId=ACCOUNT, DataSourceId=source_id
    )
    checked(
        qs,
        "UpdateDataSourcePermissions",
        AwsAccountId=ACCOUNT,
        DataSourceId=source_id,
        GrantPermissions=[
            {"Principal": analysts, "Actions": ["quicksight:DescribeDataSource", "quicksight:PassDataSource"]}
        ],
    )
    got = checked(qs, "DescribeDataSourcePermissions", AwsAccountId=ACCOUNT, DataSourceId=source_id)
    assert got["DataSourceArn"] == data_source and got["Permissions"][0]["Principal"] == analysts
    checked(
        qs,
        "UpdateDataSourcePermissions",
        AwsAccountId=ACCOUNT,
        DataSourceId=source_id,
        RevokePermissions=[
            {"Principal": analysts, "Actions": ["quicksight:DescribeDataSource", "quicksight:PassDataSource"]}
        ],
    )
    assert "Permissions" not in qs.describe_data_source_permissions(AwsAccountId=ACCOUNT, DataSourceId=source_id)
    assert error_of(qs.describe_data_source_permissions, AwsAccountId=ACCOUNT, DataSourceId=uid("none"))[1] == 404
    assert error_of(qs.create_data_source, AwsAccountId=ACCOUNT, DataSourceId=source_id, Name="x", Type="ATHENA") == (
        "ResourceExistsException",
        409,
    )


# -- dashboards ------------------------------------------------------------------------------


def definition(data_set_arn: str, sheet: str) -> dict[str, Any]:
    return {
        "DataSetIdentifierDeclarations": [{"Identifier": "sales", "DataSetArn": data_set_arn}],
        "Sheets": [{"SheetId": "overview", "Name": sheet}],
    }


def test_dashboard_versions_and_permissions(qs: Any, data_source: str) -> None:
    data_set = qs.create_data_set(**data_set_input(uid("dset"), data_source, "nodb", "t", ImportMode="DIRECT_QUERY"))[
        "Arn"
    ]
    ident = uid("dash")
    analysts = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:group/default/analysts"
    created = checked(
        qs,
        "CreateDashboard",
        AwsAccountId=ACCOUNT,
        DashboardId=ident,
        Name="Insights",
        Definition=definition(data_set, "Overview"),
        VersionDescription="first",
        Permissions=[{"Principal": analysts, "Actions": ["quicksight:DescribeDashboard"]}],
        Tags=[{"Key": "project", "Value": "gitgoods"}],
    )
    assert created["VersionArn"].endswith(f"dashboard/{ident}/version/1") and created["Status"] == 202
    assert error_of(
        qs.create_dashboard, AwsAccountId=ACCOUNT, DashboardId=ident, Name="x", Definition=definition(data_set, "x")
    ) == ("ResourceExistsException", 409)
    dash = checked(qs, "DescribeDashboard", AwsAccountId=ACCOUNT, DashboardId=ident)["Dashboard"]
    assert dash["Version"]["VersionNumber"] == 1 and dash["Version"]["Status"] == "CREATION_SUCCESSFUL"
    assert dash["Version"]["DataSetArns"] == [data_set] and dash["Version"]["Sheets"] == [
        {"SheetId": "overview", "Name": "Overview"}
    ]
    assert checked(qs, "ListTagsForResource", ResourceArn=created["Arn"])["Tags"] == [
        {"Key": "project", "Value": "gitgoods"}
    ]

    checked(
        qs,
        "UpdateDashboard",
        AwsAccountId=ACCOUNT,
        DashboardId=ident,
        Name="Insights",
        Definition=definition(data_set, "New"),
    )
    assert qs.describe_dashboard(AwsAccountId=ACCOUNT, DashboardId=ident)["Dashboard"]["Version"]["VersionNumber"] == 1
    got = checked(qs, "DescribeDashboardDefinition", AwsAccountId=ACCOUNT, DashboardId=ident)
    assert got["Definition"]["Sheets"][0]["Name"] == "Overview" and got["ResourceStatus"] == "CREATION_SUCCESSFUL"
    got = checked(qs, "DescribeDashboardDefinition", AwsAccountId=ACCOUNT, DashboardId=ident, VersionNumber=2)
    assert got["Definition"] == definition(data_set, "New")
    versions = checked(qs, "ListDashboardVersions", AwsAccountId=ACCOUNT, DashboardId=ident)[
        "DashboardVersionSummaryList"
    ]
    assert [(v["VersionNumber"], v.get("Description")) for v in versions] == [(1, "first"), (2, None)]
    summary = [
        d
        for d in checked(qs, "ListDashboards", AwsAccountId=ACCOUNT)["DashboardSummaryList"]
        if d["DashboardId"] == ident
    ]
    assert summary[0]["PublishedVersionNumber"] == 1

    checked(qs, "UpdateDashboardPublishedVersion", AwsAccountId=ACCOUNT, DashboardId=ident, VersionNumber=2)
    dash = qs.describe_dashboard(AwsAccountId=ACCOUNT, DashboardId=ident)["Dashboard"]
    assert dash["Version"]["VersionNumber"] == 2 and dash["LastPublishedTime"] >= dash["CreatedTime"]
    assert (
        error_of(qs.update_dashboard_published_version, AwsAccountId=ACCOUNT, DashboardId=ident, VersionNumber=9)[1]
        == 404
    )
    assert error_of(qs.delete_dashboard, AwsAccountId=ACCOUNT, DashboardId=ident, VersionNumber=2) == (
        "ConflictException",
        409,
    )

    # a version naming a missing data set fails and cannot be published
    missing = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:dataset/{uid('none')}"
    qs.update_dashboard(AwsAccountId=ACCOUNT, DashboardId=ident, Name="Insights", Definition=definition(missing, "Bad"))
    bad = checked(qs, "DescribeDashboard", AwsAccountId=ACCOUNT, DashboardId=ident, VersionNumber=3)["Dashboard"][
        "Version"
    ]
    assert bad["Status"] == "CREATION_FAILED" and bad["Errors"][0]["Type"] == "DATA_SET_NOT_FOUND"
    assert (
        error_of(qs.update_dashboard_published_version, AwsAccountId=ACCOUNT, DashboardId=ident, VersionNumber=3)[1]
        == 400
    )

    got = checked(qs, "DescribeDashboardPermissions", AwsAccountId=ACCOUNT, DashboardId=ident)
    assert got["Permissions"] == [{"Principal": analysts, "Actions": ["quicksight:DescribeDashboard"]}]
    sellers = analysts.replace("analysts", "sellers")
    got = checked(
        qs,
        "UpdateDashboardPermissions",
        AwsAccountId=ACCOUNT,
        DashboardId=ident,
        GrantPermissions=[{"Principal": sellers, "Actions": ["quicksight:DescribeDashboard"]}],
        RevokePermissions=[{"Principal": analysts, "Actions": ["quicksight:DescribeDashboard"]}],
    )
    assert [p["Principal"] for p in got["Permissions"]] == [sellers]
    assert [
        p["Principal"]
        for p in qs.describe_dashboard_permissions(AwsAccountId=ACCOUNT, DashboardId=ident)["Permissions"]
    ] == [sellers]

    checked(qs, "DeleteDashboard", AwsAccountId=ACCOUNT, DashboardId=ident, VersionNumber=1)
    assert [
        v["VersionNumber"]
        for v in qs.list_dashboard_versions(AwsAccountId=ACCOUNT, DashboardId=ident)["DashboardVersionSummaryList"]
    ] == [2, 3]
    checked(qs, "DeleteDashboard", AwsAccountId=ACCOUNT, DashboardId=ident)
    assert error_of(qs.describe_dashboard, AwsAccountId=ACCOUNT, DashboardId=ident) == (
        "ResourceNotFoundException",
        404,
    )
    assert error_of(qs.describe_dashboard_definition, AwsAccountId=ACCOUNT, DashboardId=ident)[1] == 404


# -- ingestions ------------------------------------------------------------------------------


def test_ingestion_of_a_partitioned_table_on_disk(qs: Any, glue: Any, data_source: str, tmp_path: Path) -> None:
    database, table, ident = uid("db").replace("-", "_"), "marts_sales", uid("dset")
    disk_lake(glue, tmp_path / "lake", database, table)
    created = qs.create_data_set(**data_set_input(ident, data_source, database, table))
    first = wait(qs, ident, created["IngestionId"])  # creating a SPICE data set ingests it
    assert first["RequestType"] == "INITIAL_INGESTION"
    done = ingest(qs, ident)
    check_snapshot(installed_state_dir(), ident, done, table)
    assert done["IngestionSizeInBytes"] > 0 and done["IngestionTimeInSeconds"] >= 0
    listed = checked(qs, "ListIngestions", AwsAccountId=ACCOUNT, DataSetId=ident)["Ingestions"]
    assert {i["IngestionId"] for i in listed} == {first["IngestionId"], done["IngestionId"]}
    assert error_of(qs.create_ingestion, AwsAccountId=ACCOUNT, DataSetId=ident, IngestionId=done["IngestionId"]) == (
        "ResourceExistsException",
        409,
    )
    assert error_of(qs.describe_ingestion, AwsAccountId=ACCOUNT, DataSetId=ident, IngestionId="nope")[1] == 404
    described = qs.describe_data_set(AwsAccountId=ACCOUNT, DataSetId=ident)["DataSet"]
    assert described["ConsumedSpiceCapacityInBytes"] > 0

    # the table is dropped: the ingestion fails and the previous snapshot stays current
    glue.delete_table(DatabaseName=database, Name=table)
    failed = ingest(qs, ident)
    assert failed["IngestionStatus"] == "FAILED" and failed["ErrorInfo"]["Type"] == "SQL_TABLE_NOT_FOUND"
    assert table in failed["ErrorInfo"]["Message"]
    assert SpiceStore(installed_state_dir() / "spice").current(ident).ingestion_id == done["IngestionId"]


def test_ingestion_of_an_s3_lake(qs: Any, glue: Any, data_source: str, moto_server: int) -> None:
    s3 = client("s3", moto_server)
    bucket, database, table, ident = uid("lake"), uid("db").replace("-", "_"), "marts_sales", uid("dset")
    s3.create_bucket(Bucket=bucket)
    glue_table(glue, database, table, f"s3://{bucket}/marts/sales/")
    for dt, rows in DAYS.items():
        prefix = f"marts/sales/_runs/dt={dt}/run=1/"
        for name, data in run_files(rows, COMPLETED[dt]).items():
            s3.put_object(Bucket=bucket, Key=prefix + name, Body=data)
        s3.put_object(Bucket=bucket, Key=prefix + "nested/part-9.parquet", Body=b"not read: not in the folder")
        sd = {"Columns": [], "Location": f"s3://{bucket}/{prefix}"}
        glue.create_partition(
            DatabaseName=database, TableName=table, PartitionInput={"Values": [dt], "StorageDescriptor": sd}
        )
    created = qs.create_data_set(**data_set_input(ident, data_source, database, table))
    check_snapshot(installed_state_dir(), ident, wait(qs, ident, created["IngestionId"]), table)


def test_unpartitioned_table_and_dropped_rows(qs: Any, glue: Any, data_source: str, tmp_path: Path) -> None:
    database, table, ident = uid("db").replace("-", "_"), "publish_rows", uid("dset")
    folder = tmp_path / "rows"
    folder.mkdir()
    rows = [
        {"seller_id": "s1", "gross_cents": 10, "amount": "1.5", "dt": "2024-05-01"},
        {"seller_id": "s2", "gross_cents": 20, "amount": "n/a", "dt": "2024-05-02"},  # amount fails DECIMAL
        {"seller_id": "s3", "gross_cents": 30, "amount": "3", "dt": "05/03/2024"},  # dt fails yyyy-MM-dd
        {"seller_id": "s4", "gross_cents": 40, "amount": None, "dt": "2024-05-04"},  # null: kept
    ]
    pq.write_table(pa.Table.from_pylist(rows), folder / "part-0.parquet")
    pq.write_table(pa.Table.from_pylist(rows[:1]), folder / "_ignored.parquet")
    glue_table(glue, database, table, f"file://{folder}", partitioned=False)
    created = qs.create_data_set(**data_set_input(ident, data_source, database, table))
    done = wait(qs, ident, created["IngestionId"])
    assert done["IngestionStatus"] == "COMPLETED", done
    assert done["RowInfo"] == {"RowsIngested": 2, "RowsDropped": 2, "TotalRowsInDataset": 2}
    snap = SpiceStore(installed_state_dir() / "spice").current(ident)
    assert snap.data.to_pylist() == [
        {"seller_id": "s1", "Day": datetime(2024, 5, 1), "Gross (cents)": 10, "amount": 1.5},
        {"seller_id": "s4", "Day": datetime(2024, 5, 4), "Gross (cents)": 40, "amount": None},
    ]
    assert (snap.partitions, snap.last_partition, snap.built_at) == (0, None, None)


def test_unsupported_transform_fails_naming_it(qs: Any, glue: Any, data_source: str, tmp_path: Path) -> None:
    database, table, ident = uid("db").replace("-", "_"), "marts_sales", uid("dset")
    disk_lake(glue, tmp_path / "lake", database, table)
    request = data_set_input(ident, data_source, database, table)
    request["LogicalTableMap"]["l"]["DataTransforms"] = TRANSFORMS + [
        {"FilterOperation": {"ConditionExpression": "{seller_id} = 's1'"}}
    ]
    created = checked(qs, "CreateDataSet", **request)
    done = wait(qs, created["DataSetId"], created["IngestionId"])
    assert done["IngestionStatus"] == "FAILED" and done["ErrorInfo"]["Type"] == "INVALID_DATAPREP_SYNTAX"
    assert "FilterOperation" in done["ErrorInfo"]["Message"]
    assert "OutputColumns" not in qs.describe_data_set(AwsAccountId=ACCOUNT, DataSetId=ident)["DataSet"]
    assert SpiceStore(installed_state_dir() / "spice").pointer(ident) is None


# -- the store across a restart of the launcher ----------------------------------------------


def _launch(port: int, state: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT", "GITGOODS_"))}
    env["GITGOODS_HOME"] = str(state.parent / "home")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gitgoods.local.moto_server",
            "--port",
            str(port),
            "--state",
            str(state),
            "--region",
            REGION,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # "moto server on ..." once it serves
    assert "moto server on" in line, line + proc.stdout.read()
    return proc


@pytest.fixture()
def launcher(tmp_path: Path) -> Iterator[Any]:
    procs: list[subprocess.Popen] = []

    def start(port: int) -> None:
        procs.append(_launch(port, tmp_path / "state" / "moto"))

    def stop() -> None:
        procs[-1].terminate()
        procs[-1].wait(20)

    yield start, stop
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_store_survives_a_restart(launcher: Any, tmp_path: Path) -> None:
    start, stop = launcher
    port = free_port()
    start(port)
    qs = client("quicksight", port)
    source = qs.create_data_source(
        AwsAccountId=ACCOUNT,
        DataSourceId="athena",
        Name="Athena",
        Type="ATHENA",
        DataSourceParameters={"AthenaParameters": {"WorkGroup": "primary"}},
    )["Arn"]
    data_set = qs.create_data_set(**data_set_input("sales", source, "nodb", "t"))["Arn"]
    qs.create_dashboard(
        AwsAccountId=ACCOUNT, DashboardId="insights", Name="Insights", Definition=definition(data_set, "A")
    )
    qs.update_dashboard(
        AwsAccountId=ACCOUNT, DashboardId="insights", Name="Insights", Definition=definition(data_set, "B")
    )
    before = (
        qs.describe_data_set(AwsAccountId=ACCOUNT, DataSetId="sales")["DataSet"],
        qs.describe_dashboard(AwsAccountId=ACCOUNT, DashboardId="insights")["Dashboard"],
    )
    stop()

    store = tmp_path / "state" / "quicksight" / "store.json"  # the default: next to --state
    assert store.stat().st_mode & 0o777 == 0o600
    port = free_port()
    start(port)
    qs = client("quicksight", port)
    after = (
        checked(qs, "DescribeDataSet", AwsAccountId=ACCOUNT, DataSetId="sales")["DataSet"],
        checked(qs, "DescribeDashboard", AwsAccountId=ACCOUNT, DashboardId="insights")["Dashboard"],
    )
    assert after == before
    got = qs.describe_dashboard_definition(AwsAccountId=ACCOUNT, DashboardId="insights", VersionNumber=2)
    assert got["Definition"]["Sheets"][0]["Name"] == "B"
    assert qs.list_tags_for_resource(ResourceArn=data_set)["Tags"] == [{"Key": "project", "Value": "gitgoods"}]
    assert qs.describe_data_source(AwsAccountId=ACCOUNT, DataSourceId="athena")["DataSource"]["Arn"] == source
    ingestions = qs.list_ingestions(AwsAccountId=ACCOUNT, DataSetId="sales")["Ingestions"]
    assert ingestions and all(i["IngestionStatus"] == "FAILED" for i in ingestions)  # no such Glue table
