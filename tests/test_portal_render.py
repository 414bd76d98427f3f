"""The offline renderer of the dashboard definition (portal/render): hand-made snapshots, a small
hand-written definition and the real quicksight/dashboard.json; every expectation is computed by
hand in the comments beside the data."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import time
from datetime import UTC, date, datetime
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pyarrow as pa
import pytest
from pypdf import PdfReader

from gitgoods.local.quicksight.spice import SpiceStore
from portal.render import expressions as ex
from portal.render.definition import parse_definition
from portal.render.errors import RenderError
from portal.render.reports import LocalReports, checks_state, published_definitions
from portal.reports import ReportNotFound, Viewer

ROOT = Path(__file__).resolve().parent.parent
ARN = "arn:aws:quicksight:eu-west-1:123456789012:dataset/{}"
SALES, PRODUCTS, RLS = "t-sales", "t-products", "t-rls"
BUILT = datetime(2026, 11, 4, 6, 0, tzinfo=UTC)

ALPHA = Viewer("s-alpha", frozenset({"sellers"}), "s-alpha")
BETA = Viewer("s-beta", frozenset({"sellers"}), "s-beta")
GAMMA = Viewer("s-gamma", frozenset({"sellers"}), "s-gamma")  # disabled: no RLS row
ANALYST = Viewer("ann", frozenset({"analysts"}), None)
STRANGER = Viewer("nobody", frozenset({"sellers"}), "s-nobody")
NAMES = {"s-alpha": "Alpha Games", "s-beta": "Beta Retro", "s-gamma": "Gamma Toys"}


def ts(day: str) -> datetime:
    return datetime.fromisoformat(day)


# seller_daily_sales-like rows (Day as timestamp[ms], as a DATETIME cast gives):
#   s-alpha 2026-10-31: orders 2, gross 800  -- outside a Nov range
#   s-alpha 2026-11-01: orders 3, gross 1500, units 4
#   s-alpha 2026-11-02: orders 5, gross 2500, units 6
#   s-alpha 2026-11-03: orders 0, gross 0,    units 0
#   s-beta  2026-11-01..03: orders 7, 11, 13; gross 91000, 92000, 93000; units 17, 19, 23
#   s-gamma 2026-11-01: orders 1, gross 100
SALES_ROWS = [
    ("s-alpha", "2026-10-31", 2, 800, 2),
    ("s-alpha", "2026-11-01", 3, 1500, 4),
    ("s-alpha", "2026-11-02", 5, 2500, 6),
    ("s-alpha", "2026-11-03", 0, 0, 0),
    ("s-beta", "2026-11-01", 7, 91000, 17),
    ("s-beta", "2026-11-02", 11, 92000, 19),
    ("s-beta", "2026-11-03", 13, 93000, 23),
    ("s-gamma", "2026-11-01", 1, 100, 1),
]
# product_performance-like rows (Day as a 'yyyy-MM-dd' string):
#   s-alpha: "Space Quest" 2 + 3 units (Nov 1, 2), "Cave Diver" 1 unit (Nov 2), "=Evil" 7 units (Nov 3)
#   s-beta:  "Beta Secret Title" 40 units
PRODUCT_ROWS = [
    ("s-alpha", "Space Quest", "2026-11-01", 2, "PC"),
    ("s-alpha", "Space Quest", "2026-11-02", 3, "PC"),
    ("s-alpha", "Cave Diver", "2026-11-02", 1, "Switch"),
    ("s-alpha", "=Evil", "2026-11-03", 7, "Switch"),
    ("s-beta", "Beta Secret Title", "2026-11-02", 40, "PC"),
]


def sales_table(rows=SALES_ROWS) -> pa.Table:
    return pa.table(
        {
            "seller_id": [r[0] for r in rows],
            "Day": pa.array([ts(r[1]) for r in rows], pa.timestamp("ms")),
            "Orders": pa.array([r[2] for r in rows], pa.int64()),
            "Gross (cents)": pa.array([r[3] for r in rows], pa.int64()),
            "Units": pa.array([r[4] for r in rows], pa.int64()),
        }
    )


def products_table() -> pa.Table:
    return pa.table(
        {
            "seller_id": [r[0] for r in PRODUCT_ROWS],
            "Product": [r[1] for r in PRODUCT_ROWS],
            "Day": [r[2] for r in PRODUCT_ROWS],
            "Units": pa.array([r[3] for r in PRODUCT_ROWS], pa.int64()),
            "Platform": [r[4] for r in PRODUCT_ROWS],
        }
    )


def rls_table(rows=None) -> pa.Table:
    rows = rows or [("s-alpha", None, "s-alpha"), ("s-beta", None, "s-beta"), (None, "analysts", None)]
    return pa.table(
        {
            "UserName": pa.array([r[0] for r in rows], pa.string()),
            "GroupName": pa.array([r[1] for r in rows], pa.string()),
            "seller_id": pa.array([r[2] for r in rows], pa.string()),
        }
    )


def write(store: SpiceStore, dataset: str, ingestion: str, table: pa.Table, last: str = "2026-11-03") -> None:
    store.write(dataset, ingestion, table, table="t", partitions=3, last_partition=last, built_at=BUILT)


def col(identifier: str, name: str) -> dict:
    return {"DataSetIdentifier": identifier, "ColumnName": name}


def title(text: str) -> dict:
    return {"Visibility": "VISIBLE", "FormatText": {"PlainText": text}}


def measure(field_id: str, identifier: str, name: str, agg: str | None = "SUM", decimals: int | None = None) -> dict:
    body: dict = {"FieldId": field_id, "Column": col(identifier, name)}
    if agg:
        body["AggregationFunction"] = {"SimpleNumericalAggregation": agg}
    if decimals is not None:
        body["FormatConfiguration"] = {
            "FormatConfiguration": {
                "NumberDisplayFormatConfiguration": {"DecimalPlacesConfiguration": {"DecimalPlaces": decimals}}
            }
        }
    return {"NumericalMeasureField": body}


def hand_definition() -> dict:
    day = {"DateDimensionField": {"FieldId": "day", "Column": col("sales", "Day"), "DateGranularity": "DAY"}}
    return {
        "DataSetIdentifierDeclarations": [
            {"Identifier": "sales", "DataSetArn": ARN.format(SALES)},
            {"Identifier": "products", "DataSetArn": ARN.format(PRODUCTS)},
        ],
        "CalculatedFields": [
            {"DataSetIdentifier": "sales", "Name": "Gross", "Expression": "{Gross (cents)} / 100"},
            {"DataSetIdentifier": "sales", "Name": "AOV", "Expression": "sum({Gross (cents)}) / sum({Orders}) / 100"},
        ],
        "FilterGroups": [
            {
                "FilterGroupId": "range",
                "Filters": [
                    {
                        "TimeRangeFilter": {
                            "FilterId": "date-range",
                            "Column": col("sales", "Day"),
                            "IncludeMinimum": True,
                            "IncludeMaximum": True,
                            "RangeMinimumValue": {
                                "RollingDate": {"Expression": "addDateTime(-90, 'DD', truncDate('DD', now()))"}
                            },
                            "NullOption": "NON_NULLS_ONLY",
                            "TimeGranularity": "DAY",
                        }
                    }
                ],
                "ScopeConfiguration": {
                    "SelectedSheets": {
                        "SheetVisualScopingConfigurations": [{"SheetId": "main", "Scope": "ALL_VISUALS"}]
                    }
                },
                "Status": "ENABLED",
                "CrossDataset": "ALL_DATASETS",
            }
        ],
        "Sheets": [
            {
                "SheetId": "main",
                "Name": "Main",
                "Title": "Overview",
                "FilterControls": [
                    {
                        "DateTimePicker": {
                            "FilterControlId": "picker",
                            "Title": "Date range",
                            "SourceFilterId": "date-range",
                            "Type": "DATE_RANGE",
                        }
                    }
                ],
                "Visuals": [
                    {
                        "LineChartVisual": {
                            "VisualId": "daily-orders",
                            "Title": title("Orders per day"),
                            "ChartConfiguration": {
                                "FieldWells": {
                                    "LineChartAggregatedFieldWells": {
                                        "Category": [day],
                                        "Values": [measure("orders", "sales", "Orders")],
                                    }
                                },
                                "SortConfiguration": {
                                    "CategorySort": [{"FieldSort": {"FieldId": "day", "Direction": "ASC"}}]
                                },
                                "Type": "LINE",
                            },
                        }
                    },
                    {
                        "KPIVisual": {
                            "VisualId": "total-orders",
                            "Title": title("Orders"),
                            "ChartConfiguration": {
                                "FieldWells": {"Values": [measure("kpi-orders", "sales", "Orders")]}
                            },
                        }
                    },
                    {
                        "KPIVisual": {
                            "VisualId": "aov",
                            "Title": title("Average order value"),
                            "ChartConfiguration": {
                                "FieldWells": {"Values": [measure("kpi-aov", "sales", "AOV", agg=None, decimals=2)]}
                            },
                        }
                    },
                    {
                        "BarChartVisual": {
                            "VisualId": "top-products",
                            "Title": title("Top products"),
                            "ChartConfiguration": {
                                "FieldWells": {
                                    "BarChartAggregatedFieldWells": {
                                        "Category": [
                                            {
                                                "CategoricalDimensionField": {
                                                    "FieldId": "product",
                                                    "Column": col("products", "Product"),
                                                }
                                            }
                                        ],
                                        "Values": [measure("units", "products", "Units")],
                                    }
                                },
                                "Orientation": "HORIZONTAL",
                                "SortConfiguration": {
                                    "CategorySort": [{"FieldSort": {"FieldId": "units", "Direction": "DESC"}}],
                                    "CategoryItemsLimit": {"ItemsLimit": 2, "OtherCategories": "EXCLUDE"},
                                },
                            },
                        }
                    },
                    {
                        "TableVisual": {
                            "VisualId": "product-table",
                            "Title": title("Products"),
                            "ChartConfiguration": {
                                "FieldWells": {
                                    "TableAggregatedFieldWells": {
                                        "GroupBy": [
                                            {
                                                "CategoricalDimensionField": {
                                                    "FieldId": "t-product",
                                                    "Column": col("products", "Product"),
                                                }
                                            }
                                        ],
                                        "Values": [measure("t-units", "products", "Units")],
                                    }
                                },
                                "FieldOptions": {
                                    "SelectedFieldOptions": [{"FieldId": "t-units", "CustomLabel": "Units sold"}]
                                },
                            },
                        }
                    },
                    {
                        "PieChartVisual": {
                            "VisualId": "platforms",
                            "Title": title("Units by platform"),
                            "ChartConfiguration": {
                                "FieldWells": {
                                    "PieChartAggregatedFieldWells": {
                                        "Category": [
                                            {
                                                "CategoricalDimensionField": {
                                                    "FieldId": "platform",
                                                    "Column": col("products", "Platform"),
                                                }
                                            }
                                        ],
                                        "Values": [measure("p-units", "products", "Units")],
                                    }
                                }
                            },
                        }
                    },
                    {
                        "PivotTableVisual": {
                            "VisualId": "pivot",
                            "Title": title("Units by product and platform"),
                            "ChartConfiguration": {
                                "FieldWells": {
                                    "PivotTableAggregatedFieldWells": {
                                        "Rows": [
                                            {
                                                "CategoricalDimensionField": {
                                                    "FieldId": "pv-product",
                                                    "Column": col("products", "Product"),
                                                }
                                            }
                                        ],
                                        "Columns": [
                                            {
                                                "CategoricalDimensionField": {
                                                    "FieldId": "pv-platform",
                                                    "Column": col("products", "Platform"),
                                                }
                                            }
                                        ],
                                        "Values": [measure("pv-units", "products", "Units")],
                                    }
                                }
                            },
                        }
                    },
                ],
            }
        ],
    }


def described(dataset_id: str) -> dict:
    return {
        "Arn": ARN.format(dataset_id),
        "DataSetId": dataset_id,
        "RowLevelPermissionDataSet": {
            "Namespace": "default",
            "Arn": ARN.format(RLS),
            "PermissionPolicy": "GRANT_ACCESS",
            "FormatVersion": "VERSION_2",
            "Status": "ENABLED",
        },
    }


@pytest.fixture
def store(tmp_path: Path) -> SpiceStore:
    spice = SpiceStore(tmp_path / "spice")
    write(spice, SALES, "ing-1", sales_table())
    write(spice, PRODUCTS, "ing-1", products_table())
    write(spice, RLS, "rls-1", rls_table(), last=None)
    return spice


def make_reports(store: SpiceStore, definition: dict | None = None) -> LocalReports:
    definition = definition or hand_definition()
    datasets = {ARN.format(SALES): described(SALES), ARN.format(PRODUCTS): described(PRODUCTS)}
    return LocalReports(lambda: (definition, datasets), store, lambda: dict(NAMES))


NOV = (date(2026, 11, 1), date(2026, 11, 3))


def visual_html(page_html: str, visual_id: str) -> str:
    match = re.search(rf'<article[^>]*id="visual-{re.escape(visual_id)}".*?</article>', page_html, re.S)
    assert match, visual_id
    return match.group(0)


def csv_rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode())))


# --- expressions --------------------------------------------------------------------------------


def test_expression_parser_and_levels() -> None:
    node = ex.parse("sum({Gross (cents)}) / sum({Orders}) / 100")
    assert ex.is_aggregate(node)
    assert ex.references(node) == {"Gross (cents)", "Orders"}
    assert not ex.is_aggregate(ex.parse("-({a} + 2.5) * {b}"))
    for bad in ("ifelse({a} > 1, 1, 0)", "{a} +", "__import__('os')", "sum(sum({a}))", "{a} / sum({b})", "1 $ 2"):
        with pytest.raises(RenderError):
            ex.resolve(ex.parse(bad), {}, bad)


def test_division_by_zero_is_null() -> None:
    t = pa.table({"a": [6, 1], "b": [3, 0]})
    value = ex.evaluate(ex.parse("{a} / {b}"), lambda name: t[name])
    assert value.to_pylist() == [2.0, None]  # 6/3 = 2; 1/0 -> null


# --- the hand-written definition ----------------------------------------------------------------


def chart_spec(html: str) -> dict:
    """The spec of a chart: the JSON in its canvas's `data-chart` attribute (escaped there)."""
    match = re.search(r'<canvas [^>]*data-chart="([^"]*)"', html)
    assert match, "the chart is a canvas holding its spec"
    return json.loads(unescape(match.group(1)))


