"""The typed model of a parsed dashboard: sheets, visuals, their fields (dimensions and measures),
sorts, number formats and the date-range filter, plus the data set id of an ARN.

`definition.parse_definition` builds it; `data`, `charts` and `pdf` read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from portal.render import expressions as ex
from portal.render.errors import RenderError

CHART_KINDS = ("line", "bar", "pie")  # the kinds drawn as charts (Chart.js on the page, matplotlib in the PDF)
DEFAULT_WINDOW_DAYS = 90


@dataclass(frozen=True)
class Column:
    dataset: str  # the data set identifier of the definition
    name: str


@dataclass(frozen=True)
class NumberFormat:
    kind: str = "number"  # number | currency | percent
    decimals: int | None = None
    prefix: str = ""
    suffix: str = ""
    symbol: str = ""
    scale: str = "NONE"  # NONE AUTO THOUSANDS MILLIONS BILLIONS TRILLIONS
    thousands: bool = True
    null: str = ""


@dataclass(frozen=True)
class Dimension:
    field_id: str
    column: Column
    kind: str  # category | date | number
    label: str
    granularity: str | None = None  # DAY WEEK MONTH (dates)
    date_format: str | None = None  # a strftime pattern translated from DateTimeFormat
    expression: ex.Node | None = None  # a row-level calculated field used as a dimension


@dataclass(frozen=True)
class Measure:
    field_id: str
    label: str
    expression: ex.Node  # an aggregate expression over physical columns
    number_format: NumberFormat | None = None


@dataclass(frozen=True)
class Sort:
    descending: bool
    field_id: str | None = None
    expression: ex.Node | None = None  # a ColumnSort: the aggregate it sorts by


@dataclass(frozen=True)
class Visual:
    visual_id: str
    sheet_id: str
    kind: str  # line bar kpi pie table pivot
    type_name: str  # e.g. LineChartVisual
    title: str
    subtitle: str
    dataset: str  # identifier
    dataset_arn: str
    dimensions: tuple[Dimension, ...] = ()  # category / group by / pivot rows / KPI trend group
    colors: tuple[Dimension, ...] = ()  # line and bar colour / pivot columns
    measures: tuple[Measure, ...] = ()  # values
    targets: tuple[Measure, ...] = ()  # KPI target values
    sort: tuple[Sort, ...] = ()
    limit: int | None = None
    other_categories: bool = False  # ItemsLimit OtherCategories INCLUDE: the rest as "Other"
    orientation: str = "VERTICAL"
    arrangement: str = "CLUSTERED"
    line_type: str = "LINE"
    category_label: str | None = None
    value_label: str | None = None
    color_label: str | None = None
    data_labels: bool = False
    comparison: str = "DIFFERENCE"  # KPI: DIFFERENCE PERCENT_DIFFERENCE PERCENT
    sparkline: bool = False
    hidden_fields: frozenset[str] = frozenset()
    alt_text: str = ""

    @property
    def fields(self) -> tuple[Dimension | Measure, ...]:
        return (*self.dimensions, *self.colors, *self.measures, *self.targets)


@dataclass(frozen=True)
class Sheet:
    sheet_id: str
    name: str
    title: str
    visuals: tuple[Visual, ...]


@dataclass(frozen=True)
class DateFilter:
    column: Column
    cross_dataset: bool  # ALL_DATASETS: every data set with a column of that name
    include_minimum: bool = True
    include_maximum: bool = True
    default_days: int = DEFAULT_WINDOW_DAYS
    # None: every visual; else the visual ids it applies to
    visual_ids: frozenset[str] | None = None


@dataclass(frozen=True)
class Dashboard:
    sheets: tuple[Sheet, ...]
    datasets: dict[str, str]  # identifier -> data set ARN
    calculated: dict[str, dict[str, ex.Node]] = field(default_factory=dict)  # identifier -> name -> node
    date_filter: DateFilter | None = None
    week_start: str = "SUNDAY"

    @property
    def visuals(self) -> tuple[Visual, ...]:
        return tuple(v for s in self.sheets for v in s.visuals)

    def visual(self, visual_id: str) -> Visual | None:
        return next((v for v in self.visuals if v.visual_id == visual_id), None)


def dataset_id_from_arn(arn: str) -> str:
    """`arn:aws:quicksight:<region>:<account>:dataset/<id>` → `<id>`."""
    match = re.fullmatch(r"arn:[\w-]+:quicksight:[\w-]*:\d*:dataset/([\w-]+)", arn or "")
    if match is None:
        raise RenderError(f"not a QuickSight data set ARN: {arn!r}")
    return match.group(1)
