"""Line, bar and pie charts drawn on a matplotlib `Figure` (object API only) from a visual's data:
the charts of the PDF (the page draws them in the browser from `chart_specs`, the same series).

The caller holds the matplotlib lock and the rc settings.
"""

from __future__ import annotations

import math
from typing import Any

from matplotlib import dates as mdates
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from portal.render.chart_specs import MAX_BAR_LABELS, MAX_LINE_LABELS, PALETTE, series, short
from portal.render.data import VisualData
from portal.render.formatting import format_dimension, format_number, is_null
from portal.render.model import Dimension


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


def no_data(fig: Figure) -> None:
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, "No data for this range", ha="center", va="center", color="#666666")


def _draw_line(fig: Figure, data: VisualData) -> None:
    visual = data.visual
    categories, items = series(data)
    dim_col = data.by_role("dimension")[0]
    dim: Dimension = dim_col.field  # type: ignore[assignment]
    ax = fig.add_subplot()
    is_date = dim.kind == "date"
    xs = list(categories) if is_date or dim.kind == "number" else list(range(len(categories)))
    labels = [format_dimension(c, dim) for c in categories]
    all_values: list[float] = []
    stacked = visual.line_type == "STACKED_AREA"
    base = [0.0] * len(xs)
    for i, (label, measure, values) in enumerate(items):
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
        points = [(x, y, v) for x, y, v in zip(xs, plot_ys, values, strict=True) if not is_null(v)]
        all_values += [p[1] for p in points]
        if points:
            ax.scatter([p[0] for p in points], [p[1] for p in points], s=7, color=color, zorder=3)
            if visual.data_labels and len(points) <= MAX_LINE_LABELS:
                for x, y, v in points:
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
        ax.set_xticks(xs[::step], [short(t) for t in labels[::step]], rotation=30, ha="right")
    _value_axis(ax.yaxis, all_values)
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)
    ax.set_xlabel(visual.category_label if visual.category_label is not None else dim_col.label)
    if visual.value_label is not None:
        ax.set_ylabel(visual.value_label)
    elif len(items) == 1 and not data.by_role("color"):
        ax.set_ylabel(items[0][0])
    if len(items) > 1:
        ax.legend(loc="upper left", ncols=min(4, len(items)))


def _draw_bar(fig: Figure, data: VisualData) -> None:
    visual = data.visual
    categories, items = series(data)
    dims = data.by_role("dimension")
    dim: Dimension | None = dims[0].field if dims else None  # type: ignore[assignment]
    ax = fig.add_subplot()
    horizontal = visual.orientation == "HORIZONTAL"
    if dim is None:  # measures only: one bar per measure
        labels = [s[0] for s in items]
        items = [("", items[0][1], [s[2][0] for s in items])] if items else []
        per_bar_formats = [s[1].number_format for s in series(data)[1]]
    else:
        labels = [format_dimension(c, dim) for c in categories]
        per_bar_formats = None
    n = max(1, len(items))
    positions = list(range(len(labels)))
    width = 0.8 / (1 if visual.arrangement != "CLUSTERED" else n)
    totals = [0.0] * len(labels)
    if visual.arrangement == "STACKED_PERCENT":
        for _label, _m, values in items:
            totals = [t + (0 if is_null(v) else float(v)) for t, v in zip(totals, values, strict=True)]
    base = [0.0] * len(labels)
    all_values: list[float] = []
    show_values = visual.arrangement == "CLUSTERED" and len(labels) * n <= MAX_BAR_LABELS
    for i, (label, measure, values) in enumerate(items):
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
            ax.barh(offsets, raw, height=width, left=bottoms, color=color, label=label or None)
        else:
            ax.bar(offsets, raw, width=width, bottom=bottoms, color=color, label=label or None)
        base = [b + r for b, r in zip(base, raw, strict=True)]
        all_values += raw + base
        for j, value in enumerate(values if show_values else []):
            fmt = per_bar_formats[j] if per_bar_formats else measure.number_format
            text = format_number(value, fmt)
            if text:
                if horizontal:
                    ax.annotate(
                        text, (raw[j], offsets[j]), textcoords="offset points", xytext=(3, 0), va="center", fontsize=6
                    )
                else:
                    ax.annotate(
                        text, (offsets[j], raw[j]), textcoords="offset points", xytext=(0, 2), ha="center", fontsize=6
                    )
    ticks = [short(t) for t in labels]
    value_axis = ax.xaxis if horizontal else ax.yaxis
    _value_axis(value_axis, all_values)
    if horizontal:
        ax.set_yticks(positions, ticks)
        ax.invert_yaxis()
        ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
        ax.margins(x=0.12)
    else:
        ax.set_xticks(
            positions, ticks, rotation=30 if len(labels) > 6 else 0, ha="right" if len(labels) > 6 else "center"
        )
        ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)
        ax.margins(y=0.12)
    ax.set_axisbelow(True)
    category_label = visual.category_label if visual.category_label is not None else (dims[0].label if dims else "")
    value_label = (
        visual.value_label
        if visual.value_label is not None
        else (items[0][0] if len(items) == 1 and dim is not None and not data.by_role("color") else "")
    )
    if visual.arrangement == "STACKED_PERCENT":
        value_label = f"{value_label} (%)".strip()
    (ax.set_ylabel if horizontal else ax.set_xlabel)(category_label)
    (ax.set_xlabel if horizontal else ax.set_ylabel)(value_label)
    if len(items) > 1:
        ax.legend(loc="best", ncols=min(4, len(items)))


def _draw_pie(fig: Figure, data: VisualData) -> None:
    categories, items = series(data)
    dim: Dimension = data.by_role("dimension")[0].field  # type: ignore[assignment]
    _label, _measure, values = items[0]
    pairs = [(c, v) for c, v in zip(categories, values, strict=True) if not is_null(v) and float(v) > 0]
    ax = fig.add_subplot()
    names = [format_dimension(c, dim) for c, _v in pairs]
    ax.pie(
        [float(v) for _c, v in pairs],
        labels=[short(n) for n in names],
        colors=[PALETTE[i % len(PALETTE)] for i in range(len(pairs))],
        autopct=lambda p: f"{p:.1f}%" if p >= 4 else "",
        startangle=90,
        counterclock=False,
        textprops={"fontsize": 7},
        wedgeprops={"linewidth": 0.8, "edgecolor": "white"},
    )
    ax.set_aspect("equal")


DRAW = {"line": _draw_line, "bar": _draw_bar, "pie": _draw_pie}