def with_charts(html: str) -> str:
    """The page with the spec of every chart unescaped into it (what the browser draws)."""
    return html + "\n".join(unescape(m) for m in re.findall(r'data-chart="([^"]*)"', html))


def test_line_chart_holds_the_sellers_daily_figures_only(store: SpiceStore) -> None:
    page = make_reports(store).page(ALPHA, "s-alpha", *NOV)
    html = visual_html(page.html, "daily-orders")
    assert "Orders per day: chart; its figures are in the CSV" in html
    line = chart_spec(html)
    assert line["kind"] == "line" and line["categoryTitle"] == "Day" and line["valueTitle"] == "Orders"
    # alpha's orders per day: Nov 1: 3, Nov 2: 5, Nov 3: 0 (Oct 31 is outside the range)
    assert line["dates"] == line["labels"] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert [(d["label"], d["data"]) for d in line["datasets"]] == [("Orders", [3, 5, 0])]
    assert line["datasets"][0]["format"]["decimals"] == 0
    for other in ("s-beta", "Beta"):  # beta's orders (7, 11, 13) are not in the one dataset above
        assert other not in with_charts(page.html)
    assert "Beta Secret Title" not in page.html


def test_chart_spec_cannot_break_out_of_its_attribute(store: SpiceStore) -> None:
    evil = 'Evil" onmouseover="alert(1)"><script>alert(2)</script> & \'x\''
    rows = [*PRODUCT_ROWS, ("s-alpha", evil, "2026-11-02", 50, '"><script>alert(3)</script>')]
    table = pa.table(
        {
            "seller_id": [r[0] for r in rows],
            "Product": [r[1] for r in rows],
            "Day": [r[2] for r in rows],
            "Units": pa.array([r[3] for r in rows], pa.int64()),
            "Platform": [r[4] for r in rows],
        }
    )
    write(store, PRODUCTS, "ing-2", table)
    html = make_reports(store).page(ALPHA, "s-alpha", *NOV).html
    assert "<script>" not in html and 'onmouseover="' not in html

    class Canvases(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.found: list[dict[str, str | None]] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "canvas":
                self.found.append(dict(attrs))

    parser = Canvases()
    parser.feed(html)
    charts = {c["aria-label"]: c for c in parser.found}
    top, pie = (
        charts["Top products: chart; its figures are in the CSV"],
        charts["Units by platform: chart; its figures are in the CSV"],
    )
    for canvas in (top, pie):
        assert set(canvas) == {"class", "role", "aria-label", "data-chart"}
    # the titles come back whole from the attribute: top products by units, 50 > 7 (=Evil)
    bar = json.loads(top["data-chart"] or "")
    assert bar["labels"] == [evil, "=Evil"] and bar["datasets"][0]["data"] == [50, 7]
    assert '"><script>alert(3)</script>' in json.loads(pie["data-chart"] or "")["labels"]


def test_kpis_sum_and_calculated_aov(store: SpiceStore) -> None:
    page = make_reports(store).page(ALPHA, "s-alpha", *NOV)
    # orders Nov 1-3: 3 + 5 + 0 = 8
    assert '<p class="kpi-value">8</p>' in visual_html(page.html, "total-orders")
    # AOV = (1500 + 2500 + 0) / (3 + 5 + 0) / 100 = 5.00
    assert '<p class="kpi-value">5.00</p>' in visual_html(page.html, "aov")
    beta = make_reports(store).page(BETA, "s-beta", *NOV)
    # beta: (91000 + 92000 + 93000) / (7 + 11 + 13) / 100 = 276000 / 31 / 100 = 89.0322... -> 89.03
    assert '<p class="kpi-value">89.03</p>' in visual_html(beta.html, "aov")
    assert '<p class="kpi-value">31</p>' in visual_html(beta.html, "total-orders")


def test_date_range_is_inclusive(store: SpiceStore) -> None:
    reports = make_reports(store)
    # Oct 31 - Nov 1: 2 + 3 = 5 orders
    page = reports.page(ALPHA, "s-alpha", date(2026, 10, 31), date(2026, 11, 1))
    assert '<p class="kpi-value">5</p>' in visual_html(page.html, "total-orders")
    # Nov 2 only: 5
    page = reports.page(ALPHA, "s-alpha", date(2026, 11, 2), date(2026, 11, 2))
    assert '<p class="kpi-value">5</p>' in visual_html(page.html, "total-orders")
    # the string day column of the products data set filters too: Nov 3 only: "=Evil" 7 units
    _name, body = reports.csv(ALPHA, "s-alpha", "product-table", date(2026, 11, 3), date(2026, 11, 3))
    assert csv_rows(body) == [["Product", "Units sold"], ["'=Evil", "7"]]


def test_default_range_is_90_days_ending_at_the_last_partition(store: SpiceStore) -> None:
    page = make_reports(store).page(ALPHA, "s-alpha", None, None)
    # last_partition 2026-11-03; 90 days inclusive start on 2026-08-06
    assert (page.start, page.end) == (date(2026, 8, 6), date(2026, 11, 3))
    # 2 + 3 + 5 + 0 = 10 orders over the window
    assert '<p class="kpi-value">10</p>' in visual_html(page.html, "total-orders")
    assert "/sellers/s-alpha/visuals/daily-orders.csv?from=2026-08-06&amp;to=2026-11-03" in page.html


def test_rls(store: SpiceStore) -> None:
    reports = make_reports(store)
    assert reports.sellers(ALPHA) == [("s-alpha", "Alpha Games")]
    # analysts: the group row with an empty seller_id grants every seller
    assert reports.sellers(ANALYST) == [("s-alpha", "Alpha Games"), ("s-beta", "Beta Retro"), ("s-gamma", "Gamma Toys")]
    assert '<p class="kpi-value">31</p>' in visual_html(reports.page(ANALYST, "s-beta", *NOV).html, "total-orders")
    # gamma's rows exist, but the disabled seller has no rule: nothing
    assert reports.sellers(GAMMA) == []
    for viewer, seller in ((GAMMA, "s-gamma"), (STRANGER, "s-alpha"), (ALPHA, "s-beta"), (ANALYST, "s-unknown")):
        with pytest.raises(ReportNotFound):
            reports.page(viewer, seller, *NOV)
        with pytest.raises(ReportNotFound):
            reports.csv(viewer, seller, "total-orders", *NOV)
        with pytest.raises(ReportNotFound):
            reports.pdf(viewer, seller, *NOV)
    with pytest.raises(ReportNotFound):
        reports.csv(ALPHA, "s-alpha", "no-such-visual", *NOV)


def test_csv_contents(store: SpiceStore) -> None:
    reports = make_reports(store)
    name, body = reports.csv(ALPHA, "s-alpha", "daily-orders", *NOV)
    assert name == "s-alpha-daily-orders-2026-11-01-2026-11-03.csv"
    assert csv_rows(body) == [["Day", "Orders"], ["2026-11-01", "3"], ["2026-11-02", "5"], ["2026-11-03", "0"]]
    # top 2 products by units, descending: "=Evil" 7 (escaped as text), "Space Quest" 2 + 3 = 5; Cave Diver 1 left out
    _name, body = reports.csv(ALPHA, "s-alpha", "top-products", *NOV)
    assert csv_rows(body) == [["Product", "Units"], ["'=Evil", "7"], ["Space Quest", "5"]]
    _name, body = reports.csv(ALPHA, "s-alpha", "aov", *NOV)
    assert csv_rows(body) == [["AOV"], ["5"]]  # 4000 / 8 / 100 = 5.0
    # pivot in long form: product x platform
    _name, body = reports.csv(ALPHA, "s-alpha", "pivot", *NOV)
    assert csv_rows(body) == [
        ["Product", "Platform", "Units"],
        ["'=Evil", "Switch", "7"],
        ["Cave Diver", "Switch", "1"],
        ["Space Quest", "PC", "5"],
    ]


def test_division_by_zero_shows_nothing(store: SpiceStore) -> None:
    reports = make_reports(store)
    # Nov 3: orders 0, gross 0 -> AOV 0 / 0: empty
    page = reports.page(ALPHA, "s-alpha", date(2026, 11, 3), date(2026, 11, 3))
    assert '<p class="kpi-value"></p>' in visual_html(page.html, "aov")
    assert csv_rows(reports.csv(ALPHA, "s-alpha", "aov", date(2026, 11, 3), date(2026, 11, 3))[1]) == [["AOV"], [""]]


def test_pdf(store: SpiceStore) -> None:
    body = make_reports(store).pdf(ALPHA, "s-alpha", *NOV)
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)
    assert "Alpha Games" in text and "s-alpha" in text
    assert "2026-11-01" in text and "2026-11-03" in text
    assert "Space Quest" in text and "5.00" in text  # the products table, the AOV
    for other in ("s-beta", "Beta Retro", "Beta Secret Title", "89.03", "s-gamma"):
        assert other not in text


