"""The synthetic log generator: deterministic, bounded, and honest about its truth.

These tests decode the generated lines with their own small regexes, not with
``logradar.parsing``: they check that the generator writes what its Truth says.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from logradar.generate import (
    BAD_CYCLE,
    BASELINE_ERROR_CAP,
    FORMATS,
    Generated,
    Truth,
    expected_counts,
    generate,
    service_names,
    write_lines,
)
from logradar.model import DeadReason, Level
from logradar.replay import read_records

T0 = 1_795_000_020.0  # 2026-11-18T11:07:00Z, a multiple of 60


def _gen(**kwargs: object) -> list[Generated]:
    args: dict[str, object] = {"start_ts": T0, "rate": 50.0, "count": 2000, "seed": 7}
    args.update(kwargs)
    return list(generate(**args))  # type: ignore[arg-type]


def _errors_per_window(records: list[Generated], window_s: int) -> Counter[tuple[str, int]]:
    cells: Counter[tuple[str, int]] = Counter()
    for rec in records:
        t = rec.truth
        if t is not None and t.level in (Level.ERROR, Level.FATAL):
            cells[(t.service, math.floor(t.ts / window_s) * window_s)] += 1
    return cells


# ---------------------------------------------------------------- an independent decoder

_LEVEL_WORDS = {
    "trace": Level.TRACE,
    "debug": Level.DEBUG,
    "info": Level.INFO,
    "warn": Level.WARN,
    "warning": Level.WARN,
    "error": Level.ERROR,
    "err": Level.ERROR,
    "fatal": Level.FATAL,
}
_SYSLOG = {2: Level.FATAL, 3: Level.ERROR, 4: Level.WARN, 6: Level.INFO, 7: Level.DEBUG}
_ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
_LOG4J = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
_LOGFMT_RE = re.compile(
    rf'^ts=({_ISO}) level=(trace|debug|info|warn|error|fatal) service=(\S+) msg="([^"\\]+)" '
    r"host=(web-\d)$"
)
_BRACKETED_RE = re.compile(
    rf"^({_ISO}|{_LOG4J}) (TRACE|DEBUG|INFO|WARN|ERROR|FATAL) \[([\w.-]+)\] ([^\[\]]+)$"
)
_SYSLOG_RE = re.compile(rf"^<(\d+)>1 ({_ISO}) (web-\d) ([\w.-]+) (\d+) - - (.+)$")


def _iso_ts(text: str) -> float:
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if "T" in text else "%Y-%m-%d %H:%M:%S,%f"
    return datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp()


def _decode(value: bytes) -> tuple[str, Truth]:
    """(format, what the line says) by hand; raises when the line has none of the shapes."""
    text = value.decode("utf-8")
    if text.startswith("{"):
        doc = json.loads(text)
        assert set(doc) <= {"ts", "timestamp", "@timestamp", "level", "severity"} | {
            "service",
            "app",
            "msg",
            "host",
            "user",
        }
        if "ts" in doc:
            assert isinstance(doc["ts"], float)
            ts = doc["ts"]
        elif "timestamp" in doc:
            assert re.fullmatch(_ISO, doc["timestamp"])
            ts = _iso_ts(doc["timestamp"])
        else:
            assert isinstance(doc["@timestamp"], int)
            ts = doc["@timestamp"] / 1000
        level = _LEVEL_WORDS[(doc.get("level") or doc["severity"]).lower()]
        service = doc.get("app") or doc["service"]
        if isinstance(service, dict):
            service = service["name"]
        assert doc["msg"] and re.fullmatch(r"web-\d", doc["host"]) and doc["user"][0] == "u"
        return "json", Truth(ts, service, level)
    if m := _LOGFMT_RE.match(text):
        return "logfmt", Truth(_iso_ts(m[1]), m[3], _LEVEL_WORDS[m[2]])
    if m := _BRACKETED_RE.match(text):
        return "bracketed", Truth(_iso_ts(m[1]), m[3], Level(m[2]))
    if m := _SYSLOG_RE.match(text):
        pri = int(m[1])
        assert pri // 8 == 16
        return "syslog5424", Truth(_iso_ts(m[2]), m[4], _SYSLOG[pri % 8])
    raise AssertionError(f"no known shape: {text!r}")


# ---------------------------------------------------------------- tests


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    kwargs = {"disorder_s": 3.0, "late_every": 17, "bad_every": 11, "scenario": "error-burst"}
    a = _gen(**kwargs)
    b = _gen(**kwargs)
    c = _gen(seed=8, **kwargs)
    assert a == b
    assert [r.value for r in a] != [r.value for r in c]


def test_does_not_touch_the_global_rng() -> None:
    import random

    random.seed(123)
    expected = random.random()
    random.seed(123)
    _gen(count=200)
    assert random.random() == expected


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"count": 0}, 0),
        ({"count": 1}, 1),
        ({"count": 1234}, 1234),
        ({"count": 1234, "bad_every": 10, "late_every": 7}, 1234),
        ({"count": 100, "scenario": "error-burst", "burst_size": 30}, 130),
        ({"count": 100, "scenario": "error-burst", "burst_size": 0}, 100),
    ],
)
def test_count(kwargs: dict[str, object], expected: int) -> None:
    assert len(_gen(**kwargs)) == expected


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, ["checkout"]),
        (5, ["checkout", "payments", "auth", "search", "inventory"]),
        (14, [*service_names(12), "svc-13", "svc-14"]),
    ],
)
def test_service_names(n: int, expected: list[str]) -> None:
    assert service_names(n) == expected
    records = _gen(services=n, count=3000)
    seen = {r.truth.service for r in records if r.truth}
    assert seen <= set(expected)
    assert len(seen) == len(expected)


def test_event_clock_and_ms_precision() -> None:
    records = _gen(rate=40.0, count=400)
    for i, rec in enumerate(records):
        assert rec.truth is not None and rec.key == rec.truth.service.encode()
        assert rec.truth.ts == round(T0 + i / 40.0, 3)
        assert not rec.truth.late


@pytest.mark.parametrize("window_s", [60, 10])
def test_baseline_errors_capped_per_service_window(window_s: int) -> None:
    # 50/s over 3 services: ~1000 events per service-window, ~30 raw errors each.
    records = _gen(
        count=20_000, services=3, window_s=window_s, disorder_s=4.0, late_every=50, late_by_s=95
    )
    cells = _errors_per_window(records, window_s)
    assert max(cells.values()) == BASELINE_ERROR_CAP  # the cap is reached and holds
    levels = Counter(r.truth.level for r in records if r.truth)
    assert levels[Level.INFO] > levels[Level.DEBUG] > levels[Level.WARN] > levels[Level.ERROR]
    assert levels[Level.FATAL] > 0 and levels[Level.TRACE] > 0


@pytest.mark.parametrize(
    ("window_s", "burst_at_s", "service"),
    [(60, 600.0, None), (60, 631.0, "auth"), (30, 100.0, "search"), (10, 45.0, None)],
)
def test_error_burst_fills_one_window(
    window_s: int, burst_at_s: float, service: str | None
) -> None:
    size = 25
    records = _gen(
        count=60_000,
        rate=50.0,
        scenario="error-burst",
        burst_at_s=burst_at_s,
        burst_size=size,
        burst_service=service,
        window_s=window_s,
        disorder_s=2.0,
    )
    target = service or "checkout"
    cells = _errors_per_window(records, window_s)
    hot = {cell: n for cell, n in cells.items() if n > BASELINE_ERROR_CAP}
    ((svc, start),) = hot
    assert (svc, hot[(svc, start)]) == (target, size)  # exactly the burst, no baseline errors
    assert start >= T0 + burst_at_s - window_s and start % window_s == 0
    burst_ts = [
        r.truth.ts
        for r in records
        if r.truth and r.truth.service == target and r.truth.level is Level.ERROR
        if start <= r.truth.ts < start + window_s
    ]
    assert min(burst_ts) >= start + min(5, window_s / 4)
    # Interleaved in event-time order with the baseline, not bunched at either end.
    positions = [i for i, r in enumerate(records) if r.truth and r.truth.ts in set(burst_ts)]
    assert 0 < positions[0] < positions[-1] < len(records) - 1
    assert positions[-1] - positions[0] > size
    # Every other window stays at the baseline cap.
    assert all(n <= BASELINE_ERROR_CAP for cell, n in cells.items() if cell != (svc, start))


def test_burst_after_the_baseline_is_appended() -> None:
    records = _gen(count=100, scenario="error-burst", burst_at_s=3600.0, burst_size=12)
    tail = records[-12:]
    assert all(r.truth and r.truth.level is Level.ERROR for r in tail)
    assert [r.truth.ts for r in tail if r.truth] == sorted(r.truth.ts for r in tail if r.truth)


@pytest.mark.parametrize("disorder_s", [0.5, 5.0, 30.0])
def test_disorder_is_bounded(disorder_s: float) -> None:
    records = _gen(count=5000, disorder_s=disorder_s)
    newest = -math.inf
    worst = 0.0
    for rec in records:
        assert rec.truth is not None
        newest = max(newest, rec.truth.ts)
        worst = max(worst, newest - rec.truth.ts)
    assert 0 < worst < disorder_s
    assert worst > disorder_s * 0.8  # and it is really used


def test_late_marking() -> None:
    records = _gen(count=1000, late_every=7, late_by_s=900.0, bad_every=10)
    good = [r for r in records if r.truth is not None]
    for n, rec in enumerate(good, start=1):
        assert rec.truth is not None
        assert rec.truth.late == (n % 7 == 0)
    for i, rec in enumerate(records):
        if rec.truth is not None and rec.truth.late:
            assert rec.truth.ts == round(T0 + i / 50.0 - 900.0, 3)


def test_bad_records_cycle_with_their_reasons() -> None:
    records = _gen(count=24 * 5, bad_every=5)
    bad = [r for r in records if r.truth is None]
    assert [i for i, r in enumerate(records) if r.truth is None] == list(range(4, 120, 5))
    assert [r.bad_reason for r in bad] == list(BAD_CYCLE) * 4
    assert all(r.key is None for r in bad)
    assert all(r.bad_reason is None and r.key is not None for r in records if r.truth)

    by_reason: dict[DeadReason, list[bytes]] = {}
    for r in bad:
        assert r.bad_reason is not None
        by_reason.setdefault(r.bad_reason, []).append(r.value)
    assert by_reason[DeadReason.EMPTY] == [b""] * 4
    assert by_reason[DeadReason.NOT_OBJECT] == [
        b"[1, 2, 3]",
        b'"just a string"',
        b"42",
        b"[1, 2, 3]",
    ]
    for value in by_reason[DeadReason.INVALID_JSON]:
        assert value.startswith(b'{"ts": 1700000000') and not value.endswith(b"}")
        with pytest.raises(json.JSONDecodeError):
            json.loads(value)
    for value in by_reason[DeadReason.NOT_UTF8]:
        with pytest.raises(UnicodeDecodeError):
            value.decode("utf-8")
    stamps = [json.loads(v)["ts"] for v in by_reason[DeadReason.BAD_TIMESTAMP]]
    assert stamps == ["yesterday-ish", 946684799] * 2
    for value in by_reason[DeadReason.BAD_TIMESTAMP]:
        assert {"service", "level", "msg"} <= set(json.loads(value))
    garbage = [v.decode() for v in by_reason[DeadReason.UNPARSED]]
    assert all(re.fullmatch(r"~~~ garbage line \d+ ~~~", g) for g in garbage)
    assert len(set(garbage)) == 4
    assert all(b"\n" not in r.value and b"\r" not in r.value for r in records)


@pytest.mark.parametrize("formats", [FORMATS, ("json",), ("logfmt", "syslog5424")])
def test_records_say_what_their_truth_says(formats: tuple[str, ...]) -> None:
    records = _gen(
        count=3000, formats=formats, disorder_s=2.0, late_every=13, scenario="error-burst"
    )
    seen: Counter[str] = Counter()
    for rec in records:
        assert rec.truth is not None
        fmt, said = _decode(rec.value)
        seen[fmt] += 1
        assert round(said.ts, 3) == rec.truth.ts
        assert (said.service, said.level) == (rec.truth.service, rec.truth.level)
        assert rec.truth.ts == round(rec.truth.ts, 3)
    assert set(seen) == set(formats)


def test_json_spellings_vary() -> None:
    docs = [json.loads(r.value) for r in _gen(count=2000, formats=("json",))]
    keys = Counter(k for d in docs for k in d)
    for key in ("ts", "timestamp", "@timestamp", "level", "severity", "service", "app"):
        assert keys[key] > 50, key
    assert any(isinstance(d.get("service"), dict) for d in docs)
    spellings = {d.get("level") or d.get("severity") for d in docs}
    assert {"err", "warning", "Info", "INFO", "info"} <= spellings
    bracketed = [r.value for r in _gen(count=400, formats=("bracketed",))]
    assert any(b"T" in v[:11] for v in bracketed) and any(v[10:11] == b" " for v in bracketed)


def _good(ts: float, service: str, level: Level, late: bool = False) -> Generated:
    return Generated(service.encode(), b"x", Truth(ts, service, level, late), None)


def test_expected_counts_by_hand() -> None:
    records = [
        _good(0.0, "a", Level.INFO),
        _good(59.999, "a", Level.INFO),
        _good(60.0, "a", Level.INFO),
        _good(125.5, "a", Level.ERROR),
        _good(61.0, "b", Level.INFO),
        _good(10.0, "a", Level.INFO, late=True),  # late: not counted
        Generated(None, b"", None, DeadReason.EMPTY),  # bad: not counted
    ]
    counts = expected_counts(records, tumbling_s=60, hop_size_s=120, hop_step_s=60)
    assert counts == {
        ("tumbling", "a", "INFO", 0): 2,
        ("tumbling", "a", "INFO", 60): 1,
        ("tumbling", "a", "ERROR", 120): 1,
        ("tumbling", "b", "INFO", 60): 1,
        # hopping [s, s+120) with s a multiple of 60: ts 0 -> -60, 0; 59.999 -> -60, 0;
        # 60 -> 0, 60; 125.5 -> 60, 120; 61 -> 0, 60
        ("hopping", "a", "INFO", -60): 2,
        ("hopping", "a", "INFO", 0): 3,
        ("hopping", "a", "INFO", 60): 1,
        ("hopping", "a", "ERROR", 60): 1,
        ("hopping", "a", "ERROR", 120): 1,
        ("hopping", "b", "INFO", 0): 1,
        ("hopping", "b", "INFO", 60): 1,
    }


def test_expected_counts_totals() -> None:
    records = _gen(count=3000, late_every=9, bad_every=13, disorder_s=3.0)
    counts = expected_counts(records, tumbling_s=60, hop_size_s=300, hop_step_s=60)
    good = sum(1 for r in records if r.truth and not r.truth.late)
    assert sum(n for k, n in counts.items() if k[0] == "tumbling") == good
    assert sum(n for k, n in counts.items() if k[0] == "hopping") == 5 * good


def test_write_lines_round_trips_through_read_records(tmp_path: Path) -> None:
    records = _gen(count=600, bad_every=4)
    path = tmp_path / "logs.txt"
    assert write_lines(path, records) == 600
    assert list(read_records(path)) == [r.value for r in records]
    assert path.read_bytes().endswith(b"\n")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", []),
        (b"\n", [b""]),
        (b"a\nb\n", [b"a", b"b"]),
        (b"a\nb", [b"a", b"b"]),
        (b"a\r\n\r\nb\r\n", [b"a", b"", b"b"]),
        (b"a\n\n", [b"a", b""]),
    ],
)
def test_read_records_lines(tmp_path: Path, content: bytes, expected: list[bytes]) -> None:
    path = tmp_path / "f"
    path.write_bytes(content)
    assert list(read_records(path)) == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate": 0.0},
        {"count": -1},
        {"scenario": "chaos"},
        {"formats": ("xml",)},
        {"formats": ()},
        {"services": 0},
        {"services": ["has space"]},
        {"window_s": 0},
    ],
)
def test_rejects_bad_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        _gen(**kwargs)


def test_cli_generate_output(tmp_path: Path) -> None:
    from logradar.cli import app

    runner = CliRunner()
    out = tmp_path / "gen.log"
    result = runner.invoke(
        app, ["generate", "--count", "500", "--bad-every", "50", "--seed", "3", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    lines = list(read_records(out))
    assert len(lines) == 500
    assert sum(1 for line in lines if line == b"") == 2  # bad records 3 and 9 of 10
    again = tmp_path / "again.log"
    runner.invoke(
        app, ["generate", "--count", "500", "--bad-every", "50", "--seed", "3", "-o", str(again)]
    )
    # Same seed, same content modulo the start time (now, rounded to the minute).
    strip = re.compile(rb"\d{4}-\d\d-\d\d[T ][\d:.,]+Z?|\d{10,13}(\.\d+)?")
    assert [strip.sub(b"", v) for v in lines] == [strip.sub(b"", v) for v in read_records(again)]

    both = runner.invoke(app, ["generate", "--count", "5", "--duration", "5", "-o", str(out)])
    assert both.exit_code == 2


def test_cli_help_lists_the_commands() -> None:
    from logradar.cli import app

    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("generate", "replay", "tail"):
        assert command in result.output
