"""The synthetic log generator: deterministic, bounded, and honest about its truth.

These tests decode the generated lines with their own small regexes, not with
``logradar.parsing``: they check that the generator writes what its Truth says.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import re
import statistics
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from logradar.generate import (
    ALL_ORDER,
    ALL_SPACING_S,
    BAD_CYCLE,
    BASELINE_ERROR_CAP,
    BRUTE_FAILURES,
    CALM_SCENARIOS,
    DROP_WINDOWS,
    FORMATS,
    NEW_TEMPLATE_LINES,
    SCENARIOS,
    SERVICE_NAMES,
    SILENCE_S,
    SPIKE_ERRORS,
    Generated,
    Incident,
    Truth,
    expected_counts,
    generate,
    incidents,
    scenario_defaults,
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
    """(format, what the line says) by hand; raises when the line has none of the shapes.

    ``steady``'s JSON records all carry a random ``user``."""
    fmt, truth, _msg, attrs = _parse_line(value)
    if fmt == "json":
        assert attrs["user"][0] == "u"
    return fmt, truth


_JSON_KEYS = {"ts", "timestamp", "@timestamp", "level", "severity", "service", "app", "msg", "host"}


def _parse_line(value: bytes) -> tuple[str, Truth, str, dict[str, str]]:
    """(format, what the line says, message, attrs) by hand; raises on an unknown shape."""
    text = value.decode("utf-8")
    if text.startswith("{"):
        doc = json.loads(text)
        attrs = {k: doc.pop(k) for k in ("user", "order_id") if k in doc}
        assert set(doc) <= _JSON_KEYS
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
        assert doc["msg"] and re.fullmatch(r"web-\d", doc["host"])
        return "json", Truth(ts, service, level), doc["msg"], attrs
    if m := _LOGFMT_RE.match(text):
        return "logfmt", Truth(_iso_ts(m[1]), m[3], _LEVEL_WORDS[m[2]]), m[4], {}
    if m := _BRACKETED_RE.match(text):
        return "bracketed", Truth(_iso_ts(m[1]), m[3], Level(m[2])), m[4], {}
    if m := _SYSLOG_RE.match(text):
        pri = int(m[1])
        assert pri // 8 == 16
        return "syslog5424", Truth(_iso_ts(m[2]), m[4], _SYSLOG[pri % 8]), m[6], {}
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


# ---------------------------------------------------------------- scenarios
#
# Each calm scenario runs once (cached) at 20 records/s; the checks below read the
# records themselves (levels, times, messages, attrs) and hold each recorded
# Incident against them, and run small reference versions of the default rules
# (ops/rules.example.yaml) over the baseline to show it is calm outside incidents.

TEST_RATE = 20.0
_SHORT = ("error-spike", "traffic-drop", "silence", "brute-force", "order-without-payment")
_LEVEL_NAMES = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}


def _scenario_args(name: str, **over: object) -> dict[str, object]:
    """scenario_defaults' event time at TEST_RATE (new-template: a warm-up long enough)."""
    defaults = scenario_defaults(name)
    burst_at = defaults["burst_at_s"]
    seconds = defaults["count"] / defaults["rate"]
    if name == "new-template":  # >= 1000 WARN+ per service takes longer at 20/s
        burst_at, seconds = 4800.0, 6000.0
    args: dict[str, object] = {
        "start_ts": T0,
        "rate": TEST_RATE,
        "count": math.ceil(seconds * TEST_RATE),
        "seed": 7,
        "scenario": name,
        "burst_at_s": burst_at,
    }
    args.update(over)
    return args


@functools.cache
def _scenario(name: str) -> tuple[tuple[Generated, ...], tuple[Incident, ...]]:
    found: list[Incident] = []
    records = tuple(generate(**_scenario_args(name), incidents_out=found))  # type: ignore[arg-type]
    return records, tuple(found)


def _digest(records: Iterable[Generated]) -> str:
    h = hashlib.sha256()
    for r in records:
        h.update(repr((r.key, r.value, r.truth, r.bad_reason)).encode())
    return h.hexdigest()


@dataclass(frozen=True)
class _Line:
    ts: float
    service: str
    level: Level
    msg: str
    attrs: dict[str, str]


