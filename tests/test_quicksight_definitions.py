"""QuickSight as code (`quicksight/`): every request validates offline against botocore's service
model, the data sets agree with the marts' models.yml, the dashboard references only columns its
data sets have, and the definitions keep to the subset the local renderer understands.

Expected values are read from the JSON files and models.yml directly, not from the code under test.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from gitgoods.settings import Settings
from pipelines.marts.models import Model, discover
from pipelines.publish.definitions import (
    DefinitionError,
    Definitions,
    check_against_models,
    dataset_columns,
    load,
    placeholders,
    render,
    validate_all,
    validate_request,
)

QS = Path(__file__).resolve().parents[1] / "quicksight"
MARTS = [
    "seller_daily_sales",
    "seller_daily_segments",
    "product_performance",
    "seller_kpis",
    "buyer_cohorts",
    "fulfilment",
    "funnel",
]
TYPE_MAP = {"varchar": "STRING", "bigint": "INTEGER", "integer": "INTEGER", "double": "DECIMAL"}
TRANSFORMS = {"ProjectOperation", "CastColumnTypeOperation", "RenameColumnOperation", "TagColumnOperation"}
VISUALS = {"LineChartVisual", "BarChartVisual", "KPIVisual", "PieChartVisual", "TableVisual", "PivotTableVisual"}
FORBIDDEN = ("buyer_id", "customer", "pseudonym", "email")
SETTINGS = Settings(
    quicksight_account_id="111122223333",
    region="eu-west-1",
    quicksight_prefix="gg-",
    quicksight_namespace="sellers-ns",
    athena_workgroup="insights-wg",
    glue_database="lake_db",
)


def raw(rel: str) -> dict[str, Any]:
    return json.loads((QS / rel).read_text())


@pytest.fixture(scope="module")
def models() -> dict[str, Model]:
    return discover()


@pytest.fixture
def defs() -> Definitions:
    return load(SETTINGS)


def shape(operation: str):
    return botocore.session.get_session().get_service_model("quicksight").operation_model(operation).input_shape


def renamed(models: dict[str, Model], mart: str, column: str, **changes: str) -> dict[str, Model]:
    """A copy of the models where one column of one mart is changed (name or type)."""
    model = models[mart]
    columns = tuple(dataclasses.replace(c, **changes) if c.name == column else c for c in model.columns)
    assert columns != model.columns
    return {**models, mart: dataclasses.replace(model, columns=columns)}


def visuals(dashboard: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    out = {}
    for sheet in dashboard["Definition"]["Sheets"]:
        for visual in sheet.get("Visuals", []):
            ((kind, body),) = visual.items()
            out[body["VisualId"]] = (kind, body)
    return out


def output_names(request: dict[str, Any]) -> list[str]:
    """The data set's output columns, from its JSON: the last ProjectOperation."""
    (table,) = request["LogicalTableMap"].values()
    projects = [t["ProjectOperation"] for t in table["DataTransforms"] if "ProjectOperation" in t]
    return projects[-1]["ProjectedColumns"]


def renames(request: dict[str, Any]) -> dict[str, str]:
    (table,) = request["LogicalTableMap"].values()
    return {
        t["RenameColumnOperation"]["ColumnName"]: t["RenameColumnOperation"]["NewColumnName"]
        for t in table["DataTransforms"]
        if "RenameColumnOperation" in t
    }


# --- the files as published --------------------------------------------------------------------------


def test_the_files_are_the_seven_marts_the_rls_data_set_data_source_and_dashboard(models):
    assert sorted(p.stem for p in (QS / "datasets").glob("*.json")) == sorted([*MARTS, "seller_rls"])
    assert (QS / "data_source.json").exists() and (QS / "dashboard.json").exists()
    assert set(MARTS) <= {m.name for m in models.values() if m.layer == "marts"}


def test_every_request_validates_against_botocores_input_shapes(defs):
    validator = ParamValidator()
    requests = [("CreateDataSource", defs.data_source), ("CreateDashboard", defs.dashboard)]
    requests += [("CreateDataSet", r) for r in [*defs.datasets.values(), defs.rls]]
    assert len(requests) == 10
    for operation, request in requests:
        report = validator.validate(request, shape(operation))
        assert not report.has_errors(), report.generate_report()
        validate_request(operation, request)
    for name in ("Permissions", "Tags"):
        assert all(name not in r for _, r in requests)


