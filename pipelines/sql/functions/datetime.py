"""Date and time (https://trino.io/docs/current/functions/datetime.html): a timestamp with time zone
is read in its own zone.

Trino's `timestamp with time zone` carries its zone with each value; DuckDB's TIMESTAMPTZ is an
instant shown in the session zone (UTC here, as on Athena). The instant is kept in DuckDB and the
zone is followed on the syntax tree (in the node's `meta`), from where it is stated:

- `TIMESTAMP '... America/New_York'` (or `+01:00`), `x AT TIME ZONE z`, `at_timezone(x, z)`,
  `with_timezone(ts, z)`, `from_unixtime(n, z)`, `from_iso8601_timestamp('...+01:00')` give a
  value whose zone is known; every other timestamp with time zone is in the session zone (UTC);
- the fields (`hour`, `day`, `extract`, ...), `date_format`, `format_datetime`, `date_trunc`,
  `date_add` of a day or longer, `last_day_of_month`, `to_iso8601` and the casts to date,
  timestamp and varchar read the wall-clock time in that zone (`timezone(z, x)`);
- `from_iso8601_timestamp` of a column: each value has its text's offset; its fields read the
  text's wall clock;
- a zone that cannot be followed (a value of another zone passed out of a subquery or a CTE,
  operands of different zones, `date_trunc` of a value whose zone varies from row to row, the
  zone's offset) is refused rather than read as UTC.

Also: `extract` fields DuckDB names otherwise (DOW is ISO, 1 = Monday), `yow`, `millisecond`,
`from_iso8601_date` of week and ordinal dates, `to_iso8601`, `parse_datetime` (a timestamp with
time zone) and `date_diff` (whole units, as Trino counts them).
"""

from __future__ import annotations

import re

from sqlglot import exp

from pipelines.sql.dialects import ATHENA, TranspileError
from pipelines.sql.functions import call, refuse
from pipelines.sql.joda import joda_to_strftime

ZONE = "gg_zone"  # meta key: the zone expression of a timestamp with time zone
UNKNOWN = "unknown"  # ... or this, when the zone differs from value to value
LOCAL = "gg_local"  # meta key: an expression of the wall clock, where the zone differs from value to value
_DAY_OR_LONGER = {"DAY", "WEEK", "MONTH", "QUARTER", "YEAR", "DAYS", "WEEKS", "MONTHS", "QUARTERS", "YEARS"}
_TZ = exp.DataType.Type.TIMESTAMPTZ
_LITERAL = re.compile(
    r"^\s*(?P<local>\d{4}-\d{2}-\d{2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?)\s*"
    r"(?P<zone>[A-Za-z][\w/+\-]*|[+-]\d{2}:?\d{2})?\s*$"
)
_ISO_OFFSET = re.compile(r"(?:T[\d:.]+)(?P<zone>Z|[+-]\d{2}(?::?\d{2})?)$")
_FIELDS = (exp.Year, exp.Month, exp.Day, exp.DayOfMonth, exp.Hour, exp.Minute, exp.Second, exp.DayOfWeekIso,
           exp.DayOfYear, exp.WeekOfYear, exp.Quarter, exp.YearOfWeek, exp.LastDay, exp.TimeToStr)  # fmt: skip
# Trino's extract fields DuckDB names otherwise (DuckDB's DOW counts from Sunday = 0)
_EXTRACT = {"DAY_OF_WEEK": "ISODOW", "DOW": "ISODOW", "DAY_OF_YEAR": "DOY", "YEAR_OF_WEEK": "ISOYEAR",
            "YOW": "ISOYEAR", "DAY_OF_MONTH": "DAY"}  # fmt: skip


def _cast(node: exp.Expr, to: str) -> exp.Cast:
    return exp.Cast(this=node, to=exp.DataType.build(to))


def _zoned(node: exp.Expr, zone: exp.Expr | str) -> exp.Expr:
    node.meta[ZONE] = zone
    return node


