"""Trino's regular expression functions (https://trino.io/docs/current/functions/regexp.html) where
DuckDB's differ:

- `regexp_extract(s, p[, group])` is NULL when `p` does not match or the group took no part in
  the match (DuckDB: the empty string for both);
- `regexp_replace(s, p, r)`: Trino's replacement names groups `$1` and escapes with a backslash
  (`\\$` is a dollar); DuckDB's (RE2) names them `\\1`. A literal replacement is translated; one
  computed at run time is refused (its `$` could not be told from a group reference);
- `regexp_position(s, p)` (missing in DuckDB): the 1-based position of the first match, -1 when
  none; the forms with a start and an occurrence are refused.
"""

from __future__ import annotations

from sqlglot import exp

from pipelines.sql.functions import call, refuse
from pipelines.sql.functions.argtypes import string_literal

MACROS = [
    # the first match's group: regexp_extract_all gives NULL for a group that took no part in the
    # match (as Trino), regexp_extract gives '' for it and for no match at all
    "CREATE OR REPLACE MACRO gg_regexp_extract(s, p, g) AS regexp_extract_all(s, p, g)[1]",
    # the shortest prefix followed by a match, plus one
    "CREATE OR REPLACE MACRO gg_regexp_position(s, p) AS CASE WHEN s IS NULL OR p IS NULL THEN NULL"
    " WHEN regexp_matches(s, p)"
    " THEN CAST(length(regexp_extract(s, '(?s)^(.*?)(?:' || p || ')', 1)) + 1 AS INTEGER) ELSE -1 END",
]


def re2_replacement(trino: str) -> str:
    """A Trino (Java) replacement string as RE2's: `$n` -> `\\n`, `\\c` -> the character c."""
    out: list[str] = []
    i = 0
    while i < len(trino):
        ch = trino[i]
        if ch == "\\" and i + 1 < len(trino):
            nxt = trino[i + 1]
            out.append("\\\\" if nxt == "\\" else nxt)
            i += 2
        elif ch == "$":
            if i + 1 < len(trino) and trino[i + 1].isdigit():
                out.append("\\" + trino[i + 1])
                i += 2
            else:
                refuse(f"regexp_replace replacement '{trino}'", "only $0-$9 group references are translated")
        elif ch == "\\":
            refuse(f"regexp_replace replacement '{trino}'", "a trailing backslash is an error in Trino")
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def rewrite(node: exp.Expr) -> exp.Expr | None:
    if isinstance(node, exp.Anonymous) and node.name.lower() == "regexp_position":
        if len(node.expressions) != 2:
            refuse("regexp_position(s, p, start[, occurrence])", "only the two-argument form is translated")
        return call("gg_regexp_position", *node.expressions)
    if isinstance(node, exp.RegexpExtract):
        group = node.args.get("group") or exp.Literal.number(0)
        return call("gg_regexp_extract", node.this, node.expression, group)
    if isinstance(node, exp.RegexpReplace):
        replacement = node.args.get("replacement")
        if replacement is None:
            return None
        text = string_literal(replacement)
        if text is None:
            refuse("regexp_replace(s, p, <computed replacement>)", "only a literal replacement string is translated")
        new = node.copy()
        new.set("replacement", exp.Literal.string(re2_replacement(text)))
        return new
    return None


REWRITES = [rewrite]