def test_validate_request_lists_every_problem(defs):
    broken = copy.deepcopy(defs.datasets["seller_daily_sales"])
    del broken["Name"]
    broken["ImportMode"] = 7
    broken["PhysicalTableMap"]["seller_daily_sales"]["RelationalTable"]["InputColumns"][0]["Bogus"] = 1
    with pytest.raises(DefinitionError) as err:
        validate_request("CreateDataSet", broken, "datasets/x.json")
    text = str(err.value)
    assert "datasets/x.json" in text and "Name" in text and "ImportMode" in text and "Bogus" in text


def test_placeholders_are_filled_from_the_settings(defs):
    assert placeholders(SETTINGS) == {
        "account_id": "111122223333",
        "region": "eu-west-1",
        "prefix": "gg-",
        "namespace": "sellers-ns",
        "athena_workgroup": "insights-wg",
        "glue_database": "lake_db",
    }
    everything = [defs.data_source, defs.rls, defs.dashboard, *defs.datasets.values()]
    assert all(r["AwsAccountId"] == "111122223333" for r in everything)
    assert "${" not in json.dumps(everything)
    assert defs.data_source["DataSourceId"] == "gg-athena"
    assert defs.data_source["Type"] == "ATHENA"
    assert defs.data_source["DataSourceParameters"]["AthenaParameters"]["WorkGroup"] == "insights-wg"
    assert defs.dashboard["DashboardId"] == "gg-seller-insights"
    assert "SourceEntity" not in defs.dashboard and "Definition" in defs.dashboard
    assert sorted(defs.datasets) == sorted(MARTS)
    for mart, request in defs.datasets.items():
        assert request["DataSetId"] == f"gg-{mart}"
        ((table_id, table),) = request["PhysicalTableMap"].items()
        relational = table["RelationalTable"]
        assert relational["DataSourceArn"] == "arn:aws:quicksight:eu-west-1:111122223333:datasource/gg-athena"
        assert relational["Catalog"] == "AwsDataCatalog"
        assert relational["Schema"] == "lake_db"
        assert relational["Name"] == f"marts_{mart}"
    declared = {d["DataSetArn"] for d in defs.dashboard["Definition"]["DataSetIdentifierDeclarations"]}
    assert declared == {f"arn:aws:quicksight:eu-west-1:111122223333:dataset/gg-{m}" for m in MARTS}


def test_render_refuses_an_unknown_placeholder_naming_it_and_the_file(tmp_path):
    assert render({"a": ["x-${prefix}", {"${prefix}k": 1}]}, {"prefix": "p"}, "f.json") == {"a": ["x-p", {"pk": 1}]}
    with pytest.raises(DefinitionError, match=r"f\.json.*\$\{nope\}"):
        render({"a": ["${nope}"]}, {"prefix": "p"}, "f.json")
    root = tmp_path / "quicksight"
    shutil.copytree(QS, root)
    dashboard = json.loads((root / "dashboard.json").read_text())
    dashboard["Name"] = "Insights ${stage}"
    (root / "dashboard.json").write_text(json.dumps(dashboard))
    with pytest.raises(DefinitionError) as err:
        load(SETTINGS, root)
    assert "${stage}" in str(err.value) and "dashboard.json" in str(err.value)


# --- data sets against models.yml --------------------------------------------------------------------


def test_the_shipped_definitions_pass_every_check(defs, models):
    validate_all(defs, models)


def test_input_columns_are_the_marts_columns_with_their_types(models):
    for mart in MARTS:
        request = raw(f"datasets/{mart}.json")
        (table,) = request["PhysicalTableMap"].values()
        declared = {c["Name"]: c["Type"] for c in table["RelationalTable"]["InputColumns"]}
        expected = {c.name: "STRING" if c.name == "dt" else TYPE_MAP[c.type] for c in models[mart].columns}
        assert declared == expected, mart


