"""Figures and dimension values as text: a definition's number format (separators, decimals,
scale, currency, percent, the null string) and date formats or granularity; nulls are empty."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

from portal.render.data import Column
from portal.render.model import Dimension, Measure, NumberFormat

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def is_null(value: Any) -> bool:
    """None or NaN (e.g. a division by zero)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_number(value: Any, fmt: NumberFormat | None = None) -> str:
    """A figure as the definition's number format shows it (thousands separators by default);
    a null (e.g. a division by zero) is empty, as in QuickSight."""
    if is_null(value):
        return fmt.null if fmt else ""
    fmt = fmt or NumberFormat()
    number = float(value)
    if math.isinf(number):
        return ""
    if fmt.kind == "percent":
        number *= 100
    scale_suffix = ""
    scale = fmt.scale
    if scale == "AUTO":
        size = abs(number)
        scale = (
            "TRILLIONS"
            if size >= 1e12
            else "BILLIONS"
            if size >= 1e9
            else "MILLIONS"
            if size >= 1e6
            else "THOUSANDS"
            if size >= 1e4
            else "NONE"
        )
    for name, divisor, suffix in (
        ("THOUSANDS", 1e3, "K"),
        ("MILLIONS", 1e6, "M"),
        ("BILLIONS", 1e9, "B"),
        ("TRILLIONS", 1e12, "T"),
    ):
        if scale == name:
            number /= divisor
            scale_suffix = suffix
    decimals = fmt.decimals
    if decimals is None:
        decimals = 0 if isinstance(value, int) and fmt.kind != "percent" and not scale_suffix else 2
    text = f"{number:,.{decimals}f}" if fmt.thousands else f"{number:.{decimals}f}"
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]
    percent = "%" if fmt.kind == "percent" else ""
    return f"{fmt.prefix}{currency_symbol(fmt)}{text}{scale_suffix}{percent}{fmt.suffix}"


def currency_symbol(fmt: NumberFormat) -> str:
    """What a currency format writes before the figure (`$`, or the code and a space)."""
    if fmt.kind != "currency":
        return ""
    return CURRENCY_SYMBOLS.get(fmt.symbol, f"{fmt.symbol} " if fmt.symbol else "")


def format_dimension(value: Any, dim: Dimension) -> str:
    if is_null(value):
        return ""
    if isinstance(value, datetime | date):
        if dim.date_format:
            return value.strftime(dim.date_format)
        return value.strftime("%b %Y" if dim.granularity == "MONTH" else "%Y-%m-%d")
    if isinstance(value, float) and value.is_integer():
        return f"{int(value)}"
    return str(value)


def format_cell(value: Any, column: Column) -> str:
    field = column.field
    if isinstance(field, Measure):
        return format_number(value, field.number_format)
    return format_dimension(value, field)
