"""Parse a dashboard `Definition` (DescribeDashboardDefinition's shape) into typed visuals.

Only the subset of docs/seller-insights.md ("What the offline renderer and the local SPICE
understand") is accepted. Whatever changes what a visual shows and is outside it (another visual
type, a filter type, reference lines, small multiples, conditional formatting, rich text, ...)
raises `RenderError` naming the visual and the construct: nothing is skipped silently. Purely
presentational options (fonts, legends, tooltips, palettes, axis display, interactions) do not
change the figures and are accepted without being reproduced.

Every measure becomes an aggregate expression (`NumericalMeasureField` SUM of `{Gross}` is
`sum({Gross})`), so the data step evaluates one kind of thing; row-level calculated fields are
inlined into the expressions and dimensions that use them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from portal.render import expressions as ex
from portal.render.errors import RenderError

VISUAL_KINDS = {
    "LineChartVisual": "line",
    "BarChartVisual": "bar",
    "KPIVisual": "kpi",
    "PieChartVisual": "pie",
    "TableVisual": "table",
    "PivotTableVisual": "pivot",
}
GRANULARITIES = {"DAY", "WEEK", "MONTH"}
NUMERIC_AGGREGATIONS = {
    "SUM": "sum",
    "AVERAGE": "avg",
    "MIN": "min",
    "MAX": "max",
    "COUNT": "count",
    "DISTINCT_COUNT": "distinct_count",
}
AGGREGATION_LABELS = {
    "sum": "",
    "avg": " (Average)",
    "min": " (Min)",
    "max": " (Max)",
    "count": " (Count)",
    "distinct_count": " (Distinct count)",
}
DEFAULT_WINDOW_DAYS = 90

# Keys of a visual's ChartConfiguration that add content the renderer does not draw.
_REFUSED_CONFIG = {
    "ForecastConfigurations",
    "ReferenceLines",
    "TableInlineVisualizations",
    "SmallMultiplesOptions",
    "PaginatedReportOptions",
}
_VISUAL_KEYS = {
    "VisualId",
    "Title",
    "Subtitle",
    "ChartConfiguration",
    "Actions",
    "ColumnHierarchies",
    "VisualContentAltText",
}
_SHEET_KEYS = {
    "SheetId",
    "Title",
    "Description",
    "Name",
    "FilterControls",
    "Visuals",
    "Layouts",
    "SheetControlLayouts",
    "ContentType",
    "ParameterControls",
    "TextBoxes",
    "Images",
    "CustomActionDefaults",
}
_DEFINITION_KEYS = {
    "DataSetIdentifierDeclarations",
    "Sheets",
    "CalculatedFields",
    "ParameterDeclarations",
    "FilterGroups",
    "ColumnConfigurations",
    "AnalysisDefaults",
    "Options",
}


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


# --- parsing ----------------------------------------------------------------------------------


class _Context:
    def __init__(self, visual_id: str, type_name: str, dashboard: _DashboardContext) -> None:
        self.visual_id = visual_id
        self.type_name = type_name
        self.d = dashboard
        self.datasets: set[str] = set()

    def error(self, what: str) -> RenderError:
        return RenderError(f"visual {self.visual_id!r} ({self.type_name}): {what}")

    def column(self, raw: dict | None) -> Column:
        if not isinstance(raw, dict) or not raw.get("ColumnName"):
            raise self.error("a field without a Column")
        if "DataSetIdentifier" not in raw:
            raise self.error(f"column {raw.get('ColumnName')!r} without a DataSetIdentifier (topics are not supported)")
        identifier = raw["DataSetIdentifier"]
        if identifier not in self.d.datasets:
            raise self.error(f"data set identifier {identifier!r} is not declared")
        self.datasets.add(identifier)
        return Column(identifier, raw["ColumnName"])

    def calc(self, column: Column) -> ex.Node | None:
        return self.d.calculated.get(column.dataset, {}).get(column.name)

    def resolved(self, node: ex.Node, column: Column, text: str) -> ex.Node:
        try:
            return ex.resolve(node, self.d.calculated.get(column.dataset, {}), text)
        except RenderError as err:
            raise self.error(str(err)) from None


class _DashboardContext:
    def __init__(self, datasets: dict[str, str], calculated: dict[str, dict[str, ex.Node]]) -> None:
        self.datasets = datasets
        self.calculated = calculated


def _one(raw: dict, ctx: _Context, what: str) -> tuple[str, dict]:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise ctx.error(f"a {what} must hold exactly one kind, got {sorted(raw) if isinstance(raw, dict) else raw!r}")
    ((kind, body),) = raw.items()
    return kind, body


_DATE_TOKENS = [
    ("yyyy", "%Y"),
    ("YYYY", "%Y"),
    ("yy", "%y"),
    ("MMMM", "%B"),
    ("MMM", "%b"),
    ("MM", "%m"),
    ("M", "%-m"),
    ("dd", "%d"),
    ("DD", "%d"),
    ("d", "%-d"),
    ("EEEE", "%A"),
    ("EEE", "%a"),
    ("HH", "%H"),
    ("mm", "%M"),
]


def _date_format(pattern: str | None) -> str | None:
    """A QuickSight date pattern (`MMM d, yyyy`) → strftime; unknown letters are refused."""
    if not pattern:
        return None
    out, i = [], 0
    while i < len(pattern):
        for token, repl in _DATE_TOKENS:
            if pattern.startswith(token, i):
                out.append(repl)
                i += len(token)
                break
        else:
            char = pattern[i]
            if char.isalpha():
                raise RenderError(f"date format {pattern!r}: {char!r} is not supported")
            out.append("%%" if char == "%" else char)
            i += 1
    return "".join(out)


def _number_format(raw: dict | None, ctx: _Context) -> NumberFormat | None:
    if not raw:
        return None
    inner = raw.get("FormatConfiguration", raw)
    if not inner:
        return None
    kind, body = _one(inner, ctx, "number format")
    kinds = {
        "NumberDisplayFormatConfiguration": "number",
        "CurrencyDisplayFormatConfiguration": "currency",
        "PercentageDisplayFormatConfiguration": "percent",
    }
    if kind not in kinds:
        raise ctx.error(f"number format {kind} is not supported")
    decimals = (body.get("DecimalPlacesConfiguration") or {}).get("DecimalPlaces")
    separators = body.get("SeparatorConfiguration") or {}
    thousands = (separators.get("ThousandsSeparator") or {}).get("Visibility", "VISIBLE") != "HIDDEN"
    return NumberFormat(
        kind=kinds[kind],
        decimals=decimals,
        prefix=body.get("Prefix", "") or "",
        suffix=body.get("Suffix", "") or "",
        symbol=body.get("Symbol", "") or "",
        scale=body.get("NumberScale", "NONE") or "NONE",
        thousands=thousands,
        null=((body.get("NullValueFormatConfiguration") or {}).get("NullString") or ""),
    )


def _dimension(raw: dict, ctx: _Context, labels: dict[str, str]) -> Dimension:
    kind, body = _one(raw, ctx, "dimension field")
    kinds = {"CategoricalDimensionField": "category", "DateDimensionField": "date", "NumericalDimensionField": "number"}
    if kind not in kinds:
        raise ctx.error(f"dimension {kind} is not supported")
    field_id = body.get("FieldId") or ""
    column = ctx.column(body.get("Column"))
    expression = None
    calc = ctx.calc(column)
    if calc is not None:
        expression = ctx.resolved(calc, column, column.name)
        if ex.is_aggregate(expression):
            raise ctx.error(f"dimension {column.name!r} is an aggregate calculated field")
    granularity = None
    date_format = None
    if kind == "DateDimensionField":
        granularity = body.get("DateGranularity", "DAY")
        if granularity not in GRANULARITIES:
            raise ctx.error(f"DateGranularity {granularity} is not supported (DAY, WEEK, MONTH)")
        try:
            date_format = _date_format((body.get("FormatConfiguration") or {}).get("DateTimeFormat"))
        except RenderError as err:
            raise ctx.error(str(err)) from None
    if body.get("HierarchyId") and kind != "DateDimensionField":
        pass  # drill-down hierarchies only change interaction
    return Dimension(
        field_id=field_id,
        column=column,
        kind=kinds[kind],
        label=labels.get(field_id) or column.name,
        granularity=granularity,
        date_format=date_format,
        expression=expression,
    )


def _measure(raw: dict, ctx: _Context, labels: dict[str, str]) -> Measure:
    kind, body = _one(raw, ctx, "measure field")
    field_id = body.get("FieldId") or ""
    if kind == "CalculatedMeasureField":
        text = body.get("Expression", "")
        try:
            node = ex.parse(text)
        except RenderError as err:
            raise ctx.error(str(err)) from None
        identifiers = ctx.datasets or set(ctx.d.datasets)
        if len(identifiers) != 1:
            raise ctx.error(f"CalculatedMeasureField {field_id!r}: cannot tell its data set")
        dataset = next(iter(identifiers))
        resolved = ctx.resolved(node, Column(dataset, field_id), text)
        if not ex.is_aggregate(resolved):
            raise ctx.error(f"CalculatedMeasureField {field_id!r}: {text!r} has no aggregation")
        return Measure(field_id, labels.get(field_id) or field_id, resolved)
    if kind == "NumericalMeasureField":
        column = ctx.column(body.get("Column"))
        function = body.get("AggregationFunction") or {}
        if function and set(function) != {"SimpleNumericalAggregation"}:
            raise ctx.error(f"aggregation {sorted(function)} of {column.name!r} is not supported")
        aggregation = function.get("SimpleNumericalAggregation")
        if aggregation is not None and aggregation not in NUMERIC_AGGREGATIONS:
            raise ctx.error(f"aggregation {aggregation} of {column.name!r} is not supported")
        fmt = _number_format(body.get("FormatConfiguration"), ctx)
        calc = ctx.calc(column)
        operand: ex.Node = ex.Ref(column.name)
        if calc is not None:
            operand = ctx.resolved(calc, column, column.name)
            if ex.is_aggregate(operand):
                if aggregation is not None:
                    raise ctx.error(f"{aggregation} of the aggregate calculated field {column.name!r}")
                return Measure(field_id, labels.get(field_id) or column.name, operand, fmt)
        func = NUMERIC_AGGREGATIONS[aggregation or "SUM"]
        label = labels.get(field_id) or column.name + AGGREGATION_LABELS[func]
        return Measure(field_id, label, ex.Agg(func, operand), fmt)
    if kind == "CategoricalMeasureField":
        column = ctx.column(body.get("Column"))
        aggregation = body.get("AggregationFunction", "COUNT")
        if aggregation not in ("COUNT", "DISTINCT_COUNT"):
            raise ctx.error(f"aggregation {aggregation} of {column.name!r} is not supported")
        calc = ctx.calc(column)
        operand = ctx.resolved(calc, column, column.name) if calc is not None else ex.Ref(column.name)
        func = NUMERIC_AGGREGATIONS[aggregation]
        return Measure(field_id, labels.get(field_id) or column.name + AGGREGATION_LABELS[func], ex.Agg(func, operand))
    raise ctx.error(f"measure {kind} is not supported")


def _sorts(raw: list | None, ctx: _Context) -> tuple[Sort, ...]:
    out = []
    for item in raw or []:
        kind, body = _one(item, ctx, "sort")
        descending = body.get("Direction", "ASC") == "DESC"
        if kind == "FieldSort":
            out.append(Sort(descending, field_id=body.get("FieldId")))
        elif kind == "ColumnSort":
            column = ctx.column(body.get("SortBy"))
            function = body.get("AggregationFunction") or {}
            node: ex.Node
            calc = ctx.calc(column)
            operand: ex.Node = ctx.resolved(calc, column, column.name) if calc is not None else ex.Ref(column.name)
            if not function:
                if not ex.is_aggregate(operand):
                    # a sort by a dimension column itself
                    out.append(Sort(descending, expression=operand))
                    continue
                node = operand
            else:
                numerical = function.get("NumericalAggregationFunction", {}).get("SimpleNumericalAggregation")
                categorical = function.get("CategoricalAggregationFunction")
                name = numerical or categorical
                if name not in NUMERIC_AGGREGATIONS:
                    raise ctx.error(f"sort aggregation {function} is not supported")
                node = ex.Agg(NUMERIC_AGGREGATIONS[name], operand)
            out.append(Sort(descending, expression=node))
        else:
            raise ctx.error(f"sort {kind} is not supported")
    return tuple(out)


def _limit(raw: dict | None) -> tuple[int | None, bool]:
    if not raw:
        return None, False
    limit = raw.get("ItemsLimit")
    return (int(limit) if limit is not None else None), raw.get("OtherCategories", "INCLUDE") == "INCLUDE"


def _plain(raw: dict | None, ctx: _Context, what: str) -> str:
    if not raw or raw.get("Visibility") == "HIDDEN":
        return ""
    text = raw.get("FormatText") or {}
    if "RichText" in text and "PlainText" not in text:
        raise ctx.error(f"{what} as RichText is not supported (plain text only)")
    return text.get("PlainText", "") or ""


def _axis_labels(raw: dict | None) -> tuple[str | None, dict[str, str]]:
    """A ChartAxisLabelOptions: (the label of the axis, custom labels by field id)."""
    if not raw:
        return None, {}
    axis = None
    by_field = {}
    for option in raw.get("AxisLabelOptions") or []:
        label = option.get("CustomLabel")
        if not label:
            continue
        field_id = ((option.get("ApplyTo") or {}).get("FieldId")) or None
        if field_id:
            by_field[field_id] = label
        if axis is None:
            axis = label
    if raw.get("Visibility") == "HIDDEN":
        axis = ""
    return axis, by_field


def _refuse_extras(config: dict, ctx: _Context, wells: dict) -> None:
    for key in _REFUSED_CONFIG & set(config):
        value = config[key]
        if value:
            raise ctx.error(f"{key} is not supported")
    for key in ("SmallMultiples",):
        if wells.get(key):
            raise ctx.error(f"{key} is not supported")


def _visual(raw: dict, sheet_id: str, d: _DashboardContext) -> Visual:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise RenderError(f"sheet {sheet_id!r}: a visual must hold exactly one visual type")
    ((type_name, body),) = raw.items()
    visual_id = (body or {}).get("VisualId", "?")
    if type_name not in VISUAL_KINDS:
        raise RenderError(f"visual {visual_id!r}: {type_name} is not supported by the offline renderer")
    ctx = _Context(visual_id, type_name, d)
    unknown = set(body) - _VISUAL_KEYS - {"ConditionalFormatting"}
    if unknown:
        raise ctx.error(f"{sorted(unknown)} are not supported")
    if body.get("ConditionalFormatting"):
        raise ctx.error("ConditionalFormatting is not supported")
    kind = VISUAL_KINDS[type_name]
    config = body.get("ChartConfiguration") or {}
    ctx.datasets.update(i for i in _identifiers(config.get("FieldWells")) if i in d.datasets)
    title = _plain(body.get("Title"), ctx, "the title")
    subtitle = _plain(body.get("Subtitle"), ctx, "the subtitle")
    extra: dict[str, Any] = {}
    wells_raw = config.get("FieldWells") or {}

    if kind in ("line", "bar", "pie"):
        well_key = {"line": "LineChartAggregatedFieldWells", "bar": "BarChartAggregatedFieldWells"}.get(
            kind, "PieChartAggregatedFieldWells"
        )
        if set(wells_raw) - {well_key}:
            raise ctx.error(f"field wells {sorted(set(wells_raw) - {well_key})} are not supported")
        wells = wells_raw.get(well_key) or {}
        _refuse_extras(config, ctx, wells)
        if kind == "line":
            category_label, cat_labels = _axis_labels(config.get("XAxisLabelOptions"))
            value_label, val_labels = _axis_labels(config.get("PrimaryYAxisLabelOptions"))
            color_label, col_labels = None, {}
        else:
            category_label, cat_labels = _axis_labels(config.get("CategoryLabelOptions"))
            value_label, val_labels = _axis_labels(config.get("ValueLabelOptions"))
            color_label, col_labels = _axis_labels(config.get("ColorLabelOptions"))
        labels = {**cat_labels, **val_labels, **col_labels}
        dims = tuple(_dimension(f, ctx, labels) for f in wells.get("Category") or [])
        colors = tuple(_dimension(f, ctx, labels) for f in wells.get("Colors") or [])
        measures = tuple(_measure(f, ctx, labels) for f in wells.get("Values") or [])
        sort_cfg = config.get("SortConfiguration") or {}
        limit_key = "CategoryItemsLimitConfiguration" if kind == "line" else "CategoryItemsLimit"
        limit, other = _limit(sort_cfg.get(limit_key))
        for key in ("ColorItemsLimitConfiguration", "ColorItemsLimit", "ColorSort"):
            if sort_cfg.get(key) and not colors:
                raise ctx.error(f"{key} without a Colors field")
        if len(dims) > 1:
            raise ctx.error("more than one Category field")
        if colors and len(measures) > 1:
            raise ctx.error("a Colors field with more than one value")
        if len(colors) > 1:
            raise ctx.error("more than one Colors field")
        extra.update(
            dimensions=dims,
            colors=colors,
            measures=measures,
            sort=_sorts(sort_cfg.get("CategorySort"), ctx),
            limit=limit,
            other_categories=other,
            category_label=category_label,
            value_label=value_label,
            color_label=color_label,
            data_labels=(config.get("DataLabels") or {}).get("Visibility") == "VISIBLE",
        )
        if kind == "line":
            line_type = config.get("Type", "LINE")
            if line_type not in ("LINE", "AREA", "STACKED_AREA"):
                raise ctx.error(f"line Type {line_type} is not supported")
            extra["line_type"] = line_type
        if kind == "bar":
            orientation = config.get("Orientation", "HORIZONTAL")
            arrangement = config.get("BarsArrangement", "CLUSTERED")
            if orientation not in ("HORIZONTAL", "VERTICAL"):
                raise ctx.error(f"Orientation {orientation} is not supported")
            if arrangement not in ("CLUSTERED", "STACKED", "STACKED_PERCENT"):
                raise ctx.error(f"BarsArrangement {arrangement} is not supported")
            extra.update(orientation=orientation, arrangement=arrangement)
        if kind == "pie" and len(measures) > 1:
            raise ctx.error("a pie chart with more than one value")
    elif kind == "kpi":
        _refuse_extras(config, ctx, {})
        dims = tuple(_dimension(f, ctx, {}) for f in wells_raw.get("TrendGroups") or [])
        if len(dims) > 1:
            raise ctx.error("more than one TrendGroups field")
        options = config.get("KPIOptions") or {}
        comparison = ((options.get("Comparison") or {}).get("ComparisonMethod")) or "DIFFERENCE"
        if comparison not in ("DIFFERENCE", "PERCENT_DIFFERENCE", "PERCENT"):
            raise ctx.error(f"ComparisonMethod {comparison} is not supported")
        measures = tuple(_measure(f, ctx, {}) for f in wells_raw.get("Values") or [])
        if len(measures) != 1:
            raise ctx.error("a KPI needs exactly one value")
        targets = tuple(_measure(f, ctx, {}) for f in wells_raw.get("TargetValues") or [])
        extra.update(
            dimensions=dims,
            measures=measures,
            targets=targets,
            sort=_sorts((config.get("SortConfiguration") or {}).get("TrendGroupSort"), ctx),
            comparison=comparison,
            sparkline=bool(dims) and (options.get("Sparkline") or {}).get("Visibility", "VISIBLE") != "HIDDEN",
        )
    elif kind == "table":
        _refuse_extras(config, ctx, {})
        if set(wells_raw) - {"TableAggregatedFieldWells"}:
            raise ctx.error(f"field wells {sorted(set(wells_raw) - {'TableAggregatedFieldWells'})} are not supported")
        wells = wells_raw.get("TableAggregatedFieldWells") or {}
        options = (config.get("FieldOptions") or {}).get("SelectedFieldOptions") or []
        labels = {o["FieldId"]: o["CustomLabel"] for o in options if o.get("CustomLabel")}
        hidden = frozenset(o["FieldId"] for o in options if o.get("Visibility") == "HIDDEN")
        sort_cfg = config.get("SortConfiguration") or {}
        extra.update(
            dimensions=tuple(_dimension(f, ctx, labels) for f in wells.get("GroupBy") or []),
            measures=tuple(_measure(f, ctx, labels) for f in wells.get("Values") or []),
            sort=_sorts(sort_cfg.get("RowSort"), ctx),
            hidden_fields=hidden,  # pagination is presentation: every row is shown
        )
    elif kind == "pivot":
        _refuse_extras(config, ctx, {})
        if set(wells_raw) - {"PivotTableAggregatedFieldWells"}:
            raise ctx.error("only PivotTableAggregatedFieldWells are supported")
        wells = wells_raw.get("PivotTableAggregatedFieldWells") or {}
        options = (config.get("FieldOptions") or {}).get("SelectedFieldOptions") or []
        labels = {o["FieldId"]: o["CustomLabel"] for o in options if o.get("CustomLabel")}
        if (config.get("FieldOptions") or {}).get("DataPathOptions"):
            raise ctx.error("DataPathOptions are not supported")
        sorts: list[Sort] = []
        for option in (config.get("SortConfiguration") or {}).get("FieldSortOptions") or []:
            by = option.get("SortBy") or {}
            if "DataPath" in by:
                raise ctx.error("a DataPath sort is not supported")
            if "Field" in by:
                sorts.append(Sort(by["Field"].get("Direction", "ASC") == "DESC", field_id=by["Field"].get("FieldId")))
            elif "Column" in by:
                sorts.extend(_sorts([{"ColumnSort": by["Column"]}], ctx))
        extra.update(
            dimensions=tuple(_dimension(f, ctx, labels) for f in wells.get("Rows") or []),
            colors=tuple(_dimension(f, ctx, labels) for f in wells.get("Columns") or []),
            measures=tuple(_measure(f, ctx, labels) for f in wells.get("Values") or []),
            sort=tuple(sorts),
        )

    if not extra.get("measures") and kind != "table":
        raise ctx.error("no value field")
    if not ctx.datasets:
        if len(d.datasets) != 1:
            raise ctx.error("no column names its data set")
        ctx.datasets.add(next(iter(d.datasets)))
    if len(ctx.datasets) > 1:
        raise ctx.error(f"fields from several data sets {sorted(ctx.datasets)}")
    dataset = next(iter(ctx.datasets))
    visual = Visual(
        visual_id=visual_id,
        sheet_id=sheet_id,
        kind=kind,
        type_name=type_name,
        title=title,
        subtitle=subtitle,
        dataset=dataset,
        dataset_arn=d.datasets[dataset],
        alt_text=body.get("VisualContentAltText", "") or "",
        **extra,
    )
    _check_sort_fields(visual, ctx)
    if not visual.title and (body.get("Title") or {}).get("Visibility") != "HIDDEN":
        visual = _with_default_title(visual)
    return visual


def _identifiers(raw: Any) -> set[str]:
    """Every DataSetIdentifier named in a JSON fragment."""
    found: set[str] = set()
    if isinstance(raw, dict):
        for key, value in raw.items():
            if key == "DataSetIdentifier" and isinstance(value, str):
                found.add(value)
            else:
                found |= _identifiers(value)
    elif isinstance(raw, list):
        for item in raw:
            found |= _identifiers(item)
    return found


def _check_sort_fields(visual: Visual, ctx: _Context) -> None:
    ids = {f.field_id for f in visual.fields}
    for sort in visual.sort:
        if sort.field_id is not None and sort.field_id not in ids:
            raise ctx.error(f"sort by the unknown field {sort.field_id!r}")


def _with_default_title(visual: Visual) -> Visual:
    from dataclasses import replace

    measures = ", ".join(m.label for m in visual.measures)
    dims = ", ".join(d.label for d in (*visual.dimensions, *visual.colors))
    return replace(visual, title=f"{measures} by {dims}" if dims else measures)


def _date_filter(groups: list, d: _DashboardContext) -> DateFilter | None:
    found: DateFilter | None = None
    for group in groups or []:
        group_id = group.get("FilterGroupId", "?")
        if group.get("Status", "ENABLED") == "DISABLED":
            continue
        filters = group.get("Filters") or []
        if len(filters) != 1 or set(filters[0]) != {"TimeRangeFilter"}:
            kinds = sorted(k for f in filters for k in f)
            raise RenderError(f"filter group {group_id!r}: {kinds} is not supported (one TimeRangeFilter only)")
        if found is not None:
            raise RenderError(f"filter group {group_id!r}: only one date-range filter group is supported")
        body = filters[0]["TimeRangeFilter"]
        column_raw = body.get("Column") or {}
        identifier = column_raw.get("DataSetIdentifier")
        if identifier not in d.datasets or not column_raw.get("ColumnName"):
            raise RenderError(f"filter group {group_id!r}: its column names no declared data set")
        if body.get("ExcludePeriodConfiguration"):
            raise RenderError(f"filter group {group_id!r}: ExcludePeriodConfiguration is not supported")
        cross = group.get("CrossDataset", "SINGLE_DATASET")
        if cross not in ("ALL_DATASETS", "SINGLE_DATASET"):
            raise RenderError(f"filter group {group_id!r}: CrossDataset {cross} is not supported")
        default_days = DEFAULT_WINDOW_DAYS
        rolling = ((body.get("RangeMinimumValue") or {}).get("RollingDate") or {}).get("Expression", "")
        match = re.search(r"addDateTime\(\s*-\s*(\d+)\s*,\s*'DD'", rolling or "")
        if match:
            default_days = int(match.group(1))
        visual_ids = _scope(group, group_id)
        found = DateFilter(
            column=Column(identifier, column_raw["ColumnName"]),
            cross_dataset=cross == "ALL_DATASETS",
            include_minimum=body.get("IncludeMinimum", True) is not False,
            include_maximum=body.get("IncludeMaximum", True) is not False,
            default_days=default_days,
            visual_ids=visual_ids,
        )
    return found


def _scope(group: dict, group_id: str) -> frozenset[str] | None | str:
    scope = group.get("ScopeConfiguration") or {}
    if "AllSheets" in scope or not scope:
        return None
    selected = scope.get("SelectedSheets") or {}
    ids: set[str] = set()
    for item in selected.get("SheetVisualScopingConfigurations") or []:
        if item.get("Scope", "ALL_VISUALS") == "ALL_VISUALS":
            ids.add("sheet:" + item.get("SheetId", ""))
        else:
            ids.update(item.get("VisualIds") or [])
    return frozenset(ids)


def parse_definition(raw: dict) -> Dashboard:
    """A Definition (or a CreateDashboard / DescribeDashboardDefinition body holding one) → Dashboard."""
    if not isinstance(raw, dict):
        raise RenderError("the dashboard definition is not an object")
    definition = raw.get("Definition", raw)
    unknown = set(definition) - _DEFINITION_KEYS
    if unknown:
        raise RenderError(f"dashboard definition: {sorted(unknown)} are not supported")
    datasets: dict[str, str] = {}
    for declaration in definition.get("DataSetIdentifierDeclarations") or []:
        identifier, arn = declaration.get("Identifier"), declaration.get("DataSetArn")
        if not identifier or not arn:
            raise RenderError("a DataSetIdentifierDeclaration without Identifier or DataSetArn")
        dataset_id_from_arn(arn)
        datasets[identifier] = arn
    if not datasets:
        raise RenderError("dashboard definition: no DataSetIdentifierDeclarations")

    texts: dict[str, dict[str, str]] = {}
    for calc in definition.get("CalculatedFields") or []:
        identifier = calc.get("DataSetIdentifier")
        if identifier not in datasets:
            name = calc.get("Name")
            raise RenderError(f"calculated field {name!r}: data set identifier {identifier!r} is not declared")
        texts.setdefault(identifier, {})[calc["Name"]] = calc.get("Expression", "")
    calculated: dict[str, dict[str, ex.Node]] = {}
    for identifier, fields in texts.items():
        parsed = {}
        for name, text in fields.items():
            try:
                parsed[name] = ex.parse(text)
            except RenderError as err:
                raise RenderError(f"calculated field {name!r}: {err}") from None
        calculated[identifier] = parsed
        for name, node in parsed.items():  # cycles and level errors show up front
            try:
                ex.resolve(node, parsed, fields[name])
            except RenderError as err:
                raise RenderError(f"calculated field {name!r}: {err}") from None

    d = _DashboardContext(datasets, calculated)
    date_filter = _date_filter(definition.get("FilterGroups") or [], d)
    filter_ids = set()
    for group in definition.get("FilterGroups") or []:
        for f in group.get("Filters") or []:
            for body in f.values():
                filter_ids.add(body.get("FilterId"))

    sheets = []
    for sheet in definition.get("Sheets") or []:
        sheet_id = sheet.get("SheetId", "?")
        unknown = set(sheet) - _SHEET_KEYS
        if unknown:
            raise RenderError(f"sheet {sheet_id!r}: {sorted(unknown)} are not supported")
        for key in ("TextBoxes", "Images", "ParameterControls"):
            if sheet.get(key):
                raise RenderError(f"sheet {sheet_id!r}: {key} are not supported")
        for control in sheet.get("FilterControls") or []:
            kind, body = next(iter(control.items()))
            if kind != "DateTimePicker" or body.get("Type", "DATE_RANGE") != "DATE_RANGE":
                raise RenderError(f"sheet {sheet_id!r}: filter control {kind} is not supported (a DATE_RANGE picker)")
            if body.get("SourceFilterId") not in filter_ids:
                raise RenderError(f"sheet {sheet_id!r}: filter control for an unknown filter")
        visuals = tuple(_visual(v, sheet_id, d) for v in sheet.get("Visuals") or [])
        sheets.append(Sheet(sheet_id, sheet.get("Name", "") or "", sheet.get("Title", "") or "", visuals))
    ids = [v.visual_id for s in sheets for v in s.visuals]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise RenderError(f"visual ids used twice: {sorted(duplicates)}")
    if date_filter is not None and date_filter.visual_ids is not None:
        expanded = set()
        for item in date_filter.visual_ids:
            if item.startswith("sheet:"):
                expanded.update(v.visual_id for s in sheets if s.sheet_id == item[6:] for v in s.visuals)
            else:
                expanded.add(item)
        from dataclasses import replace

        date_filter = replace(date_filter, visual_ids=frozenset(expanded))
    week_start = (definition.get("Options") or {}).get("WeekStart", "SUNDAY")
    if week_start not in ("SUNDAY", "MONDAY"):
        raise RenderError(f"WeekStart {week_start} is not supported (SUNDAY or MONDAY)")
    return Dashboard(tuple(sheets), datasets, calculated, date_filter, week_start)
