"""Money is integer minor units plus an ISO-4217 code; never floats."""

from __future__ import annotations

from functools import lru_cache

import pycountry

# Currencies the shop sells in, with their minor-unit exponent.
SUPPORTED_CURRENCIES = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "CAD": 2, "AUD": 2}


@lru_cache(maxsize=512)
def is_iso_currency(code: str) -> bool:
    return len(code) == 3 and code.isupper() and pycountry.currencies.get(alpha_3=code) is not None


@lru_cache(maxsize=512)
def is_iso_country(code: str) -> bool:
    return len(code) == 2 and code.isupper() and pycountry.countries.get(alpha_2=code) is not None
