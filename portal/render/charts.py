"""Draw a visual's data: matplotlib figures (SVG for the page, PNG for the PDF) and HTML pieces.

The work is split by purpose: `formatting` (figures and dates as text), `drawing` (line, bar and
pie on a matplotlib figure), `images` (the figure as SVG or PNG, under the matplotlib lock) and
`html_visuals` (KPI, table, pivot and every visual's HTML body). This module keeps their public
names where they have always been importable.
"""

from portal.render.data import shown_columns
from portal.render.drawing import MAX_TICK_LABEL, PALETTE
from portal.render.formatting import CURRENCY_SYMBOLS, format_cell, format_dimension, format_number
from portal.render.html_visuals import TEMPLATES, env, kpi_context, pivot_context, table_context, trusted, visual_html
from portal.render.images import SVG_NS, chart_png, chart_svg, sparkline_svg

__all__ = [
    "CURRENCY_SYMBOLS",
    "MAX_TICK_LABEL",
    "PALETTE",
    "SVG_NS",
    "TEMPLATES",
    "chart_png",
    "chart_svg",
    "env",
    "format_cell",
    "format_dimension",
    "format_number",
    "kpi_context",
    "pivot_context",
    "shown_columns",
    "sparkline_svg",
    "table_context",
    "trusted",
    "visual_html",
]
