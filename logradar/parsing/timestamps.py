"""Timestamps: numbers by magnitude, ISO 8601 / RFC 3339 strings, calendar parts, year inference.

All naive times are UTC. ``to_epoch`` converts without judging the result;
``problem`` applies the plausibility policy described in ``logradar.parsing``.
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime

MIN_TS = 946_684_800.0  # 2000-01-01T00:00:00Z: anything earlier is bad
MAX_TS = 4_102_444_800.0  # 2100-01-01T00:00:00Z: the upper bound when there is no Kafka time
FUTURE_SLACK = 86_400.0  # how far after the Kafka timestamp an event may claim to be
_MAX_KAFKA_TS = 253_402_300_799.0  # 9999-12-31T23:59:59Z

_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MONTHS: dict[str, int] = {}
for _number, _name in enumerate(_MONTH_NAMES, start=1):
    MONTHS.update({_name: _number, _name.title(): _number, _name.upper(): _number})

_DAYS_IN_MONTH = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

_ISO = re.compile(
    r"(?P<Y>\d{4})-(?P<mo>\d\d)-(?P<d>\d\d)"
    r"(?:[Tt ](?P<H>\d\d):(?P<M>\d\d)(?::(?P<S>\d\d)(?:[.,](?P<f>\d+))?)?)?"
    r" ?(?P<tz>[Zz]|[+-]\d\d(?::?\d\d)?)?"
)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH = _EPOCH_UTC.replace(tzinfo=None)  # for naive times, which are UTC
_BIG_INT = 10**20  # beyond nanoseconds in year 5138: never a usable timestamp


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    return era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def epoch(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    fraction: float = 0.0,
    offset: int = 0,
) -> float | None:
    """Epoch seconds for calendar parts (``offset`` seconds east of UTC); None when invalid."""
    if not (1 <= year <= 9999 and 1 <= month <= 12 and hour <= 23 and minute <= 59):
        return None
    if not 1 <= day <= _DAYS_IN_MONTH[month] or second > 60:
        return None
    if month == 2 and day == 29 and not _is_leap(year):
        return None
    days = _days_from_civil(year, month, day)
    return days * 86_400.0 + hour * 3600 + minute * 60 + second + fraction - offset


def from_number(value: float) -> float | None:
    """Epoch seconds from seconds, milliseconds, microseconds or nanoseconds, by magnitude."""
    if type(value) is int:
        if not -_BIG_INT < value < _BIG_INT:
            return None
    elif not math.isfinite(value):
        return None
    size = abs(value)
    if size < 1e11:
        return float(value)
    if size < 1e14:
        return value / 1e3
    if size < 1e17:
        return value / 1e6
    return value / 1e9


def _zone_offset(zone: str | None) -> int | None:
    """Seconds east of UTC for ``Z``, ``+hh``, ``+hhmm`` or ``+hh:mm``; None when invalid."""
    if zone is None or zone in "Zz":
        return 0
    hours, minutes = int(zone[1:3]), int(zone[-2:]) if len(zone) > 3 else 0
    if hours > 23 or minutes > 59:
        return None
    seconds = hours * 3600 + minutes * 60
    return -seconds if zone[0] == "-" else seconds


def from_iso(text: str) -> float | None:
    """Epoch seconds from an ISO 8601 / RFC 3339 string (no zone means UTC); None if not one.

    ``datetime.fromisoformat`` (C, and broad since Python 3.11) does the common case;
    the regex below also takes what it refuses, such as a leap second (``:60``).
    """
    try:
        moment = datetime.fromisoformat(text)
        # the difference's total_seconds is what timestamp() computes, and a naive
        # moment minus a naive epoch saves the costly replace(tzinfo=UTC)
        return (moment - (_EPOCH if moment.tzinfo is None else _EPOCH_UTC)).total_seconds()
    except (ValueError, OverflowError):
        return _from_iso_regex(text)


def _from_iso_regex(text: str) -> float | None:
    match = _ISO.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, frac, zone = match.groups()
    offset = _zone_offset(zone)
    if offset is None:
        return None
    return epoch(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        float("0." + frac) if frac else 0.0,
        offset,
    )


def from_string(text: str) -> float | None:
    """Epoch seconds from a numeric string (any unit) or an ISO 8601 string; None otherwise."""
    text = text.strip()
    # "2023-11-14...": a number has a "-" only first or after an exponent's "e"
    if not (text[4:5] == "-" and text[3] not in "eE") and _NUMBER.fullmatch(text):
        return from_number(float(text))
    return from_iso(text)


def to_epoch(raw: object) -> float | None:
    """Epoch seconds from a JSON timestamp value, without any range check; None if unusable."""
    if isinstance(raw, str):
        return from_string(raw)
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return from_number(raw)
    return None


def problem(ts: float, kafka_ts: float | None) -> str | None:
    """Why ``ts`` is not a plausible event time (see the package docstring), or None."""
    if ts < MIN_TS:
        return "before 2000-01-01T00:00:00Z"
    if kafka_ts is None:
        if ts >= MAX_TS:
            return "not before 2100-01-01T00:00:00Z"
    elif ts > kafka_ts + FUTURE_SLACK:
        return "more than 1 day after the Kafka timestamp"
    return None


def usable_kafka_ts(kafka_ts: float | None) -> float | None:
    """``kafka_ts`` when it is a plausible time, else None (Kafka uses -1 for "no timestamp")."""
    if kafka_ts is None or not MIN_TS <= kafka_ts <= _MAX_KAFKA_TS:  # also rejects NaN
        return None
    return float(kafka_ts)


def parse_timestamp(raw: object, *, kafka_ts: float | None = None) -> float | None:
    """Epoch seconds for a timestamp value, or None when it is unusable.

    Numbers are seconds, milliseconds, microseconds or nanoseconds by magnitude;
    strings are numeric or ISO 8601 / RFC 3339 (no zone means UTC). Bools, NaN,
    infinities and times outside the plausible range (see ``problem``) are None.
    """
    ts = to_epoch(raw)
    if ts is None or problem(ts, usable_kafka_ts(kafka_ts)) is not None:
        return None
    return ts


def infer_year(
    month: int, day: int, hour: int, minute: int, second: int, fraction: float, kafka_ts: float
) -> float | None:
    """Epoch seconds for a year-less date: the latest year that puts it at most 1 day after
    ``kafka_ts`` (normally the Kafka record's year, or the year before)."""
    limit = kafka_ts + FUTURE_SLACK
    reference = time.gmtime(kafka_ts).tm_year
    for year in range(reference + 1, reference - 8, -1):  # 8 years back always reaches a Feb 29
        ts = epoch(year, month, day, hour, minute, second, fraction)
        if ts is not None and ts <= limit:
            return ts
    return None
