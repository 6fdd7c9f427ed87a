"""Rules: the YAML file parses into frozen models, merges overrides, and names line and field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from logradar.model import Level, LogEvent
from logradar.rules import (
    AnomalyRule,
    BurstRule,
    RateRule,
    Rules,
    RulesError,
    default_rules,
    format_duration,
    load_rules,
    parse_duration,
    parse_rules,
    summary,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_FILE = REPO / "ops" / "rules.example.yaml"

EXAMPLE = """\
defaults:
  burst: {threshold: 10, levels: [ERROR, FATAL]}
  anomaly: {z: 4.0, min_windows: 10, min_count: 5, direction: up}
  rate: {drop_ratio: 0.2, spike_ratio: 5.0, silence_s: 300}
services:
  checkout: {burst: {threshold: 20}}
  batch-jobs: {rate: {enabled: false}}
patterns:
  - name: brute_force_login
    severity: high
    key: user
    within: 60s
    steps:
      - {service: auth, message: "login failed", count: 5}
      - {service: auth, message: "login succeeded"}
  - name: order_without_payment
    key: order_id
    steps:
      - {service: checkout, message: "order created"}
      - {absent: {service: payments, message: "payment captured"}, within: 2m}
"""

# A valid pattern list to which error cases append (patterns.0 is fine).
PATTERN_OK = """\
patterns:
  - name: ok
    key: user
    steps:
      - {service: a}
      - {service: b}
