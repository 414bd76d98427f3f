"""Token-level edits of SQL text that keep everything else as written: catalog table renames
(`rename_catalog_tables_text`) and the splice of token spans that carries them out (`apply_edits`).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import tokens


def rename_catalog_tables_text(sql: str, catalog: str, schema: str, mapping: Mapping[str, str]) -> str:
    """Replace `<catalog>.<schema>.<name>` table names by `<catalog>.<schema>."<mapping[name]>"` in
    the text (e.g. `dynamodb.default.catalog` -> `dynamodb.default."gitgoods-catalog"`)."""
    toks = tokens.Tokenizer().tokenize(sql)
    edits = []
    for i in range(len(toks) - 4):
        a, d1, b, d2, c = toks[i : i + 5]
        if (
            a.text.lower() == catalog.lower()
            and d1.token_type == tokens.TokenType.DOT
            and b.text.lower() == schema.lower()
            and d2.token_type == tokens.TokenType.DOT
            and c.text.lower() in mapping
            and (i + 5 >= len(toks) or toks[i + 5].token_type != tokens.TokenType.DOT)
        ):
            target = mapping[c.text.lower()].replace('"', '""')
            edits.append((c.start, c.end, f'"{target}"'))  # a quoted name's span includes its quotes
    return apply_edits(sql, edits)


def apply_edits(sql: str, edits: list[tuple[int, int, str]]) -> str:
    """`sql` with each `(start, end, text)` token span (`end` inclusive) replaced by `text`."""
    out, last = [], 0
    for start, end, text in sorted(edits):
        out.append(sql[last:start])
        out.append(text)
        last = end + 1
    out.append(sql[last:])
    return "".join(out)


__all__ = ["apply_edits", "rename_catalog_tables_text"]
