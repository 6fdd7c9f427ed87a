"""Sessions per key: inactivity timeout, records, long/error session alerts, bounds, state."""

from __future__ import annotations

import json
from typing import Any

import pytest

from logradar.alerts import Alert, alert_id
from logradar.detectors.sessions import SessionTracker
from logradar.model import Level, LogEvent

Ended = tuple[list[dict[str, Any]], list[Alert]]


def ev(ts: float, user: str | None = "u1", service: str = "api", level: str = "INFO") -> LogEvent:
    attrs = {} if user is None else {"user": user}
    return LogEvent(ts, service, Level(level), "msg", host="h1", attrs=attrs)


def feed(tracker: SessionTracker, events: list[LogEvent]) -> Ended:
    records: list[dict[str, Any]] = []
    alerts: list[Alert] = []
    for event in events:
        r, a = tracker.on_event(event)
        records += r
        alerts += a
    return records, alerts


def spans(records: list[dict[str, Any]]) -> list[tuple[str, float, float, int]]:
    return [(r["key_value"], r["start"], r["end"], r["events"]) for r in records]


@pytest.mark.parametrize(
    ("now", "ended"),
    [(399.0, False), (400.0, False), (400.001, True), (10_000.0, True)],
)
def test_timeout_boundary(now: float, ended: bool) -> None:
    tracker = SessionTracker(timeout_s=300)
    feed(tracker, [ev(0), ev(100)])
    records, _ = tracker.advance(now)
    assert spans(records) == ([("u1", 0.0, 100.0, 2)] if ended else [])
    assert len(tracker) == (0 if ended else 1)


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        # exactly timeout_s later: the same session
        pytest.param([0, 300, 600], [], id="extends-at-timeout"),
        # more than timeout_s later: the event ends the old session and opens the next
        pytest.param([0, 100, 400.5], [("u1", 0.0, 100.0, 2)], id="ends-on-event"),
        pytest.param(
            [0, 301, 602], [("u1", 0.0, 0.0, 1), ("u1", 301.0, 301.0, 1)], id="three-sessions"
        ),
    ],
)
def test_events_after_the_timeout_start_a_new_session(
    times: list[float], expected: list[tuple[Any, ...]]
) -> None:
    tracker = SessionTracker(timeout_s=300)
    records, _ = feed(tracker, [ev(t) for t in times])
    assert spans(records) == expected
    assert len(tracker) == 1


def test_record_contents() -> None:
    tracker = SessionTracker()
    feed(
        tracker,
        [
            ev(10, service="web"),
            ev(20, service="db", level="ERROR"),
            ev(30, service="api", level="FATAL"),
            ev(40.5, service="web", level="WARN"),
        ],
    )
    records, alerts = tracker.advance(1000)
    assert records == [
        {
            "key": "user",
            "key_value": "u1",
            "start": 10.0,
            "end": 40.5,
            "duration_s": 30.5,
            "events": 4,
            "errors": 2,
            "services": ["api", "db", "web"],
            "evicted": False,
        }
    ]
    assert alerts == []  # no long_s, no max_errors


def test_records_are_sorted_by_end_then_key() -> None:
    tracker = SessionTracker(timeout_s=10)
    feed(tracker, [ev(5, "b"), ev(0, "c"), ev(5, "a"), ev(1, "c")])
    records, _ = tracker.advance(100)
    assert [(r["key_value"], r["end"]) for r in records] == [("c", 1.0), ("a", 5.0), ("b", 5.0)]


def test_services_are_capped() -> None:
    tracker = SessionTracker()
    feed(tracker, [ev(i, service=f"s{i:02}") for i in range(15)])
    records, _ = tracker.flush_all()
    assert records[0]["services"] == [f"s{i:02}" for i in range(10)]
    assert records[0]["events"] == 15


@pytest.mark.parametrize(
    ("times", "fired"),
    [([0, 200, 400, 3599], False), ([0, 200, 400, 3600], True), ([0, 250, 500, 3700], True)],
)
def test_long_session_alert(times: list[float], fired: bool) -> None:
    tracker = SessionTracker(timeout_s=3600, long_s=3600, severity="low")
    feed(tracker, [ev(t) for t in times])
    _, alerts = tracker.advance(100_000)
    assert [a.rule for a in alerts] == (["long_session"] if fired else [])
    if fired:
        a = alerts[0]
        end = float(times[-1])
        assert (a.kind, a.severity, a.state, a.service, a.level) == (
            "session",
            "low",
            "firing",
            "api",
            "INFO",
        )
        assert (a.event_time, a.window_start, a.window_end) == (end, 0, int(end))
        assert (a.observed, a.threshold, a.expected, a.score) == (
            end,
            3600,
            None,
            round(end / 3600, 3),
        )
        assert a.extra == {
            "key": "user",
            "key_value": "u1",
            "events": 4,
            "errors": 0,
            "evicted": False,
        }
        assert a.id == alert_id("long_session", "api", "INFO", "user=u1", 0.0, "firing")


def test_long_session_summary() -> None:
    tracker = SessionTracker(timeout_s=3600, long_s=3600)
    feed(tracker, [ev(0), ev(3000), ev(6000), ev(7530, level="ERROR")])
    _, [a] = tracker.advance(100_000)
    assert a.summary == (
        "long_session: user=u1 session lasted 2 h 5 min 30 s (4 events, 1 ERROR/FATAL; limit 1 h)"
    )


