"""A visual's matplotlib figure as SVG (the page) or PNG (the PDF), and a KPI's sparkline.

matplotlib is used through its object API only (no pyplot, no global backend switch), under one
lock (it is not thread-safe) and an `rc_context` holding the settings: SVG text stays text
(`svg.fonttype: none`), `$` in a label is plain text (`text.parse_math: False`), and the ids of
a figure's definitions are salted by the visual id, so several SVGs can share a page. Every point,
bar and wedge carries an SVG `<title>` with its figure (a tooltip, and the numbers as text).
The SVG is re-serialised by ElementTree.
"""

from __future__ import annotations

import base64
import io
import math
import threading
import xml.etree.ElementTree as ET
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from portal.render import drawing
from portal.render.data import VisualData
from portal.render.formatting import is_null

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
SVG_NS = "http://www.w3.org/2000/svg"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")


def _rc(salt: str) -> dict:
    return {**_RC, "svg.hashsalt": salt}


def _figure(kind: str) -> Figure:
    size = {"pie": (5.2, 3.2)}.get(kind, (7.2, 3.0))
    return Figure(figsize=size, layout="constrained")


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


def data_uri(svg: str) -> str:
    """An SVG as a `data:` URI for an <img>: the page's Content-Security-Policy forbids inline
    styles, which matplotlib's SVG is made of; inside an image they are the image's own."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def svg_prefix(visual_id: str) -> str:
    """The visual's salt of SVG ids (unique per visual on a page)."""
    return "v-" + "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in visual_id)


def _drawn(data: VisualData, prefix: str) -> tuple[Figure, dict[str, list[str]]]:
    """The visual's figure and its tooltips (under the lock and the rc settings)."""
    fig = _figure(data.visual.kind)
    if data.table.num_rows == 0:
        drawing.no_data(fig)
        return fig, {}
    return fig, drawing.DRAW[data.visual.kind](fig, data, prefix)


def chart_svg(data: VisualData) -> str:
    """The SVG of a line, bar or pie visual."""
    prefix = svg_prefix(data.visual.visual_id)
    with _LOCK, matplotlib.rc_context(_rc(prefix)):
        fig, tooltips = _drawn(data, prefix)
        return _svg(fig, tooltips)


def chart_png(data: VisualData) -> bytes:
    """The same figure as a PNG (the PDF)."""
    prefix = svg_prefix(data.visual.visual_id)
    with _LOCK, matplotlib.rc_context(_rc(prefix)):
        fig, _tooltips = _drawn(data, prefix)
        return _png(fig)


def sparkline_svg(values: list[Any], prefix: str) -> str:
    """A KPI's trend as a small line without axes."""
    with _LOCK, matplotlib.rc_context(_rc(prefix + "-spark")):
        fig = Figure(figsize=(2.4, 0.5))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_axis_off()
        ys = [math.nan if is_null(v) else float(v) for v in values]
        ax.plot(range(len(ys)), ys, color=drawing.PALETTE[0], linewidth=1.2)
        return _svg(fig, {})
