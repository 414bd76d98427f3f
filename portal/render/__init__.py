"""The offline renderer of the published dashboard definition (local mode of the seller portal).

`definition` parses the dashboard Definition into typed visuals, `expressions` evaluates its
calculated fields, `data` computes a visual's rows from the local SPICE snapshots (RLS, seller,
date range), `charts` draws them (matplotlib SVG, HTML tables), `pdf` writes the PDF and CSV, and
`reports.LocalReports` is what the portal calls.
"""

from portal.render.errors import RenderError

__all__ = ["RenderError"]