def test_lineage_follows_casts_renames_descriptions_and_projection(defs, models):
    for mart in MARTS:
        request = raw(f"datasets/{mart}.json")
        names = renames(request)
        columns = dataset_columns(defs.datasets[mart])
        assert list(columns) == output_names(request)
        by_input = {lineage.input_name: lineage for lineage in columns.values()}
        assert set(by_input) == {c.name for c in models[mart].columns}
        for column in models[mart].columns:
            lineage = by_input[column.name]
            assert lineage.name == names.get(column.name, column.name)
            assert lineage.input_type == ("STRING" if column.name == "dt" else TYPE_MAP[column.type])
            assert lineage.description == column.description, (mart, column.name)
        day = by_input["dt"]
        assert (day.input_type, day.type, day.format) == ("STRING", "DATETIME", "yyyy-MM-dd")
        assert day.name == ("Activity month" if mart == "buyer_cohorts" else "Day")
        assert by_input["seller_id"].name == "seller_id"
    sales = dataset_columns(defs.datasets["seller_daily_sales"])
    assert sales["Gross (cents)"].input_name == "gross_cents" and sales["Gross (cents)"].type == "INTEGER"


def test_a_mart_column_renamed_in_models_fails_naming_the_column(defs, models):
    changed = renamed(models, "seller_daily_sales", "gross_cents", name="gross_amount")
    with pytest.raises(DefinitionError) as err:
        check_against_models(defs, changed)
    text = str(err.value)
    assert "'gross_cents'" in text and "gg-seller_daily_sales" in text
    assert "quicksight/datasets/seller_daily_sales.json" in text
    with pytest.raises(DefinitionError, match="gross_cents"):
        validate_all(defs, changed)


def test_a_type_models_yml_disagrees_with_fails(defs, models):
    changed = renamed(models, "fulfilment", "orders", type="varchar")
    with pytest.raises(DefinitionError) as err:
        check_against_models(defs, changed)
    assert "'orders'" in str(err.value) and "INTEGER" in str(err.value) and "varchar" in str(err.value)


def test_a_table_of_no_known_mart_fails(defs, models):
    (table,) = defs.datasets["funnel"]["PhysicalTableMap"].values()
    table["RelationalTable"]["Name"] = "marts_funnel_v2"
    with pytest.raises(DefinitionError, match="marts_funnel_v2"):
        check_against_models(defs, models)


def test_a_transform_outside_the_subset_is_refused(defs, models):
    (table,) = defs.datasets["funnel"]["LogicalTableMap"].values()
    table["DataTransforms"].insert(
        0,
        {"CreateColumnsOperation": {"Columns": [{"ColumnName": "x", "ColumnId": "x", "Expression": "{views} * 2"}]}},
    )
    with pytest.raises(DefinitionError, match="CreateColumnsOperation"):
        dataset_columns(defs.datasets["funnel"])
    with pytest.raises(DefinitionError, match="CreateColumnsOperation.*outside the subset"):
        check_against_models(defs, models)


def test_a_transform_on_a_missing_column_fails(defs):
    (table,) = defs.datasets["funnel"]["LogicalTableMap"].values()
    table["DataTransforms"].append({"RenameColumnOperation": {"ColumnName": "views", "NewColumnName": "V"}})
    with pytest.raises(DefinitionError, match="'views'"):  # renamed to "Views" earlier
        dataset_columns(defs.datasets["funnel"])


def test_a_field_folder_with_an_unknown_column_fails(defs, models):
    folders = defs.datasets["seller_kpis"]["FieldFolders"]
    next(iter(folders.values()))["columns"].append("Orders 90d")
    with pytest.raises(DefinitionError, match="Orders 90d"):
        check_against_models(defs, models)


