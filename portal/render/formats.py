"""The display formats of a definition: QuickSight date patterns (`MMM d, yyyy`) as strftime
patterns, and a field's number format (number, currency, percent; decimals, scale, separators)."""

from __future__ import annotations

from portal.render.context import VisualContext, one_kind
from portal.render.errors import RenderError
from portal.render.model import NumberFormat

DATE_TOKENS = [
    ("yyyy", "%Y"),
    ("YYYY", "%Y"),
    ("yy", "%y"),
    ("MMMM", "%B"),
    ("MMM", "%b"),
    ("MM", "%m"),
    ("M", "%-m"),
    ("dd", "%d"),
    ("DD", "%d"),
    ("d", "%-d"),
    ("EEEE", "%A"),
    ("EEE", "%a"),
    ("HH", "%H"),
    ("mm", "%M"),
]


def date_format(pattern: str | None) -> str | None:
    """A QuickSight date pattern (`MMM d, yyyy`) → strftime; unknown letters are refused."""
    if not pattern:
        return None
    out, i = [], 0
    while i < len(pattern):
        for token, repl in DATE_TOKENS:
            if pattern.startswith(token, i):
                out.append(repl)
                i += len(token)
                break
        else:
            char = pattern[i]
            if char.isalpha():
                raise RenderError(f"date format {pattern!r}: {char!r} is not supported")
            out.append("%%" if char == "%" else char)
            i += 1
    return "".join(out)


def number_format(raw: dict | None, ctx: VisualContext) -> NumberFormat | None:
    if not raw:
        return None
    inner = raw.get("FormatConfiguration", raw)
    if not inner:
        return None
    kind, body = one_kind(inner, ctx, "number format")
    kinds = {
        "NumberDisplayFormatConfiguration": "number",
        "CurrencyDisplayFormatConfiguration": "currency",
        "PercentageDisplayFormatConfiguration": "percent",
    }
    if kind not in kinds:
        raise ctx.error(f"number format {kind} is not supported")
    decimals = (body.get("DecimalPlacesConfiguration") or {}).get("DecimalPlaces")
    separators = body.get("SeparatorConfiguration") or {}
    thousands = (separators.get("ThousandsSeparator") or {}).get("Visibility", "VISIBLE") != "HIDDEN"
    return NumberFormat(
        kind=kinds[kind],
        decimals=decimals,
        prefix=body.get("Prefix", "") or "",
        suffix=body.get("Suffix", "") or "",
        symbol=body.get("Symbol", "") or "",
        scale=body.get("NumberScale", "NONE") or "NONE",
        thousands=thousands,
        null=((body.get("NullValueFormatConfiguration") or {}).get("NullString") or ""),
    )
