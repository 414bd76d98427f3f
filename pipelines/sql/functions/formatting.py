"""Trino's `format(pattern, args...)` (https://trino.io/docs/current/functions/conversion.html#format),
which formats as Java's `String.format`. A literal pattern is turned into a concatenation of its
text and its arguments, each printed as Java prints it:

- `%s`: a string as it is; an integer, boolean or date as its text; a decimal as BigDecimal's text
  (scales up to 6: beyond, Java may print an exponent); a double or real as `Double.toString`;
- `%d`: an integer; `%.Nf` / `%f` (6 digits): a decimal or a double rounded half up (Java rounds a
  double's shortest decimal digits), `NaN` / `Infinity` as Java prints them;
- a width, the `-` (left-justify), `0` (zeros after the sign) and `,` (thousands) flags;
- `%%`, `%n`, and `%1$s`-style argument indexes;
- a NULL argument prints `null`, as in Java.

Anything else (other flags and conversions such as `%x`, `%e`, `%tA`, a computed pattern) is
refused, naming the specifier.
"""

from __future__ import annotations

import re

from sqlglot import exp

from pipelines.sql.functions import call, refuse
from pipelines.sql.functions.argtypes import FLOATS, INTEGERS, TEXTS, T, arg_type, cast, string_literal

_SPEC = re.compile(r"%(?:(\d+)\$)?([-#+ 0,(<]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")
_FLAGS = {"s": "-", "d": "-0,", "f": "-0,"}  # the flags reproduced, by conversion

MACROS = [
    # the integer part of a number's text grouped by thousands with ','
    "CREATE OR REPLACE MACRO gg_fmt_group(t) AS format('{:,}', CAST(split_part(t, '.', 1) AS HUGEINT))"
    " || CASE WHEN t LIKE '%.%' THEN '.' || split_part(t, '.', 2) ELSE '' END",
    "CREATE OR REPLACE MACRO gg_fmt_pad(t, w, how) AS CASE WHEN length(t) >= w THEN t"
    " WHEN how = '-' THEN rpad(t, w, ' ')"
    " WHEN how = '0' AND t LIKE '-%' THEN '-' || lpad(substr(t, 2), w - 1, '0')"
    " WHEN how = '0' THEN lpad(t, w, '0') ELSE lpad(t, w, ' ') END",
    "CREATE OR REPLACE MACRO gg_fmt_special(x) AS CASE WHEN isnan(x) THEN 'NaN'"
    " WHEN isinf(x) THEN CASE WHEN x > 0 THEN 'Infinity' ELSE '-Infinity' END END",
]


def _text(arg: exp.Expr, spec: str, conversion: str, digits: str | None, grouped: bool) -> exp.Expr:
    """`arg` printed by one conversion, before width and padding."""
    kind = arg_type(arg)
    what = kind.this if kind is not None else None
    if conversion == "s" and digits is None and not grouped:
        if what in TEXTS:
            return arg
        if what in INTEGERS or what in (T.BOOLEAN, T.DATE):
            return cast(arg, "VARCHAR")
        if what in FLOATS:
            return call("gg_java_double_text", arg)
        if what == T.DECIMAL and int(kind.expressions[1].this.name) <= 6:
            return cast(arg, "VARCHAR")
    elif conversion == "d" and digits is None and what in INTEGERS:
        return call("gg_fmt_group", cast(arg, "VARCHAR")) if grouped else cast(arg, "VARCHAR")
    elif conversion == "f" and (what == T.DECIMAL or what in FLOATS):
        # Java rounds half up: a BigDecimal's digits, a double's shortest decimal digits
        scale = 6 if digits is None else int(digits)
        exact = arg if what == T.DECIMAL else cast(arg, "VARCHAR")
        text = cast(cast(exact, f"DECIMAL(38, {scale})"), "VARCHAR")
        text = call("gg_fmt_group", text) if grouped else text
        return text if what == T.DECIMAL else exp.Coalesce(this=call("gg_fmt_special", arg), expressions=[text])
    refuse(f"format specifier {spec} of a {kind.sql('athena') if kind else 'value of unknown type'}",
           "only %s, %d and %f of numbers and strings are printed as Java does")  # fmt: skip


def _padded(text: exp.Expr, spec: str, flags: str, width: str | None) -> exp.Expr:
    """`text` padded to `width` as Java does: `-` left-justifies, `0` pads with zeros after the sign."""
    if width is None:
        if "-" in flags or "0" in flags:
            refuse(f"format specifier {spec}", "a '-' or '0' flag needs a width")
        return text
    how = "-" if "-" in flags else "0" if "0" in flags else " "
    return call("gg_fmt_pad", text, exp.Literal.number(int(width)), exp.Literal.string(how))


def rewrite(node: exp.Expr) -> exp.Expr | None:
    if not isinstance(node, exp.Format):
        return None
    pattern = string_literal(node.this)
    if pattern is None:
        refuse("format(<computed pattern>, ...)", "the pattern must be a string literal")
    args = list(node.expressions)
    pieces: list[exp.Expr] = []
    position, next_arg = 0, 0
    for match in _SPEC.finditer(pattern):
        pieces.append(exp.Literal.string(pattern[position : match.start()]))
        position = match.end()
        index, flags, width, digits, conversion = match.groups()
        if conversion in "%n" and not (index or flags or width or digits):
            pieces.append(exp.Literal.string("%" if conversion == "%" else "\n"))
            continue
        if set(flags) - set(_FLAGS.get(conversion, "")) or conversion not in "sdf":
            refuse(f"format specifier {match.group(0)}", "this conversion or flag is not reproduced")
        slot = int(index) - 1 if index else next_arg
        next_arg += 0 if index else 1
        if slot >= len(args):
            refuse(f"format specifier {match.group(0)}", "it has no argument")
        printed = _text(args[slot], match.group(0), conversion, digits, "," in flags)
        printed = exp.Coalesce(this=printed, expressions=[exp.Literal.string("null")])
        pieces.append(_padded(printed, match.group(0), flags, width))
    if "%" in pattern[position:]:
        refuse(f"format pattern '{pattern}'", "a specifier is not understood")
    pieces.append(exp.Literal.string(pattern[position:]))
    out: exp.Expr = exp.Literal.string("")
    for piece in pieces:
        if not (isinstance(piece, exp.Literal) and piece.this == ""):
            out = piece if isinstance(out, exp.Literal) and out.this == "" else exp.DPipe(this=out, expression=piece)
    return cast(out, "VARCHAR")


REWRITES = [rewrite]
