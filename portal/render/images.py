"""A chart visual's matplotlib figure as a PNG: the charts of the PDF (the page draws its charts
in the browser with Chart.js, from `chart_specs`).

matplotlib is used through its object API only (no pyplot, no global backend switch), under one
lock (it is not thread-safe) and an `rc_context` holding the settings (`$` in a label is plain
text: `text.parse_math: False`).
"""

from __future__ import annotations

import io
import threading

import matplotlib
from matplotlib.figure import Figure

from portal.render import drawing
from portal.render.data import VisualData

_LOCK = threading.Lock()
_RC = {
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


def chart_png(data: VisualData) -> bytes:
    """A line, bar or pie visual as a PNG (the PDF)."""
    with _LOCK, matplotlib.rc_context(_RC):
        size = {"pie": (5.2, 3.2)}.get(data.visual.kind, (7.2, 3.0))
        fig = Figure(figsize=size, layout="constrained")
        if data.table.num_rows == 0:
            drawing.no_data(fig)
        else:
            drawing.DRAW[data.visual.kind](fig, data)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        return buf.getvalue()