def test_data_sets_are_spice_with_rls_descriptions_and_folders(models):
    rls_arn = "arn:aws:quicksight:${region}:${account_id}:dataset/${prefix}seller_rls"
    for mart in MARTS:
        request = raw(f"datasets/{mart}.json")
        assert request["ImportMode"] == "SPICE"
        assert request["RowLevelPermissionDataSet"] == {
            "Namespace": "${namespace}",
            "Arn": rls_arn,
            "PermissionPolicy": "GRANT_ACCESS",
            "FormatVersion": "VERSION_2",
            "Status": "ENABLED",
        }
        (table,) = request["LogicalTableMap"].values()
        kinds = {k for t in table["DataTransforms"] for k in t}
        assert kinds <= TRANSFORMS
        casts = [t["CastColumnTypeOperation"] for t in table["DataTransforms"] if "CastColumnTypeOperation" in t]
        assert {"ColumnName": "dt", "NewColumnType": "DATETIME", "Format": "yyyy-MM-dd"} in casts
        tags = {
            t["TagColumnOperation"]["ColumnName"]: t["TagColumnOperation"]["Tags"][0]["ColumnDescription"]["Text"]
            for t in table["DataTransforms"]
            if "TagColumnOperation" in t
        }
        names = renames(request)
        described = {names.get(c.name, c.name): c.description for c in models[mart].columns}
        assert tags == described
        assert "seller_id" in output_names(request) and "seller_id" not in names
        foldered = [c for f in request["FieldFolders"].values() for c in f["columns"]]
        assert sorted(foldered) == sorted(output_names(request))
        assert all(f.get("description") for f in request["FieldFolders"].values())
    rls = raw("datasets/seller_rls.json")
    assert rls["DataSetId"] == "${prefix}seller_rls" and rls["UseAs"] == "RLS_RULES" and rls["ImportMode"] == "SPICE"
    assert "RowLevelPermissionDataSet" not in rls
    (table,) = rls["PhysicalTableMap"].values()
    assert table["RelationalTable"]["Name"] == "publish_seller_rls"
    assert table["RelationalTable"]["InputColumns"] == [
        {"Name": "user_name", "Type": "STRING"},
        {"Name": "group_name", "Type": "STRING"},
        {"Name": "seller_id", "Type": "STRING"},
    ]
    assert output_names(rls) == ["UserName", "GroupName", "seller_id"]


def test_rls_pointing_elsewhere_fails(defs, models):
    defs.datasets["buyer_cohorts"]["RowLevelPermissionDataSet"]["Arn"] = (
        "arn:aws:quicksight:eu-west-1:111122223333:dataset/gg-other_rules"
    )
    with pytest.raises(DefinitionError, match="buyer_cohorts.*RowLevelPermissionDataSet"):
        check_against_models(defs, models)


def test_renaming_seller_id_breaks_rls_and_fails(defs, models):
    (table,) = defs.datasets["funnel"]["LogicalTableMap"].values()
    transforms = table["DataTransforms"]
    transforms.insert(1, {"RenameColumnOperation": {"ColumnName": "seller_id", "NewColumnName": "Seller"}})
    for t in transforms:
        body = t.get("TagColumnOperation")
        if body and body["ColumnName"] == "seller_id":
            body["ColumnName"] = "Seller"
        if "ProjectOperation" in t:
            cols = t["ProjectOperation"]["ProjectedColumns"]
            cols[cols.index("seller_id")] = "Seller"
    for folder in defs.datasets["funnel"]["FieldFolders"].values():
        folder["columns"] = ["Seller" if c == "seller_id" else c for c in folder["columns"]]
    with pytest.raises(DefinitionError, match="'seller_id', which the RLS rules match"):
        check_against_models(defs, models)


def test_no_data_set_exposes_a_buyer_level_column():
    for path in (QS / "datasets").glob("*.json"):
        request = json.loads(path.read_text())
        (table,) = request["PhysicalTableMap"].values()
        names = [c["Name"] for c in table["RelationalTable"]["InputColumns"]] + output_names(request)
        assert not [n for n in names if any(f in n.lower() for f in FORBIDDEN)], path.name


# --- the dashboard -----------------------------------------------------------------------------------