def test_escaping(store: SpiceStore) -> None:
    rows = [*PRODUCT_ROWS, ("s-alpha", "<script>alert(1)</script> & $x$", "2026-11-01", 1, "PC")]
    table = pa.table(
        {
            "seller_id": [r[0] for r in rows],
            "Product": [r[1] for r in rows],
            "Day": [r[2] for r in rows],
            "Units": pa.array([r[3] for r in rows], pa.int64()),
            "Platform": [r[4] for r in rows],
        }
    )
    write(store, PRODUCTS, "ing-2", table)
    html = make_reports(store).page(ALPHA, "s-alpha", *NOV).html
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; $x$" in html


def test_cache_is_invalidated_by_a_new_snapshot(store: SpiceStore) -> None:
    reports = make_reports(store)
    before = reports.page(ALPHA, "s-alpha", *NOV)
    assert '<p class="kpi-value">8</p>' in visual_html(before.html, "total-orders")
    # alpha Nov 2 now has 9 orders instead of 5: 3 + 9 + 0 = 12
    rows = [(s, d, 9 if (s, d) == ("s-alpha", "2026-11-02") else o, g, u) for s, d, o, g, u in SALES_ROWS]
    write(store, SALES, "ing-2", sales_table(rows))
    after = reports.page(ALPHA, "s-alpha", *NOV)
    assert '<p class="kpi-value">12</p>' in visual_html(after.html, "total-orders")
    # and a new RLS snapshot without alpha's row shuts alpha out
    write(store, RLS, "rls-2", rls_table([("s-beta", None, "s-beta")]), last=None)
    with pytest.raises(ReportNotFound):
        reports.page(ALPHA, "s-alpha", *NOV)