@pytest.mark.parametrize(
    ("levels", "rules"),
    [
        (["ERROR", "INFO", "ERROR"], []),
        (["ERROR", "WARN", "FATAL", "ERROR"], ["error_session"]),
        (["FATAL"] * 5, ["error_session"]),
        (["WARN", "UNKNOWN", "INFO", "DEBUG"], []),
    ],
)
def test_error_session_alert(levels: list[str], rules: list[str]) -> None:
    tracker = SessionTracker(max_errors=3)
    feed(tracker, [ev(i, level=lv) for i, lv in enumerate(levels)])
    _, alerts = tracker.advance(1000)
    assert [a.rule for a in alerts] == rules
    if rules:
        assert alerts[0].level == "ERROR"
        assert alerts[0].observed == sum(lv in ("ERROR", "FATAL") for lv in levels)
        assert alerts[0].threshold == 3
        assert alerts[0].summary.startswith("error_session: user=u1 session had ")


def test_both_alerts_for_one_session_and_distinct_ids() -> None:
    tracker = SessionTracker(timeout_s=600, long_s=60, max_errors=1)
    feed(tracker, [ev(0, level="ERROR"), ev(90)])
    _, alerts = tracker.advance(1000)
    assert [a.rule for a in alerts] == ["long_session", "error_session"]
    assert len({a.id for a in alerts}) == 2


@pytest.mark.parametrize(
    ("key", "event", "value"),
    [
        ("user", ev(0, user=None), None),
        ("service", ev(0, user=None, service="db"), "db"),
        ("host", ev(0, user=None), "h1"),
    ],
)
def test_key_choice_and_missing_keys(key: str, event: LogEvent, value: str | None) -> None:
    tracker = SessionTracker(key=key)
    tracker.on_event(event)
    assert list(tracker.sessions) == ([] if value is None else [value])


def test_out_of_order_events_extend_and_very_late_ones_are_ignored() -> None:
    tracker = SessionTracker(timeout_s=300)
    feed(tracker, [ev(1000), ev(900), ev(1100), ev(500)])  # 500: 400 s before the start
    assert tracker.late == 1
    records, _ = tracker.flush_all()
    assert spans(records) == [("u1", 900.0, 1100.0, 3)]


def test_cap_evicts_the_least_recently_active() -> None:
    tracker = SessionTracker(max_sessions=2, max_errors=1)
    records, alerts = feed(tracker, [ev(0, "a", level="ERROR"), ev(1, "b"), ev(2, "a"), ev(3, "c")])
    assert tracker.evicted == 1
    assert [(r["key_value"], r["evicted"]) for r in records] == [("b", True)]
    assert alerts == []
    assert sorted(tracker.sessions) == ["a", "c"]
    assert dict(tracker.take_dirty())["b"] is None
    records, alerts = feed(tracker, [ev(4, "d")])  # now "a" is the least recently active
    assert [(r["key_value"], r["evicted"]) for r in records] == [("a", True)]
    assert [(a.rule, a.extra["evicted"]) for a in alerts] == [("error_session", True)]


def test_flush_all_ends_everything_in_order() -> None:
    tracker = SessionTracker()
    feed(tracker, [ev(3, "b"), ev(1, "a"), ev(2, "c")])
    records, _ = tracker.flush_all()
    assert [r["key_value"] for r in records] == ["a", "c", "b"]
    assert len(tracker) == 0
    assert tracker.advance(10_000) == ([], [])
    assert tracker.take_dirty() == [("a", None), ("b", None), ("c", None)]


def test_state_round_trip_gives_the_same_output() -> None:
    before = [ev(0, "a", level="ERROR"), ev(10, "b", "db"), ev(20, "a", "web")]
    after = [ev(30, "b"), ev(400, "a"), ev(500, "c")]
    one = SessionTracker(timeout_s=300, long_s=5, max_errors=1)
    feed(one, before)
    two = SessionTracker(timeout_s=300, long_s=5, max_errors=1)
    for value, data in one.take_dirty():
        assert data is not None
        two.restore(value, json.loads(json.dumps(data)))
    out_one = [feed(one, after), one.advance(900), one.flush_all()]
    out_two = [feed(two, after), two.advance(900), two.flush_all()]
    assert [(recs, [a.to_dict() for a in al]) for recs, al in out_one] == [
        (recs, [a.to_dict() for a in al]) for recs, al in out_two
    ]
    recs = [r for recs, _ in out_one for r in recs]
    assert [(r["key_value"], r["start"], r["end"]) for r in recs] == [
        ("a", 0.0, 20.0),  # ended by the event at 400 (380 s idle)
        ("b", 10.0, 30.0),  # then advance(900), by end
        ("a", 400.0, 400.0),
        ("c", 500.0, 500.0),
    ]


def test_restore_respects_the_cap() -> None:
    tracker = SessionTracker(max_sessions=1)
    tracker.restore("a", {"s": 0, "l": 1})
    tracker.restore("b", {"s": 0, "l": 2})
    assert (list(tracker.sessions), tracker.evicted) == (["b"], 1)


def test_ids_are_deterministic_across_runs_and_timestamp_types() -> None:
    def ids(times: list[float]) -> list[str]:
        tracker = SessionTracker(long_s=1)
        feed(tracker, [ev(t) for t in times])
        return [a.id for a in tracker.flush_all()[1]]

    assert ids([0, 5]) == ids([0, 5]) == ids([0.0, 5.0]) != ids([1, 5])


@pytest.mark.parametrize(
    "kwargs",
    [{"timeout_s": 0}, {"max_sessions": 0}, {"long_s": 0}, {"max_errors": 0}, {"key": ""}],
)
def test_invalid_settings_raise(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SessionTracker(**kwargs)