def _lines(records: Iterable[Generated]) -> list[_Line]:
    """Good, non-late records as the line says them (decoded by hand, checked against truth)."""
    out = []
    for rec in records:
        t = rec.truth
        if t is None or t.late:
            continue
        _fmt, said, msg, attrs = _parse_line(rec.value)
        assert (round(said.ts, 3), said.service, said.level) == (t.ts, t.service, t.level)
        out.append(_Line(t.ts, t.service, t.level, msg, attrs))
    return out


@functools.cache
def _scenario_lines(name: str) -> tuple[_Line, ...]:
    return tuple(_lines(_scenario(name)[0]))


def _window(ts: float, window_s: int = 60) -> int:
    return math.floor(ts / window_s) * window_s


def _series(lines: Iterable[_Line]) -> tuple[Counter[tuple[str, str, int]], list[int]]:
    """Counts per (service, level, window), and the complete windows in order."""
    counts: Counter[tuple[str, str, int]] = Counter()
    first, last = math.inf, -math.inf
    for line in lines:
        w = _window(line.ts)
        counts[(line.service, line.level.value, w)] += 1
        first, last = min(first, w), max(last, w)
    return counts, list(range(int(first), int(last), 60))  # the last window may be partial


def _incident(name: str, kind: str) -> Incident:
    (found,) = [i for i in _scenario(name)[1] if i.kind == kind]
    return found


_SCENARIO_KIND = {
    "error-spike": "anomaly",
    "traffic-drop": "rate_drop",
    "silence": "silence",
    "brute-force": "pattern",
    "order-without-payment": "pattern",
    "new-template": "new_template",
    "long-session": "long_session",
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_scenario_is_deterministic(name: str) -> None:
    if name in ("steady", "error-burst"):
        kwargs = {"scenario": name, "count": 20_000, "burst_at_s": 100.0}
        assert _gen(**kwargs) == _gen(**kwargs)
        assert _gen(**kwargs) != _gen(seed=8, **kwargs)
        return
    records, found = _scenario(name)
    again: list[Incident] = []
    assert _digest(generate(**_scenario_args(name), incidents_out=again)) == _digest(records)  # type: ignore[arg-type]
    assert again == list(found) and found
    other = generate(**_scenario_args(name, seed=8))  # type: ignore[arg-type]
    assert [r.value for r in itertools.islice(other, 500)] != [r.value for r in records[:500]]


def test_scenario_names_match_the_cli() -> None:
    from logradar.cli import Scenario

    assert tuple(s.value for s in Scenario) == SCENARIOS
    assert SCENARIOS == ("steady", "error-burst", *CALM_SCENARIOS, "all")
    assert ALL_ORDER == ("error-burst", *CALM_SCENARIOS)


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_defaults_fit(name: str) -> None:
    defaults = scenario_defaults(name)
    assert defaults["rate"] > 0 and defaults["burst_at_s"] > 0
    if name in ("steady", "error-burst"):
        assert "count" not in defaults
        assert defaults == {"rate": 200.0, "burst_at_s": 600.0}  # the CLI's old defaults
    else:
        generate(start_ts=T0, scenario=name, **defaults)  # checked up front: no ValueError
        short = {**defaults, "count": 100}  # too little event time is refused up front
        with pytest.raises(ValueError, match="needs >="):
            generate(start_ts=T0, scenario=name, **short)


def test_scenario_defaults_reject_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        scenario_defaults("chaos")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scenario": "brute-force", "services": ["checkout", "payments"]}, "needs a service"),
        ({"scenario": "order-without-payment", "services": 1}, "needs a service"),
        ({"scenario": "all", "services": ["auth", "search"]}, "needs a service"),
        ({"scenario": "error-spike", "burst_at_s": 600.0}, "history"),
        ({"scenario": "silence", "burst_at_s": 60.0}, "history"),
        ({"scenario": "silence", "burst_service": "nope"}, "not one of the services"),
        ({"scenario": "brute-force", "burst_at_s": -5.0}, "burst_at_s"),
        ({"scenario": "long-session", "count": 60_000}, "needs >="),
    ],
)
def test_calm_scenarios_check_their_arguments(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"start_ts": T0, "rate": 20.0, "count": 200_000}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        generate(**args)  # type: ignore[arg-type]  # raises before any record


