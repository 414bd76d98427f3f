"""What the pages show that the services do not say: money formatting, the filter choices, and
the ids the pages accept in URLs."""

from __future__ import annotations

import re

# Minor-unit exponents of the currencies the shop sells in (`gitgoods.contract.money`).
EXPONENTS = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "CAD": 2, "AUD": 2}
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}

# The catalog has no facets endpoint: the choices of the filter menus are the catalog's values.
PLATFORMS = ["PC", "PlayStation 5", "PlayStation 4", "Xbox Series X|S", "Nintendo Switch", "Merchandise",
             "Steam", "PlayStation Store", "Xbox Store", "Nintendo eShop"]
CONSOLES = PLATFORMS[:5]
GENRES = ["Action", "Adventure", "Fighting", "Horror", "Platformer", "Puzzle", "Racing", "RPG",
          "Shooter", "Simulation", "Sports", "Strategy", "Gift Card"]
KINDS = {"game": "Games", "dlc": "Add-ons (DLC)", "merch": "Merchandise", "gift_card": "Gift cards"}

PRODUCT_ID = re.compile(r"^prd_[0-9A-HJKMNP-TV-Z]{26}$")
ORDER_ID = re.compile(r"^ord_[0-9A-HJKMNP-TV-Z]{26}$")


def money(amount: int, currency: str) -> str:
    exponent = EXPONENTS.get(currency, 2)
    symbol = SYMBOLS.get(currency, currency + " ")
    if exponent == 0:
        return f"{symbol}{amount:,}"
    major, minor = divmod(amount, 10**exponent)
    return f"{symbol}{major:,}.{minor:0{exponent}d}"


def to_minor_units(major: int, currency: str | None) -> int:
    return major * 10 ** EXPONENTS.get(currency or "", 2)
