"""The seller pages: the viewer's home, a seller's report (HTML, PDF) and a visual's data (CSV).

Who may open a seller is decided here, before `Reports` is asked anything: a seller opening another
seller's report gets the same 404 as a seller id that does not exist.
"""

from __future__ import annotations

import re
from datetime import date

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for

from portal.auth import LogoutForm, require_viewer
from portal.context import portal
from portal.embed import origin
from portal.reports import ReportNotFound, ReportUnavailable, Viewer

bp = Blueprint("reports", __name__)

NOT_FOUND = "No such page."
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date_arg(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        if not _DATE.fullmatch(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        abort(400, f"`{name}` must be a date written YYYY-MM-DD.")


def date_range() -> tuple[date | None, date | None]:
    start, end = _date_arg("from"), _date_arg("to")
    if start and end and start > end:
        abort(400, "`from` must not be after `to`.")
    return start, end


def open_seller(seller_id: str) -> Viewer:
    """The viewer, when it may open `seller_id`; 401 without one, 404 (never 403) otherwise."""
    viewer = require_viewer()
    if not viewer.may_open(seller_id):
        abort(404, NOT_FOUND)
    return viewer


@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    viewer = require_viewer()
    if not viewer.is_analyst and viewer.seller_id and viewer.may_open(viewer.seller_id):
        return redirect(url_for("reports.report", seller_id=viewer.seller_id))
    sellers = portal().reports.sellers(viewer)
    return render_template("sellers.html", viewer=viewer, sellers=sellers, logout_form=LogoutForm())


@bp.get("/sellers/<seller_id>/report")
def report(seller_id: str):  # type: ignore[no-untyped-def]
    viewer = open_seller(seller_id)
    start, end = date_range()
    p = portal()
    range_args = {k: v for k, v in (("from", start), ("to", end)) if v}
    common = {"viewer": viewer, "seller_id": seller_id, "logout_form": LogoutForm(), "range_args": range_args}
    if p.embedder is not None:
        names = dict(p.reports.sellers(viewer))
        if seller_id not in names:
            abort(404, NOT_FOUND)
        url = p.embedder.dashboard_url(viewer)
        g.frame_origin = origin(url)
        return render_template("seller_report.html", page=None, embed_url=url, title=names[seller_id], **common)
    try:
        page = p.reports.page(viewer, seller_id, start, end)
    except ReportNotFound:
        abort(404, NOT_FOUND)
    return render_template(
        "seller_report.html",
        page=page,
        embed_url=None,
        title=page.title,
        start=page.start or start,
        end=page.end or end,
        **common,
    )


@bp.get("/sellers/<seller_id>/report.pdf")
def report_pdf(seller_id: str) -> Response:
    viewer = open_seller(seller_id)
    start, end = date_range()
    try:
        body = portal().reports.pdf(viewer, seller_id, start, end)
    except ReportNotFound:
        abort(404, NOT_FOUND)
    except ReportUnavailable as exc:
        abort(501, str(exc))
    response = Response(body, mimetype="application/pdf")
    response.headers.set("Content-Disposition", "attachment", filename=f"{seller_id}-report.pdf")
    return response


@bp.get("/sellers/<seller_id>/visuals/<visual_id>.csv")
def visual_csv(seller_id: str, visual_id: str) -> Response:
    viewer = open_seller(seller_id)
    start, end = date_range()
    try:
        filename, body = portal().reports.csv(viewer, seller_id, visual_id, start, end)
    except ReportNotFound:
        abort(404, NOT_FOUND)
    except ReportUnavailable as exc:
        abort(501, str(exc))
    response = Response(body, mimetype="text/csv")
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    return response