def test_freshness(store: SpiceStore) -> None:
    page = make_reports(store).page(ALPHA, "s-alpha", *NOV)
    assert "Data through 2026-11-03" in page.freshness
    assert "built 2026-11-04 06:00 UTC" in page.freshness
    assert "blocking checks: unknown" in page.freshness  # the pointers carry no `checks`
    assert "every blocking check passed" not in page.html
    assert checks_state({"checks": {"passed": True}}) == "passed"
    assert checks_state({"checks": False}) == "failed"
    assert checks_state({}) == "unknown"


def test_unsupported_constructs_raise_naming_them(store: SpiceStore) -> None:
    definition = hand_definition()
    definition["Sheets"][0]["Visuals"].append({"HeatMapVisual": {"VisualId": "heat", "ChartConfiguration": {}}})
    with pytest.raises(RenderError, match=r"heat.*HeatMapVisual"):
        parse_definition(definition)
    definition = hand_definition()
    line = definition["Sheets"][0]["Visuals"][0]["LineChartVisual"]
    line["ChartConfiguration"]["ReferenceLines"] = [{"DataConfiguration": {}}]
    with pytest.raises(RenderError, match=r"daily-orders.*ReferenceLines"):
        parse_definition(definition)
    definition = hand_definition()
    wells = definition["Sheets"][0]["Visuals"][1]["KPIVisual"]["ChartConfiguration"]["FieldWells"]
    wells["Values"][0]["NumericalMeasureField"]["AggregationFunction"] = {"SimpleNumericalAggregation": "MEDIAN"}
    with pytest.raises(RenderError, match=r"total-orders.*MEDIAN"):
        parse_definition(definition)
    definition = hand_definition()
    definition["CalculatedFields"].append({"DataSetIdentifier": "sales", "Name": "X", "Expression": "ifelse(1, 2, 3)"})
    with pytest.raises(RenderError, match="ifelse"):
        parse_definition(definition)
    definition = hand_definition()
    day = definition["Sheets"][0]["Visuals"][0]["LineChartVisual"]["ChartConfiguration"]["FieldWells"]
    day["LineChartAggregatedFieldWells"]["Category"][0]["DateDimensionField"]["DateGranularity"] = "QUARTER"
    with pytest.raises(RenderError, match="QUARTER"):
        parse_definition(definition)