def test_too_sparse_a_rate_fails_loudly() -> None:
    # 200 s of event time at 0.5/s: the spike's 8 errors cannot fit in one window.
    args = {"start_ts": T0, "rate": 0.5, "count": 1500, "scenario": "error-spike"}
    with pytest.raises(ValueError, match="too sparse"):
        list(generate(burst_at_s=900.0, **args))  # type: ignore[arg-type]


def test_incidents_matches_incidents_out() -> None:
    args = _scenario_args("brute-force", count=30_000)
    found: list[Incident] = []
    records = list(generate(**args, incidents_out=found))  # type: ignore[arg-type]
    assert incidents(**args) == found  # type: ignore[arg-type]
    assert len(found) == 1 and records
    assert incidents(start_ts=T0, rate=50.0, count=100) == []
    assert incidents(start_ts=T0, rate=50.0, count=100, scenario="error-burst", burst_size=0) == []


def test_error_burst_incident_is_the_hot_window() -> None:
    kwargs = {"count": 60_000, "scenario": "error-burst", "burst_at_s": 631.0}
    records = _gen(**kwargs)
    ((svc, start),) = [c for c, n in _errors_per_window(records, 60).items() if n > 2]
    (found,) = incidents(start_ts=T0, rate=50.0, seed=7, **kwargs)  # type: ignore[arg-type]
    assert found == Incident("burst", svc, start, start + 60, {"level": "ERROR", "count": 30})


# ------------------------------------------------ each scenario's incident, from the records


def _check_burst(lines: list[_Line], inc: Incident) -> None:
    errors = Counter(
        _window(x.ts) for x in lines if x.service == inc.service and x.level is Level.ERROR
    )
    assert errors[int(inc.start_ts)] == inc.detail["count"] == 30
    assert inc.end_ts - inc.start_ts == 60


def _check_spike(lines: list[_Line], inc: Incident) -> None:
    w = int(inc.start_ts)
    hot = [x for x in lines if x.service == inc.service and _window(x.ts) == w]
    assert sum(x.level in (Level.ERROR, Level.FATAL) for x in hot) == SPIKE_ERRORS == 8
    assert inc.detail == {"level": "ERROR", "count": 8} and inc.end_ts == w + 60
    # at least 15 windows of that service's history first, every one at <= 2 errors
    before = {_window(x.ts) for x in lines if x.service == inc.service and x.ts < w}
    assert len(before) >= 15


def _check_drop(lines: list[_Line], inc: Incident) -> None:
    volume = Counter(_window(x.ts) for x in lines if x.service == inc.service)
    start, end = int(inc.start_ts), int(inc.end_ts)
    dropped = list(range(start, end, 60))
    assert len(dropped) == DROP_WINDOWS == 5
    assert [volume[w] for w in dropped] == inc.detail["counts"]
    normal = [volume[w] for w in (start - 600, start - 60, end, end + 600)]
    assert max(normal) - min(normal) <= 2  # the same before and after
    for w in dropped:
        assert 0.03 < volume[w] / normal[0] < 0.07  # ~5 %
    times = [x.ts for x in lines if x.service == inc.service]
    assert max(b - a for a, b in itertools.pairwise(times)) < 60  # never silent


def _check_silence(lines: list[_Line], inc: Incident) -> None:
    times = [x.ts for x in lines if x.service == inc.service]
    assert not [t for t in times if inc.start_ts <= t < inc.end_ts]
    before = max(t for t in times if t < inc.start_ts)
    after = min(t for t in times if t >= inc.end_ts)
    assert inc.start_ts - before < 5 and after - inc.end_ts < 5
    assert inc.end_ts - inc.start_ts == SILENCE_S == 600
    gaps = sorted(b - a for a, b in itertools.pairwise(times))
    assert gaps[-1] >= 600 and gaps[-2] < 60  # that one gap, no other


def _logins(lines: list[_Line]) -> dict[str, list[tuple[float, bool]]]:
    by_user: dict[str, list[tuple[float, bool]]] = {}
    for x in lines:
        if "login failed" in x.msg or "login succeeded" in x.msg:
            assert x.service == "auth" and x.attrs["user"] in x.msg
            by_user.setdefault(x.attrs["user"], []).append((x.ts, "login failed" in x.msg))
    return by_user


def _brute_forced(events: list[tuple[float, bool]]) -> bool:
    """>= 5 failures within 60 s, then a success within those 60 s."""
    fails = [t for t, failed in events if failed]
    for i in range(len(fails) - 4):
        if fails[i + 4] - fails[i] <= 60:
            return any(not failed and fails[i + 4] < t <= fails[i] + 60 for t, failed in events)
    return False