def _duckdb_zone(text: str) -> str:
    """A Trino zone as ICU knows it: an offset `+01:00` is `GMT+01:00`."""
    if re.fullmatch(r"[+-]\d{2}:?\d{2}", text):
        return f"GMT{text[:3]}:{text[-2:]}"
    return "UTC" if text == "Z" else text


def _trino_zone(zone: exp.Expr | str) -> exp.Expr:
    """A zone as Trino prints it: `GMT+01:00` (ICU's name for an offset) is `+01:00`."""
    assert isinstance(zone, exp.Expr)
    if isinstance(zone, exp.Literal) and re.fullmatch(r"GMT[+-]\d{2}:\d{2}", zone.this):
        return exp.Literal.string(zone.this[3:])
    return zone.copy()


def _zone_arg(zone: exp.Expr) -> exp.Expr:
    if isinstance(zone, exp.Literal) and zone.is_string:
        return exp.Literal.string(_duckdb_zone(zone.this))
    return zone


def zone_of(node: exp.Expr | None) -> exp.Expr | str | None:
    """The zone of a timestamp with time zone whose zone is not the session's (UTC), or None."""
    if node is None:
        return None
    zone = node.meta_get(ZONE)
    if isinstance(zone, exp.Literal) and zone.this.upper() in ("UTC", "Z", "+00:00", "GMT"):
        return None
    return zone


def _local(node: exp.Expr) -> exp.Expr:
    """The wall-clock timestamp of `node` in its own zone (itself when not a zoned value)."""
    zone = zone_of(node)
    if zone is None:
        return node
    if node.meta_get(LOCAL) is not None:
        return node.meta[LOCAL].copy()
    return call("TIMEZONE", _known_zone(node).copy(), node)


def _known_zone(node: exp.Expr) -> exp.Expr:
    zone = zone_of(node)
    if not isinstance(zone, exp.Expr):
        refuse(node.sql(ATHENA), "its time zone varies from row to row and the embedded engine keeps only instants")
    return zone


def _on_wall_clock(node: exp.Expr) -> exp.Expr:
    """`node` computed on the wall clock of its zoned operand (`this`), seen again in that zone."""
    zone = _known_zone(node.this)
    node.set("this", _local(node.this))
    return _zoned(call("TIMEZONE", zone.copy(), node), zone)


def _unit(node: exp.Expr) -> str:
    unit = node.args.get("unit")
    return unit.name.upper() if unit is not None else "DAY"


def _literal(node: exp.Expr) -> exp.Expr | None:
    """`TIMESTAMP '2020-01-01 10:00 America/New_York'` -> the instant, its zone followed."""
    if not (isinstance(node, exp.Cast) and node.to.this == _TZ and isinstance(node.this, exp.Literal)):
        return None
    match = _LITERAL.match(node.this.this)
    if match is None or not match["zone"]:
        return None
    zone = exp.Literal.string(_duckdb_zone(match["zone"]))
    local = _cast(exp.Literal.string(match["local"]), "TIMESTAMP")
    return _zoned(call("TIMEZONE", zone, local), zone.copy())


