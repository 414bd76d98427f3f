"""The offline renderer of the published dashboard definition (local mode of the seller portal).

Reading the definition: `definition.parse_definition` (the whole Definition) with `visuals` (one
visual), `fields` (its field wells), `formats` (number and date formats), `filters` (the date
range) and `context` (what is being parsed), into the typed `model`; `expressions` parses and
evaluates calculated fields.

Rendering: `data` computes a visual's rows from the local SPICE snapshots (RLS, seller, date
range); `formatting` turns figures into text, `chart_specs` turns a chart's figures into the JSON
the browser draws with Chart.js (portal/static/charts.js), `drawing` and `images` draw the PDF's
charts with matplotlib (PNG), `html_visuals` writes KPIs, tables, pivots and each visual's HTML
(`charts` re-exports these), and `pdf` writes the PDF and CSV.

Serving: `reports.LocalReports` is what the portal calls, with `freshness` (the data's freshness
line) and `published` (the published definition from the QuickSight API); `local` wires it up.
"""

from portal.render.errors import RenderError

__all__ = ["RenderError"]
