"""JSON objects: every field alias, timestamp unit and ISO variant, and what lands in attrs."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from logradar.model import DeadLetter, DeadReason, Level, LogEvent
from logradar.parsing import parse

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z
KAFKA = T0 + 60.0


def event(doc: dict[str, Any], **kwargs: Any) -> LogEvent:
    kwargs.setdefault("kafka_ts", KAFKA)
    result = parse(orjson.dumps(doc), **kwargs)
    assert isinstance(result, LogEvent), result
    return result


def dead(doc: object, **kwargs: Any) -> DeadLetter:
    kwargs.setdefault("kafka_ts", KAFKA)
    result = parse(orjson.dumps(doc), **kwargs)
    assert isinstance(result, DeadLetter), result
    return result


@pytest.mark.parametrize("field", ["ts", "timestamp", "@timestamp", "time"])
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1_700_000_000, T0),
        (1_700_000_000.5, T0 + 0.5),
        (1_700_000_000_123, T0 + 0.123),
        (1_700_000_000_123_456, T0 + 0.123456),
        (1_700_000_000_123_456_789, T0 + 0.123456789),
        ("1700000000", T0),
        ("1700000000.25", T0 + 0.25),
        ("1700000000123", T0 + 0.123),
        ("2023-11-14T22:13:20Z", T0),
        ("2023-11-14T22:13:20z", T0),
        ("2023-11-14T22:13:20.250Z", T0 + 0.25),
        ("2023-11-14T22:13:20.123456Z", T0 + 0.123456),
        ("2023-11-14T22:13:20.123456789Z", T0 + 0.123456),
        ("2023-11-14T22:13:20", T0),
        ("2023-11-14 22:13:20", T0),
        ("2023-11-14 22:13:20,500", T0 + 0.5),
        ("2023-11-14T23:13:20+01:00", T0),
        ("2023-11-14T23:13:20+0100", T0),
        ("2023-11-14T17:43:20-04:30", T0),
        ("2023-11-14T22:13:20+00:00", T0),
        ("2023-11-14T22:13:20.5-00:00", T0 + 0.5),
        ("2016-12-31T23:59:60Z", 1_483_228_800.0),  # leap second
    ],
)
def test_timestamp_aliases_units_and_iso_variants(field: str, raw: object, expected: float) -> None:
    assert event({field: raw}).ts == pytest.approx(expected, abs=1e-6)


def test_timestamp_field_is_consumed_and_first_alias_wins() -> None:
    got = event({"ts": T0, "time": "2000-01-02T00:00:00Z"})
    assert got.ts == T0
    assert got.attrs == {"time": "2000-01-02T00:00:00Z"}


@pytest.mark.parametrize("kafka_ts", [KAFKA, 1_600_000_000.0])
def test_missing_timestamp_uses_kafka_time(kafka_ts: float) -> None:
    assert event({"msg": "x"}, kafka_ts=kafka_ts).ts == kafka_ts


@pytest.mark.parametrize(
    ("raw", "kafka_ts"),
    [
        ("yesterday", KAFKA),
        ("2023-13-01T00:00:00Z", KAFKA),
        ("2023-02-30T00:00:00Z", KAFKA),
        ("", KAFKA),
        (True, KAFKA),
        (False, KAFKA),
        ([T0], KAFKA),
        ({"s": T0}, KAFKA),
        (946_684_799, KAFKA),  # 1999-12-31T23:59:59Z
        ("1999-12-31T23:59:59Z", KAFKA),
        (0, KAFKA),
        (-1, KAFKA),
        (KAFKA + 86_401, KAFKA),  # more than a day after the Kafka time
        ("2100-01-01T00:00:00Z", None),  # no Kafka time: 2100 is the limit
        (1e300, None),
        ("1e999", None),  # a numeric string that overflows to infinity
        ("nan", KAFKA),
        ("inf", KAFKA),
    ],
)
def test_bad_timestamps(raw: object, kafka_ts: float | None) -> None:
    got = dead({"ts": raw, "msg": "x"}, kafka_ts=kafka_ts)
    assert got.reason is DeadReason.BAD_TIMESTAMP


@pytest.mark.parametrize(
    ("raw", "kafka_ts"),
    [
        (946_684_800, KAFKA),  # 2000-01-01T00:00:00Z exactly
        (KAFKA + 86_400, KAFKA),  # exactly one day ahead
        ("2099-12-31T23:59:59Z", None),
    ],
)
def test_timestamp_bounds_are_inclusive(raw: object, kafka_ts: float | None) -> None:
    assert isinstance(parse(orjson.dumps({"ts": raw}), kafka_ts=kafka_ts), LogEvent)


@pytest.mark.parametrize("kafka_ts", [None, -1.0, 0.0, float("nan"), float("inf")])
def test_no_timestamp_and_no_usable_kafka_time_is_bad(kafka_ts: float | None) -> None:
    assert dead({"msg": "x"}, kafka_ts=kafka_ts).reason is DeadReason.BAD_TIMESTAMP


@pytest.mark.parametrize("field", ["level", "severity", "lvl", "log.level"])
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("trace", Level.TRACE),
        ("debug", Level.DEBUG),
        ("info", Level.INFO),
        ("notice", Level.INFO),
        ("warn", Level.WARN),
        ("warning", Level.WARN),
        ("error", Level.ERROR),
        ("err", Level.ERROR),
        ("fatal", Level.FATAL),
        ("critical", Level.FATAL),
        ("crit", Level.FATAL),
        ("alert", Level.FATAL),
        ("emerg", Level.FATAL),
        ("panic", Level.FATAL),
        ("WARNING", Level.WARN),
        ("Error", Level.ERROR),
        ("eRrOr", Level.ERROR),
        (" info ", Level.INFO),
        (3, Level.ERROR),
        ("4", Level.WARN),
        ("verbose", Level.UNKNOWN),
        (8, Level.UNKNOWN),
        (True, Level.UNKNOWN),
        (3.0, Level.UNKNOWN),
    ],
)
def test_level_aliases(field: str, raw: object, expected: Level) -> None:
    got = event({field: raw})
    assert got.level is expected
    assert got.attrs == {}


def test_nested_log_level_keeps_the_rest_of_the_log_object() -> None:
    got = event({"log": {"level": "WARN", "logger": "db"}, "msg": "m"})
    assert (got.level, got.message, got.attrs) == (Level.WARN, "m", {"log": {"logger": "db"}})


def test_nested_log_level_emptied_object_is_dropped() -> None:
    got = event({"log": {"level": "error"}})
    assert (got.level, got.message, got.attrs) == (Level.ERROR, "", {})


def test_missing_level_is_unknown() -> None:
    assert event({"msg": "x"}).level is Level.UNKNOWN


@pytest.mark.parametrize(
    ("doc", "key", "expected", "attrs"),
    [
        ({"service": "api"}, None, "api", {}),
        ({"service.name": "api"}, None, "api", {}),
        ({"service": {"name": "api"}}, None, "api", {}),
        (
            {"service": {"name": "api", "version": "1.2"}},
            None,
            "api",
            {"service": {"version": "1.2"}},
        ),
        ({"app": "api"}, None, "api", {}),
        ({"application": "api"}, None, "api", {}),
        ({"component": "api"}, None, "api", {}),
        ({"service": "api", "app": "other"}, None, "api", {"app": "other"}),
        ({"service": ""}, b"from-key", "from-key", {"service": ""}),
        ({"service": 42}, None, "unknown", {"service": 42}),
        ({}, b"from-key", "from-key", {}),
        ({}, b"caf\xc3\xa9", "café", {}),
        ({}, b"\xff", "\ufffd", {}),
        ({}, None, "unknown", {}),
        ({}, b"", "unknown", {}),
    ],
)
def test_service_aliases_key_fallback_and_unknown(
    doc: dict[str, Any], key: bytes | None, expected: str, attrs: dict[str, Any]
) -> None:
    got = event({"ts": T0, **doc}, key=key)
    assert (got.service, got.attrs) == (expected, attrs)


@pytest.mark.parametrize(
    ("doc", "expected", "attrs"),
    [
        ({"msg": "a"}, "a", {}),
        ({"message": "a"}, "a", {}),
        ({"log": "a"}, "a", {}),
        ({"msg": ""}, "", {}),
        ({"msg": "a", "message": "b"}, "a", {"message": "b"}),
        ({"msg": 5, "message": "b"}, "b", {"msg": 5}),
        ({"log": {"file": "x"}}, "", {"log": {"file": "x"}}),
        ({}, "", {}),
    ],
)
def test_message_aliases(doc: dict[str, Any], expected: str, attrs: dict[str, Any]) -> None:
    got = event({"ts": T0, **doc})
    assert (got.message, got.attrs) == (expected, attrs)


@pytest.mark.parametrize(
    ("doc", "expected", "attrs"),
    [
        ({"host": "h1"}, "h1", {}),
        ({"hostname": "h1"}, "h1", {}),
        ({"host.name": "h1"}, "h1", {}),
        ({"host": {"name": "h1", "ip": "10.0.0.1"}}, "h1", {"host": {"ip": "10.0.0.1"}}),
        ({"host": {"name": "h1"}}, "h1", {}),
        ({}, "", {}),
    ],
)
def test_host_aliases(doc: dict[str, Any], expected: str, attrs: dict[str, Any]) -> None:
    got = event({"ts": T0, **doc})
    assert (got.host, got.attrs) == (expected, attrs)


def test_everything_else_goes_to_attrs() -> None:
    doc = {
        "@timestamp": "2023-11-14T22:13:20Z",
        "severity": "error",
        "app": "billing",
        "message": "payment failed",
        "hostname": "node-7",
        "order": {"id": 42, "items": [1, 2]},
        "trace.id": "abc",
        "ok": False,
        "none": None,
    }
    got = event(doc, key=b"ignored")
    assert got == LogEvent(
        ts=T0,
        service="billing",
        level=Level.ERROR,
        message="payment failed",
        host="node-7",
        attrs={"order": {"id": 42, "items": [1, 2]}, "trace.id": "abc", "ok": False, "none": None},
    )


@pytest.mark.parametrize("prefix", [b" ", b"\n", b"\r\n\t  "])
def test_leading_whitespace_before_an_object_is_json(prefix: bytes) -> None:
    got = parse(prefix + b'{"ts": 1700000000, "msg": "x"}\n')
    assert isinstance(got, LogEvent)
    assert got.message == "x"


def test_service_and_level_strings_are_interned() -> None:
    first = event({"service": "".join(["pay", "ments"])})
    second = event({"service": "".join(["paym", "ents"])})
    assert first.service is second.service
