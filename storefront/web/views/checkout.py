"""Checkout, the confirmation, and the order status page behind the receipt link.

One checkout is one idempotency key (`cart.start_checkout`): the form carries it, the session
holds it with the lines being ordered, and every submit sends it with the same lines, so a
double-clicked "Place order" (or a reload of the POST) places one order."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for

from storefront.web import cart, visits
from storefront.web.forms import FIELD_MESSAGES, CheckoutForm
from storefront.web.services import ServiceError, catalog, orders
from storefront.web.shopfront import ORDER_ID
from storefront.web.views.basket import priced_lines

bp = Blueprint("checkout", __name__)


def _render(form: CheckoutForm, lines: list[dict[str, Any]], currency: str | None, total: int, status: int = 200):  # type: ignore[no-untyped-def]
    return render_template("checkout.html", form=form, lines=lines, currency=currency, total=total), status


@bp.get("/checkout")
def form():  # type: ignore[no-untyped-def]
    lines, currency, total = priced_lines()
    if not lines or currency is None:
        flash("Your cart is empty.", "notice")
        return redirect(url_for("cart.show"), 303)
    before = cart.checkout_snapshot()
    snap = cart.start_checkout(currency)
    if before is None or before["key"] != snap["key"]:  # a new checkout, not a reload of the form
        visits.record("checkout_started", [(line["product"], line["qty"]) for line in lines])
    return _render(CheckoutForm(checkout_key=snap["key"]), lines, currency, total)


@bp.post("/checkout")
def place():  # type: ignore[no-untyped-def]
    form = CheckoutForm()
    snap = cart.checkout_snapshot()
    if snap is None or form.checkout_key.data != snap["key"]:
        flash("Your cart changed since you opened the checkout. Please check your order again.", "notice")
        return redirect(url_for("checkout.form"), 303)
    if not form.validate():
        lines, currency, total = _snapshot_lines(snap)
        return _render(form, lines, currency, total, 422)
    body = {
        "customer": form.customer(),
        "lines": [{"product_id": pid, "qty": qty} for pid, qty in snap["lines"]],
        "currency": snap["currency"],
    }
    try:
        created, _replayed = orders().place(body, snap["key"])
    except ServiceError as exc:
        return _refused(exc, form, snap)
    cart.mark_placed(created["order_id"], created["receipt_token"])
    return redirect(url_for("checkout.confirmation"), 303)


def _snapshot_lines(snap: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None, int]:
    """The lines of the checkout being submitted (the cart itself may be empty after a first
    submit placed the order)."""
    lines, total = [], 0
    for pid, qty in snap["lines"]:
        product = catalog().product(pid)
        if product is not None:
            total += product["price_cents"] * qty
            lines.append({"product": product, "qty": qty, "amount": product["price_cents"] * qty})
    return lines, snap["currency"], total


def _refused(exc: ServiceError, form: CheckoutForm, snap: dict[str, Any]):  # type: ignore[no-untyped-def]
    field = (exc.field or "").removeprefix("customer.")
    if exc.status == 400 and field in FIELD_MESSAGES:
        getattr(form, field).errors.append(FIELD_MESSAGES[field])
        lines, currency, total = _snapshot_lines(snap)
        return _render(form, lines, currency, total, 422)
    if exc.code == "idempotency_key_reused" and snap.get("placed"):
        flash("This order was already placed; here it is.", "notice")
        return redirect(url_for("checkout.confirmation"), 303)
    if exc.code == "insufficient_stock":
        flash("Sorry, one of your items no longer has enough stock. Please change its quantity.", "error")
    elif exc.code in ("unknown_product", "currency_mismatch"):
        flash("One of your items is no longer on sale as it was. Please check your cart.", "error")
    else:
        flash("Your order could not be placed. Please check your cart and try again.", "error")
    session.pop("checkout", None)
    return redirect(url_for("cart.show"), 303)


@bp.get("/checkout/done")
def confirmation():  # type: ignore[no-untyped-def]
    snap = cart.checkout_snapshot()
    placed = (snap or {}).get("placed")
    if not placed:
        return redirect(url_for("browse.home"), 303)
    order = orders().order(placed["order_id"], placed["token"])
    if order is None:
        abort(404)
    receipt = url_for("checkout.status", order_id=placed["order_id"], token=placed["token"], _external=True)
    return render_template("confirmation.html", order=order, receipt_url=receipt)


@bp.get("/orders/<order_id>")
def status(order_id: str):  # type: ignore[no-untyped-def]
    token = request.args.get("token", "")
    if not ORDER_ID.match(order_id) or not token or len(token) > 200:
        abort(404)
    order = orders().order(order_id, token)
    if order is None:
        abort(404)
    return render_template("order.html", order=order)
