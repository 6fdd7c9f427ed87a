"""The public helpers: parse_level and parse_timestamp."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logradar.model import Level
from logradar.parsing import parse_level, parse_timestamp
from logradar.parsing.timestamps import from_iso, to_epoch

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        *[(name, Level.TRACE) for name in ("trace", "TRACE", "Trace")],
        *[(name, Level.DEBUG) for name in ("debug", "DEBUG")],
        *[(name, Level.INFO) for name in ("info", "INFO", "Info", "notice", "NOTICE")],
        *[(name, Level.WARN) for name in ("warn", "WARN", "warning", "Warning", "WARNING")],
        *[(name, Level.ERROR) for name in ("error", "ERROR", "err", "ERR", "severe")],
        *[
            (name, Level.FATAL)
            for name in ("fatal", "critical", "CRITICAL", "crit", "alert", "emerg", "panic")
        ],
        ("  Warn\n", Level.WARN),
        ("wArNiNg", Level.WARN),
        *[(n, lvl) for n, lvl in enumerate([Level.FATAL] * 3 + [Level.ERROR, Level.WARN])],
        (5, Level.INFO),
        (6, Level.INFO),
        (7, Level.DEBUG),
        *[(str(n), parse_level(n)) for n in range(8)],
        ("0", Level.FATAL),
        ("7", Level.DEBUG),
        (8, Level.UNKNOWN),
        (-1, Level.UNKNOWN),
        ("8", Level.UNKNOWN),
        (True, Level.UNKNOWN),
        (False, Level.UNKNOWN),
        (3.0, Level.UNKNOWN),
        (None, Level.UNKNOWN),
        ("", Level.UNKNOWN),
        ("information", Level.UNKNOWN),
        (["info"], Level.UNKNOWN),
    ],
)
def test_parse_level(raw: object, expected: Level) -> None:
    assert parse_level(raw) is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (T0, T0),
        (int(T0), T0),
        (int(T0 * 1e3), T0),
        (int(T0 * 1e6), T0),
        (int(T0 * 1e9), T0),
        (f"{T0}", T0),
        (" 1700000000 ", T0),
        ("1.7e9", T0),
        ("2023-11-14T22:13:20Z", T0),
        ("2023-11-14T22:13:20.000001Z", T0 + 1e-6),
        ("2023-11-14", T0 - (22 * 3600 + 13 * 60 + 20)),
        ("2023-11-15T00:13:20+02", T0),
        ("2023-11-14T22:13:20+00:00", T0),
        ("2023-11-14T22:13:20", T0),
        ("2023-11-14 22:13:20,000", T0),
    ],
)
def test_parse_timestamp_usable(raw: object, expected: float) -> None:
    got = parse_timestamp(raw)
    assert got is not None
    assert got == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    "raw",
    [
        None,
        True,
        False,
        float("nan"),
        float("inf"),
        float("-inf"),
        10**40,
        -(10**40),
        "",
        "soon",
        "nan",
        "2023-11-14T25:00:00Z",
        "2023-11-14T22:13:20+25:00",
        "2023-02-29T00:00:00Z",
        "1999-12-31T23:59:59.999Z",
        "2100-01-01T00:00:00Z",
        0,
        [T0],
        b"1700000000",
    ],
)
def test_parse_timestamp_unusable(raw: object) -> None:
    assert parse_timestamp(raw) is None


def test_parse_timestamp_with_kafka_time_allows_one_day_ahead() -> None:
    assert parse_timestamp(T0 + 86_400, kafka_ts=T0) == T0 + 86_400
    assert parse_timestamp(T0 + 86_401, kafka_ts=T0) is None
    assert parse_timestamp("2150-01-01T00:00:00Z", kafka_ts=5_700_000_000.0) is not None


def test_numeric_strings_with_a_minus_fourth_are_still_numbers() -> None:
    # from_string skips the number regex for "YYYY-..." but not for an exponent's sign
    assert to_epoch("170e-3") == 0.17
    assert to_epoch("1.7E-3") == 0.0017
    assert to_epoch("2023-11-14T10:00:00Z") == 1_699_956_000.0
    assert to_epoch("2023-") is None


@settings(max_examples=500, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    zone=st.none() | st.integers(min_value=-1439, max_value=1439),
    sep=st.sampled_from("T "),
    spec=st.sampled_from(["seconds", "milliseconds", "microseconds"]),
)
def test_from_iso_is_datetime_timestamp(
    moment: datetime, zone: int | None, sep: str, spec: str
) -> None:
    """Bit for bit the float that ``datetime.timestamp()`` gives (naive: UTC)."""
    if zone is not None:
        moment = moment.replace(tzinfo=timezone(timedelta(minutes=zone)))
    text = moment.isoformat(sep, spec)
    parsed = datetime.fromisoformat(text)  # what the text says (its precision, its zone)
    expected = (parsed if zone is not None else parsed.replace(tzinfo=UTC)).timestamp()
    assert from_iso(text) == expected
