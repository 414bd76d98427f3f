"""A visual's data drawn: chart specs for the page, PNG charts for the PDF, and HTML pieces.

The work is split by purpose: `formatting` (figures and dates as text), `chart_specs` (a line,
bar or pie chart as the JSON the browser draws with Chart.js), `drawing` and `images` (the same
charts as matplotlib PNGs for the PDF, under the matplotlib lock) and `html_visuals` (KPI, table,
pivot and every visual's HTML body). This module keeps their public names importable in one place.
"""

from portal.render.chart_specs import MAX_TICK_LABEL, PALETTE, chart_spec, sparkline_spec
from portal.render.data import shown_columns
from portal.render.formatting import CURRENCY_SYMBOLS, format_cell, format_dimension, format_number
from portal.render.html_visuals import TEMPLATES, env, kpi_context, pivot_context, table_context, trusted, visual_html
from portal.render.images import chart_png

__all__ = [
    "CURRENCY_SYMBOLS",
    "MAX_TICK_LABEL",
    "PALETTE",
    "TEMPLATES",
    "chart_png",
    "chart_spec",
    "env",
    "format_cell",
    "format_dimension",
    "format_number",
    "kpi_context",
    "pivot_context",
    "shown_columns",
    "sparkline_spec",
    "table_context",
    "trusted",
    "visual_html",
]