def test_data_set_without_seller_id_is_refused(store: SpiceStore) -> None:
    write(store, SALES, "ing-3", sales_table().drop_columns(["seller_id"]))
    with pytest.raises(RenderError, match="seller_id"):
        make_reports(store).page(ANALYST, "s-alpha", *NOV)


# --- the real dashboard -----------------------------------------------------------------------

PLACEHOLDERS = {
    "${account_id}": "123456789012",
    "${region}": "eu-west-1",
    "${prefix}": "gitgoods-",
    "${namespace}": "default",
    "${athena_workgroup}": "primary",
    "${glue_database}": "gitgoods",
}


def fill(text: str) -> dict:
    for key, value in PLACEHOLDERS.items():
        text = text.replace(key, value)
    assert "${" not in text
    return json.loads(text)


def _output_schema(dataset: dict) -> dict[str, pa.DataType]:
    """The data set's output columns and Arrow types, from its input columns and transforms."""
    (physical,) = dataset["PhysicalTableMap"].values()
    types = {c["Name"]: c["Type"] for c in physical["RelationalTable"]["InputColumns"]}
    (logical,) = dataset["LogicalTableMap"].values()
    projected = None
    for transform in logical.get("DataTransforms", []):
        ((kind, body),) = transform.items()
        if kind == "CastColumnTypeOperation":
            types[body["ColumnName"]] = body["NewColumnType"]
        elif kind == "RenameColumnOperation":
            types[body["NewColumnName"]] = types.pop(body["ColumnName"])
        elif kind == "ProjectOperation":
            projected = body["ProjectedColumns"]
    arrow = {"STRING": pa.string(), "INTEGER": pa.int64(), "DECIMAL": pa.float64(), "DATETIME": pa.timestamp("ms")}
    return {name: arrow[types[name]] for name in projected or types}


