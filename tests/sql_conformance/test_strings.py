"""Trino's string functions: https://trino.io/docs/current/functions/string.html (values from the
page's examples and its stated semantics; positions 1-based)."""

from __future__ import annotations

import pytest

from pipelines.sql.duckdb_engine import DuckDBEngine
from tests.sql_conformance.harness import Case, cases, check

S = "functions/string.html"


@cases(
    Case("concat('a', 'b', 'c')", "abc", "varchar", doc=f"{S}#concat"),
    Case("concat('a', NULL)", None, "varchar", doc=f"{S}#concat"),
    Case("'a' || 'b'", "ab", "varchar", doc=f"{S}#string-operators"),
    Case("'a' || NULL", None, "varchar", doc=f"{S}#string-operators"),
    Case("concat_ws(',', 'a', NULL, 'b')", "a,b", "varchar", doc=f"{S}#concat_ws"),
    Case("length('hello')", 5, "bigint", doc=f"{S}#length"),
    Case("length('')", 0, "bigint", doc=f"{S}#length"),
    Case("length(CAST(NULL AS varchar))", None, "bigint", doc=f"{S}#length"),
    Case("lower('AbC')", "abc", "varchar", doc=f"{S}#lower"),
    Case("upper('AbC')", "ABC", "varchar", doc=f"{S}#upper"),
    Case("trim('  a b  ')", "a b", "varchar", doc=f"{S}#trim"),
    Case("trim(chr(9) || ' a' || chr(10) || chr(13))", "a", "varchar", doc=f"{S}#trim"),
    Case("ltrim(chr(12) || 'a ')", "a ", "varchar", doc=f"{S}#ltrim"),
    Case("trim(BOTH 'x' FROM 'xxaxx')", "a", "varchar", doc=f"{S}#trim"),
    Case("trim(LEADING FROM '  a  ')", "a  ", "varchar", doc=f"{S}#trim"),
    Case("ltrim('  a  ')", "a  ", "varchar", doc=f"{S}#ltrim"),
    Case("rtrim('  a  ')", "  a", "varchar", doc=f"{S}#rtrim"),
    Case("lpad('ab', 5, 'xy')", "xyxab", "varchar", doc=f"{S}#lpad"),
    Case("lpad('abcdef', 3, 'x')", "abc", "varchar", doc=f"{S}#lpad"),
    Case("rpad('ab', 5, 'xy')", "abxyx", "varchar", doc=f"{S}#rpad"),
    Case("replace('abcabc', 'b')", "acac", "varchar", doc=f"{S}#replace"),
    Case("replace('abcabc', 'b', 'X')", "aXcaXc", "varchar", doc=f"{S}#replace"),
    Case("replace('abc', '', 'x')", "xaxbxcx", "varchar", doc=f"{S}#replace"),
    Case("SELECT replace(name, note, '!') FROM marts_sample ORDER BY id", [None, "Doom", None, None], "varchar",
         doc=f"{S}#replace", rows=True),  # fmt: skip
    Case("reverse('abc')", "cba", "varchar", doc=f"{S}#reverse"),
    Case("split('a.b.c', '.')", ["a", "b", "c"], "array(varchar)", doc=f"{S}#split"),
    Case("split('a.b.c', '.', 2)", ["a", "b.c"], "array(varchar)", doc=f"{S}#split"),
    Case("split('a.b.c', '.', 1)", ["a.b.c"], "array(varchar)", doc=f"{S}#split"),
    Case("split('a.b.c', '.', 5)", ["a", "b", "c"], "array(varchar)", doc=f"{S}#split"),
    Case("split(CAST(NULL AS varchar), '.', 2)", None, "array(varchar)", doc=f"{S}#split"),
    Case("strpos(CAST(NULL AS varchar), 'b', 1)", None, "bigint", doc=f"{S}#strpos"),
    Case("strpos('abc', CAST(NULL AS varchar), 1)", None, "bigint", doc=f"{S}#strpos"),
    Case("split_part(CAST(NULL AS varchar), ',', 1)", None, "varchar", doc=f"{S}#split_part"),
    Case("codepoint(CAST(NULL AS varchar))", None, "integer", doc=f"{S}#codepoint"),
    Case("replace(CAST(NULL AS varchar), '', 'x')", None, "varchar", doc=f"{S}#replace"),
    Case("split_part('a,b,c', ',', 2)", "b", "varchar", doc=f"{S}#split_part"),
    Case("split_part('a,b,c', ',', 4)", None, "varchar", doc=f"{S}#split_part"),
    Case("split_part('a,,c', ',', 2)", "", "varchar", doc=f"{S}#split_part"),
    Case("strpos('high', 'ig')", 2, "bigint", doc=f"{S}#strpos"),
    Case("strpos('high', 'x')", 0, "bigint", doc=f"{S}#strpos"),
    Case("strpos('abcabc', 'b', 2)", 5, "bigint", doc=f"{S}#strpos"),
    Case("strpos('abcabc', 'b', -1)", 5, "bigint", doc=f"{S}#strpos"),
    Case("strpos('abcabc', 'b', -2)", 2, "bigint", doc=f"{S}#strpos"),
    Case("strpos('abcabc', 'b', 3)", 0, "bigint", doc=f"{S}#strpos"),
    Case("strpos('abc', '', 2)", 1, "bigint", doc=f"{S}#strpos"),
    Case("strpos('aaa', 'aa', 2)", 2, "bigint", doc=f"{S}#strpos"),
    Case("position('ig' IN 'high')", 2, "bigint", doc=f"{S}#position"),
    Case("substr('hello', 2)", "ello", "varchar", doc=f"{S}#substr"),
    Case("substr('hello', 2, 3)", "ell", "varchar", doc=f"{S}#substr"),
    Case("substr('hello', -3)", "llo", "varchar", doc=f"{S}#substr"),
    Case("substr('hello', -3, 2)", "ll", "varchar", doc=f"{S}#substr"),
    Case("substr('hello', 0)", "", "varchar", doc=f"{S}#substr"),
    Case("substr('hello', 0, 2)", "", "varchar", doc=f"{S}#substr"),
    Case("substr('hello', -10)", "", "varchar", doc=f"{S}#substr"),
    Case("substr('hello', -5, 2)", "he", "varchar", doc=f"{S}#substr"),
    Case("substr('hello', 2, -1)", "", "varchar", doc=f"{S}#substr"),
    Case("substr('hello', 6)", "", "varchar", doc=f"{S}#substr"),
    Case("substr(CAST(NULL AS varchar), 2)", None, "varchar", doc=f"{S}#substr"),
    Case("substring('hello', 2, 3)", "ell", "varchar", doc=f"{S}#substring"),
    Case("starts_with('hello', 'he')", True, "boolean", doc=f"{S}#starts_with"),
    Case("starts_with('hello', 'lo')", False, "boolean", doc=f"{S}#starts_with"),
    Case("chr(65)", "A", "varchar", doc=f"{S}#chr"),
    Case("codepoint('A')", 65, "integer", doc=f"{S}#codepoint"),
    Case("levenshtein_distance('kitten', 'sitting')", 3, "bigint", doc=f"{S}#levenshtein_distance"),
    Case("hamming_distance('abc', 'abd')", 1, "bigint", doc=f"{S}#hamming_distance"),
    Case("translate('abcd', 'ab', 'z')", "zcd", "varchar", doc=f"{S}#translate"),
    Case("SELECT upper(name) FROM marts_sample ORDER BY id", ["ZELDA", "DOOM", "TETRIS", "HALO"], "varchar",
         doc=f"{S}#upper", rows=True),  # fmt: skip
    Case("SELECT length(note) FROM marts_sample ORDER BY id", [None, 4, None, None], "bigint", doc=f"{S}#length",
         rows=True),  # fmt: skip
    Case("SELECT substr(note, -2) FROM marts_sample ORDER BY id", [None, "te", None, None], "varchar",
         doc=f"{S}#substr", rows=True),  # fmt: skip
    Case("SELECT concat(name, note) FROM marts_sample ORDER BY id", [None, "Doomlate", None, None], "varchar",
         doc=f"{S}#concat", rows=True),  # fmt: skip
    Case("concat('a', 1)", error="concat", doc=f"{S}#concat"),
    Case("'a' || CAST(1 AS bigint)", error="concat", doc=f"{S}#string-operators"),
    Case("SELECT split(name, 'o', 2) FROM marts_sample WHERE id = 2", ["D", "om"], "array(varchar)",
         doc=f"{S}#split"),  # fmt: skip
)
def test_string_functions(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)


@pytest.mark.parametrize(
    "sql",
    [
        "split('a.b', '.', 0)",
        "split('ab', '', 2)",
        "split_part('a.b', '.', 0)",
        "codepoint('ab')",
        "lpad('ab', -1, 'x')",
        "strpos('abc', 'b', 0)",
    ],
)
def test_invalid_arguments_fail(engine: DuckDBEngine, sql: str) -> None:
    # Trino rejects a limit/index/instance of 0, an empty split delimiter, a negative pad length and a
    # codepoint of more than one character (StringFunctions: 'Limit must be positive', ...)
    from pipelines.sql.engine import SqlError

    with pytest.raises(SqlError):
        engine.query(f"SELECT {sql}")
