"""A chart visual's data as a JSON spec that the browser draws with Chart.js (portal/static/charts.js).

The server only computes figures: the spec holds the categories (as shown, and as ISO dates for a
date axis), one dataset per measure or per colour value with its figures as plain numbers (null
where there is none), the number format to show them with, the axis titles and how the series are
laid out. It mirrors what `drawing` draws for the PDF: line (plain, area, stacked area), bar
(vertical or horizontal; clustered, stacked or percent; one bar per measure when there is no
category, as a funnel) and pie (positive slices only), and a KPI's sparkline (no axes).

    {"kind": "line", "labels": ["2026-11-01", ...], "dates": ["2026-11-01", ...],
     "datasets": [{"label": "Orders", "data": [3, 5, 0], "color": "#1f77b4",
                   "format": {"decimals": 0, "percent": false, "prefix": "", "suffix": "",
                              "scale": "NONE", "thousands": true}}],
     "categoryTitle": "Day", "valueTitle": "Orders", "valueAxis": {"format": {...}, "integer": true},
     "area": "none", "valueLabels": false}
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from typing import Any

from portal.render.data import VisualData
from portal.render.formatting import currency_symbol, format_dimension, is_null
from portal.render.model import Dimension, Measure, NumberFormat

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
MAX_TICK_LABEL = 32
MAX_LINE_LABELS = 40  # value labels on a line chart up to this many points
MAX_BAR_LABELS = 30  # and on a clustered bar chart up to this many bars

Series = tuple[str, Measure, list[Any]]


def short(text: str) -> str:
    return text if len(text) <= MAX_TICK_LABEL else text[: MAX_TICK_LABEL - 1] + "…"


def series(data: VisualData) -> tuple[list[Any], list[Series]]:
    """Categories (in order) and series (label, measure, values per category): one series per
    measure, or per colour value when the visual has a Colors field."""
    dims = data.by_role("dimension")
    colors = data.by_role("color")
    measures = data.by_role("measure")
    rows = data.rows()
    if not dims:
        return [None], [(m.label, m.field, [rows[0][m.field_id] if rows else None]) for m in measures]  # type: ignore[misc]
    dim = dims[0]
    categories: list[Any] = list(dict.fromkeys(row[dim.field_id] for row in rows))
    index = {c: i for i, c in enumerate(categories)}
    if colors:
        color, measure = colors[0], measures[0]
        out = []
        for name in dict.fromkeys(row[color.field_id] for row in rows):
            values: list[Any] = [None] * len(categories)
            for row in rows:
                if row[color.field_id] == name:
                    values[index[row[dim.field_id]]] = row[measure.field_id]
            out.append((format_dimension(name, color.field), measure.field, values))  # type: ignore[arg-type]
        return categories, out  # type: ignore[return-value]
    out = []
    for m in measures:
        values = [None] * len(categories)
        for row in rows:
            values[index[row[dim.field_id]]] = row[m.field_id]
        out.append((m.label, m.field, values))
    return categories, out  # type: ignore[return-value]


def _number(value: Any) -> int | float | None:
    """A figure as a plain JSON number (null for a null, NaN or infinity)."""
    if is_null(value) or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    number = float(value)
    return None if math.isinf(number) or math.isnan(number) else number


def number_format(fmt: NumberFormat | None, values: list[Any]) -> dict[str, Any]:
    """The definition's number format for the browser; without decimals, whole figures show none
    and others two (as `formatting.format_number`)."""
    fmt = fmt or NumberFormat()
    decimals = fmt.decimals
    if decimals is None:
        whole = all(isinstance(v, int) for v in values if not is_null(v))
        decimals = 0 if whole and fmt.kind != "percent" and fmt.scale == "NONE" else 2
    return {
        "decimals": decimals,
        "percent": fmt.kind == "percent",
        "prefix": fmt.prefix + currency_symbol(fmt),
        "suffix": fmt.suffix,
        "scale": fmt.scale,
        "thousands": fmt.thousands,
    }


def _value_axis(datasets: list[dict[str, Any]], percent_of_total: bool = False) -> dict[str, Any]:
    """Ticks in the series' own format when they share one (else plain figures), whole ticks
    when every figure is whole; a percent-of-total axis runs 0-100 %."""
    if percent_of_total:
        return {"format": {**number_format(None, [0]), "suffix": "%"}, "integer": True}
    formats = [d["format"] for d in datasets if "format" in d]
    shared = formats[0] if formats and all(f == formats[0] for f in formats) else number_format(None, [0.5])
    finite = [v for d in datasets for v in d["data"] if v is not None]
    whole = all(float(v).is_integer() for v in finite) and not shared["percent"]
    return {"format": shared, "integer": whole}


def _labels(categories: list[Any], dim: Dimension) -> dict[str, Any]:
    out: dict[str, Any] = {"labels": [format_dimension(c, dim) for c in categories]}
    if dim.kind == "date":
        out["dates"] = [c.isoformat()[:10] if isinstance(c, date | datetime) else None for c in categories]
    return out


def _datasets(items: list[Series]) -> list[dict[str, Any]]:
    return [
        {
            "label": label,
            "data": [_number(v) for v in values],
            "color": PALETTE[i % len(PALETTE)],
            "format": number_format(measure.number_format, values),
        }
        for i, (label, measure, values) in enumerate(items)
    ]


def _line(data: VisualData) -> dict[str, Any]:
    visual = data.visual
    categories, items = series(data)
    dim_col = data.by_role("dimension")[0]
    datasets = _datasets(items)
    if visual.value_label is not None:
        value_title = visual.value_label
    else:
        value_title = items[0][0] if len(items) == 1 and not data.by_role("color") else ""
    return {
        "kind": "line",
        **_labels(categories, dim_col.field),  # type: ignore[arg-type]
        "datasets": datasets,
        "categoryTitle": visual.category_label if visual.category_label is not None else dim_col.label,
        "valueTitle": value_title,
        "valueAxis": _value_axis(datasets),
        "area": {"AREA": "area", "STACKED_AREA": "stacked"}.get(visual.line_type, "none"),
        "valueLabels": visual.data_labels and len(categories) <= MAX_LINE_LABELS,
    }


def _bar(data: VisualData) -> dict[str, Any]:
    visual = data.visual
    categories, items = series(data)
    dims = data.by_role("dimension")
    if dims:
        labels = _labels(categories, dims[0].field)  # type: ignore[arg-type]
        datasets = _datasets(items)
    else:  # measures only: one bar per measure (a funnel)
        labels = {"labels": [label for label, _m, _v in items]}
        values = [v[0] for _l, _m, v in items]
        datasets = [
            {
                "label": "",
                "data": [_number(v) for v in values],
                "color": PALETTE[0],
                "formats": [number_format(m.number_format, v) for _l, m, v in items],
            }
        ]
    percent = visual.arrangement == "STACKED_PERCENT"
    category_title = visual.category_label if visual.category_label is not None else (dims[0].label if dims else "")
    if visual.value_label is not None:
        value_title = visual.value_label
    else:
        value_title = items[0][0] if len(items) == 1 and dims and not data.by_role("color") else ""
    if percent:
        value_title = f"{value_title} (%)".strip()
    bars = len(labels["labels"]) * max(1, len(datasets))
    return {
        "kind": "bar",
        **labels,
        "datasets": datasets,
        "horizontal": visual.orientation == "HORIZONTAL",
        "stack": {"STACKED": "stacked", "STACKED_PERCENT": "percent"}.get(visual.arrangement, "clustered"),
        "categoryTitle": category_title,
        "valueTitle": value_title,
        "valueAxis": _value_axis(datasets, percent_of_total=percent),
        "valueLabels": visual.arrangement == "CLUSTERED" and bars <= MAX_BAR_LABELS,
    }


def _pie(data: VisualData) -> dict[str, Any]:
    categories, items = series(data)
    dim: Dimension = data.by_role("dimension")[0].field  # type: ignore[assignment]
    label, measure, values = items[0]
    pairs = [(c, v) for c, v in zip(categories, values, strict=True) if not is_null(v) and float(v) > 0]
    return {
        "kind": "pie",
        "labels": [format_dimension(c, dim) for c, _v in pairs],
        "datasets": [
            {
                "label": label,
                "data": [_number(v) for _c, v in pairs],
                "colors": [PALETTE[i % len(PALETTE)] for i in range(len(pairs))],
                "format": number_format(measure.number_format, [v for _c, v in pairs]),
            }
        ],
    }


SPECS = {"line": _line, "bar": _bar, "pie": _pie}


def chart_spec(data: VisualData) -> dict[str, Any] | None:
    """The spec of a line, bar or pie visual; None without rows (the page says so)."""
    if data.table.num_rows == 0:
        return None
    return SPECS[data.visual.kind](data)


def sparkline_spec(data: VisualData) -> dict[str, Any]:
    """A KPI's trend (its measure over its trend group) as a small line without axes."""
    measure = data.by_role("measure")[0]
    trend = data.by_role("dimension")[0]
    values = data.column(measure.field_id)
    return {
        "kind": "sparkline",
        "labels": [format_dimension(v, trend.field) for v in data.column(trend.field_id)],  # type: ignore[arg-type]
        "datasets": [
            {
                "label": measure.label,
                "data": [_number(v) for v in values],
                "color": PALETTE[0],
                "format": number_format(measure.field.number_format, values),  # type: ignore[union-attr]
            }
        ],
    }


def to_json(spec: dict[str, Any]) -> str:
    """The spec as compact JSON (for a `data-chart` attribute, which the template escapes)."""
    return json.dumps(spec, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