def _conversions(node: exp.Expr) -> exp.Expr | None:
    """The functions that give a timestamp with time zone of a known zone."""
    if isinstance(node, exp.AtTimeZone) or (isinstance(node, exp.Anonymous) and node.name.lower() == "at_timezone"):
        this, zone = (node.this, node.args["zone"]) if isinstance(node, exp.AtTimeZone) else node.expressions
        # the same instant (a timestamp without zone is one of the session zone, UTC) seen in `zone`
        instant = this if this.meta_get(ZONE) is not None or _is_tz(this) else _cast(this, "TIMESTAMPTZ")
        return _zoned(exp.Paren(this=instant), _zone_arg(zone))
    if isinstance(node, exp.Anonymous) and node.name.lower() == "with_timezone" and len(node.expressions) == 2:
        this, zone = node.expressions
        return _zoned(call("TIMEZONE", _zone_arg(zone), _cast(this, "TIMESTAMP")), _zone_arg(zone))
    if isinstance(node, exp.UnixToTime) and node.args.get("hours") is not None:
        refuse("from_unixtime(unixtime, hours, minutes)", "a zone given as hours and minutes is not followed")
    if isinstance(node, exp.UnixToTime) and node.args.get("zone") is not None:
        zone = _zone_arg(node.args["zone"])
        return _zoned(call("TO_TIMESTAMP", node.this), zone)
    if isinstance(node, exp.FromISO8601Timestamp):
        text = node.this
        if isinstance(text, exp.Literal) and text.is_string:
            match = _ISO_OFFSET.search(text.this)
            instant = _cast(text, "TIMESTAMPTZ")
            return _zoned(instant, exp.Literal.string(_duckdb_zone(match["zone"]))) if match else instant
        # each value has the zone its text gives: its wall clock is the text without its offset
        parsed = _zoned(call("gg_from_iso8601_timestamp", text), UNKNOWN)
        parsed.meta[LOCAL] = call("gg_iso8601_local", text.copy())
        return parsed
    if isinstance(node, exp.FromISO8601Date):
        return call("gg_from_iso8601_date", node.this)
    if isinstance(node, exp.ParseDatetime):
        strftime = joda_to_strftime(_pattern(node.args["format"], "parse_datetime"))
        if "%z" in strftime or "%Z" in strftime:
            refuse("parse_datetime with a time zone in the pattern", "the zone read is not followed")
        return _cast(call("STRPTIME", node.this, exp.Literal.string(strftime)), "TIMESTAMPTZ")
    return None


def _pattern(node: exp.Expr, what: str) -> str:
    if isinstance(node, exp.Literal) and node.is_string:
        return node.this
    raise TranspileError(f"{what} needs a string literal pattern, got {node.sql(ATHENA)}")


def _is_tz(node: exp.Expr) -> bool:
    kind = node.to if isinstance(node, exp.Cast) else getattr(node, "type", None)
    return kind is not None and kind.this == _TZ


# MySQL specifiers Trino does not support (%D %U %u %V %w %X), as sqlglot writes them after parsing
_UNSUPPORTED_MYSQL = {"%D": "%D", "%U": "%U", "%W": "%u", "%V": "%V", "%w": "%w", "%X": "%X"}


def _mysql_formats(node: exp.Expr) -> exp.Expr | None:
    """`date_format` / `date_parse` with a specifier Trino refuses: refused here too (DuckDB would answer)."""
    if not isinstance(node, exp.TimeToStr | exp.StrToTime):
        return None
    fmt = node.args.get("format")
    if isinstance(fmt, exp.Literal) and fmt.is_string:
        for spec in re.findall(r"%.", fmt.this):
            if spec in _UNSUPPORTED_MYSQL:
                name = "date_format" if isinstance(node, exp.TimeToStr) else "date_parse"
                refuse(f"{name} with {_UNSUPPORTED_MYSQL[spec]}", "Trino does not support this specifier")
    return None


