"""Draw a visual's data: matplotlib figures (SVG for the page, PNG for the PDF) and HTML tables.

matplotlib is used through its object API only (no pyplot, no global backend switch), under one
lock (it is not thread-safe) and an `rc_context` holding the settings: SVG text stays text
(`svg.fonttype: none`), `$` in a label is plain text (`text.parse_math: False`), and the ids of
a figure's definitions are salted by the visual id, so several SVGs can share a page. Every point,
bar and wedge carries an SVG `<title>` with its figure (a tooltip, and the numbers as text).
Every text in HTML goes through Jinja's autoescape; the SVG is re-serialised by ElementTree.
"""

from __future__ import annotations

import io
import math
import threading
import xml.etree.ElementTree as ET
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2
import matplotlib
from markupsafe import Markup
from matplotlib import dates as mdates
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from portal.render.data import Column, VisualData
from portal.render.definition import Dimension, Measure, NumberFormat

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_LOCK = threading.Lock()
_RC = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "text.usetex": False,
    "font.size": 8,
    "font.family": "DejaVu Sans",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 9,
    "legend.fontsize": 7,
    "legend.frameon": False,
}
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
SVG_NS = "http://www.w3.org/2000/svg"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
MAX_TICK_LABEL = 32


def env() -> jinja2.Environment:
    return _env


def trusted(html: str) -> Markup:
    """Mark as safe HTML that only this package produced: the output of the autoescaping
    templates, or an SVG re-serialised by ElementTree (which escapes every text and attribute)."""
    return Markup(html)  # noqa: S704 - see the docstring


# --- formatting -------------------------------------------------------------------------------


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_number(value: Any, fmt: NumberFormat | None = None) -> str:
    """A figure as the definition's number format shows it (thousands separators by default);
    a null (e.g. a division by zero) is empty, as in QuickSight."""
    if _is_null(value):
        return fmt.null if fmt else ""
    fmt = fmt or NumberFormat()
    number = float(value)
    if math.isinf(number):
        return ""
    if fmt.kind == "percent":
        number *= 100
    scale_suffix = ""
    scale = fmt.scale
    if scale == "AUTO":
        size = abs(number)
        scale = (
            "TRILLIONS"
            if size >= 1e12
            else "BILLIONS"
            if size >= 1e9
            else "MILLIONS"
            if size >= 1e6
            else "THOUSANDS"
            if size >= 1e4
            else "NONE"
        )
    for name, divisor, suffix in (
        ("THOUSANDS", 1e3, "K"),
        ("MILLIONS", 1e6, "M"),
        ("BILLIONS", 1e9, "B"),
        ("TRILLIONS", 1e12, "T"),
    ):
        if scale == name:
            number /= divisor
            scale_suffix = suffix
    decimals = fmt.decimals
    if decimals is None:
        decimals = 0 if isinstance(value, int) and fmt.kind != "percent" and not scale_suffix else 2
    text = f"{number:,.{decimals}f}" if fmt.thousands else f"{number:.{decimals}f}"
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]
    symbol = ""
    if fmt.kind == "currency":
        symbol = CURRENCY_SYMBOLS.get(fmt.symbol, f"{fmt.symbol} " if fmt.symbol else "")
    percent = "%" if fmt.kind == "percent" else ""
    return f"{fmt.prefix}{symbol}{text}{scale_suffix}{percent}{fmt.suffix}"


def format_dimension(value: Any, dim: Dimension) -> str:
    if _is_null(value):
        return ""
    if isinstance(value, datetime | date):
        if dim.date_format:
            return value.strftime(dim.date_format)
        return value.strftime("%b %Y" if dim.granularity == "MONTH" else "%Y-%m-%d")
    if isinstance(value, float) and value.is_integer():
        return f"{int(value)}"
    return str(value)


def format_cell(value: Any, column: Column) -> str:
    field = column.field
    if isinstance(field, Measure):
        return format_number(value, field.number_format)
    return format_dimension(value, field)


def shown_columns(data: VisualData) -> list[Column]:
    hidden = data.visual.hidden_fields
    return [c for c in data.columns if c.field_id not in hidden]


