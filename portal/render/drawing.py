"""Line, bar and pie charts drawn on a matplotlib `Figure` (object API only) from a visual's data.

Each drawing function returns the tooltips of its marks by SVG group id (`images` adds them as
`<title>`s); the caller holds the matplotlib lock and the rc settings.
"""

from __future__ import annotations

import math
from typing import Any

from matplotlib import dates as mdates
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from portal.render.data import VisualData
from portal.render.formatting import format_dimension, format_number, is_null
from portal.render.model import Dimension, Measure

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
MAX_TICK_LABEL = 32


def _short(text: str) -> str:
    return text if len(text) <= MAX_TICK_LABEL else text[: MAX_TICK_LABEL - 1] + "…"


def _value_axis(axis: Any, values: list[float]) -> None:
    """Thousands separators; whole numbers (and whole ticks) when every value is whole."""
    finite = [v for v in values if not is_null(v)]
    whole = all(float(v).is_integer() for v in finite)
    span = max((abs(v) for v in finite), default=0)
    decimals = 0 if whole or span >= 10 else 2
    if whole:
        axis.set_major_locator(MaxNLocator(integer=True, nbins=6))

    def fmt(v: float, _pos: int) -> str:
        return f"{v:,.{decimals}f}"

    axis.set_major_formatter(FuncFormatter(fmt))


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


def no_data(fig: Figure) -> None:
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
        ys = [math.nan if is_null(v) else float(v) for v in values]
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
        points = [(x, y, v, lab) for x, y, v, lab in zip(xs, plot_ys, values, labels, strict=True) if not is_null(v)]
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
            totals = [t + (0 if is_null(v) else float(v)) for t, v in zip(totals, values, strict=True)]
    base = [0.0] * len(labels)
    all_values: list[float] = []
    show_values = len(labels) * n <= 30
    for i, (label, measure, values) in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        raw = [0.0 if is_null(v) else float(v) for v in values]
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
    pairs = [(c, v) for c, v in zip(categories, values, strict=True) if not is_null(v) and float(v) > 0]
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


DRAW = {"line": _draw_line, "bar": _draw_bar, "pie": _draw_pie}
