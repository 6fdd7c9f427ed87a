"""Sequence patterns: ordered steps per key, counts, windows, gaps, absent steps, state."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any

import pytest

from logradar.alerts import Alert, alert_id
from logradar.detectors.patterns import (
    SEP,
    PatternEngine,
    PatternSpec,
    PredicateSpec,
    StepSpec,
    format_span,
    pattern_from_rule,
)
from logradar.model import Level, LogEvent


def ev(ts: float, service: str, message: str, level: str = "INFO", **attrs: Any) -> LogEvent:
    return LogEvent(ts, service, Level(level), message, host=attrs.pop("host", ""), attrs=attrs)


def fail(ts: float, user: str = "u42") -> LogEvent:
    return ev(ts, "auth", f"login failed for {user}", "WARN", user=user)


def ok(ts: float, user: str = "u42") -> LogEvent:
    return ev(ts, "auth", f"login succeeded for {user}", user=user)


def created(ts: float, order: str = "o17") -> LogEvent:
    return ev(ts, "checkout", "order created", order_id=order)


def paid(ts: float, order: str = "o17") -> LogEvent:
    return ev(ts, "payments", "payment captured", order_id=order)


def brute(
    within: float = 60, max_gap: float | None = None, success: dict[str, Any] | None = None
) -> PatternSpec:
    return PatternSpec(
        name="brute_force_login",
        severity="high",
        key="user",
        within=within,
        max_gap=max_gap,
        steps=(
            StepSpec.of(service="auth", message="login failed", count=5),
            StepSpec.of(service="auth", message="login succeeded", **(success or {})),
        ),
    )


ORDER = PatternSpec(
    name="order_without_payment",
    key="order_id",
    steps=(
        StepSpec.of(service="checkout", message="order created"),
        StepSpec(
            absent=PredicateSpec.of(service="payments", message="payment captured"), within=120
        ),
    ),
)


def run(engine: PatternEngine, events: list[LogEvent], until: float | None = None) -> list[Alert]:
    alerts: list[Alert] = []
    for event in events:
        alerts.extend(engine.on_event(event))
    if until is not None:
        alerts.extend(engine.advance(until))
    return alerts


def fails(*ts: float, user: str = "u42") -> list[LogEvent]:
    return [fail(t, user) for t in ts]


def brief(alerts: list[Alert]) -> list[tuple[str, float, float, int, int]]:
    return [
        (a.extra["key_value"], a.event_time, a.observed, a.window_start, a.window_end)
        for a in alerts
    ]


# --------------------------------------------------------------------------- brute force


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param(fails(0, 10, 20, 30, 35) + [ok(41)], [("u42", 41, 6, 0, 41)], id="fires"),
        pytest.param(fails(0, 10, 20, 30) + [ok(41)], [], id="four-failures"),
        pytest.param(fails(0, 20, 40, 60, 80) + [ok(85)], [], id="spread-over-more-than-within"),
        pytest.param(fails(0, 10, 20, 30, 40) + [ok(60)], [("u42", 60, 6, 0, 60)], id="at-within"),
        pytest.param(fails(0, 10, 20, 30, 40) + [ok(60.5)], [], id="just-past-within"),
        pytest.param(
            fails(0, 1, 2, 3, 4, 5) + [ok(6)], [("u42", 6, 6, 0, 6)], id="sixth-failure-skipped"
        ),
        pytest.param(
            [ok(0)] + fails(1, 2, 3, 4, 5) + [ok(6)], [("u42", 6, 6, 1, 6)], id="early-success"
        ),
        pytest.param(
            fails(0) + fails(100, 101, 102, 103, 104) + [ok(105)],
            [("u42", 105, 6, 100, 105)],
            id="restart-after-expiry",
        ),
        pytest.param(
            [
                fail(0),
                ev(1, "auth", "password reset requested", user="u42"),
                fail(2),
                ev(3, "web", "login succeeded via sso", user="u42"),  # other service
                fail(4),
                ev(5, "auth", "login failed for u42"),  # no user attr
                fail(6),
                ev(7, "auth", "Login Succeeded for u42", user="u42"),  # case-sensitive
                fail(8),
                ok(9),
            ],
            [("u42", 9, 6, 0, 9)],
            id="non-matching-events-skipped",
        ),
        pytest.param(
            [
                fail(0, "u1"),
                fail(1, "u2"),
                fail(2, "u1"),
                fail(3, "u2"),
                fail(4, "u1"),
                fail(5, "u2"),
                fail(6, "u1"),
                ok(7, "u2"),
                fail(8, "u1"),
                ok(9, "u1"),
            ],
            [("u1", 9, 6, 0, 9)],
            id="users-do-not-mix",
        ),
    ],
)
def test_brute_force(events: list[LogEvent], expected: list[tuple[Any, ...]]) -> None:
    assert brief(run(PatternEngine([brute()]), events)) == expected


def test_brute_force_alert_contents() -> None:
    alerts = run(PatternEngine([brute()]), fails(0, 10, 20, 30, 35) + [ok(41)])
    assert len(alerts) == 1
    a = alerts[0]
    assert (a.rule, a.kind, a.severity, a.state) == (
        "brute_force_login",
        "pattern",
        "high",
        "firing",
    )
    assert (a.service, a.level, a.expected, a.threshold, a.score) == ("auth", "INFO", None, 6, 1.0)
    assert a.summary == (
        "brute_force_login: user=u42 matched 6 events in 41 s (login failed x5 -> login succeeded)"
    )
    # first and latest four: the first failure, three more, the success
    assert [e.ts for e in a.evidence] == [0, 20, 30, 35, 41]
    assert [e.level for e in a.evidence] == ["WARN"] * 4 + ["INFO"]
    assert a.extra == {"key": "user", "key_value": "u42"}
    assert a.id == alert_id("brute_force_login", "auth", "INFO", "user=u42", 41.0, "firing")
    doc = a.to_dict()
    assert (doc["key"], doc["key_value"], len(doc["evidence"])) == ("user", "u42", 5)


@pytest.mark.parametrize(
    ("spec", "events", "expected"),
    [
        # pattern max_gap 10: the 15 s gap kills the partial, the failure at 25 restarts it
        pytest.param(
            brute(max_gap=10),
            fails(0, 5, 10, 25, 30, 35, 40, 45) + [ok(50)],
            [("u42", 50, 6, 25, 50)],
            id="gap-resets-and-restarts",
        ),
        pytest.param(
            brute(max_gap=10), fails(0, 5, 10, 15, 20) + [ok(30)], [("u42", 30, 6, 0, 30)]
        ),
        pytest.param(brute(max_gap=10), fails(0, 5, 10, 15, 20) + [ok(31)], [], id="gap-to-last"),
        # a step's max_gap overrides the pattern's for that step's events
        pytest.param(
            brute(max_gap=30),
            fails(0, 1, 2, 3, 4) + [ok(34)],
            [("u42", 34, 6, 0, 34)],
            id="pattern-gap-30",
        ),
        pytest.param(
            brute(max_gap=30, success={"max_gap": 5}),
            fails(0, 1, 2, 3, 4) + [ok(10)],
            [],
            id="step-gap-5",
        ),
        pytest.param(
            brute(max_gap=30, success={"max_gap": 5}),
            fails(0, 1, 2, 3, 4) + [ok(9)],
            [("u42", 9, 6, 0, 9)],
            id="step-gap-5-ok",
        ),
        # a step's within counts from the previous step's completion (the fifth failure)
        pytest.param(
            brute(success={"within": 5}),
            fails(0, 10, 20, 30, 40) + [ok(45)],
            [("u42", 45, 6, 0, 45)],
            id="step-within-edge",
        ),
        pytest.param(
            brute(success={"within": 5}),
            fails(0, 10, 20, 30, 40) + [ok(45.5)],
            [],
            id="step-within-past",
        ),
    ],
)
def test_gaps_and_step_windows(
    spec: PatternSpec, events: list[LogEvent], expected: list[tuple[Any, ...]]
) -> None:
    assert brief(run(PatternEngine([spec]), events)) == expected


# --------------------------------------------------------------------------- predicates

DEPLOY = StepSpec.of(service="deployer", message="deploy finished")


@pytest.mark.parametrize(
    ("step", "hit", "miss"),
    [
        pytest.param(
            StepSpec.of(message_regex=r"timeout after \d+ ms"),
            ev(2, "api", "upstream timeout after 300 ms", host="h1"),
            ev(1, "api", "upstream timeout after many ms", host="h1"),
            id="regex",
        ),
        pytest.param(
            StepSpec.of(attrs={"status": 503, "method": "GET"}),
            ev(2, "api", "request", host="h1", status=503, method="GET"),
            ev(1, "api", "request", host="h1", status="500", method="GET"),
            id="attrs",
        ),
        pytest.param(
            StepSpec.of(attrs={"canary": True}),
            ev(2, "api", "request", host="h1", canary=True),
            ev(1, "api", "request", host="h1", canary="True"),
            id="attrs-bool-as-text",
        ),
        pytest.param(
            StepSpec.of(level=["error", "fatal"]),
            ev(2, "api", "crash", "FATAL", host="h1"),
            ev(1, "api", "crash", "WARN", host="h1"),
            id="level",
        ),
        pytest.param(
            StepSpec.of(service="db", level=["ERROR"], message="deadlock"),
            ev(2, "db", "deadlock detected", "ERROR", host="h1"),
            ev(1, "db", "deadlock detected", "WARN", host="h1"),
            id="all-conditions",
        ),
    ],
)
def test_step_predicates(step: StepSpec, hit: LogEvent, miss: LogEvent) -> None:
    assert step.matches(hit) and not step.matches(miss)
    spec = PatternSpec(name="deploy_then_failure", key="host", steps=(DEPLOY, step))
    engine = PatternEngine([spec])
    deploy = ev(0, "deployer", "deploy finished v2", host="h1")
    assert run(engine, [deploy, miss]) == []
    assert brief(run(engine, [hit])) == [("h1", 2, 2, 0, 2)]


@pytest.mark.parametrize(
    ("key", "event", "value"),
    [
        ("service", ev(0, "api", "x"), "api"),
        ("host", ev(0, "api", "x", host="h7"), "h7"),
        ("host", ev(0, "api", "x"), None),
        ("user", ev(0, "api", "x", user=42), "42"),
        ("user", ev(0, "api", "x", user=""), None),
        ("user", ev(0, "api", "x"), None),
    ],
)
def test_key_values(key: str, event: LogEvent, value: str | None) -> None:
    from logradar.detectors.patterns import key_value

    assert key_value(key, event) == value


def test_interested_prefilter() -> None:
    engine = PatternEngine([brute(), ORDER])
    assert [engine.interested(ev(0, s, "x")) for s in ("auth", "checkout", "payments", "web")] == [
        True,
        True,
        True,
        False,
    ]
    wildcard = PatternSpec(name="any", key="user", steps=(StepSpec.of(level=["ERROR"]), DEPLOY))
    assert PatternEngine([brute(), wildcard]).interested(ev(0, "web", "x"))
    assert not PatternEngine([]).interested(ev(0, "web", "x"))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (41, "41 s"),
        (0.25, "0.25 s"),
        (120, "2 min"),
        (90, "1 min 30 s"),
        (3900, "1 h 5 min"),
    ],
)
def test_format_span(seconds: float, text: str) -> None:
    assert format_span(seconds) == text


# --------------------------------------------------------------------------- absent steps


@pytest.mark.parametrize(
    ("events", "until", "expected"),
    [
        pytest.param([created(100)], 219.999, [], id="before-deadline"),
        pytest.param([created(100)], 220, [("o17", 220, 1, 100, 220)], id="at-deadline"),
        pytest.param([created(100), paid(219)], 1000, [], id="paid-in-time"),
        pytest.param([created(100), paid(100)], 1000, [], id="paid-same-second"),
        pytest.param(
            [created(100), paid(150, "o18")], 220, [("o17", 220, 1, 100, 220)], id="other-order"
        ),
        pytest.param(
            [created(100), paid(90)], 220, [("o17", 220, 1, 100, 220)], id="paid-before-order"
        ),
        # an event of the key at/after the deadline settles it at once
        pytest.param([created(100), paid(220)], None, [("o17", 220, 1, 100, 220)], id="paid-late"),
        # (the second would fire at 350, but the key is in its 300 s cooldown until 520)
        pytest.param(
            [created(100), created(230)], 360, [("o17", 220, 1, 100, 220)], id="next-after-deadline"
        ),
        pytest.param(
            [created(100), created(530)],
            650,
            [("o17", 220, 1, 100, 220), ("o17", 650, 1, 530, 650)],
            id="next-after-cooldown",
        ),
        # one partial at a time: a second "order created" in the wait is ignored
        pytest.param([created(100), created(150)], 300, [("o17", 220, 1, 100, 220)], id="dup"),
    ],
)
def test_absent_step(
    events: list[LogEvent], until: float | None, expected: list[tuple[Any, ...]]
) -> None:
    assert brief(run(PatternEngine([ORDER]), events, until)) == expected


def test_absent_alert_contents_and_fires_once() -> None:
    engine = PatternEngine([ORDER])
    run(engine, [created(100)])
    assert engine.advance(219) == []
    [a] = engine.advance(220)
    assert a.summary == (
        "order_without_payment: order_id=o17 no 'payment captured' within 2 min "
        "after 'order created'"
    )
    assert (a.service, a.level, a.severity, a.observed, a.threshold) == (
        "checkout",
        "INFO",
        "medium",
        1,
        1,
    )
    assert [e.message for e in a.evidence] == ["order created"]
    assert a.id == alert_id(
        "order_without_payment", "checkout", "INFO", "order_id=o17", 220.0, "firing"
    )
    assert engine.advance(1000) == []
    assert len(engine) == 0


def test_absent_with_a_multi_step_prefix() -> None:
    spec = PatternSpec(
        name="reserved_not_shipped",
        key="order_id",
        steps=(
            StepSpec.of(message="order created"),
            StepSpec.of(message="stock reserved"),
            StepSpec(absent=PredicateSpec.of(message="shipped"), within=60),
        ),
    )
    engine = PatternEngine([spec])
    events = [created(0), ev(10, "stock", "stock reserved", order_id="o17")]
    assert run(engine, events, 69) == []  # deadline counts from the reservation: 70
    [a] = engine.advance(70)
    assert (a.observed, a.window_start, a.window_end, a.service) == (2, 0, 70, "stock")
    assert a.summary.endswith("no 'shipped' within 1 min after 'stock reserved'")


# --------------------------------------------------------------------------- out of order


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        # accepted: not before the partial's first event (so inside every bound)
        pytest.param(fails(10, 20, 15, 30, 40) + [ok(50)], [("u42", 50, 6, 10, 50)], id="inside"),
        # ignored: before the partial's first event, so only four failures count
        pytest.param(fails(10, 5, 20, 30, 40) + [ok(50)], [], id="before-first"),
        # the completing event itself late: event_time is its ts, the window ends at the latest
        pytest.param(fails(10, 20, 30, 40, 50) + [ok(45)], [("u42", 45, 6, 10, 50)], id="late-end"),
    ],
)
def test_out_of_order(events: list[LogEvent], expected: list[tuple[Any, ...]]) -> None:
    assert brief(run(PatternEngine([brute()]), events)) == expected


def test_out_of_order_evidence_keeps_arrival_order() -> None:
    [a] = run(PatternEngine([brute()]), fails(10, 20, 15, 30, 40) + [ok(50)])
    assert [e.ts for e in a.evidence] == [10, 15, 30, 40, 50]


# --------------------------------------------------------------------------- bounds


def test_expired_partial_is_freed_at_the_bound() -> None:
    engine = PatternEngine([brute()])
    run(engine, fails(0, 1))
    engine.take_dirty()
    assert engine.advance(60) == [] and len(engine) == 1  # within is inclusive
    engine.advance(60.001)
    assert len(engine) == 0
    assert engine.take_dirty() == [(f"brute_force_login{SEP}u42", None)]


def test_gap_expiry_frees_earlier() -> None:
    engine = PatternEngine([brute(max_gap=10)])
    run(engine, fails(0, 5))
    engine.advance(15)
    assert len(engine) == 1
    engine.advance(15.5)
    assert len(engine) == 0


def test_incident_is_dropped_after_the_cooldown() -> None:
    engine = PatternEngine([brute()])
    assert len(run(engine, fails(0, 1, 2, 3, 4) + [ok(5)])) == 1
    assert len(engine) == 1  # partial reset, incident kept for the cooldown
    engine.advance(64.9)
    assert len(engine) == 1
    engine.advance(65)
    assert len(engine) == 0


def test_cap_evicts_the_least_recently_active() -> None:
    engine = PatternEngine([brute()], max_partials=3)
    run(engine, [fail(0, "u1"), fail(1, "u2"), fail(2, "u3"), fail(3, "u1"), fail(4, "u4")])
    assert (len(engine), engine.evicted) == (3, 1)
    assert {v for _, v in engine.states} == {"u1", "u3", "u4"}
    dirty = dict(engine.take_dirty())
    assert dirty[f"brute_force_login{SEP}u2"] is None
    run(engine, fails(5, 6, 7, user="u5") + fails(8, 9, user="u6"))
    assert (len(engine), engine.evicted) == (3, 3)
    # u1 survived the first eviction with two failures: three more and a success fire
    engine2 = PatternEngine([brute()], max_partials=3)
    run(engine2, [fail(0, "u1"), fail(1, "u2"), fail(2, "u3"), fail(3, "u1"), fail(4, "u4")])
    assert brief(run(engine2, fails(5, 6, 7, user="u1") + [ok(8, "u1")])) == [("u1", 8, 6, 0, 8)]


def test_cooldown_suppresses_repeats_for_the_same_key() -> None:
    engine = PatternEngine([brute()])
    first = run(engine, fails(0, 1, 2, 3, 4) + [ok(5)])
    again = run(engine, fails(10, 11, 12, 13, 14) + [ok(15)])  # 10 s later: in cooldown
    other = run(engine, fails(10, 11, 12, 13, 14, user="u7") + [ok(15, "u7")])
    later = run(engine, fails(70, 71, 72, 73, 74) + [ok(75)])  # 70 s after: out of it
    assert (len(first), len(again), len(other), len(later)) == (1, 0, 1, 1)
    assert engine.suppressed == 1
    assert first[0].id != later[0].id


# --------------------------------------------------------------------------- state


def _stream() -> tuple[list[LogEvent], list[LogEvent]]:
    before = fails(0, 1, 2) + [created(3)] + fails(4, 5, 6, 7, 8, user="u9") + [ok(9, "u9")]
    after = fails(10, 11) + [ok(12)] + fails(13, 14, 15, 16, 17, user="u9") + [ok(18, "u9")]
    return before, after + [paid(50, "o18"), created(60, "o18")]


def test_state_round_trip_gives_the_same_alerts() -> None:
    before, after = _stream()
    a = PatternEngine([brute(), ORDER])
    assert len(run(a, before)) == 1
    b = PatternEngine([brute(), ORDER])
    for key, data in a.take_dirty():
        assert data is not None
        b.restore(key, json.loads(json.dumps(data)))
    assert len(b) == len(a) == 3
    got_a = [x.to_dict() for x in run(a, after, 1000)]
    got_b = [x.to_dict() for x in run(b, after, 1000)]
    assert got_a == got_b
    assert [(x["rule"], x["key_value"]) for x in got_a] == [
        ("brute_force_login", "u42"),
        ("order_without_payment", "o17"),
        ("order_without_payment", "o18"),
    ]  # u9's repeat at 18 is in cooldown, in both engines
    assert a.suppressed == b.suppressed == 1


@pytest.mark.parametrize(
    ("key", "data"),
    [
        (f"gone_pattern{SEP}u1", {"p": None, "i": {"s": None, "r": 1.0}}),
        ("brute_force_login", {"p": None, "i": {"s": None, "r": 1.0}}),
        (
            f"brute_force_login{SEP}u1",  # a deadline, but the pattern has no absent step now
            {"p": {"s": 2, "c": 0, "f": 0, "l": 1, "r": 1, "d": 5.0}, "i": None},
        ),
        (f"brute_force_login{SEP}u1", {"p": None, "i": None}),
    ],
)
def test_restore_drops_what_no_longer_fits(key: str, data: dict[str, Any]) -> None:
    engine = PatternEngine([brute()])
    engine.restore(key, data)
    assert len(engine) == 0


def test_ids_are_deterministic() -> None:
    events = fails(0, 1, 2, 3, 4) + [ok(5)] + [created(6)] + fails(0, 1, 2, 3, 4, user="u2")
    events += [ok(5, "u2")]
    one = [x.id for x in run(PatternEngine([brute(), ORDER]), events, 500)]
    two = [x.id for x in run(PatternEngine([brute(), ORDER]), events, 500)]
    assert one == two and len(set(one)) == 3


# --------------------------------------------------------------------------- specs


def test_pattern_from_rule_reads_the_rules_shape() -> None:
    step = dict.fromkeys(("service", "level", "message", "message_regex", "attrs", "within"))
    rule = SimpleNamespace(
        name="p",
        severity="high",
        key="user",
        within=60.0,
        max_gap=None,
        steps=[
            SimpleNamespace(
                **(step | {"level": (Level.ERROR,), "message_regex": re.compile(r"x\d")}),
                count=2,
                max_gap=5.0,
                absent=None,
            ),
            SimpleNamespace(
                **(step | {"within": 30.0}),
                count=1,
                max_gap=None,
                absent=SimpleNamespace(
                    **(step | {"service": "pay", "attrs": {"code": 7}}),
                ),
            ),
        ],
    )
    spec = pattern_from_rule(rule)
    first, last = spec.steps
    assert (spec.name, spec.severity, spec.key, spec.within) == ("p", "high", "user", 60.0)
    assert (first.level, first.count, first.max_gap) == (frozenset({"ERROR"}), 2, 5.0)
    assert first.message_regex is not None and first.message_regex.pattern == r"x\d"
    assert last.absent == PredicateSpec(service="pay", attrs=(("code", "7"),))
    assert last.within == 30.0
    PatternEngine([spec])  # usable as is


@pytest.mark.parametrize(
    "build",
    [
        lambda: PatternSpec(name="p", key="k", steps=()),
        lambda: PatternSpec(name="p", key="", steps=(DEPLOY,)),
        lambda: PatternSpec(name="p", key="k", within=0, steps=(DEPLOY,)),
        lambda: PatternSpec(
            name="p",
            key="k",
            steps=(StepSpec(absent=PredicateSpec(), within=5), DEPLOY),
        ),
        lambda: PatternSpec(
            name="p",
            key="k",
            steps=(DEPLOY, StepSpec(absent=PredicateSpec(), within=5), DEPLOY),
        ),
        lambda: StepSpec(absent=PredicateSpec()),
        lambda: StepSpec(count=0),
        lambda: PatternEngine([brute(), brute()]),
    ],
)
def test_invalid_specs_raise(build: Any) -> None:
    with pytest.raises(ValueError):
        build()


def test_int_and_float_timestamps_give_the_same_ids() -> None:
    as_int = run(PatternEngine([brute()]), fails(0, 1, 2, 3, 4) + [ok(5)])
    as_float = run(PatternEngine([brute()]), fails(0.0, 1.0, 2.0, 3.0, 4.0) + [ok(5.0)])
    assert [a.id for a in as_int] == [a.id for a in as_float]