# --- SVG helpers ------------------------------------------------------------------------------


def _rc(salt: str) -> dict:
    return {**_RC, "svg.hashsalt": salt}


def _figure(kind: str) -> Figure:
    size = {"pie": (5.2, 3.2)}.get(kind, (7.2, 3.0))
    fig = Figure(figsize=size, layout="constrained")
    return fig


def _svg(fig: Figure, tooltips: dict[str, list[str]]) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    root = ET.fromstring(buf.getvalue())  # noqa: S314 - matplotlib's own output, made just above
    for meta in root.findall(f"{{{SVG_NS}}}metadata"):
        root.remove(meta)
    for group in root.iter(f"{{{SVG_NS}}}g"):
        gid = group.get("id", "")
        titles = tooltips.get(gid)
        if titles:
            marks = [e for e in group.iter() if e.tag in (f"{{{SVG_NS}}}use", f"{{{SVG_NS}}}path") and e is not group]
            marks = [e for e in marks if not _inside_defs(group, e)]
            if len(marks) == len(titles):
                for mark, text in zip(marks, titles, strict=True):
                    title = ET.SubElement(mark, f"{{{SVG_NS}}}title")
                    title.text = text
            else:
                title = ET.Element(f"{{{SVG_NS}}}title")
                title.text = " · ".join(titles)
                group.insert(0, title)
        group.attrib.pop("id", None)  # matplotlib's group ids repeat from one figure to the next
    root.set("class", "chart")
    root.set("role", "img")
    width, height = root.get("width"), root.get("height")
    root.attrib.pop("width", None)
    root.attrib.pop("height", None)
    root.set("preserveAspectRatio", "xMidYMid meet")
    root.set("data-size", f"{width} {height}")
    return ET.tostring(root, encoding="unicode")


def _inside_defs(group: ET.Element, element: ET.Element) -> bool:
    return any(any(e is element for e in defs.iter()) for defs in group.iter(f"{{{SVG_NS}}}defs"))


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def _short(text: str) -> str:
    return text if len(text) <= MAX_TICK_LABEL else text[: MAX_TICK_LABEL - 1] + "…"


def _value_axis(axis: Any, values: list[float]) -> None:
    """Thousands separators; whole numbers (and whole ticks) when every value is whole."""
    finite = [v for v in values if not _is_null(v)]
    whole = all(float(v).is_integer() for v in finite)
    span = max((abs(v) for v in finite), default=0)
    decimals = 0 if whole or span >= 10 else 2
    if whole:
        axis.set_major_locator(MaxNLocator(integer=True, nbins=6))

    def fmt(v: float, _pos: int) -> str:
        return f"{v:,.{decimals}f}"

    axis.set_major_formatter(FuncFormatter(fmt))


# --- series -----------------------------------------------------------------------------------


def _series(data: VisualData) -> tuple[list[Any], list[tuple[str, Measure, list[Any]]]]:
    """Categories (in order) and series (label, measure, values per category): one series per
    measure, or per colour value when the visual has a Colors field."""
    dims = data.by_role("dimension")
    colors = data.by_role("color")
    measures = data.by_role("measure")
    rows = data.rows()
    if not dims:
        return [None], [(m.label, m.field, [rows[0][m.field_id] if rows else None]) for m in measures]  # type: ignore[misc]
    dim = dims[0]
    categories: list[Any] = []
    for row in rows:
        if row[dim.field_id] not in categories:
            categories.append(row[dim.field_id])
    index = {c: i for i, c in enumerate(categories)}
    if colors:
        color = colors[0]
        measure = measures[0]
        names: list[Any] = []
        for row in rows:
            if row[color.field_id] not in names:
                names.append(row[color.field_id])
        series = []
        for name in names:
            values: list[Any] = [None] * len(categories)
            for row in rows:
                if row[color.field_id] == name:
                    values[index[row[dim.field_id]]] = row[measure.field_id]
            series.append((format_dimension(name, color.field), measure.field, values))  # type: ignore[arg-type]
        return categories, series  # type: ignore[return-value]
    series = []
    for m in measures:
        values = [None] * len(categories)
        for row in rows:
            values[index[row[dim.field_id]]] = row[m.field_id]
        series.append((m.label, m.field, values))
    return categories, series  # type: ignore[return-value]


