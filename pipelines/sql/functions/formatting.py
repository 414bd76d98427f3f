"""Trino's `format(pattern, args...)` (https://trino.io/docs/current/functions/conversion.html#format),
which formats as Java's `String.format`. A literal pattern is turned into a concatenation of its
text and its arguments, each printed as Java prints it:

- `%s`: a string as it is; an integer, boolean or date as its text; a decimal as BigDecimal's text
  (scales up to 6: beyond, Java may print an exponent); a double or real as `Double.toString`;
- `%d`: an integer; `%.Nf` / `%f` (6 digits): a decimal, rounded half up (as BigDecimal);
- `%%`, `%n`, and `%1$s`-style argument indexes;
- a NULL argument prints `null`, as in Java.

Anything else (flags, widths, other conversions, `%f` of a double whose rounding Java does on its
decimal digits, a computed pattern) is refused, naming the specifier.
"""

from __future__ import annotations

import re

from sqlglot import exp

from pipelines.sql.functions import refuse
from pipelines.sql.functions.argtypes import FLOATS, INTEGERS, TEXTS, T, arg_type, call, cast, string_literal

_SPEC = re.compile(r"%(?:(\d+)\$)?([-#+ 0,(<]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")


def _text(arg: exp.Expr, spec: str, conversion: str, digits: str | None) -> exp.Expr:
    kind = arg_type(arg)
    what = kind.this if kind is not None else None
    if conversion == "s" and digits is None:
        if what in TEXTS:
            return arg
        if what in INTEGERS or what in (T.BOOLEAN, T.DATE):
            return cast(arg, "VARCHAR")
        if what in FLOATS:
            return call("gg_java_double_text", arg)
        if what == T.DECIMAL and int(kind.expressions[1].this.name) <= 6:
            return cast(arg, "VARCHAR")
    elif conversion == "d" and digits is None and what in INTEGERS:
        return cast(arg, "VARCHAR")
    elif conversion == "f" and what == T.DECIMAL:
        scale = 6 if digits is None else int(digits)
        return cast(cast(arg, f"DECIMAL(38, {scale})"), "VARCHAR")
    refuse(f"format specifier {spec} of a {kind.sql('athena') if kind else 'value of unknown type'}",
           "only %s, %d and %.Nf of a decimal are printed as Java does")  # fmt: skip


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
        if flags or width or conversion not in "sdf":
            refuse(f"format specifier {match.group(0)}", "flags, widths and this conversion are not reproduced")
        slot = int(index) - 1 if index else next_arg
        next_arg += 0 if index else 1
        if slot >= len(args):
            refuse(f"format specifier {match.group(0)}", "it has no argument")
        printed = _text(args[slot], match.group(0), conversion, digits)
        pieces.append(exp.Coalesce(this=printed, expressions=[exp.Literal.string("null")]))
    if "%" in pattern[position:]:
        refuse(f"format pattern '{pattern}'", "a specifier is not understood")
    pieces.append(exp.Literal.string(pattern[position:]))
    out: exp.Expr = exp.Literal.string("")
    for piece in pieces:
        if not (isinstance(piece, exp.Literal) and piece.this == ""):
            out = piece if isinstance(out, exp.Literal) and out.this == "" else exp.DPipe(this=out, expression=piece)
    return cast(out, "VARCHAR")


REWRITES = [rewrite]
