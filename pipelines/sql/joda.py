"""Joda-Time patterns (Trino's `format_datetime` / `parse_datetime`) as DuckDB strftime formats."""

from __future__ import annotations

from pipelines.sql.dialects import TranspileError

_JODA: dict[str, str] = {
    "yyyy": "%Y", "yyy": "%Y", "y": "%Y", "yy": "%y", "YYYY": "%Y", "YY": "%y", "Y": "%Y",
    "xxxx": "%G", "x": "%G",
    "MMMM": "%B", "MMM": "%b", "MM": "%m", "M": "%-m",
    "dd": "%d", "d": "%-d",
    "DDD": "%j", "D": "%-j",
    "EEEE": "%A", "EEE": "%a", "EE": "%a", "E": "%a", "e": "%u",
    "HH": "%H", "H": "%-H", "hh": "%I", "h": "%-I",
    "mm": "%M", "m": "%-M", "ss": "%S", "s": "%-S",
    "SSS": "%g", "SSSSSS": "%f", "SSSSSSSSS": "%n",
    "a": "%p",
    "ww": "%V", "w": "%-V",
    "Z": "%z", "ZZ": "%z", "z": "%Z", "zzzz": "%Z",
}  # fmt: skip


def joda_to_strftime(pattern: str) -> str:
    """A Joda-Time pattern (Trino's `format_datetime`/`parse_datetime`) as a DuckDB strftime format.

    Letters repeat to give width (`yyyy`, `MM`, `dd`, `HH`, `mm`, `ss`, `SSS`, `EEE`, `MMM`, ...);
    text in single quotes is literal (`''` is a quote). Raises `TranspileError` on a pattern letter
    without a strftime equivalent (e.g. `G`, `C`, `K`, `k`, `S` not 3, 6 or 9 wide).
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "'":
            if i + 1 < n and pattern[i + 1] == "'":
                out.append("'")
                i += 2
                continue
            end = pattern.find("'", i + 1)
            while end != -1 and end + 1 < n and pattern[end + 1] == "'":
                end = pattern.find("'", end + 2)
            if end == -1:
                raise TranspileError(f"unterminated quote in the Joda pattern {pattern!r}")
            out.append(pattern[i + 1 : end].replace("''", "'").replace("%", "%%"))
            i = end + 1
            continue
        if ch.isalpha():
            j = i
            while j < n and pattern[j] == ch:
                j += 1
            run = pattern[i:j]
            code = _JODA.get(run) or (_JODA.get(ch * 4) if ch in "yMEz" and len(run) > 4 else None)
            if code is None:
                raise TranspileError(f"the Joda pattern letter run {run!r} in {pattern!r} has no strftime equivalent")
            out.append(code)
            i = j
            continue
        out.append("%%" if ch == "%" else ch)
        i += 1
    return "".join(out)


__all__ = ["joda_to_strftime"]