def _no_data(fig: Figure) -> None:
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, "No data for this range", ha="center", va="center", color="#666666")


def _draw_line(fig: Figure, data: VisualData, prefix: str) -> dict[str, list[str]]:
    visual = data.visual
    categories, series = _series(data)
    dim_col = data.by_role("dimension")[0]
    dim: Dimension = dim_col.field  # type: ignore[assignment]
    ax = fig.add_subplot()
    is_date = dim.kind == "date"
    xs = list(categories) if is_date or dim.kind == "number" else list(range(len(categories)))
    tooltips: dict[str, list[str]] = {}
    labels = [format_dimension(c, dim) for c in categories]
    all_values: list[float] = []
    stacked = visual.line_type == "STACKED_AREA"
    base = [0.0] * len(xs)
    for i, (label, measure, values) in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        ys = [math.nan if _is_null(v) else float(v) for v in values]
        if stacked:
            top = [b + (0 if math.isnan(y) else y) for b, y in zip(base, ys, strict=True)]
            ax.fill_between(xs, base, top, color=color, alpha=0.35, linewidth=0)
            ax.plot(xs, top, color=color, linewidth=1.4, label=label)
            plot_ys, base = top, top
        else:
            ax.plot(xs, ys, color=color, linewidth=1.4, label=label)
            if visual.line_type == "AREA":
                ax.fill_between(xs, 0, ys, color=color, alpha=0.15, linewidth=0)
            plot_ys = ys
        points = [(x, y, v, lab) for x, y, v, lab in zip(xs, plot_ys, values, labels, strict=True) if not _is_null(v)]
        all_values += [p[1] for p in points]
        if points:
            gid = f"{prefix}-s{i}"
            marks = ax.scatter([p[0] for p in points], [p[1] for p in points], s=7, color=color, zorder=3)
            marks.set_gid(gid)
            tooltips[gid] = [f"{lab} · {label}: {format_number(v, measure.number_format)}" for _x, _y, v, lab in points]
            if visual.data_labels and len(points) <= 40:
                for x, y, v, _lab in points:
                    ax.annotate(
                        format_number(v, measure.number_format),
                        (x, y),
                        textcoords="offset points",
                        xytext=(0, 4),
                        ha="center",
                        fontsize=6,
                    )
    if is_date and len(xs) <= 10:
        ax.set_xticks(xs, labels, rotation=30 if len(xs) > 5 else 0, ha="right" if len(xs) > 5 else "center")
    elif is_date:
        locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    elif dim.kind == "category":
        step = max(1, len(xs) // 12)
        ax.set_xticks(xs[::step], [_short(t) for t in labels[::step]], rotation=30, ha="right")
    _value_axis(ax.yaxis, all_values)
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)
    ax.set_xlabel(visual.category_label if visual.category_label is not None else dim_col.label)
    if visual.value_label is not None:
        ax.set_ylabel(visual.value_label)
    elif len(series) == 1 and not data.by_role("color"):
        ax.set_ylabel(series[0][0])
    if len(series) > 1:
        ax.legend(loc="upper left", ncols=min(4, len(series)))
    return tooltips