"""


def test_the_example_parses_and_merges() -> None:
    rules = parse_rules(EXAMPLE)
    checkout = rules.burst_for("checkout")
    assert checkout.threshold == 20
    assert checkout.levels == (Level.ERROR, Level.FATAL)
    assert checkout.severity == "high"
    assert rules.burst_for("anything-else").threshold == 10
    assert rules.rate_for("batch-jobs").enabled is False
    assert rules.rate_for("batch-jobs").silence_s == 300.0
    assert rules.rate_for("checkout").enabled is True
    assert rules.anomaly_for("checkout") == rules.defaults.anomaly

    brute, order = rules.patterns
    assert (brute.name, brute.severity, brute.key, brute.within) == (
        "brute_force_login",
        "high",
        "user",
        60.0,
    )
    assert [s.count for s in brute.steps] == [5, 1]
    assert (order.severity, order.within, order.max_gap) == ("medium", 300.0, None)
    last = order.steps[-1]
    assert last.absent is not None and last.within == 120.0
    assert (last.absent.service, last.absent.message) == ("payments", "payment captured")


def test_the_ops_example_file_loads_and_matches_the_documented_example() -> None:
    rules = load_rules(EXAMPLE_FILE)
    assert rules.model_copy(update={"sessions": []}) == parse_rules(EXAMPLE)
    assert [(s.key, s.timeout, s.long, s.max_errors) for s in rules.sessions] == [
        ("user", 300.0, 3600.0, 20)
    ]
    assert load_rules(str(EXAMPLE_FILE)) == rules


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "defaults:\n", "{}"])
def test_empty_files_mean_the_defaults(text: str) -> None:
    assert parse_rules(text) == default_rules()


def test_an_empty_file_on_disk_means_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("")
    assert load_rules(path) == default_rules()


def test_the_built_in_defaults() -> None:
    r = default_rules()
    assert r.defaults.burst == BurstRule(
        enabled=True, threshold=10, levels=(Level.ERROR, Level.FATAL), severity="high"
    )
    a = r.defaults.anomaly
    assert (a.z, a.min_windows, a.min_count, a.direction, a.window, a.std_floor, a.severity) == (
        4.0,
        10,
        5,
        "up",
        30,
        1.0,
        "medium",
    )
    rate = r.defaults.rate
    assert (rate.drop_ratio, rate.spike_ratio, rate.silence_s, rate.baseline_windows) == (
        0.2,
        5.0,
        300.0,
        10,
    )
    assert (r.services, r.patterns) == ({}, [])
    assert r.burst_for("x") is r.defaults.burst


def test_partial_defaults_keep_the_other_built_in_values() -> None:
    r = parse_rules("defaults:\n  burst: {threshold: 3}\n  anomaly:\n")
    assert (r.defaults.burst.threshold, r.defaults.burst.levels) == (3, (Level.ERROR, Level.FATAL))
    assert r.defaults.anomaly == AnomalyRule()


def test_overrides_merge_over_the_file_defaults_not_the_built_in_ones() -> None:
    r = parse_rules(
        "defaults:\n"
        "  burst: {threshold: 50, levels: [error]}\n"
        "  anomaly: {z: 3, window: 60}\n"
        "services:\n"
        "  api: {burst: {severity: CRITICAL}, anomaly: {direction: both}}\n"
        "  quiet:\n"
    )
    assert r.burst_for("api") == BurstRule(threshold=50, levels=(Level.ERROR,), severity="critical")
    assert r.anomaly_for("api") == AnomalyRule(z=3, window=60, direction="both")
    assert r.rate_for("api") == RateRule()
    assert r.burst_for("quiet") == r.defaults.burst


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ("[error, Fatal]", (Level.ERROR, Level.FATAL)),
        ("warn", (Level.WARN,)),
        ("[UNKNOWN]", (Level.UNKNOWN,)),
    ],
)
def test_levels_are_case_insensitive_and_stored_upper_case(
    levels: str, expected: tuple[Level, ...]
) -> None:
    r = parse_rules(f"defaults:\n  burst: {{levels: {levels}}}\n")
    assert r.defaults.burst.levels == expected
    assert all(isinstance(lv, Level) for lv in r.defaults.burst.levels)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30s", 30.0),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        ("1h30m", 5400.0),
        ("1d2h3m4s", 93784.0),
        (" 2M ", 120.0),
        ("45", 45.0),
        ("2.5", 2.5),
        (90, 90.0),
        (0.5, 0.5),
    ],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds
    r = parse_rules(f"defaults:\n  rate: {{silence_s: {value!r}}}\n".replace("'", '"'))
    assert r.defaults.rate.silence_s == seconds


@pytest.mark.parametrize(
    "value",
    ["", "s", "500ms", "1.5m", "2 m", "1m1h", "-5", "0", "0s", 0, -1, True, None, [1], "1w", "inf"],
)
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(30, "30s"), (120, "2m"), (5400, "1h30m"), (86400, "1d"), (90061, "1d1h1m1s"), (2.5, "2.5s")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=1, max_value=10**7))
def test_format_then_parse_round_trips(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


# (name, yaml, line, dotted field path, fragment of the message)
ERRORS = [
    ("unknown top-level key", "defaults: {}\nalerts: []\n", 2, "alerts", "unknown key 'alerts'"),
    (
        "unknown key in a service",
        "services:\n  checkout:\n    burst: {treshold: 20}\n",
        3,
        "services.checkout.burst.treshold",
        "did you mean 'threshold'",
    ),
    (
        "unknown section in a service",
        "services:\n  checkout:\n    bursts: {threshold: 20}\n",
        3,
        "services.checkout.bursts",
        "allowed: anomaly, burst, rate",
    ),
    (
        "unknown key in a step",
        PATTERN_OK + "      - service: c\n        mesage: x\n",
        8,
        "patterns.0.steps.2.mesage",
        "unknown key 'mesage'",
    ),
    (
        "unknown key inside absent",
        PATTERN_OK + "      - absent: {service: c, count: 2}\n        within: 1m\n",
        7,
        "patterns.0.steps.2.absent.count",
        "unknown key 'count'",
    ),
    (
        "bad level in defaults",
        "defaults:\n  burst:\n    levels: [ERROR, CRITICAL]\n",
        3,
        "defaults.burst.levels.1",
        "unknown level 'CRITICAL'",
    ),
    (
        "bad level in a step",
        PATTERN_OK + "      - {service: c, level: loud}\n",
        7,
        "patterns.0.steps.2.level.0",
        "unknown level 'LOUD'",
    ),
    (
        "bad duration",
        "defaults:\n  rate:\n    silence_s: 5 minutes\n",
        3,
        "defaults.rate.silence_s",
        "expected a duration",
    ),
    (
        "bad pattern duration",
        PATTERN_OK.replace("    key: user\n", "    key: user\n    within: 500ms\n"),
        4,
        "patterns.0.within",
        "'500ms'",
    ),
    (
        "threshold not positive",
        "\n\ndefaults:\n  burst: {threshold: 0}\n",
        4,
        "defaults.burst.threshold",
        "greater than 0",
    ),
    (
        "drop ratio out of range",
        "services:\n  api:\n    rate:\n      drop_ratio: 1.5\n",
        4,
        "services.api.rate.drop_ratio",
        "less than 1",
    ),
    (
        "bad direction",
        "defaults:\n  anomaly: {direction: sideways}\n",
        2,
        "defaults.anomaly.direction",
        "'sideways'",
    ),
    (
        "bad severity",
        "defaults:\n  burst: {severity: urgent}\n",
        2,
        "defaults.burst.severity",
        "'urgent'",
    ),
    (
        "override breaks a cross-field rule after merging",
        "services:\n  api:\n    anomaly: {window: 5}\n",
        3,
        "services.api.anomaly.min_windows",
        "after merging with the defaults",
    ),
    (
        "pattern with one step",
        "patterns:\n  - name: p\n    key: user\n    steps:\n      - {service: a}\n",
        4,
        "patterns.0.steps",
        "at least 2 items",
    ),
    (
        "pattern without key",
        "patterns:\n  - name: p\n    steps: [{service: a}, {service: b}]\n",
        2,
        "patterns.0.key",
        "required",
    ),
    (
        "bad pattern name",
        PATTERN_OK.replace("name: ok", "name: brute force"),
        2,
        "patterns.0.name",
        "not a valid name",
    ),
    (
        "absent not last",
        "patterns:\n"
        "  - name: p\n"
        "    key: user\n"
        "    steps:\n"
        "      - {service: a}\n"
        "      - absent: {service: b}\n"
        "        within: 1m\n"
        "      - {service: c}\n",
        6,
        "patterns.0.steps.1.absent",
        "only the last step",
    ),
    (
        "absent without within",
        PATTERN_OK + "      - absent: {service: c}\n",
        7,
        "patterns.0.steps.2.within",
        "needs within",
    ),
    (
        "absent with conditions beside it",
        PATTERN_OK + "      - {service: c, absent: {service: d}, within: 1m}\n",
        7,
        "patterns.0.steps.2.service",
        "either conditions or absent",
    ),
    (
        "step with no condition",
        PATTERN_OK + "      - {count: 2}\n",
        7,
        "patterns.0.steps.2",
        "at least one of",
    ),
    (
        "step within longer than the pattern",
        PATTERN_OK + "      - {absent: {service: c}, within: 1h}\n",
        7,
        "patterns.0.steps.2.within",
        "exceeds the pattern's within (5m)",
    ),
    (
        "duplicate pattern names",
        PATTERN_OK + PATTERN_OK.removeprefix("patterns:\n"),
        7,
        "patterns.1.name",
        "duplicate pattern name 'ok' (also patterns.0)",
    ),
    (
        "duplicate yaml key",
        "defaults:\n  burst: {threshold: 5}\n  burst: {threshold: 6}\n",
        3,
        "defaults.burst",
        "duplicate key 'burst'",
    ),
    (
        "catastrophic regex",
        PATTERN_OK + '      - {message_regex: "^(a+)+$"}\n',
        7,
        "patterns.0.steps.2.message_regex",
        "catastrophic backtracking",
    ),
    (
        "invalid regex",
        PATTERN_OK + '      - {message_regex: "user=(\\\\w+"}\n',
        7,
        "patterns.0.steps.2.message_regex",
        "invalid regex",
    ),
    (
        "attrs not a mapping",
        PATTERN_OK + "      - {attrs: [a, b]}\n",
        7,
        "patterns.0.steps.2.attrs",
        "valid dictionary",
    ),
    ("top level not a mapping", "- 1\n- 2\n", 1, "(top level)", "valid dictionary"),
    ("patterns not a list", "\npatterns: {a: 1}\n", 2, "patterns", "valid list"),
]


@pytest.mark.parametrize(
    ("text", "line", "path", "fragment"),
    [case[1:] for case in ERRORS],
    ids=[case[0] for case in ERRORS],
)
def test_errors_name_file_line_and_field(text: str, line: int, path: str, fragment: str) -> None:
    with pytest.raises(RulesError) as info:
        parse_rules(text, "rules.yaml")
    message = str(info.value)
    assert f"rules.yaml:{line}: {path}: " in message, message
    assert fragment in message, message
    for problem in info.value.problems:
        assert re.match(r"rules\.yaml:\d+: \S+( level\))?: .+", problem), problem
        assert "\n" not in problem


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("defaults:\n  burst: {threshold: 10\n", 3),
        ("defaults:\n  burst:\n threshold: 1\n", 3),
        ("patterns:\n  - name: a\n   key: b\n", 3),
        ("a: [\n", 2),
        ("x: 'unterminated\n", 2),
        ("\tdefaults: {}\n", 1),
    ],
)
def test_yaml_syntax_errors_give_their_line(text: str, line: int) -> None:
    with pytest.raises(RulesError) as info:
        parse_rules(text, "rules.yaml")
    message = str(info.value)
    assert message.startswith(f"rules.yaml:{line}: (yaml): invalid YAML: "), message
    assert "\n" not in message


def test_every_problem_is_listed_one_per_line_in_file_order() -> None:
    text = (
        "defaults:\n"  # 1
        "  burst: {threshold: -1}\n"  # 2
        "  rate: {silence_s: soon}\n"  # 3
        "services:\n"  # 4
        "  api: {burst: {levels: [nope]}}\n"  # 5
        "patterns:\n"  # 6
        "  - name: p\n"  # 7
        "    key: user\n"  # 8
        "    steps: [{service: a}]\n"  # 9
        "extra: 1\n"  # 10
    )
    with pytest.raises(RulesError) as info:
        parse_rules(text, "r.yaml")
    lines = str(info.value).splitlines()
    assert lines == info.value.problems
    assert [line.split(": ")[0] for line in lines] == [
        "r.yaml:2",
        "r.yaml:3",
        "r.yaml:5",
        "r.yaml:9",
        "r.yaml:10",
    ]


def test_a_missing_file_is_a_rules_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(RulesError, match=r"nope\.yaml: cannot read rules file"):
        load_rules(path)


def test_errors_from_a_file_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("defaults:\n  burst: {threshold: 0}\n")
    with pytest.raises(RulesError, match=re.escape(f"{path}:2: defaults.burst.threshold: ")):
        load_rules(path)


def test_a_non_utf8_file_is_a_rules_error(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_bytes(b"defaults: \xff\xfe\n")
    with pytest.raises(RulesError, match="not UTF-8"):
        load_rules(path)


def test_rules_error_is_a_value_error() -> None:
    assert issubclass(RulesError, ValueError)


@pytest.mark.parametrize(
    "regex",
    [
        "(a+)+",
        "(a*)*",
        "(a|a)*",
        "(.*)*",
        "(.+)+x",
        "(\\w+\\s?)+$",
        "(\\w|\\d\\d)+$",
        "(?:a|ab)*c",
        "((ab)*)+",
        "(x+x+)+y",
        "(a{1,5})+",
    ],
)
def test_catastrophic_regexes_are_rejected(regex: str) -> None:
    with pytest.raises(RulesError, match="catastrophic backtracking"):
        parse_rules(PATTERN_OK + f"      - message_regex: '{regex}'\n")


@pytest.mark.parametrize(
    "regex",
    [
        "login failed for user (\\w+)",
        "^GET /api/v\\d+/orders/\\d+ 5\\d\\d$",
        "(GET|POST|PUT) /",
        "(foo|far)+",
        "(\\w|\\d)+",
        "(?:ab)+",
        "(\\d{1,3}\\.){3}\\d{1,3}",
        "(a++)+",
        "(?>a+)+",
        ".*timeout.*",
        "[a-z]+@[a-z]+\\.com",
    ],
)
def test_ordinary_regexes_are_accepted(regex: str) -> None:
    rules = parse_rules(PATTERN_OK + f"      - message_regex: '{regex}'\n")
    compiled = rules.patterns[0].steps[2].message_regex
    assert compiled is not None and compiled.pattern == regex


def _event(**kw: object) -> LogEvent:
    base: dict[str, object] = {"ts": 0.0, "service": "auth", "level": Level.INFO, "message": ""}
    base.update(kw)
    return LogEvent(**base)  # type: ignore[arg-type]


def test_step_predicates_match_events() -> None:
    rules = parse_rules(
        PATTERN_OK
        + "      - service: auth\n"
        + "        level: [warn, error]\n"
        + "        message: failed\n"
        + "        message_regex: 'user=\\w+'\n"
        + "        attrs: {status: 401, mfa: false}\n"
    )
    step = rules.patterns[0].steps[2]
    assert step.attrs == {"status": "401", "mfa": "false"}
    good = _event(
        level=Level.WARN, message="login failed user=bob", attrs={"status": 401, "mfa": False}
    )
    assert step.matches(good)
    assert not step.matches(good_but(good, service="web"))
    assert not step.matches(good_but(good, level=Level.INFO))
    assert not step.matches(good_but(good, message="login ok user=bob"))
    assert not step.matches(good_but(good, message="login failed"))
    assert not step.matches(good_but(good, attrs={"status": "403", "mfa": False}))
    assert not step.matches(good_but(good, attrs={"status": 401}))


def good_but(event: LogEvent, **changes: object) -> LogEvent:
    fields = {
        "ts": event.ts,
        "service": event.service,
        "level": event.level,
        "message": event.message,
        "host": event.host,
        "attrs": event.attrs,
    }
    fields.update(changes)
    return LogEvent(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("key", "event", "value"),
    [
        ("service", _event(service="auth"), "auth"),
        ("host", _event(host="h1"), "h1"),
        ("host", _event(), None),
        ("user", _event(attrs={"user": "bob"}), "bob"),
        ("order_id", _event(attrs={"order_id": 42}), "42"),
        ("user", _event(attrs={}), None),
    ],
)
def test_pattern_key_value(key: str, event: LogEvent, value: str | None) -> None:
    rules = parse_rules(PATTERN_OK.replace("key: user", f"key: {key}"))
    assert rules.patterns[0].key_value(event) == value


def test_models_are_frozen_and_forbid_extra_keys() -> None:
    rules = parse_rules(EXAMPLE)
    with pytest.raises(ValidationError):
        rules.defaults.burst.threshold = 3  # type: ignore[misc]
    with pytest.raises(ValidationError):
        BurstRule(threshold=3, colour="red")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        Rules.model_validate({"patterns": [], "x": 1})


def test_summary_describes_defaults_overrides_and_patterns() -> None:
    lines = summary(parse_rules(EXAMPLE))
    text = "\n".join(lines)
    assert "burst >= 10 ERROR/FATAL" in lines[0]
    assert "2 service overrides" in lines
    assert "  batch-jobs: rate off" in lines
    assert any(line.startswith("  checkout: burst >= 20") for line in lines)
    assert "2 patterns" in lines
    assert (
        "pattern brute_force_login [high]: key user, 2 steps within 1m: "
        "auth 'login failed' x5 -> auth 'login succeeded'"
    ) in text
    assert "no payments 'payment captured' within 2m" in text
    assert summary(default_rules())[-4:] == [
        "0 service overrides",
        "0 patterns",
        "new templates: on, WARN+ after 1000 events per service [low]",
        "0 session rules",
    ]


def test_sessions_section_parses_and_checks_duplicates() -> None:
    from logradar.rules import RulesError, parse_rules

    rules = parse_rules("sessions:\n  - {key: user, timeout: 2m, long: 1h}\n")
    (s,) = rules.sessions
    assert (s.key, s.timeout, s.long, s.max_errors) == ("user", 120.0, 3600.0, None)
    with pytest.raises(RulesError, match=r":3: sessions\.1\.key: duplicate session key 'user'"):
        parse_rules("sessions:\n  - {key: user}\n  - {key: user}\n")
    with pytest.raises(RulesError, match=r"sessions\.0\.color"):
        parse_rules("sessions:\n  - {key: user, color: red}\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (True, "WARN", 1000)),
        ("templates: {min_level: error, warmup: 0}", (True, "ERROR", 0)),
        ("templates: {min_level: warning}", (True, "WARN", 1000)),
        ("templates: {enabled: false}", (False, "WARN", 1000)),
    ],
)
def test_templates_section(text: str, expected: tuple[bool, str, int]) -> None:
    t = parse_rules(text).templates
    assert (t.enabled, t.min_level, t.warmup) == expected


def test_templates_section_rejects_unknown_levels() -> None:
    from logradar.rules import RulesError

    with pytest.raises(RulesError, match=r":1: templates\.min_level"):
        parse_rules("templates: {min_level: loud}")
