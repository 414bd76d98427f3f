"""A visual's body on the page as HTML: KPI (value, target or previous period, difference,
sparkline), table and pivot (with a heat shade per measure), or a chart's canvas, through the
autoescaping Jinja templates of portal/templates/report. A chart (and a sparkline) is a
`<canvas data-chart="…">` holding its `chart_specs` JSON, escaped in the attribute by the
template; portal/static/charts.js draws it with Chart.js."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from portal.render import chart_specs
from portal.render.data import Column, VisualData, shown_columns
from portal.render.formatting import format_cell, format_number, is_null
from portal.render.model import CHART_KINDS, Measure, NumberFormat

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def env() -> jinja2.Environment:
    return _env


def trusted(html: str) -> Markup:
    """Mark as safe HTML that only this package produced: the output of the autoescaping
    templates."""
    return Markup(html)  # noqa: S704 - see the docstring


def kpi_context(data: VisualData) -> dict[str, Any]:
    """Value, target and difference of a KPI (with a trend group: the last period's value,
    compared with the target, or else with the period before)."""
    visual = data.visual
    rows = data.rows()
    measure: Column = data.by_role("measure")[0]
    targets = data.by_role("target")
    trend = data.by_role("dimension")
    fmt = measure.field.number_format  # type: ignore[union-attr]
    last = rows[-1] if rows else {}
    value = last.get(measure.field_id)
    ctx: dict[str, Any] = {
        "value": format_number(value, fmt),
        "raw_value": value,
        "period": format_cell(last.get(trend[0].field_id), trend[0]) if trend and last else "",
        "target": None,
        "target_label": None,
        "difference": None,
        "direction": None,
        "sparkline": None,
    }
    reference = None
    if targets:
        reference = last.get(targets[0].field_id)
        ctx["target_label"] = "Target"
    elif trend and len(rows) > 1:
        reference = rows[-2].get(measure.field_id)
        ctx["target_label"] = f"Previous ({format_cell(rows[-2].get(trend[0].field_id), trend[0])})"
    if ctx["target_label"]:
        ctx["target"] = format_number(reference, fmt)
        if not is_null(value) and not is_null(reference):
            diff = float(value) - float(reference)
            if visual.comparison == "DIFFERENCE":
                ctx["difference"] = ("+" if diff > 0 else "") + format_number(
                    diff if fmt is None or fmt.kind != "percent" else diff, fmt
                )
            elif float(reference) != 0:
                ratio = (
                    diff / abs(float(reference))
                    if visual.comparison == "PERCENT_DIFFERENCE"
                    else float(value) / float(reference)
                )
                ctx["difference"] = (
                    "+" if visual.comparison == "PERCENT_DIFFERENCE" and ratio > 0 else ""
                ) + format_number(ratio, NumberFormat(kind="percent", decimals=1))
            ctx["direction"] = "up" if diff > 0 else "down" if diff < 0 else "flat"
    if visual.sparkline and len(rows) > 1:
        ctx["sparkline"] = chart_specs.to_json(chart_specs.sparkline_spec(data))
    return ctx


def table_context(data: VisualData) -> dict[str, Any]:
    columns = shown_columns(data)
    return {
        "headers": [(c.label, isinstance(c.field, Measure)) for c in columns],
        "rows": [
            [(format_cell(row[c.field_id], c), isinstance(c.field, Measure)) for c in columns] for row in data.rows()
        ],
    }


HEAT_LEVELS = 10  # classes heat-0 .. heat-9 in portal.css (the CSP allows no inline style)


def _heat(value: Any, low: float, high: float) -> str:
    """The shade class of a pivot cell: its place between the measure's lowest and highest value."""
    if is_null(value):
        return ""
    share = 0.5 if high == low else (float(value) - low) / (high - low)
    return f"heat-{min(HEAT_LEVELS - 1, int(share * HEAT_LEVELS))}"


def pivot_context(data: VisualData) -> dict[str, Any]:
    rows_dims = data.by_role("dimension")
    col_dims = data.by_role("color")
    measures = data.by_role("measure")
    rows = data.rows()
    row_keys: list[tuple] = []
    col_keys: list[tuple] = []
    cells: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        rk = tuple(row[d.field_id] for d in rows_dims)
        ck = tuple(row[d.field_id] for d in col_dims)
        if rk not in row_keys:
            row_keys.append(rk)
        if ck not in col_keys:
            col_keys.append(ck)
        cells[(rk, ck)] = row
    col_keys.sort(key=lambda k: tuple((v is None, v) for v in k))
    ranges = {}
    for m in measures:
        values = [float(r[m.field_id]) for r in rows if not is_null(r[m.field_id])]
        ranges[m.field_id] = (min(values), max(values)) if values else (0.0, 0.0)
    header_columns = []
    for ck in col_keys:
        name = " · ".join(format_cell(v, d) for v, d in zip(ck, col_dims, strict=True))
        for m in measures:
            header_columns.append(f"{name} · {m.label}" if name and len(measures) > 1 else (name or m.label))
    body = []
    for rk in row_keys:
        line = [format_cell(v, d) for v, d in zip(rk, rows_dims, strict=True)]
        values = []
        for ck in col_keys:
            row = cells.get((rk, ck))
            for m in measures:
                value = row[m.field_id] if row else None
                shade = _heat(value, *ranges[m.field_id])
                values.append((format_number(value, m.field.number_format), shade))  # type: ignore[union-attr]
        body.append((line, values))
    return {
        "row_headers": [d.label for d in rows_dims],
        "column_title": " · ".join(d.label for d in col_dims),
        "columns": header_columns,
        "body": body,
    }


def visual_html(data: VisualData) -> Markup:
    """The body of a visual on the page (without its title, which the report template adds)."""
    kind = data.visual.kind
    if kind in CHART_KINDS:
        spec = chart_specs.chart_spec(data)
        chart = chart_specs.to_json(spec) if spec is not None else None
        return trusted(_env.get_template("report/chart.html").render(chart=chart, visual=data.visual))
    if kind == "kpi":
        return trusted(_env.get_template("report/kpi.html").render(kpi=kpi_context(data), visual=data.visual))
    if kind == "table":
        return trusted(_env.get_template("report/table.html").render(table=table_context(data), visual=data.visual))
    return trusted(_env.get_template("report/pivot.html").render(pivot=pivot_context(data), visual=data.visual))