DAYS = ["2026-11-01", "2026-11-02", "2026-11-03"]
# Hand-set columns per data set and seller (one value per day in DAYS); every other column is 1
# (integers), 0.5 (decimals), the day (dates) or "x" (strings).
REAL_VALUES = {
    "seller_daily_sales": {
        # net: 10.00 + 20.50 - 3.00 = 27.50; AOV: (1500 + 2500 + 0) / (3 + 5 + 0) / 100 = 5.00
        "s-alpha": {
            "Orders": [3, 5, 0],
            "Gross (cents)": [1500, 2500, 0],
            "Net (cents)": [1000, 2050, -300],
            "Units": [4, 6, 0],
            "New buyers": [2, 1, 0],
            "Returning buyers": [1, 3, 0],
        },
        "s-beta": {
            "Orders": [7, 11, 13],
            "Gross (cents)": [91000, 92000, 93000],
            "Net (cents)": [90000, 90000, 90000],
            "Units": [17, 19, 23],
        },
    },
    "seller_kpis": {
        # last day (Nov 3): orders 28d = 44 against a category median of 40
        "s-alpha": {
            "Orders 28d": [40, 42, 44],
            "Category median orders 28d": [38.0, 39.0, 40.0],
            "Net 28d (cents)": [100000, 110000, 123456],
        },
        "s-beta": {"Orders 28d": [900, 901, 902], "Category median orders 28d": [38.0, 39.0, 40.0]},
    },
    "product_performance": {
        "s-alpha": {
            "Product": ["Space Quest", "Cave Diver", "Space Quest"],
            "Units": [2, 1, 3],
            "Returned units": [1, 0, 0],
        },
        "s-beta": {"Product": ["Beta Secret Title"] * 3, "Units": [5, 5, 5]},
    },
}


