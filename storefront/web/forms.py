"""The shop's forms (Flask-WTF: every one carries a CSRF token). The checkout form only checks
what it can say best itself (required fields, lengths); the order service is the authority on
every value and its errors are shown on the field they name."""

from __future__ import annotations

import pycountry
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, IntegerField, SelectField, StringField, TelField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Regexp

from storefront.web.cart import MAX_QTY
from storefront.web.shopfront import PRODUCT_ID

COUNTRIES = [
    SelectChoice(c.alpha_2, c.name) for c in sorted(pycountry.countries, key=lambda c: c.name)
]


class AddToCartForm(FlaskForm):
    product_id = HiddenField(validators=[DataRequired(), Regexp(PRODUCT_ID.pattern)])
    qty = IntegerField(
        "Quantity",
        default=1,
        validators=[DataRequired("Enter a quantity."), NumberRange(1, MAX_QTY, f"Choose 1 to {MAX_QTY}.")],
    )


class UpdateCartForm(FlaskForm):
    product_id = HiddenField(validators=[DataRequired(), Regexp(PRODUCT_ID.pattern)])
    qty = IntegerField("Quantity", validators=[NumberRange(0, MAX_QTY, f"Choose 0 to {MAX_QTY}.")])


class RemoveFromCartForm(FlaskForm):
    product_id = HiddenField(validators=[DataRequired(), Regexp(PRODUCT_ID.pattern)])


class CheckoutForm(FlaskForm):
    checkout_key = HiddenField(validators=[DataRequired()])
    name = StringField("Full name", validators=[DataRequired("Enter your name."), Length(max=200)])
    email = EmailField("E-mail", validators=[DataRequired("Enter your e-mail address."), Length(max=254)])
    address = TextAreaField(
        "Delivery address", validators=[DataRequired("Enter your delivery address."), Length(max=500)]
    )
    phone = TelField("Phone", validators=[DataRequired("Enter a phone number."), Length(max=25)])
    country = SelectField(
        "Country",
        choices=[SelectChoice("", "Choose a country"), *COUNTRIES],
        validators=[DataRequired("Choose a country.")],
    )

    def customer(self) -> dict[str, str]:
        # The service refuses line breaks (they forge lines in labels): a multi-line address is
        # sent as one line with commas, as docs/storefront.md asks.
        address = ", ".join(part.strip() for part in (self.address.data or "").splitlines() if part.strip())
        return {
            "name": self.name.data or "",
            "email": self.email.data or "",
            "address": address,
            "phone": self.phone.data or "",
            "country": self.country.data or "",
        }


# What to tell the shopper when the order service refuses a field (it never echoes the value).
FIELD_MESSAGES = {
    "email": "Enter a valid e-mail address, like name@example.com.",
    "name": "Enter your name (up to 200 characters, no control characters).",
    "address": "Enter your delivery address (up to 500 characters).",
    "phone": "Enter a phone number: 5 to 25 digits, spaces, brackets or dashes, optionally starting with +.",
    "country": "Choose a country from the list.",
}