def _check_brute_force(lines: list[_Line], inc: Incident) -> None:
    by_user = _logins(lines)
    assert [u for u, ev in by_user.items() if _brute_forced(ev)] == [inc.detail["user"]]
    attack = by_user[inc.detail["user"]]
    assert [failed for _, failed in attack] == [True] * BRUTE_FAILURES + [False]
    assert attack[0][0] == inc.start_ts and attack[-1][0] == inc.end_ts
    assert attack[-2][0] - attack[0][0] <= 40 and inc.end_ts - inc.start_ts <= 60
    # the baseline: many users, both outcomes, never 5 failures of one user in 60 s
    baseline = [ev for u, ev in by_user.items() if u != inc.detail["user"]]
    assert len(baseline) > 50
    outcomes = Counter(failed for ev in baseline for _, failed in ev)
    assert outcomes[True] > 10 and outcomes[False] > 10
    for ev in baseline:
        fails = [t for t, failed in ev if failed]
        assert all(b - a > 60 for a, b in itertools.pairwise(fails))


def _check_orders(lines: list[_Line], inc: Incident) -> None:
    created: dict[str, float] = {}
    paid: dict[str, list[float]] = {}
    for x in lines:
        if "order created" in x.msg:
            assert x.service == "checkout" and x.attrs["order_id"] in x.msg
            created[x.attrs["order_id"]] = x.ts
        elif "payment captured" in x.msg:
            assert x.service == "payments" and x.attrs["order_id"] in x.msg
            paid.setdefault(x.attrs["order_id"], []).append(x.ts)
    assert len(created) > 100
    assert set(paid) <= set(created)
    unpaid = sorted(set(created) - set(paid))
    assert unpaid == [inc.detail["order_id"]]
    assert inc.start_ts == inc.end_ts == created[unpaid[0]] and inc.service == "checkout"
    for order_id, times in paid.items():
        assert len(times) == 1
        assert 5 <= times[0] - created[order_id] <= 30
    last = max(x.ts for x in lines)
    assert last - created[unpaid[0]] > 120  # long enough for a 2m absence to show


_PEERS = "|".join(re.escape(p) for p in [*SERVICE_NAMES, "postgres", "redis", "stripe-api"])
_SHAPE_SUBS = [
    (re.compile(r"/api/\w+|/healthz"), "<path>"),
    (re.compile(rf"\b(?:{_PEERS})\b"), "<peer>"),
    (re.compile(r"\d+"), "#"),
]


def _shape(msg: str) -> str:
    for pattern, repl in _SHAPE_SUBS:
        msg = pattern.sub(repl, msg)
    return msg


def _late_shapes(lines: Iterable[_Line], warm: int = 1000) -> dict[str, set[str]]:
    """Per service, the WARN+ shapes first seen after that service's ``warm``-th WARN+ line."""
    seen: dict[str, set[str]] = {}
    n: Counter[str] = Counter()
    late: dict[str, set[str]] = {}
    for x in lines:
        if x.level not in (Level.WARN, Level.ERROR, Level.FATAL):
            continue
        shape = _shape(x.msg)
        if shape not in seen.setdefault(x.service, set()):
            seen[x.service].add(shape)
            if n[x.service] >= warm:
                late.setdefault(x.service, set()).add(shape)
        n[x.service] += 1
    return late


_NEW_SHAPE = "disk quota exceeded on volume /data/# for tenant t-#"


def _check_new_template(lines: list[_Line], inc: Incident) -> None:
    new = [x for x in lines if x.msg.startswith("disk quota exceeded")]
    assert len(new) == NEW_TEMPLATE_LINES == inc.detail["count"] == 4
    assert {(x.service, x.level, _shape(x.msg)) for x in new} == {
        (inc.service, Level.ERROR, _NEW_SHAPE)
    }
    assert (new[0].ts, new[-1].ts) == (inc.start_ts, inc.end_ts)
    warm = Counter(
        x.service
        for x in lines
        if x.ts < inc.start_ts and x.level in (Level.WARN, Level.ERROR, Level.FATAL)
    )
    assert min(warm.values()) == inc.detail["warn_plus_before"] >= 1000
    assert _late_shapes(lines) == {inc.service: {_NEW_SHAPE}}


