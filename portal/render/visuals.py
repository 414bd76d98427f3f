"""One visual of a sheet parsed into a typed `Visual`: its kind (line, bar, KPI, pie, table,
pivot), the fields of its field wells, sorts, limits, labels and titles.

Whatever changes what a visual shows and is outside the supported subset (another visual type,
reference lines, small multiples, conditional formatting, rich text, ...) raises `RenderError`
naming the visual and the construct. Purely presentational options (fonts, legends, tooltips,
palettes, axis display, interactions) are accepted without being reproduced.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from portal.render import fields
from portal.render.context import DefinitionContext, VisualContext
from portal.render.errors import RenderError
from portal.render.model import CHART_KINDS, Sort, Visual

VISUAL_KINDS = {
    "LineChartVisual": "line",
    "BarChartVisual": "bar",
    "KPIVisual": "kpi",
    "PieChartVisual": "pie",
    "TableVisual": "table",
    "PivotTableVisual": "pivot",
}

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


def _plain(raw: dict | None, ctx: VisualContext, what: str) -> str:
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


def _refuse_extras(config: dict, ctx: VisualContext, wells: dict) -> None:
    for key in _REFUSED_CONFIG & set(config):
        value = config[key]
        if value:
            raise ctx.error(f"{key} is not supported")
    for key in ("SmallMultiples",):
        if wells.get(key):
            raise ctx.error(f"{key} is not supported")


def parse_visual(raw: dict, sheet_id: str, d: DefinitionContext) -> Visual:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise RenderError(f"sheet {sheet_id!r}: a visual must hold exactly one visual type")
    ((type_name, body),) = raw.items()
    visual_id = (body or {}).get("VisualId", "?")
    if type_name not in VISUAL_KINDS:
        raise RenderError(f"visual {visual_id!r}: {type_name} is not supported by the offline renderer")
    ctx = VisualContext(visual_id, type_name, d)
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
    wells_raw = config.get("FieldWells") or {}
    if kind in CHART_KINDS:
        extra = _chart_fields(kind, config, wells_raw, ctx)
    else:
        extra = _FIELDS[kind](config, wells_raw, ctx)

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


def _chart_fields(kind: str, config: dict, wells_raw: dict, ctx: VisualContext) -> dict[str, Any]:
    extra: dict[str, Any] = {}
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
    dims = tuple(fields.dimension(f, ctx, labels) for f in wells.get("Category") or [])
    colors = tuple(fields.dimension(f, ctx, labels) for f in wells.get("Colors") or [])
    measures = tuple(fields.measure(f, ctx, labels) for f in wells.get("Values") or [])
    sort_cfg = config.get("SortConfiguration") or {}
    limit_key = "CategoryItemsLimitConfiguration" if kind == "line" else "CategoryItemsLimit"
    limit, other = fields.items_limit(sort_cfg.get(limit_key))
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
        sort=fields.sorts(sort_cfg.get("CategorySort"), ctx),
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
    return extra


def _kpi_fields(config: dict, wells_raw: dict, ctx: VisualContext) -> dict[str, Any]:
    _refuse_extras(config, ctx, {})
    dims = tuple(fields.dimension(f, ctx, {}) for f in wells_raw.get("TrendGroups") or [])
    if len(dims) > 1:
        raise ctx.error("more than one TrendGroups field")
    options = config.get("KPIOptions") or {}
    comparison = ((options.get("Comparison") or {}).get("ComparisonMethod")) or "DIFFERENCE"
    if comparison not in ("DIFFERENCE", "PERCENT_DIFFERENCE", "PERCENT"):
        raise ctx.error(f"ComparisonMethod {comparison} is not supported")
    measures = tuple(fields.measure(f, ctx, {}) for f in wells_raw.get("Values") or [])
    if len(measures) != 1:
        raise ctx.error("a KPI needs exactly one value")
    targets = tuple(fields.measure(f, ctx, {}) for f in wells_raw.get("TargetValues") or [])
    return dict(
        dimensions=dims,
        measures=measures,
        targets=targets,
        sort=fields.sorts((config.get("SortConfiguration") or {}).get("TrendGroupSort"), ctx),
        comparison=comparison,
        sparkline=bool(dims) and (options.get("Sparkline") or {}).get("Visibility", "VISIBLE") != "HIDDEN",
    )


def _table_fields(config: dict, wells_raw: dict, ctx: VisualContext) -> dict[str, Any]:
    _refuse_extras(config, ctx, {})
    if set(wells_raw) - {"TableAggregatedFieldWells"}:
        raise ctx.error(f"field wells {sorted(set(wells_raw) - {'TableAggregatedFieldWells'})} are not supported")
    wells = wells_raw.get("TableAggregatedFieldWells") or {}
    options = (config.get("FieldOptions") or {}).get("SelectedFieldOptions") or []
    labels = {o["FieldId"]: o["CustomLabel"] for o in options if o.get("CustomLabel")}
    hidden = frozenset(o["FieldId"] for o in options if o.get("Visibility") == "HIDDEN")
    sort_cfg = config.get("SortConfiguration") or {}
    return dict(
        dimensions=tuple(fields.dimension(f, ctx, labels) for f in wells.get("GroupBy") or []),
        measures=tuple(fields.measure(f, ctx, labels) for f in wells.get("Values") or []),
        sort=fields.sorts(sort_cfg.get("RowSort"), ctx),
        hidden_fields=hidden,  # pagination is presentation: every row is shown
    )


def _pivot_fields(config: dict, wells_raw: dict, ctx: VisualContext) -> dict[str, Any]:
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
            sorts.extend(fields.sorts([{"ColumnSort": by["Column"]}], ctx))
    return dict(
        dimensions=tuple(fields.dimension(f, ctx, labels) for f in wells.get("Rows") or []),
        colors=tuple(fields.dimension(f, ctx, labels) for f in wells.get("Columns") or []),
        measures=tuple(fields.measure(f, ctx, labels) for f in wells.get("Values") or []),
        sort=tuple(sorts),
    )


_FIELDS = {"kpi": _kpi_fields, "table": _table_fields, "pivot": _pivot_fields}


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


def _check_sort_fields(visual: Visual, ctx: VisualContext) -> None:
    ids = {f.field_id for f in visual.fields}
    for sort in visual.sort:
        if sort.field_id is not None and sort.field_id not in ids:
            raise ctx.error(f"sort by the unknown field {sort.field_id!r}")


def _with_default_title(visual: Visual) -> Visual:
    measures = ", ".join(m.label for m in visual.measures)
    dims = ", ".join(d.label for d in (*visual.dimensions, *visual.colors))
    return replace(visual, title=f"{measures} by {dims}" if dims else measures)