def _draw_bar(fig: Figure, data: VisualData, prefix: str) -> dict[str, list[str]]:
    visual = data.visual
    categories, series = _series(data)
    dims = data.by_role("dimension")
    dim: Dimension | None = dims[0].field if dims else None  # type: ignore[assignment]
    ax = fig.add_subplot()
    horizontal = visual.orientation == "HORIZONTAL"
    tooltips: dict[str, list[str]] = {}
    if dim is None:  # measures only: one bar per measure
        labels = [s[0] for s in series]
        series = [("", series[0][1], [s[2][0] for s in series])] if series else []
        per_bar_formats = [s[1].number_format for s in _series(data)[1]]
    else:
        labels = [format_dimension(c, dim) for c in categories]
        per_bar_formats = None
    n = max(1, len(series))
    positions = list(range(len(labels)))
    width = 0.8 / (1 if visual.arrangement != "CLUSTERED" else n)
    totals = [0.0] * len(labels)
    if visual.arrangement == "STACKED_PERCENT":
        for _label, _m, values in series:
            totals = [t + (0 if _is_null(v) else float(v)) for t, v in zip(totals, values, strict=True)]
    base = [0.0] * len(labels)
    all_values: list[float] = []
    show_values = len(labels) * n <= 30
    for i, (label, measure, values) in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        raw = [0.0 if _is_null(v) else float(v) for v in values]
        if visual.arrangement == "STACKED_PERCENT":
            raw = [(r / t * 100) if t else 0.0 for r, t in zip(raw, totals, strict=True)]
        if visual.arrangement == "CLUSTERED":
            offsets = [p - 0.4 + width * (i + 0.5) for p in positions]
            bottoms = [0.0] * len(labels)
        else:
            offsets = positions
            bottoms = list(base)
        if horizontal:
            bars = ax.barh(offsets, raw, height=width, left=bottoms, color=color, label=label or None)
        else:
            bars = ax.bar(offsets, raw, width=width, bottom=bottoms, color=color, label=label or None)
        base = [b + r for b, r in zip(base, raw, strict=True)]
        all_values += raw + base
        for j, (bar, value) in enumerate(zip(bars, values, strict=True)):
            gid = f"{prefix}-b{i}-{j}"
            bar.set_gid(gid)
            fmt = per_bar_formats[j] if per_bar_formats else measure.number_format
            text = format_number(value, fmt)
            name = f"{labels[j]} · {label}" if label and dim is not None else labels[j]
            tooltips[gid] = [f"{name}: {text}"]
            if show_values and visual.arrangement == "CLUSTERED" and text:
                if horizontal:
                    ax.annotate(
                        text, (raw[j], offsets[j]), textcoords="offset points", xytext=(3, 0), va="center", fontsize=6
                    )
                else:
                    ax.annotate(
                        text, (offsets[j], raw[j]), textcoords="offset points", xytext=(0, 2), ha="center", fontsize=6
                    )
    short = [_short(t) for t in labels]
    value_axis = ax.xaxis if horizontal else ax.yaxis
    _value_axis(value_axis, all_values)
    if horizontal:
        ax.set_yticks(positions, short)
        ax.invert_yaxis()
        ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
        ax.margins(x=0.12)
    else:
        ax.set_xticks(
            positions, short, rotation=30 if len(labels) > 6 else 0, ha="right" if len(labels) > 6 else "center"
        )
        ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)
        ax.margins(y=0.12)
    ax.set_axisbelow(True)
    category_label = visual.category_label if visual.category_label is not None else (dims[0].label if dims else "")
    value_label = (
        visual.value_label
        if visual.value_label is not None
        else (series[0][0] if len(series) == 1 and dim is not None and not data.by_role("color") else "")
    )
    if visual.arrangement == "STACKED_PERCENT":
        value_label = f"{value_label} (%)".strip()
    (ax.set_ylabel if horizontal else ax.set_xlabel)(category_label)
    (ax.set_xlabel if horizontal else ax.set_ylabel)(value_label)
    if len(series) > 1:
        ax.legend(loc="best", ncols=min(4, len(series)))
    return tooltips


