"""Trino's `format`: https://trino.io/docs/current/functions/conversion.html#format (Java's
String.format, whose Formatter syntax the page links: `%s` prints a value's text, `%d` an integer,
`%.Nf` rounds half up, `%%` is a percent sign, a width pads, `-` left-justifies, `0` pads with
zeros, `,` groups thousands; a NULL argument prints `null`)."""

from __future__ import annotations

from pipelines.sql.duckdb_engine import DuckDBEngine
from tests.sql_conformance.harness import Case, cases, check

F = "functions/conversion.html#format"


@cases(
    Case("format('%s%%', 123)", "123%", "varchar", doc=F),
    Case("format('%s=%d', 'x', 5)", "x=5", "varchar", doc=F),
    Case("format('%.2f', 3.14159)", "3.14", "varchar", doc=F),
    Case("format('%.2f', 2.675)", "2.68", "varchar", doc=F),
    Case("format('%.1f', -0.25)", "-0.3", "varchar", doc=F),
    Case("format('%f', 1.5)", "1.500000", "varchar", doc=F),
    Case("format('%s', 1.5e0)", "1.5", "varchar", doc=F),
    Case("format('%s', 1e7)", "1.0E7", "varchar", doc=F),
    Case("format('%s', true)", "true", "varchar", doc=F),
    Case("format('%2$s-%1$s', 'a', 'b')", "b-a", "varchar", doc=F),
    Case("format('%s', CAST(NULL AS varchar))", "null", "varchar", doc=F),
    Case("SELECT format('%s: %.1f', name, price) FROM marts_sample ORDER BY id",
         ["Zelda: 10.3", "Doom: 3.1", "Tetris: 100.0", "Halo: 0.0"], "varchar", doc=F, rows=True),  # fmt: skip
    Case("SELECT format('%s/%s', name, note) FROM marts_sample WHERE id = 1", "Zelda/null", "varchar", doc=F),
    # the page's own examples
    Case("format('%.5f', pi())", "3.14159", "varchar", doc=F),
    Case("format('%03d', 8)", "008", "varchar", doc=F),
    Case("format('%,.2f', 1234567.89)", "1,234,567.89", "varchar", doc=F),
    Case("format('%-7s,%7s', 'hello', 'world')", "hello  ,  world", "varchar", doc=F),
    Case("format('%2$s %3$s %1$s', 'a', 'b', 'c')", "b c a", "varchar", doc=F),
    Case("format('%1$tA, %1$tB %1$te, %1$tY', date '2006-07-04')", error="format specifier", doc=F),
    # widths and flags as Java's Formatter (linked from the page)
    Case("format('%05d', -8)", "-0008", "varchar", doc=F),
    Case("format('%,d', -1234567)", "-1,234,567", "varchar", doc=F),
    Case("format('%3d|%-4d|', 12345, 42)", "12345|42  |", "varchar", doc=F),
    Case("format('%.2f', nan())", "NaN", "varchar", doc=F),
    Case("format('%.3f', -2.5e0)", "-2.500", "varchar", doc=F),
    Case("format('%x', 255)", error="%x", doc=F),
    Case("format('%05s', 'a')", error="%05s", doc=F),
    Case("SELECT format(name, 1) FROM marts_sample", error="format", doc=F),
)
def test_format(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)