def _sessions(lines: list[_Line], gap_s: float = 300.0) -> dict[str, list[tuple[float, float]]]:
    """Per user, (first, last) of each run of events no more than ``gap_s`` apart."""
    out: dict[str, list[tuple[float, float]]] = {}
    for x in lines:
        user = x.attrs.get("user")
        if user is None:
            continue
        runs = out.setdefault(user, [])
        if runs and x.ts - runs[-1][1] <= gap_s:
            runs[-1] = (runs[-1][0], x.ts)
        else:
            runs.append((x.ts, x.ts))
    return out


def _check_long_session(lines: list[_Line], inc: Incident) -> None:
    sessions = _sessions(lines)
    user = inc.detail["user"]
    assert sessions[user] == [(inc.start_ts, inc.end_ts)]
    assert inc.end_ts - inc.start_ts == inc.detail["duration_s"] >= 89 * 60
    times = [x.ts for x in lines if x.attrs.get("user") == user]
    assert len(times) == inc.detail["events"]
    # an event every 10-40 s (plus the wait for a record of that service to write over)
    assert (
        round(max(b - a for a, b in itertools.pairwise(times)), 3) == inc.detail["max_gap_s"] < 45
    )
    assert {x.service for x in lines if x.attrs.get("user") == user} == {inc.service}
    others = [s for u, runs in sessions.items() if u != user for s in runs]
    assert len(others) > 100
    assert all(end - start < 300 for start, end in others)  # short, then quiet for good
    assert sum(end - start > 60 for start, end in others) > 50  # and not all one-offs


_CHECKS = {
    "burst": _check_burst,
    "anomaly": _check_spike,
    "rate_drop": _check_drop,
    "silence": _check_silence,
    "new_template": _check_new_template,
    "long_session": _check_long_session,
}


def _check(lines: list[_Line], inc: Incident) -> None:
    if inc.kind == "pattern":
        rule = inc.detail["rule"]
        assert rule in ("brute_force_login", "order_without_payment")
        (_check_brute_force if rule == "brute_force_login" else _check_orders)(lines, inc)
    else:
        _CHECKS[inc.kind](lines, inc)


@pytest.mark.parametrize("name", CALM_SCENARIOS)
def test_scenario_injects_its_one_incident(name: str) -> None:
    records, found = _scenario(name)
    ((inc),) = found
    assert inc.kind == _SCENARIO_KIND[name]
    assert inc.start_ts >= T0 + _scenario_args(name)["burst_at_s"]  # type: ignore[operator]
    assert inc.start_ts < T0 + _scenario_args(name)["burst_at_s"] + 60  # type: ignore[operator]
    _check(list(_scenario_lines(name)), inc)
    assert sum(r.truth is None for r in records) == 0


def test_all_holds_every_incident_30_minutes_apart() -> None:
    _, found = _scenario("all")
    kinds = [i.kind if i.kind != "pattern" else i.detail["rule"] for i in found]
    assert kinds == [
        "burst",
        "anomaly",
        "rate_drop",
        "silence",
        "brute_force_login",
        "order_without_payment",
        "new_template",
        "long_session",
    ]
    assert len(ALL_ORDER) == len(found)
    at = T0 + _scenario_args("all")["burst_at_s"]  # type: ignore[operator]
    for k, inc in enumerate(found):
        assert 0 <= inc.start_ts - (at + k * ALL_SPACING_S) < 60
    lines = list(_scenario_lines("all"))
    for inc in found:
        _check(lines, inc)
    services = {i.service for i in found if i.kind in ("burst", "anomaly", "rate_drop", "silence")}
    assert len(services) == 4  # by default every count incident has a service of its own


# ------------------------------------------------ the calm baseline, against the default rules


def _busy_windows(found: Iterable[Incident]) -> dict[str, set[int]]:
    """Per service, the windows an incident may legitimately alert in: the incident's, and
    for volume incidents the 10 windows after (a 10-window baseline still remembers)."""
    busy: dict[str, set[int]] = {}
    for inc in found:
        end = inc.end_ts + (600 if inc.kind in ("rate_drop", "silence") else 0)
        busy.setdefault(inc.service, set()).update(
            range(_window(inc.start_ts), math.ceil(end / 60) * 60, 60)
        )
    return busy


