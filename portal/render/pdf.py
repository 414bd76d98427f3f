"""The report as a PDF (reportlab platypus) and a visual's data as CSV.

The PDF holds the title, the seller, the range, the freshness, every chart (the matplotlib figure
as a PNG) and every KPI, table and pivot as text. Text uses DejaVu Sans (shipped with matplotlib)
so any seller or product name prints, and every text is XML-escaped before it reaches reportlab's
paragraph markup.
"""

from __future__ import annotations

import csv
import io
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import matplotlib
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from portal.render.data import VisualData, shown_columns
from portal.render.formatting import format_cell
from portal.render.html_visuals import kpi_context, pivot_context
from portal.render.model import CHART_KINDS, Measure, Visual

_FONT_LOCK = threading.Lock()
_FONTS: tuple[str, str] | None = None
CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _fonts() -> tuple[str, str]:
    global _FONTS
    with _FONT_LOCK:
        if _FONTS is None:
            ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
            try:
                pdfmetrics.registerFont(TTFont("GGSans", str(ttf / "DejaVuSans.ttf")))
                pdfmetrics.registerFont(TTFont("GGSans-Bold", str(ttf / "DejaVuSans-Bold.ttf")))
                _FONTS = ("GGSans", "GGSans-Bold")
            except Exception:  # noqa: BLE001 - the built-in fonts still print Latin text
                _FONTS = ("Helvetica", "Helvetica-Bold")
        return _FONTS


# --- CSV --------------------------------------------------------------------------------------


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return ""
        rounded = round(value, 6)
        return int(rounded) if rounded.is_integer() and abs(rounded) < 1e15 else rounded
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(CSV_FORMULA_START):
        return "'" + value  # never a formula in a spreadsheet
    return value


def visual_csv(data: VisualData) -> bytes:
    """The visual's rows: header = the field names shown; values unformatted (dates ISO, nulls
    empty, numbers as numbers)."""
    columns = shown_columns(data)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([c.label for c in columns])
    for row in data.rows():
        writer.writerow([_csv_value(row[c.field_id]) for c in columns])
    return buf.getvalue().encode("utf-8")


# --- PDF --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PdfVisual:
    visual: Visual
    data: VisualData
    png: bytes | None  # charts only


def _styles() -> dict[str, ParagraphStyle]:
    regular, bold = _fonts()
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("t", parent=base["Title"], fontName=bold, fontSize=18, leading=22),
        "h2": ParagraphStyle("h2", parent=base["Heading2"], fontName=bold, fontSize=13, leading=16),
        "h3": ParagraphStyle("h3", parent=base["Heading3"], fontName=bold, fontSize=10.5, leading=13),
        "body": ParagraphStyle("b", parent=base["BodyText"], fontName=regular, fontSize=8.5, leading=11),
        "small": ParagraphStyle(
            "s",
            parent=base["BodyText"],
            fontName=regular,
            fontSize=7.5,
            leading=9.5,
            textColor=colors.HexColor("#555555"),
        ),
        "kpi": ParagraphStyle("k", parent=base["BodyText"], fontName=bold, fontSize=16, leading=20),
        "cell": ParagraphStyle("c", parent=base["BodyText"], fontName=regular, fontSize=7, leading=8.5),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _table(headers: list[str], rows: list[list[str]], numeric: list[bool], styles: dict) -> Table:
    cell = styles["cell"]
    right = ParagraphStyle("cr", parent=cell, alignment=2)
    data = [[_p(h, right if n else cell) for h, n in zip(headers, numeric, strict=True)]]
    data += [[_p(v, right if n else cell) for v, n in zip(row, numeric, strict=True)] for row in rows]
    if len(data) == 1:
        data.append([_p("No data for this range", cell)] + [""] * (len(headers) - 1))
    table = Table(data, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.HexColor("#999999")),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f4f6f8")]),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ]
        )
    )
    return table


def _visual_flowables(item: PdfVisual, styles: dict, width: float) -> list:
    visual, data = item.visual, item.data
    out: list = [_p(visual.title, styles["h3"])]
    if visual.subtitle:
        out.append(_p(visual.subtitle, styles["small"]))
    if visual.kind in CHART_KINDS and item.png is not None:
        image = Image(io.BytesIO(item.png))
        scale = min(1.0, width / image.imageWidth) if visual.kind != "pie" else min(0.7, width / image.imageWidth)
        image.drawWidth = image.imageWidth * scale
        image.drawHeight = image.imageHeight * scale
        out.append(image)
    elif visual.kind == "kpi":
        kpi = kpi_context(data)
        out.append(_p(kpi["value"] or "–", styles["kpi"]))
        details = []
        if kpi["period"]:
            details.append(f"As of {kpi['period']}")
        if kpi["target_label"]:
            diff = f" ({kpi['difference']})" if kpi["difference"] else ""
            details.append(f"{kpi['target_label']}: {kpi['target']}{diff}")
        if details:
            out.append(_p(" · ".join(details), styles["body"]))
    elif visual.kind == "table":
        columns = shown_columns(data)
        rows = [[format_cell(r[c.field_id], c) for c in columns] for r in data.rows()]
        out.append(_table([c.label for c in columns], rows, [isinstance(c.field, Measure) for c in columns], styles))
    elif visual.kind == "pivot":
        pivot = pivot_context(data)
        headers = [*pivot["row_headers"], *pivot["columns"]]
        numeric = [False] * len(pivot["row_headers"]) + [True] * len(pivot["columns"])
        rows = [[*line, *(v[0] for v in values)] for line, values in pivot["body"]]
        out.append(_table(headers, rows, numeric, styles))
    out.append(Spacer(1, 0.35 * cm))
    return out


def report_pdf(
    *,
    title: str,
    seller_name: str,
    seller_id: str,
    start: date,
    end: date,
    freshness: str,
    sheets: list[tuple[str, list[PdfVisual]]],
) -> bytes:
    styles = _styles()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=1.6 * cm,
        rightMargin=1.6 * cm,
        topMargin=1.5 * cm,
        bottomMargin=1.5 * cm,
        title=title,
        author="Git Goods",
        subject=f"{seller_name} ({seller_id}) {start.isoformat()} – {end.isoformat()}",
    )
    width = doc.width
    story: list = [
        _p(title, styles["title"]),
        _p(f"{seller_name} ({seller_id})", styles["h2"]),
        _p(f"{start.isoformat()} – {end.isoformat()}", styles["body"]),
        _p(freshness, styles["small"]),
        Spacer(1, 0.4 * cm),
    ]
    for sheet_title, items in sheets:
        story.append(_p(sheet_title, styles["h2"]))
        for item in items:
            flowables = _visual_flowables(item, styles, width)
            story.append(KeepTogether(flowables) if item.visual.kind != "table" else flowables[0])
            if item.visual.kind == "table":
                story.extend(flowables[1:])
    doc.build(story)
    return buf.getvalue()
