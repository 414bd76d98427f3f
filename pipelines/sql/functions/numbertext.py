"""Doubles and reals as text, as Trino prints them (DuckDB prints `1.5`, `10000000.0`, `1e-05`):

- `gg_double_to_varchar(x)`: `CAST(double AS varchar)`, Trino's `DecimalFormat("0.0###################E0")`
  (the SQL standard's approximate numeric literal): `1.5E0`, `1.0E7`, `-5.0E-1`, `0E0`, `NaN`,
  `Infinity`; the digits are the shortest that read back as the same double;
- `gg_real_to_varchar(x)`: `CAST(real AS varchar)`, `DecimalFormat("0.0#####E0")`: at most 7
  significant digits, rounded half to even;
- `gg_java_double_text(x)`: Java's `Double.toString` / `Float.toString` (what `format('%s', x)`
  prints): plain for 1e-3 <= |x| < 1e7 (`1.5`, `100.0`), else `1.0E7`, `1.0E-4`.

All start from DuckDB's shortest text of the value, split into its significant digits and the
exponent of the first one (`gg_num_digits`).
"""

from __future__ import annotations

MACROS = [
    # {'d': significant digits without leading/trailing zeros, 'e': the decimal exponent of the first};
    # no subqueries (the macros are used inside lambdas): intermediate values are macro parameters
    "CREATE OR REPLACE MACRO gg_num_parts(m_int, m_frac, ex) AS {'d': rtrim(ltrim(m_int || m_frac, '0'), '0'),"
    " 'e': length(m_int) - 1 + ex - (length(m_int || m_frac) - length(ltrim(m_int || m_frac, '0')))}",
    "CREATE OR REPLACE MACRO gg_num_text_digits(t) AS gg_num_parts(split_part(split_part(t, 'e', 1), '.', 1),"
    " split_part(split_part(t, 'e', 1), '.', 2),"
    " CASE WHEN t LIKE '%e%' THEN CAST(split_part(t, 'e', 2) AS INTEGER) ELSE 0 END)",
    "CREATE OR REPLACE MACRO gg_num_digits(a) AS gg_num_text_digits(CAST(a AS VARCHAR))",
    "CREATE OR REPLACE MACRO gg_num_sci(d, e) AS"
    " substr(d, 1, 1) || '.' || coalesce(nullif(substr(d, 2), ''), '0') || 'E' || e",
    "CREATE OR REPLACE MACRO gg_num_sci_of(r) AS gg_num_sci(struct_extract(r, 'd'), struct_extract(r, 'e'))",
    "CREATE OR REPLACE MACRO gg_num_plain(d, e) AS CASE"
    " WHEN e < 0 THEN '0.' || repeat('0', -e - 1) || d"
    " WHEN length(d) <= e + 1 THEN d || repeat('0', e + 1 - length(d)) || '.0'"
    " ELSE substr(d, 1, e + 1) || '.' || substr(d, e + 2) END",
    "CREATE OR REPLACE MACRO gg_num_plain_of(r) AS gg_num_plain(struct_extract(r, 'd'), struct_extract(r, 'e'))",
    # digits d rounded half to even to at most n significant ones (exact in a double for a real's
    # at most 9 digits and n = 7: a tie is exactly .5)
    "CREATE OR REPLACE MACRO gg_num_rounded(m, e, n) AS CASE WHEN m >= pow(10, n) THEN {'d': '1', 'e': e + 1}"
    " ELSE {'d': rtrim(CAST(CAST(m AS BIGINT) AS VARCHAR), '0'), 'e': e} END",
    "CREATE OR REPLACE MACRO gg_num_round(r, n) AS CASE WHEN length(struct_extract(r, 'd')) <= n THEN r"
    " ELSE gg_num_rounded(round_even(CAST(struct_extract(r, 'd') AS DOUBLE)"
    " / pow(10, length(struct_extract(r, 'd')) - n), 0), struct_extract(r, 'e'), n) END",
    "CREATE OR REPLACE MACRO gg_num_special(x, zero) AS CASE"
    " WHEN isnan(x) THEN 'NaN'"
    " WHEN isinf(x) THEN CASE WHEN x > 0 THEN 'Infinity' ELSE '-Infinity' END"
    " WHEN x = 0 THEN CASE WHEN CAST(x AS VARCHAR) LIKE '-%' THEN '-' || zero ELSE zero END END",
    "CREATE OR REPLACE MACRO gg_num_sign(x) AS CASE WHEN x < 0 THEN '-' ELSE '' END",
    "CREATE OR REPLACE MACRO gg_double_to_varchar(x) AS coalesce(gg_num_special(x, '0E0'),"
    " gg_num_sign(x) || gg_num_sci_of(gg_num_digits(abs(x))))",
    "CREATE OR REPLACE MACRO gg_real_to_varchar(x) AS coalesce(gg_num_special(x, '0E0'),"
    " gg_num_sign(x) || gg_num_sci_of(gg_num_round(gg_num_digits(abs(x)), 7)))",
    "CREATE OR REPLACE MACRO gg_java_double_text(x) AS coalesce(gg_num_special(x, '0.0'),"
    " gg_num_sign(x) || CASE WHEN abs(x) >= 1e-3 AND abs(x) < 1e7"
    " THEN gg_num_plain_of(gg_num_digits(abs(x))) ELSE gg_num_sci_of(gg_num_digits(abs(x))) END)",
]