def _anomalies(
    counts: Counter[tuple[str, str, int]], windows: list[int]
) -> set[tuple[str, str, int]]:
    """Default anomaly rule: z >= 4 over the last 30 windows once 10 are known, count >= 5,
    std floored at 1, direction up; per (service, level)."""
    out = set()
    for service, level in {(s, lv) for s, lv, _ in counts}:
        history: deque[int] = deque(maxlen=30)
        for w in windows:
            n = counts[(service, level, w)]
            if len(history) >= 10 and n >= 5:
                mean = statistics.fmean(history)
                std = max(statistics.pstdev(history), 1.0)
                if (n - mean) / std >= 4:
                    out.add((service, level, w))
            history.append(n)
    return out


def _rate_alerts(
    volume: Counter[tuple[str, int]], services: set[str], windows: list[int]
) -> set[tuple[str, int]]:
    """Default rate rule: below 0.2 x or above 5 x the mean of the last 10 windows."""
    out = set()
    for service in services:
        history: deque[int] = deque(maxlen=10)
        for w in windows:
            n = volume[(service, w)]
            if len(history) == 10:
                base = statistics.fmean(history)
                if n < 0.2 * base or n > 5 * base:
                    out.add((service, w))
            history.append(n)
    return out


@pytest.mark.parametrize("name", [*CALM_SCENARIOS, "all"])
def test_calm_outside_the_incidents(name: str) -> None:
    _, found = _scenario(name)
    lines = _scenario_lines(name)
    counts, windows = _series(lines)
    busy = _busy_windows(found)

    # errors: <= 2 per (service, window) except the burst and spike windows
    errors: Counter[tuple[str, int]] = Counter()
    for (service, level, w), n in counts.items():
        if level in ("ERROR", "FATAL"):
            errors[(service, w)] += n
    hot = {cell: n for cell, n in errors.items() if n > BASELINE_ERROR_CAP}
    expected = {
        (i.service, int(i.start_ts)): i.detail["count"]
        for i in found
        if i.kind in ("burst", "anomaly")
    }
    assert hot == expected

    # anomaly: only the burst and spike windows
    anomalies = {(s, w) for s, _lv, w in _anomalies(counts, windows)}
    assert anomalies == set(expected)

    # rate: only in and just after the drop and silence
    volume: Counter[tuple[str, int]] = Counter()
    for (service, _level, w), n in counts.items():
        volume[(service, w)] += n
    services = {s for s, _ in volume}
    assert services == set(service_names(5))
    rate = _rate_alerts(volume, services, windows)
    assert all(w in busy.get(s, ()) for s, w in rate)
    for inc in found:
        if inc.kind in ("rate_drop", "silence"):
            assert (inc.service, int(inc.start_ts)) in rate

    # silence: every service logs at least every 60 s, but for the silence itself
    last: dict[str, float] = {}
    quiet = {(i.service, i.start_ts) for i in found if i.kind == "silence"}
    for x in lines:
        if x.service in last and x.ts - last[x.service] >= 60:
            assert (x.service, _window(x.ts) - 600) in quiet
        last[x.service] = x.ts

    # patterns and templates: nothing beyond what the incidents account for
    users = [u for u, ev in _logins(list(lines)).items() if _brute_forced(ev)]
    assert users == [i.detail["user"] for i in found if i.detail.get("rule") == "brute_force_login"]
    late = _late_shapes(lines)
    assert late == {i.service: {_NEW_SHAPE} for i in found if i.kind == "new_template"}
    long = [u for u, runs in _sessions(list(lines)).items() if any(e - s >= 300 for s, e in runs)]
    assert long == [i.detail["user"] for i in found if i.kind == "long_session"]


def test_cli_generate_uses_the_scenario_defaults(tmp_path: Path) -> None:
    from logradar.cli import app

    runner = CliRunner()
    out = tmp_path / "bf.log"
    result = runner.invoke(
        app, ["generate", "--scenario", "brute-force", "--rate", "20", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    lines = list(read_records(out))
    defaults = scenario_defaults("brute-force")
    assert len(lines) == defaults["count"] * 20 / defaults["rate"]  # its event time, at 20/s
    assert sum(b"login failed" in v for v in lines) > 20

    short = runner.invoke(
        app, ["generate", "--scenario", "silence", "--count", "100", "-o", str(out)]
    )
    assert short.exit_code == 2 and "needs >=" in short.output