def test_the_dashboard_has_the_visuals_sellers_need():
    dashboard = raw("dashboard.json")
    found = visuals(dashboard)
    assert {kind for kind, _ in found.values()} <= VISUALS
    required = {
        "revenue-over-time": "LineChartVisual",
        "net-revenue-over-time": "LineChartVisual",
        "net-revenue": "KPIVisual",
        "top-products": "BarChartVisual",
        "refunds-over-time": "LineChartVisual",
        "refund-rate": "KPIVisual",
        "average-order-value": "KPIVisual",
        "buyers-new-vs-returning": "LineChartVisual",
        "country-breakdown": "PieChartVisual",
        "platform-breakdown": "BarChartVisual",
        "cohort-retention": "PivotTableVisual",
        "fulfilment-times": "LineChartVisual",
        "funnel": "BarChartVisual",
        "orders-28d-vs-category": "KPIVisual",
        "net-28d": "KPIVisual",
        "growth-28d": "KPIVisual",
    }
    assert {v: found[v][0] for v in required if v in found} == required
    for _, body in found.values():
        assert body["Title"]["FormatText"]["PlainText"]
        assert "RichText" not in body["Title"]["FormatText"]

    top = found["top-products"][1]["ChartConfiguration"]
    assert top["Orientation"] == "HORIZONTAL"
    wells = top["FieldWells"]["BarChartAggregatedFieldWells"]
    assert wells["Category"][0]["CategoricalDimensionField"]["Column"]["ColumnName"] == "Product"
    value_id = wells["Values"][0]["NumericalMeasureField"]["FieldId"]
    assert top["SortConfiguration"]["CategorySort"] == [{"FieldSort": {"FieldId": value_id, "Direction": "DESC"}}]
    assert top["SortConfiguration"]["CategoryItemsLimit"]["ItemsLimit"] == 10

    funnel = found["funnel"][1]["ChartConfiguration"]["FieldWells"]["BarChartAggregatedFieldWells"]["Values"]
    assert [v["NumericalMeasureField"]["Column"]["ColumnName"] for v in funnel] == [
        "Views",
        "View sessions",
        "Cart sessions",
        "Checkout sessions",
        "Orders",
    ]

    pivot = found["cohort-retention"][1]["ChartConfiguration"]["FieldWells"]["PivotTableAggregatedFieldWells"]
    assert pivot["Rows"][0]["DateDimensionField"]["Column"]["ColumnName"] == "Cohort month"
    assert pivot["Columns"][0]["NumericalDimensionField"]["Column"]["ColumnName"] == "Months since first"

    kpi = found["orders-28d-vs-category"][1]["ChartConfiguration"]["FieldWells"]
    assert kpi["Values"][0]["NumericalMeasureField"]["Column"]["ColumnName"] == "Orders 28d"
    assert kpi["TargetValues"][0]["NumericalMeasureField"]["Column"]["ColumnName"] == "Category median orders 28d"

    calculated = {c["Name"]: c for c in dashboard["Definition"]["CalculatedFields"]}
    aov = found["average-order-value"][1]["ChartConfiguration"]["FieldWells"]["Values"][0]["NumericalMeasureField"]
    assert calculated[aov["Column"]["ColumnName"]]["Expression"] == "sum({Gross (cents)}) / sum({Orders}) / 100"
    rate = found["refund-rate"][1]["ChartConfiguration"]["FieldWells"]["Values"][0]["NumericalMeasureField"]
    assert calculated[rate["Column"]["ColumnName"]]["Expression"] == "sum({Returned units}) / sum({Units})"
    assert all("ifelse" not in c["Expression"].lower() for c in calculated.values())


def test_the_dashboard_has_one_date_range_filter_driven_by_a_control_on_every_sheet():
    definition = raw("dashboard.json")["Definition"]
    (group,) = definition["FilterGroups"]
    assert group["CrossDataset"] == "ALL_DATASETS"
    (only,) = group["Filters"]
    time_range = only["TimeRangeFilter"]
    assert time_range["Column"]["ColumnName"] == "Day"
    for sheet in definition["Sheets"]:
        pickers = [c["DateTimePicker"] for c in sheet["FilterControls"]]
        assert [(p["Type"], p["SourceFilterId"]) for p in pickers] == [("DATE_RANGE", time_range["FilterId"])]
        assert sheet["Layouts"][0]["Configuration"]["GridLayout"]["Elements"]
    scoped = {s["SheetId"] for s in group["ScopeConfiguration"]["SelectedSheets"]["SheetVisualScopingConfigurations"]}
    assert scoped == {s["SheetId"] for s in definition["Sheets"]}