def real_snapshot(name: str, schema: dict[str, pa.DataType]) -> pa.Table:
    columns: dict[str, list] = {n: [] for n in schema}
    for seller in ("s-alpha", "s-beta"):
        given = REAL_VALUES.get(name, {}).get(seller, {})
        for i, day in enumerate(DAYS):
            for column, kind in schema.items():
                if column == "seller_id":
                    value = seller
                elif column in given:
                    value = given[column][i]
                elif pa.types.is_timestamp(kind):
                    value = ts(day if column != "Cohort month" else "2026-11-01")
                elif pa.types.is_integer(kind):
                    value = i if column == "Months since first" else 1
                elif pa.types.is_floating(kind):
                    value = 0.5
                else:
                    value = f"{seller}-x" if column == "Product ID" else "x"
                columns[column].append(value)
    return pa.table({n: pa.array(v, schema[n]) for n, v in columns.items()})


@pytest.fixture
def real(tmp_path: Path):
    dashboard = fill((ROOT / "quicksight" / "dashboard.json").read_text())
    store = SpiceStore(tmp_path / "spice")
    datasets = {}
    for path in sorted((ROOT / "quicksight" / "datasets").glob("*.json")):
        dataset = fill(path.read_text())
        arn = ARN.format(dataset["DataSetId"])
        if dataset.get("UseAs") == "RLS_RULES":
            write(store, dataset["DataSetId"], "rls-1", rls_table(), last=None)
            continue
        datasets[arn] = dataset
        write(store, dataset["DataSetId"], "ing-1", real_snapshot(path.stem, _output_schema(dataset)))
    reports = LocalReports(lambda: (dashboard["Definition"], datasets), store, lambda: dict(NAMES))
    return reports, dashboard, store


def test_real_dashboard_renders_every_visual(real) -> None:
    reports, dashboard, _store = real
    page = reports.page(ALPHA, "s-alpha", *NOV)
    visual_ids = [next(iter(v.values()))["VisualId"] for s in dashboard["Definition"]["Sheets"] for v in s["Visuals"]]
    assert len(visual_ids) >= 10
    for visual_id in visual_ids:
        html = visual_html(page.html, visual_id)
        assert "No data for this range" not in html, visual_id
        name, body = reports.csv(ALPHA, "s-alpha", visual_id, *NOV)
        assert len(csv_rows(body)) >= 2, visual_id
    # net revenue: 27.50; AOV 5.00; orders 28d on the last day 44 against the median 40 (+4)
    assert '<p class="kpi-value">27.50</p>' in visual_html(page.html, "net-revenue")
    assert '<p class="kpi-value">5.00</p>' in visual_html(page.html, "average-order-value")
    kpi = visual_html(page.html, "orders-28d-vs-category")
    assert '<p class="kpi-value">44</p>' in kpi and '<span class="kpi-target">40</span>' in kpi and "(+4)" in kpi
    # Net 28d on Nov 3: 123456 / 100 = 1,234.56
    assert '<p class="kpi-value">1,234.56</p>' in visual_html(page.html, "net-28d")
    # gross per day 15.00, 25.00, 0.00 and units 4, 6, 0 in the revenue line (beta's: 910.00, 920.00, 930.00)
    line = chart_spec(visual_html(page.html, "revenue-over-time"))
    assert line["dates"] == DAYS
    assert [(d["label"], d["data"]) for d in line["datasets"]] == [("Gross", [15.0, 25.0, 0.0]), ("Units", [4, 6, 0])]
    assert line["datasets"][0]["format"]["decimals"] == 2
    for other in ("Beta Secret Title", "910", "920", "930", "902", "s-beta"):
        assert other not in with_charts(page.html)
    # the funnel: one bar per measure, each with its own format
    funnel = chart_spec(visual_html(page.html, "funnel"))
    assert funnel["labels"] == ["Views", "View sessions", "Cart sessions", "Checkout sessions", "Orders"]
    assert len(funnel["datasets"]) == 1 and len(funnel["datasets"][0]["formats"]) == 5
    assert funnel["datasets"][0]["data"] == [3, 3, 3, 3, 3]  # each column is 1 on each of the 3 days
    top = chart_spec(visual_html(page.html, "top-products"))
    assert top["kind"] == "bar" and top["horizontal"] and top["labels"][:2] == ["Space Quest", "Cave Diver"]
    assert chart_spec(visual_html(page.html, "country-breakdown"))["kind"] == "pie"
    # refund rate: (1 + 0 + 0) / (2 + 1 + 3) = 1/6 = 16.7%
    assert '<p class="kpi-value">16.7%</p>' in visual_html(page.html, "refund-rate")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(reports.pdf(ALPHA, "s-alpha", *NOV))).pages)
    assert "Alpha Games" in text and "27.50" in text and "Beta" not in text and "s-beta" not in text


