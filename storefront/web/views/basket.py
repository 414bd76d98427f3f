"""The cart: add, change, remove, and show it with prices read from the catalog."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from storefront.web import cart, visits
from storefront.web.forms import AddToCartForm, RemoveFromCartForm, UpdateCartForm
from storefront.web.services import catalog

bp = Blueprint("cart", __name__)


def priced_lines() -> tuple[list[dict[str, Any]], str | None, int]:
    """The cart's lines with their products, its currency and total. Products no longer on sale
    are taken out of the cart, with a message."""
    lines, currency, total = [], None, 0
    current = cart.lines()
    for pid, qty in current.items():
        product = catalog().product(pid)
        if product is None or not product.get("active"):
            flash("An item in your cart is no longer on sale and was removed.", "notice")
            continue
        currency = currency or product["currency"]
        amount = product["price_cents"] * qty
        total += amount
        lines.append({"product": product, "qty": qty, "amount": amount})
    if len(lines) != len(current):
        cart.save({line["product"]["product_id"]: line["qty"] for line in lines})
    return lines, currency, total


@bp.get("/cart")
def show():  # type: ignore[no-untyped-def]
    lines, currency, total = priced_lines()
    forms = {
        line["product"]["product_id"]: (
            UpdateCartForm(product_id=line["product"]["product_id"], qty=line["qty"], prefix=f"u{i}"),
            RemoveFromCartForm(product_id=line["product"]["product_id"], prefix=f"r{i}"),
        )
        for i, line in enumerate(lines)
    }
    return render_template("cart.html", lines=lines, currency=currency, total=total, forms=forms)


@bp.post("/cart/add")
def add():  # type: ignore[no-untyped-def]
    form = AddToCartForm()
    if not form.validate():
        flash("Choose a quantity from 1 to 10.", "error")
        return redirect(url_for("browse.product", product_id=form.product_id.data) if form.product_id.data
                        and not form.product_id.errors else url_for("cart.show"), 303)
    pid, qty = form.product_id.data, form.qty.data
    product = catalog().product(pid)
    if product is None or not product.get("active"):
        abort(404)
    current = cart.lines()
    if current and pid not in current:
        other = catalog().product(next(iter(current)))
        if other is not None and other["currency"] != product["currency"]:
            flash(
                f"Your cart holds items priced in {other['currency']} and this one is priced in "
                f"{product['currency']}: one order is paid in one currency. Check out your cart first.",
                "error",
            )
            return redirect(url_for("browse.product", product_id=pid), 303)
    if pid not in current and len(current) >= cart.MAX_LINES:
        flash(f"A cart holds at most {cart.MAX_LINES} different items.", "error")
        return redirect(url_for("cart.show"), 303)
    new_qty = min(current.get(pid, 0) + qty, cart.MAX_QTY, product["stock"])
    if new_qty < 1:
        flash("Sorry, this item is out of stock.", "error")
        return redirect(url_for("browse.product", product_id=pid), 303)
    added = new_qty - current.get(pid, 0)
    current[pid] = new_qty
    cart.save(current)
    if added > 0:
        visits.record("cart_added", [(product, added)])
    flash(f"Added {product['title']} to your cart.", "success")
    return redirect(url_for("cart.show"), 303)


def _form_for_posted(form_class):  # type: ignore[no-untyped-def]
    """The cart's forms carry a per-line prefix; find the one that was posted."""
    for key in request.form:
        if key.endswith("-product_id"):
            return form_class(prefix=key.removesuffix("-product_id"))
    return form_class()


@bp.post("/cart/update")
def update():  # type: ignore[no-untyped-def]
    form = _form_for_posted(UpdateCartForm)
    if not form.validate():
        flash("Choose a quantity from 0 to 10.", "error")
        return redirect(url_for("cart.show"), 303)
    current = cart.lines()
    if form.qty.data == 0:
        current.pop(form.product_id.data, None)
    elif form.product_id.data in current:
        current[form.product_id.data] = form.qty.data
    cart.save(current)
    flash("Your cart was updated.", "success")
    return redirect(url_for("cart.show"), 303)


@bp.post("/cart/remove")
def remove():  # type: ignore[no-untyped-def]
    form = _form_for_posted(RemoveFromCartForm)
    if form.validate():
        current = cart.lines()
        current.pop(form.product_id.data, None)
        cart.save(current)
        flash("The item was removed from your cart.", "success")
    return redirect(url_for("cart.show"), 303)
