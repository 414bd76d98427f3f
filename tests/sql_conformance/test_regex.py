"""Trino's regular expression functions: https://trino.io/docs/current/functions/regexp.html
(values from the page's examples; a function that finds no match returns NULL)."""

from __future__ import annotations

from pipelines.sql.duckdb_engine import DuckDBEngine
from tests.sql_conformance.harness import Case, cases, check

R = "functions/regexp.html"


@cases(
    Case("regexp_like('1a 2b 14m', '\\d+b')", True, "boolean", doc=f"{R}#regexp_like"),
    Case("regexp_like('1a 2b 14m', 'x')", False, "boolean", doc=f"{R}#regexp_like"),
    Case("regexp_extract('1a 2b 14m', '\\d+')", "1", "varchar", doc=f"{R}#regexp_extract"),
    Case("regexp_extract('1a 2b 14m', '(\\d+)([a-z]+)', 2)", "a", "varchar", doc=f"{R}#regexp_extract"),
    Case("regexp_extract('abc', '\\d+')", None, "varchar", doc=f"{R}#regexp_extract"),
    Case("regexp_extract('abc', '(\\d+)([a-z]+)', 2)", None, "varchar", doc=f"{R}#regexp_extract"),
    Case("regexp_extract(CAST(NULL AS varchar), '\\d+')", None, "varchar", doc=f"{R}#regexp_extract"),
    Case("regexp_extract('ab', 'a(b?)', 1)", "b", "varchar", doc=f"{R}#regexp_extract"),
    Case("regexp_extract('a', 'a(b*)', 1)", "", "varchar", doc=f"{R}#regexp_extract"),
    Case("regexp_extract('b', '(a)|(b)', 1)", None, "varchar", doc=f"{R}#regexp_extract"),
    Case("regexp_extract('b', '(a)|(b)', 2)", "b", "varchar", doc=f"{R}#regexp_extract"),
    Case("regexp_extract_all('b1 a2', '(a)?[0-9]', 1)", [None, "a"], "array(varchar)",
         doc=f"{R}#regexp_extract_all"),  # fmt: skip
    Case("regexp_extract_all('1a 2b 14m', '\\d+')", ["1", "2", "14"], "array(varchar)",
         doc=f"{R}#regexp_extract_all"),  # fmt: skip
    Case("regexp_extract_all('1a 2b 14m', '(\\d+)([a-z]+)', 2)", ["a", "b", "m"], "array(varchar)",
         doc=f"{R}#regexp_extract_all"),  # fmt: skip
    Case("regexp_extract_all('abc', '\\d+')", [], "array(varchar)", doc=f"{R}#regexp_extract_all"),
    Case("regexp_replace('1a 2b 14m', '\\d+[ab] ')", "14m", "varchar", doc=f"{R}#regexp_replace"),
    Case("regexp_replace('1a 2b 14m', '(\\d+)([ab]) ', '3c$2 ')", "3ca 3cb 14m", "varchar",
         doc=f"{R}#regexp_replace"),  # fmt: skip
    Case("regexp_replace('price', 'p(r)', '\\$$1')", "$rice", "varchar", doc=f"{R}#regexp_replace"),
    Case("regexp_count('1a 2b 14m', '\\s*[a-z]+\\s*')", 3, "bigint", doc=f"{R}#regexp_count"),
    Case("regexp_split('1a 2b 14m', '\\s*[a-z]+\\s*')", ["1", "2", "14", ""], "array(varchar)",
         doc=f"{R}#regexp_split"),  # fmt: skip
    Case("regexp_position('I have 23 apples, 5 pears and 13 oranges', '\\b\\d+\\b')", 8, "integer",
         doc=f"{R}#regexp_position"),  # fmt: skip
    Case("regexp_position('abc', '\\d')", -1, "integer", doc=f"{R}#regexp_position"),
    Case("regexp_position('a1b2', '\\d', 1, 2)", error="regexp_position", doc=f"{R}#regexp_position"),
    Case("regexp_position(CAST(NULL AS varchar), 'a')", None, "integer", doc=f"{R}#regexp_position"),
    Case("regexp_replace(CAST(NULL AS varchar), 'a', 'b')", None, "varchar", doc=f"{R}#regexp_replace"),
    Case("SELECT regexp_extract(name, '[0-9]+') FROM marts_sample WHERE id = 1", None, "varchar",
         doc=f"{R}#regexp_extract"),  # fmt: skip
    Case("SELECT regexp_replace(name, '(o)', '[$1]') FROM marts_sample WHERE id = 2", "D[o][o]m", "varchar",
         doc=f"{R}#regexp_replace"),  # fmt: skip
    Case("SELECT regexp_replace(name, 'o', note) FROM marts_sample WHERE id = 2", None,
         error="regexp_replace", doc=f"{R}#regexp_replace"),  # fmt: skip
)
def test_regexp_functions(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)