def _draw_pie(fig: Figure, data: VisualData, prefix: str) -> dict[str, list[str]]:
    categories, series = _series(data)
    dim: Dimension = data.by_role("dimension")[0].field  # type: ignore[assignment]
    label, measure, values = series[0]
    pairs = [(c, v) for c, v in zip(categories, values, strict=True) if not _is_null(v) and float(v) > 0]
    ax = fig.add_subplot()
    total = sum(float(v) for _c, v in pairs)
    names = [format_dimension(c, dim) for c, _v in pairs]
    wedges, *_ = ax.pie(
        [float(v) for _c, v in pairs],
        labels=[_short(n) for n in names],
        colors=[PALETTE[i % len(PALETTE)] for i in range(len(pairs))],
        autopct=lambda p: f"{p:.1f}%" if p >= 4 else "",
        startangle=90,
        counterclock=False,
        textprops={"fontsize": 7},
        wedgeprops={"linewidth": 0.8, "edgecolor": "white"},
    )
    ax.set_aspect("equal")
    tooltips = {}
    for j, (wedge, (_c, v), name) in enumerate(zip(wedges, pairs, names, strict=True)):
        gid = f"{prefix}-w{j}"
        wedge.set_gid(gid)
        share = float(v) / total * 100 if total else 0
        tooltips[gid] = [f"{name} · {label}: {format_number(v, measure.number_format)} ({share:.1f}%)"]
    return tooltips


_DRAW = {"line": _draw_line, "bar": _draw_bar, "pie": _draw_pie}


def _prefix(visual_id: str) -> str:
    return "v-" + "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in visual_id)


def chart_svg(data: VisualData) -> str:
    """The SVG of a line, bar or pie visual."""
    prefix = _prefix(data.visual.visual_id)
    with _LOCK, matplotlib.rc_context(_rc(prefix)):
        fig = _figure(data.visual.kind)
        if data.table.num_rows == 0:
            _no_data(fig)
            tooltips: dict[str, list[str]] = {}
        else:
            tooltips = _DRAW[data.visual.kind](fig, data, prefix)
        return _svg(fig, tooltips)


def chart_png(data: VisualData) -> bytes:
    """The same figure as a PNG (the PDF)."""
    prefix = _prefix(data.visual.visual_id)
    with _LOCK, matplotlib.rc_context(_rc(prefix)):
        fig = _figure(data.visual.kind)
        if data.table.num_rows == 0:
            _no_data(fig)
        else:
            _DRAW[data.visual.kind](fig, data, prefix)
        return _png(fig)


def sparkline_svg(values: list[Any], prefix: str) -> str:
    with _LOCK, matplotlib.rc_context(_rc(prefix + "-spark")):
        fig = Figure(figsize=(2.4, 0.5))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_axis_off()
        ys = [math.nan if _is_null(v) else float(v) for v in values]
        ax.plot(range(len(ys)), ys, color=PALETTE[0], linewidth=1.2)
        return _svg(fig, {})


# --- KPI, table, pivot ------------------------------------------------------------------------


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
        if not _is_null(value) and not _is_null(reference):
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
        ctx["sparkline"] = trusted(sparkline_svg([r.get(measure.field_id) for r in rows], _prefix(visual.visual_id)))
    return ctx


def table_context(data: VisualData) -> dict[str, Any]:
    columns = shown_columns(data)
    return {
        "headers": [(c.label, isinstance(c.field, Measure)) for c in columns],
        "rows": [
            [(format_cell(row[c.field_id], c), isinstance(c.field, Measure)) for c in columns] for row in data.rows()
        ],
    }


def _heat(value: Any, low: float, high: float) -> tuple[str, str]:
    if _is_null(value):
        return "", ""
    share = 0.5 if high == low else (float(value) - low) / (high - low)
    alpha = 0.08 + 0.8 * share
    return f"background-color: rgba(31, 119, 180, {alpha:.2f})", ("#ffffff" if alpha > 0.55 else "")


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
        values = [float(r[m.field_id]) for r in rows if not _is_null(r[m.field_id])]
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
                style, color = _heat(value, *ranges[m.field_id])
                values.append((format_number(value, m.field.number_format), style, color))  # type: ignore[union-attr]
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
    if kind in _DRAW:
        return trusted(_env.get_template("report/chart.html").render(svg=trusted(chart_svg(data)), visual=data.visual))
    if kind == "kpi":
        return trusted(_env.get_template("report/kpi.html").render(kpi=kpi_context(data), visual=data.visual))
    if kind == "table":
        return trusted(_env.get_template("report/table.html").render(table=table_context(data), visual=data.visual))
    return trusted(_env.get_template("report/pivot.html").render(pivot=pivot_context(data), visual=data.visual))