def _readers(node: exp.Expr) -> exp.Expr | None:
    """The functions that read the wall-clock fields of their argument."""
    if isinstance(node, _FIELDS) and zone_of(node.this) is not None:
        node.set("this", _local(node.this))
        return node
    offset = isinstance(node, exp.Anonymous) and node.name.lower() in ("timezone_hour", "timezone_minute")
    if (offset or (isinstance(node, exp.Extract) and node.this.name.upper().startswith("TIMEZONE_"))) and zone_of(
        node.expressions[0] if offset else node.expression
    ) is not None:
        refuse(f"the time zone offset of {node.sql(ATHENA)}", "the embedded engine keeps only instants in UTC")
    if isinstance(node, exp.Extract):
        field, value = node.this.name.upper(), node.expression
        if zone_of(value) is None and not _is_tz(value) and field not in _EXTRACT:
            return None
        # a UTC timestamp with time zone: its wall clock is the plain timestamp (the session zone is UTC)
        node.set("expression", _local(value) if zone_of(value) is not None else _cast(value, "TIMESTAMP"))
        node.set("this", exp.var(_EXTRACT.get(field, field)))
        return node
    if isinstance(node, exp.Anonymous) and node.name.lower() in ("yow", "millisecond") and len(node.expressions) == 1:
        arg = _local(node.expressions[0])
        if node.name.lower() == "yow":
            return exp.Extract(this=exp.var("ISOYEAR"), expression=arg)
        return _cast(exp.Mod(this=exp.Extract(this=exp.var("MILLISECONDS"), expression=arg),
                             expression=exp.Literal.number(1000)), "BIGINT")  # fmt: skip
    if isinstance(node, exp.Anonymous) and node.name.lower() == "format_datetime" and len(node.expressions) == 2:
        value, pattern = node.expressions
        strftime = joda_to_strftime(_pattern(pattern, "format_datetime"))
        return call("STRFTIME", _local(value), exp.Literal.string(strftime))
    if isinstance(node, exp.Cast) and node.to.this in (exp.DataType.Type.DATE, exp.DataType.Type.TIMESTAMP):
        if zone_of(node.this) is None:
            return None
        node.set("this", _local(node.this))
        return node
    if isinstance(node, exp.Cast) and node.to.this in (exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT):
        # Trino prints the wall clock, milliseconds and the zone: 2012-10-30 18:00:00.000 America/Los_Angeles
        zone = node.this.meta_get(ZONE)
        if zone is None and not _is_tz(node.this):
            return None
        shown = exp.Literal.string("UTC") if zone_of(node.this) is None else _trino_zone(zone)
        text = call("STRFTIME", _local(node.this), exp.Literal.string("%Y-%m-%d %H:%M:%S.%g "))
        return exp.DPipe(this=text, expression=shown)
    if isinstance(node, exp.Anonymous) and node.name.lower() == "to_iso8601" and len(node.expressions) == 1:
        arg = node.expressions[0]
        zone = zone_of(arg)
        if zone is not None:
            return call("gg_to_iso8601_zoned", _local(arg), arg.copy())
        return call("gg_to_iso8601", arg)
    return None


def _arithmetic(node: exp.Expr) -> exp.Expr | None:
    """`date_trunc`, `date_add` and `+`/`-` an interval on a zoned value: on its wall clock for a day or
    longer (a day across a change of summer time is 23 or 25 hours), on the instant below a day."""
    if isinstance(node, exp.TimestampTrunc) and zone_of(node.this) is not None:
        return _on_wall_clock(node)
    interval = isinstance(node, exp.Add | exp.Sub) and isinstance(node.expression, exp.Interval)
    if (isinstance(node, exp.DateAdd | exp.DateSub) or interval) and zone_of(node.this) is not None:
        if _unit(node.expression if interval else node) in _DAY_OR_LONGER:
            return _on_wall_clock(node)
        return _zoned(node, node.this.meta[ZONE])
    if isinstance(node, exp.DateDiff):
        # Trino's date_diff(unit, a, b): whole units from a to b (sqlglot: this=b, expression=a)
        later, earlier = node.this, node.expression
        if _unit(node) in _DAY_OR_LONGER:
            later, earlier = _local(later), _local(earlier)
        return call("DATE_SUB", exp.Literal.string(_unit(node).lower()), earlier, later)
    return None


def _escapes(node: exp.Expr) -> exp.Expr | None:
    """A zoned value leaving a subquery or a CTE loses its zone here: refuse rather than read it as UTC."""
    if not isinstance(node, exp.Select) or node.parent is None:
        return None
    for projection in node.expressions:
        inner = projection.this if isinstance(projection, exp.Alias) else projection
        if zone_of(inner) is not None:
            refuse(f"the column {projection.alias_or_name} of a subquery or WITH",
                   "a timestamp with time zone other than UTC keeps its zone only in the outermost SELECT")  # fmt: skip
    return None


