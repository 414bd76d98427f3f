"""Date and time functions and operators: Trino's values and types, fields of a timestamp with time
zone read in the value's own zone (https://trino.io/docs/current/functions/datetime.html)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from pipelines.sql.duckdb_engine import DuckDBEngine
from tests.sql_conformance.harness import Case, cases, check

DOC = "functions/datetime.html"
UTC = dt.UTC
NY = ZoneInfo("America/New_York")
LA = ZoneInfo("America/Los_Angeles")
TS = dt.datetime


@cases(
    Case("extract(YEAR FROM TIMESTAMP '2022-10-20 05:10:00')", 2022, "bigint", doc=f"{DOC}#extract"),
    Case("year(DATE '2022-10-20')", 2022, "bigint", doc=f"{DOC}#year"),
    Case("month(TIMESTAMP '2022-10-20 05:10:00')", 10, "bigint", doc=f"{DOC}#month"),
    Case("day(DATE '2022-10-20')", 20, "bigint", doc=f"{DOC}#day"),
    Case("day_of_month(DATE '2022-10-20')", 20, "bigint", doc=f"{DOC}#day_of_month"),
    Case("hour(TIMESTAMP '2022-10-20 05:10:07')", 5, "bigint", doc=f"{DOC}#hour"),
    Case("minute(TIMESTAMP '2022-10-20 05:10:07')", 10, "bigint", doc=f"{DOC}#minute"),
    Case("second(TIMESTAMP '2022-10-20 05:10:07.900')", 7, "bigint", doc=f"{DOC}#second"),
    # 2020-01-05 is a Sunday: ISO day 7
    Case("day_of_week(DATE '2020-01-05')", 7, "bigint", doc=f"{DOC}#day_of_week"),
    Case("dow(DATE '2020-01-06')", 1, "bigint", doc=f"{DOC}#dow"),
    Case("day_of_year(DATE '2020-12-31')", 366, "bigint", doc=f"{DOC}#day_of_year"),
    # 2021-01-01 (a Friday) is in ISO week 53 of 2020
    Case("week(DATE '2021-01-01')", 53, "bigint", doc=f"{DOC}#week"),
    Case("week_of_year(DATE '2021-01-04')", 1, "bigint", doc=f"{DOC}#week_of_year"),
    Case("year_of_week(DATE '2021-01-01')", 2020, "bigint", doc=f"{DOC}#year_of_week"),
    Case("yow(DATE '2021-01-01')", 2020, "bigint", doc=f"{DOC}#yow"),
    Case("quarter(DATE '2020-08-01')", 3, "bigint", doc=f"{DOC}#quarter"),
    Case("extract(DAY_OF_WEEK FROM DATE '2020-01-05')", 7, "bigint", doc=f"{DOC}#extract"),
    Case("extract(DOY FROM DATE '2020-02-01')", 32, "bigint", doc=f"{DOC}#extract"),
    Case("extract(DOW FROM DATE '2020-01-05')", 7, "bigint", doc=f"{DOC}#extract"),
    Case("extract(QUARTER FROM DATE '2020-12-01')", 4, "bigint", doc=f"{DOC}#extract"),
    Case("hour(CAST(NULL AS timestamp))", None, "bigint", doc=f"{DOC}#hour"),
    Case("year(CAST(NULL AS date))", None, "bigint", doc=f"{DOC}#year"),
    Case("SELECT hour(sold_at) FROM marts_sample ORDER BY id", [1, 23, 12, 8], "bigint", doc=f"{DOC}#hour",
         rows=True),  # fmt: skip
)
def test_fields(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)


@cases(
    # a timestamp with time zone: its fields are those of its own zone
    Case("hour(TIMESTAMP '2020-01-01 10:00 America/New_York')", 10, "bigint", doc=f"{DOC}#hour"),
    Case("day(TIMESTAMP '2020-01-01 22:00 America/New_York')", 1, "bigint", doc=f"{DOC}#day"),
    Case("year(TIMESTAMP '2020-12-31 22:00 America/New_York')", 2020, "bigint", doc=f"{DOC}#year"),
    Case("extract(HOUR FROM TIMESTAMP '2020-01-01 10:00 +01:00')", 10, "bigint", doc=f"{DOC}#extract"),
    Case("TIMESTAMP '2012-10-31 01:00 UTC'", TS(2012, 10, 31, 1, tzinfo=UTC), "timestamp with time zone",
         doc=f"{DOC}#time-zone-conversion"),  # fmt: skip
    Case("TIMESTAMP '2012-10-31 01:00 UTC' AT TIME ZONE 'America/Los_Angeles'", TS(2012, 10, 30, 18, tzinfo=LA),
         "timestamp with time zone", doc=f"{DOC}#time-zone-conversion"),  # fmt: skip
    Case("hour(TIMESTAMP '2012-10-31 01:00 UTC' AT TIME ZONE 'America/Los_Angeles')", 18, "bigint",
         doc=f"{DOC}#time-zone-conversion"),  # fmt: skip
    # the session zone is UTC, as on Athena
    Case("at_timezone(TIMESTAMP '2022-11-01 09:08:07.321', 'America/Los_Angeles')",
         TS(2022, 11, 1, 2, 8, 7, 321000, tzinfo=LA), "timestamp with time zone", doc=f"{DOC}#at_timezone"),
    Case("hour(at_timezone(TIMESTAMP '2022-11-01 09:08:07.321', 'America/Los_Angeles'))", 2, "bigint",
         doc=f"{DOC}#at_timezone"),  # fmt: skip
    Case("with_timezone(TIMESTAMP '2022-11-01 09:08:07.321', 'America/Los_Angeles')",
         TS(2022, 11, 1, 9, 8, 7, 321000, tzinfo=LA), "timestamp with time zone", doc=f"{DOC}#with_timezone"),
    Case("hour(with_timezone(TIMESTAMP '2022-11-01 09:08:07.321', 'America/Los_Angeles'))", 9, "bigint",
         doc=f"{DOC}#with_timezone"),  # fmt: skip
    Case("CAST(TIMESTAMP '2020-01-01 22:00 America/New_York' AS date)", dt.date(2020, 1, 1), "date",
         doc="functions/conversion.html#cast"),  # fmt: skip
    Case("date_format(TIMESTAMP '2020-01-01 22:00 America/New_York', '%Y-%m-%d %H')", "2020-01-01 22", "varchar",
         doc=f"{DOC}#date_format"),  # fmt: skip
    Case("format_datetime(TIMESTAMP '2020-01-01 22:00 America/New_York', 'yyyy-MM-dd HH')", "2020-01-01 22",
         "varchar", doc=f"{DOC}#format_datetime"),  # fmt: skip
    Case("date_trunc('day', TIMESTAMP '2001-08-22 03:04:05 America/New_York')", TS(2001, 8, 22, tzinfo=NY),
         "timestamp with time zone", doc=f"{DOC}#date_trunc"),  # fmt: skip
    Case("date_add('day', -1, TIMESTAMP '2020-03-01 00:00:00 UTC')", TS(2020, 2, 29, tzinfo=UTC),
         "timestamp with time zone", doc=f"{DOC}#date_add"),  # fmt: skip
    Case("date_diff('hour', TIMESTAMP '2020-03-01 00:00:00 UTC', TIMESTAMP '2020-03-02 00:00:00 UTC')", 24,
         "bigint", doc=f"{DOC}#date_diff"),  # fmt: skip
    Case("hour(TIMESTAMP '2020-01-01 10:00 America/New_York' + INTERVAL '1' HOUR)", 11, "bigint",
         doc=f"{DOC}#date-and-time-operators"),  # fmt: skip
    Case("day(TIMESTAMP '2020-01-01 22:00 America/New_York' - INTERVAL '1' DAY)", 31, "bigint",
         doc=f"{DOC}#date-and-time-operators"),  # fmt: skip
    Case("hour(coalesce(NULL, TIMESTAMP '2020-01-01 10:00 America/New_York'))", 10, "bigint",
         doc="functions/conditional.html#coalesce"),  # fmt: skip
    Case("SELECT hour(max(at_timezone(sold_at, 'America/New_York'))) FROM marts_sample", 7, "bigint",
         doc=f"{DOC}#at_timezone"),  # fmt: skip
    Case("SELECT hour(at_timezone(sold_at, 'Asia/Tokyo')) FROM marts_sample ORDER BY id", [10, 8, 21, 17], "bigint",
         doc=f"{DOC}#at_timezone", rows=True),  # fmt: skip
    Case("hour(coalesce(TIMESTAMP '2020-01-01 10:00 America/New_York', TIMESTAMP '2020-01-01 10:00 Asia/Tokyo'))",
         error="time zone varies", doc="functions/conditional.html#coalesce"),  # fmt: skip
    Case("hour(TIMESTAMP '2020-01-01 10:00 UTC' AT TIME ZONE '+01:00')", 11, "bigint",
         doc=f"{DOC}#time-zone-conversion"),  # fmt: skip
    Case("CAST(TIMESTAMP '2012-10-31 01:00 UTC' AT TIME ZONE 'America/Los_Angeles' AS varchar)",
         "2012-10-30 18:00:00.000 America/Los_Angeles", "varchar", doc=f"{DOC}#time-zone-conversion"),  # fmt: skip
    Case("CAST(TIMESTAMP '2012-10-31 01:00 UTC' AS varchar)", "2012-10-31 01:00:00.000 UTC", "varchar",
         doc=f"{DOC}#time-zone-conversion"),  # fmt: skip
    Case("CAST(TIMESTAMP '2020-01-01 10:00 UTC' AT TIME ZONE '+01:00' AS varchar)", "2020-01-01 11:00:00.000 +01:00",
         "varchar", doc=f"{DOC}#time-zone-conversion"),  # fmt: skip
    Case("extract(TIMEZONE_HOUR FROM TIMESTAMP '2020-01-01 10:00 UTC')", 0, "bigint", doc=f"{DOC}#extract"),
    Case("timezone_hour(TIMESTAMP '2020-01-01 10:00 +01:00')", error="time zone offset", doc=f"{DOC}#timezone_hour"),
    Case("extract(TIMEZONE_MINUTE FROM TIMESTAMP '2020-01-01 10:00 America/New_York')", error="time zone offset",
         doc=f"{DOC}#extract"),  # fmt: skip
    # the zone is not followed out of a subquery: refused rather than read as UTC (Trino: 10)
    Case("WITH t AS (SELECT TIMESTAMP '2020-01-01 10:00 America/New_York' AS x) SELECT hour(x) FROM t",
         error="column x of a subquery or WITH", doc=f"{DOC}#hour"),  # fmt: skip
    Case("WITH t AS (SELECT TIMESTAMP '2020-01-01 10:00 UTC' AS x) SELECT hour(x) FROM t", 10, "bigint",
         doc=f"{DOC}#hour"),  # fmt: skip
    Case("from_unixtime(0, 1, 30)", error="from_unixtime(unixtime, hours, minutes)", doc=f"{DOC}#from_unixtime"),
    Case("to_iso8601(TIMESTAMP '2020-05-11 11:15:05.055 +01:00')", "2020-05-11T11:15:05.055+01:00", "varchar",
         doc=f"{DOC}#to_iso8601"),  # fmt: skip
    Case("CAST(TIMESTAMP '2012-10-31 01:00 UTC' AT TIME ZONE 'America/Los_Angeles' AS timestamp)",
         TS(2012, 10, 30, 18), "timestamp", doc=f"{DOC}#time-zone-conversion"),  # fmt: skip
)
def test_time_zones(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)


@cases(
    Case("date_trunc('day', TIMESTAMP '2022-10-20 05:10:00')", TS(2022, 10, 20), "timestamp",
         doc=f"{DOC}#date_trunc"),  # fmt: skip
    Case("date_trunc('month', TIMESTAMP '2022-10-20 05:10:00')", TS(2022, 10, 1), "timestamp",
         doc=f"{DOC}#date_trunc"),  # fmt: skip
    Case("date_trunc('year', TIMESTAMP '2022-10-20 05:10:00')", TS(2022, 1, 1), "timestamp",
         doc=f"{DOC}#date_trunc"),  # fmt: skip
    Case("date_trunc('second', TIMESTAMP '2001-08-22 03:04:05.321')", TS(2001, 8, 22, 3, 4, 5), "timestamp",
         doc=f"{DOC}#truncation-function"),  # fmt: skip
    Case("date_trunc('week', TIMESTAMP '2001-08-22 03:04:05.321')", TS(2001, 8, 20), "timestamp",
         doc=f"{DOC}#truncation-function"),  # fmt: skip
    Case("date_trunc('quarter', TIMESTAMP '2001-08-22 03:04:05.321')", TS(2001, 7, 1), "timestamp",
         doc=f"{DOC}#truncation-function"),  # fmt: skip
    Case("date_trunc('month', DATE '2001-08-22')", dt.date(2001, 8, 1), "date", doc=f"{DOC}#date_trunc"),
    Case("date_trunc('week', DATE '2001-08-22')", dt.date(2001, 8, 20), "date", doc=f"{DOC}#date_trunc"),
    Case("date_trunc('day', CAST(NULL AS timestamp))", None, "timestamp", doc=f"{DOC}#date_trunc"),
    Case("date_add('second', 86, TIMESTAMP '2020-03-01 00:00:00')", TS(2020, 3, 1, 0, 1, 26), "timestamp",
         doc=f"{DOC}#date_add"),  # fmt: skip
    Case("date_add('hour', 9, TIMESTAMP '2020-03-01 00:00:00')", TS(2020, 3, 1, 9), "timestamp",
         doc=f"{DOC}#date_add"),  # fmt: skip
    Case("date_add('day', 1, DATE '2020-02-28')", dt.date(2020, 2, 29), "date", doc=f"{DOC}#date_add"),
    Case("date_add('month', 1, DATE '2020-01-31')", dt.date(2020, 2, 29), "date", doc=f"{DOC}#date_add"),
    Case("date_diff('second', TIMESTAMP '2020-03-01 00:00:00', TIMESTAMP '2020-03-02 00:00:00')", 86400,
         "bigint", doc=f"{DOC}#date_diff"),  # fmt: skip
    Case("date_diff('day', DATE '2020-03-01', DATE '2020-03-02')", 1, "bigint", doc=f"{DOC}#date_diff"),
    Case("date_diff('millisecond', TIMESTAMP '2020-06-01 12:30:45.000', TIMESTAMP '2020-06-02 12:30:45.123')",
         86400123, "bigint", doc=f"{DOC}#date_diff"),  # fmt: skip
    Case("date '2012-08-08' + interval '2' day", dt.date(2012, 8, 10), "date", doc=f"{DOC}#date-and-time-operators"),
    Case("date '2012-08-08' - interval '2' day", dt.date(2012, 8, 6), "date", doc=f"{DOC}#date-and-time-operators"),
    Case("timestamp '2012-08-08 01:00' + interval '29' hour", TS(2012, 8, 9, 6), "timestamp",
         doc=f"{DOC}#date-and-time-operators"),  # fmt: skip
    Case("timestamp '2012-08-08 01:00' - interval '29' hour", TS(2012, 8, 6, 20), "timestamp",
         doc=f"{DOC}#date-and-time-operators"),  # fmt: skip
    Case("timestamp '2012-10-31 01:00' + interval '1' month", TS(2012, 11, 30, 1), "timestamp",
         doc=f"{DOC}#date-and-time-operators"),  # fmt: skip
    Case("timestamp '2012-10-31 01:00' - interval '1' month", TS(2012, 9, 30, 1), "timestamp",
         doc=f"{DOC}#date-and-time-operators"),  # fmt: skip
    Case("last_day_of_month(DATE '2020-02-05')", dt.date(2020, 2, 29), "date", doc=f"{DOC}#last_day_of_month"),
    Case("last_day_of_month(TIMESTAMP '2021-02-05 10:00:00')", dt.date(2021, 2, 28), "date",
         doc=f"{DOC}#last_day_of_month"),  # fmt: skip
)
def test_truncation_and_intervals(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)


@cases(
    Case("from_unixtime(0)", TS(1970, 1, 1, tzinfo=UTC), "timestamp with time zone", doc=f"{DOC}#from_unixtime"),
    Case("from_unixtime(1.5)", TS(1970, 1, 1, 0, 0, 1, 500000, tzinfo=UTC), "timestamp with time zone",
         doc=f"{DOC}#from_unixtime"),  # fmt: skip
    Case("hour(from_unixtime(0, 'America/New_York'))", 19, "bigint", doc=f"{DOC}#from_unixtime"),
    Case("from_unixtime(CAST(NULL AS bigint))", None, "timestamp with time zone", doc=f"{DOC}#from_unixtime"),
    Case("to_unixtime(TIMESTAMP '1970-01-01 00:00:01')", 1.0, "double", doc=f"{DOC}#to_unixtime"),
    Case("to_unixtime(TIMESTAMP '1970-01-01 01:00:00 +01:00')", 0.0, "double", doc=f"{DOC}#to_unixtime"),
    Case("from_iso8601_timestamp('2020-05-11')", TS(2020, 5, 11, tzinfo=UTC), "timestamp with time zone",
         doc=f"{DOC}#from_iso8601_timestamp"),  # fmt: skip
    Case("from_iso8601_timestamp('2020-05-11T11:15:05.055+01:00')",
         TS(2020, 5, 11, 10, 15, 5, 55000, tzinfo=UTC), "timestamp with time zone",
         doc=f"{DOC}#from_iso8601_timestamp"),  # fmt: skip
    Case("hour(from_iso8601_timestamp('2020-05-11T11:15:05.055+01:00'))", 11, "bigint",
         doc=f"{DOC}#from_iso8601_timestamp"),  # fmt: skip
    Case("SELECT hour(from_iso8601_timestamp(s)) FROM (VALUES '2020-05-11T11:15:05+01:00', '2020-05-11T23:00:00Z',"
         " '2020-05-11T08:00:00.5-05:30', '2020-05-11') AS t(s)", [11, 23, 8, 0], "bigint",
         doc=f"{DOC}#from_iso8601_timestamp", rows=True),  # fmt: skip
    Case("SELECT to_unixtime(from_iso8601_timestamp(s)) FROM (VALUES '1970-01-01T01:00:00+01:00') AS t(s)", 0.0,
         "double", doc=f"{DOC}#from_iso8601_timestamp"),  # fmt: skip
    Case("SELECT date_trunc('day', from_iso8601_timestamp(s)) FROM (VALUES '2020-05-11T01:00:00+01:00') AS t(s)",
         error="time zone varies", doc=f"{DOC}#from_iso8601_timestamp"),  # fmt: skip
    Case("from_iso8601_date('2020-05-11')", dt.date(2020, 5, 11), "date", doc=f"{DOC}#from_iso8601_date"),
    Case("from_iso8601_date('2020-W10')", dt.date(2020, 3, 2), "date", doc=f"{DOC}#from_iso8601_date"),
    Case("from_iso8601_date('2020-123')", dt.date(2020, 5, 2), "date", doc=f"{DOC}#from_iso8601_date"),
    Case("to_iso8601(DATE '2020-05-11')", "2020-05-11", "varchar", doc=f"{DOC}#to_iso8601"),
    Case("to_iso8601(TIMESTAMP '2020-05-11 11:15:05.055')", "2020-05-11T11:15:05.055", "varchar",
         doc=f"{DOC}#to_iso8601"),  # fmt: skip
    Case("to_iso8601(CAST(NULL AS date))", None, "varchar", doc=f"{DOC}#to_iso8601"),
    Case("date_format(TIMESTAMP '2022-10-20 05:10:00', '%m-%d-%Y %H')", "10-20-2022 05", "varchar",
         doc=f"{DOC}#date_format"),  # fmt: skip
    Case("date_format(TIMESTAMP '2022-10-20 15:04:09', '%W %M %e %Y %l:%i:%s %p %j')",
         "Thursday October 20 2022 3:04:09 PM 293", "varchar", doc=f"{DOC}#date_format"),  # fmt: skip
    Case("date_format(TIMESTAMP '2022-10-20 15:04:09', '%a %b %c %k %T')", "Thu Oct 10 15 15:04:09", "varchar",
         doc=f"{DOC}#date_format"),  # fmt: skip
    Case("date_format(TIMESTAMP '2022-10-20 15:04:09.123', '%f %r %y %h')", "123000 03:04:09 PM 22 03", "varchar",
         doc=f"{DOC}#mysql-date-functions"),  # fmt: skip
    Case("date_format(TIMESTAMP '2022-10-20 15:04:09', '%%Y')", "%Y", "varchar", doc=f"{DOC}#mysql-date-functions"),
    # specifiers Trino does not support are refused, not answered
    Case("date_format(TIMESTAMP '2022-01-02 15:04:09', '%w')", error="date_format with %w",
         doc=f"{DOC}#mysql-date-functions"),  # fmt: skip
    Case("date_format(TIMESTAMP '2022-01-02 15:04:09', '%U')", error="date_format with %U",
         doc=f"{DOC}#mysql-date-functions"),  # fmt: skip
    Case("date_parse('2022 1', '%Y %u')", error="date_parse with %u", doc=f"{DOC}#mysql-date-functions"),
    Case("date_parse('10/20/22 3:04 PM', '%m/%d/%y %l:%i %p')", TS(2022, 10, 20, 15, 4), "timestamp",
         doc=f"{DOC}#mysql-date-functions"),  # fmt: skip
    Case("date_parse('2022/10/20/05', '%Y/%m/%d/%H')", TS(2022, 10, 20, 5), "timestamp", doc=f"{DOC}#date_parse"),
    Case("date_parse(CAST(NULL AS varchar), '%Y')", None, "timestamp", doc=f"{DOC}#date_parse"),
    Case("format_datetime(TIMESTAMP '2022-10-20 05:10:00', 'yyyy-MM-dd HH:mm:ss')", "2022-10-20 05:10:00",
         "varchar", doc=f"{DOC}#format_datetime"),  # fmt: skip
    Case("parse_datetime('2022-10-20 05:10', 'yyyy-MM-dd HH:mm')", TS(2022, 10, 20, 5, 10, tzinfo=UTC),
         "timestamp with time zone", doc=f"{DOC}#parse_datetime"),  # fmt: skip
)
def test_conversions(engine: DuckDBEngine, case: Case) -> None:
    check(engine, case)