def test_real_dashboard_timings(real) -> None:
    reports, _dashboard, store = real
    # a 90-day snapshot of sales for 3 sellers (a bigger table to filter)
    days = [date.fromordinal(date(2026, 11, 3).toordinal() - i).isoformat() for i in range(90)]
    rows = [(s, d, 3, 1500, 4) for s in ("s-alpha", "s-beta", "s-gamma") for d in days]
    table = sales_table(rows)
    full = {n: table[n] for n in table.column_names}
    schema = _output_schema(fill((ROOT / "quicksight/datasets/seller_daily_sales.json").read_text()))
    data = {
        n: (
            full[n]
            if n in full
            else pa.array([1] * len(rows), schema[n])
            if pa.types.is_integer(schema[n])
            else pa.array(["EUR"] * len(rows), schema[n])
        )
        for n in schema
    }
    data["Day"] = table["Day"]
    write(store, "gitgoods-seller_daily_sales", "ing-90", pa.table(data))
    t0 = time.perf_counter()
    reports.page(ALPHA, "s-alpha", None, None)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    reports.page(ALPHA, "s-alpha", None, None)
    warm = time.perf_counter() - t0
    assert warm < 0.3, f"a warm page took {warm * 1000:.1f} ms (cold {cold * 1000:.0f} ms)"
    page = reports.page(ALPHA, "s-alpha", None, None)
    assert "data:image" not in page.html  # the charts are drawn by the browser, from their spec
    daily = chart_spec(visual_html(page.html, "revenue-over-time"))
    assert len(daily["labels"]) == 90 and daily["dates"][-1] == "2026-11-03"


def test_published_definitions_caches_by_version() -> None:
    definition = hand_definition()

    class FakeQuickSight:
        def __init__(self) -> None:
            self.version = 1
            self.calls: list[str] = []

        def describe_dashboard(self, **kw):
            self.calls.append("dashboard")
            return {"Dashboard": {"Version": {"VersionNumber": self.version}}}

        def describe_dashboard_definition(self, **kw):
            self.calls.append(f"definition {kw['VersionNumber']}")
            return {"Definition": copy.deepcopy(definition)}

        def describe_data_set(self, **kw):
            self.calls.append(f"dataset {kw['DataSetId']}")
            return {"DataSet": described(kw["DataSetId"])}

    qs = FakeQuickSight()
    first = published_definitions(qs, "123456789012", "dash-cache-test", ttl=0)
    again = published_definitions(qs, "123456789012", "dash-cache-test", ttl=0)
    assert first[0] is again[0] and set(first[1]) == {ARN.format(SALES), ARN.format(PRODUCTS)}
    assert qs.calls == ["dashboard", "definition 1", f"dataset {SALES}", f"dataset {PRODUCTS}", "dashboard"]
    qs.version = 2
    third = published_definitions(qs, "123456789012", "dash-cache-test", ttl=0)
    assert third[0] is not first[0] and qs.calls[-3:] == ["definition 2", f"dataset {SALES}", f"dataset {PRODUCTS}"]


def test_pages_carry_no_inline_style_or_script(real) -> None:
    """The portal's CSP allows neither inline styles nor inline scripts: a page that needed them
    would show unstyled (or broken) in the browser. Pivot shades are classes."""
    reports, _dashboard, _store = real
    html = reports.page(ALPHA, "s-alpha", *NOV).html
    assert ' style="' not in html and "<style" not in html
    assert "<script>" not in html and "javascript:" not in html
    pivot = visual_html(html, "cohort-retention")
    assert 'class="num heat-' in pivot