# nodes whose value is one of their operands': a zoned operand keeps its zone through them
_OF_THIS = (
    exp.Paren, exp.Alias, exp.Window, exp.Filter, exp.Nullif, exp.ArgMax, exp.ArgMin, exp.Max, exp.Min,
    exp.AnyValue, exp.First, exp.Last, exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue, exp.NthValue,
)  # fmt: skip
_OF_ANY = (exp.Coalesce, exp.Case, exp.If, exp.Greatest, exp.Least)


def _propagate(node: exp.Expr) -> exp.Expr | None:
    """The zone of a value passed through (parentheses, an alias, coalesce, CASE, max, lag, ...); when
    the operands' zones differ it varies from row to row."""
    if node.meta_get(ZONE) is not None:
        return None
    if isinstance(node, _OF_THIS):
        operands = [node.this]
    elif isinstance(node, _OF_ANY):
        operands = list(node.iter_expressions())
    else:
        return None
    zones = {_zone_key(z): z for z in (o.meta_get(ZONE) for o in operands if o is not None) if z is not None}
    if zones:
        node.meta[ZONE] = next(iter(zones.values())) if len(zones) == 1 else UNKNOWN
    return None


def _zone_key(zone: exp.Expr | str) -> str:
    return zone.sql() if isinstance(zone, exp.Expr) else zone


REWRITES = [_propagate, _literal, _conversions, _mysql_formats, _readers, _arithmetic, _escapes]

MACROS = [
    # ISO 8601 week dates (2020-W10[-3]) and ordinal dates (2020-123) as well as calendar dates
    """CREATE OR REPLACE MACRO gg_from_iso8601_date(s) AS CASE
        WHEN regexp_matches(s, '^\\d{4}-W\\d{2}(-\\d)?$') THEN CAST(
            date_trunc('week', make_date(CAST(s[1:4] AS INTEGER), 1, 4))
            + INTERVAL 7 DAY * (CAST(s[7:8] AS INTEGER) - 1)
            + INTERVAL 1 DAY * (coalesce(CAST(nullif(s[10:10], '') AS INTEGER), 1) - 1) AS DATE)
        WHEN regexp_matches(s, '^\\d{4}-\\d{3}$')
            THEN CAST(make_date(CAST(s[1:4] AS INTEGER), 1, 1) + INTERVAL 1 DAY * (CAST(s[6:8] AS INTEGER) - 1) AS DATE)
        ELSE CAST(s AS DATE) END""",
    "CREATE OR REPLACE MACRO gg_from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ)",
    """CREATE OR REPLACE MACRO gg_iso8601_local(s) AS
        CAST(regexp_replace(s, '(T[0-9:.,]+)(Z|[+-][0-9]{2}(:?[0-9]{2})?)$', '\\1') AS TIMESTAMP)""",
    # a date, or a timestamp (Athena's are timestamp(3)) in the session zone
    """CREATE OR REPLACE MACRO gg_to_iso8601(x) AS CASE
        WHEN typeof(x) = 'DATE' THEN strftime(CAST(x AS DATE), '%Y-%m-%d')
        WHEN typeof(x) = 'TIMESTAMP WITH TIME ZONE' THEN strftime(CAST(x AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%gZ')
        ELSE strftime(CAST(x AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%g') END""",
    # a zoned value: its wall clock and its offset from UTC at that instant
    """CREATE OR REPLACE MACRO gg_to_iso8601_zoned(local, instant) AS strftime(local, '%Y-%m-%dT%H:%M:%S.%g') || (
        SELECT CASE WHEN o = 0 THEN 'Z' ELSE (CASE WHEN o > 0 THEN '+' ELSE '-' END)
            || lpad(CAST(abs(o) // 60 AS VARCHAR), 2, '0') || ':' || lpad(CAST(abs(o) % 60 AS VARCHAR), 2, '0') END
        FROM (SELECT CAST((epoch(local) - epoch(CAST(instant AS TIMESTAMP))) // 60 AS BIGINT) AS o))""",
]