def test_a_visual_referencing_an_unknown_column_fails(defs, models):
    _, body = visuals(defs.dashboard)["fulfilment-times"]
    wells = body["ChartConfiguration"]["FieldWells"]["LineChartAggregatedFieldWells"]
    wells["Values"][0]["NumericalMeasureField"]["Column"]["ColumnName"] = "Hours to pack"
    with pytest.raises(DefinitionError) as err:
        check_against_models(defs, models)
    text = str(err.value)
    assert "dashboard.json" in text and "fulfilment-times" in text and "'Hours to pack'" in text
    assert "gg-fulfilment" in text


def test_a_renamed_mart_column_reaches_the_dashboard_through_a_friendly_name(defs, models):
    """Renaming the friendly name in the data set breaks the visuals and calculated fields using it."""
    (table,) = defs.datasets["seller_daily_sales"]["LogicalTableMap"].values()
    for t in table["DataTransforms"]:
        for body in t.values():
            if body.get("NewColumnName") == "Gross (cents)":
                body["NewColumnName"] = "Gross revenue (cents)"
            if body.get("ColumnName") == "Gross (cents)":
                body["ColumnName"] = "Gross revenue (cents)"
            if "ProjectedColumns" in body:
                body["ProjectedColumns"] = [
                    "Gross revenue (cents)" if c == "Gross (cents)" else c for c in body["ProjectedColumns"]
                ]
    for folder in defs.datasets["seller_daily_sales"]["FieldFolders"].values():
        folder["columns"] = ["Gross revenue (cents)" if c == "Gross (cents)" else c for c in folder["columns"]]
    with pytest.raises(DefinitionError) as err:
        check_against_models(defs, models)
    assert "calculated field 'Gross' references column 'Gross (cents)'" in str(err.value)


def test_calculated_fields_outside_the_subset_fail(defs, models):
    fields = defs.dashboard["Definition"]["CalculatedFields"]
    fields.append({"DataSetIdentifier": "sales", "Name": "Big days", "Expression": "ifelse({Orders} > 10, 1, 0)"})
    fields.append({"DataSetIdentifier": "sales", "Name": "Mixed", "Expression": "{Orders} / sum({Units})"})
    fields.append({"DataSetIdentifier": "sales", "Name": "Ghost", "Expression": "{Phantom (cents)} / 100"})
    with pytest.raises(DefinitionError) as err:
        check_against_models(defs, models)
    text = str(err.value)
    assert "'Big days'" in text and "ifelse" in text
    assert "'Mixed'" in text and "mixes" in text
    assert "'Phantom (cents)'" in text


def test_visual_kinds_and_aggregations_outside_the_subset_fail(defs, models):
    sheet = defs.dashboard["Definition"]["Sheets"][0]
    gauge = {"GaugeChartVisual": {"VisualId": "gauge", "Title": {"FormatText": {"PlainText": "G"}}}}
    sheet["Visuals"].append(gauge)
    _, body = visuals(defs.dashboard)["revenue-over-time"]
    measure = body["ChartConfiguration"]["FieldWells"]["LineChartAggregatedFieldWells"]["Values"][0]
    measure["NumericalMeasureField"]["AggregationFunction"] = {"SimpleNumericalAggregation": "MEDIAN"}
    with pytest.raises(DefinitionError) as err:
        check_against_models(defs, models)
    text = str(err.value)
    assert "GaugeChartVisual" in text and "MEDIAN" in text and "revenue-over-time" in text


def test_a_filter_on_a_column_that_is_not_a_date_fails(defs, models):
    (group,) = defs.dashboard["Definition"]["FilterGroups"]
    group["Filters"][0]["TimeRangeFilter"]["Column"]["ColumnName"] = "Currency"
    with pytest.raises(DefinitionError, match="'Currency' is STRING, not DATETIME"):
        check_against_models(defs, models)
