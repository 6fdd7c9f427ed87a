"""The backtest: the worker's engine over generated files, checked against the generator's truth.

No broker: :func:`logradar.backtest.backtest` feeds the same Processor and
CorrelationProcessor the Faust agents run. Counts are checked against
:func:`logradar.generate.expected_counts` and alerts against the incidents
each scenario injected (:func:`logradar.generate.incidents`).
"""

from __future__ import annotations

import gc
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from logradar.backtest import BacktestResult, _Clock, _Feeder, backtest, partition_for
from logradar.cli import app
from logradar.generate import (
    CALM_SCENARIOS,
    Generated,
    Incident,
    expected_counts,
    generate,
    scenario_defaults,
    service_names,
    write_lines,
)
from logradar.rules import TemplateRule, default_rules, load_rules, parse_rules
from logradar.settings import Settings
from tests.integration.harness import BURST_ONLY_RULES
from tests.integration.test_pipeline import scenario

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_RULES = REPO / "ops" / "rules.example.yaml"
START = 28_333_333 * 60  # 2023-11-14 22:13 UTC, on a window boundary
THRESHOLD = 10

# The rule each calm scenario's incident must fire. search, the silence scenario's
# service, is alone on its partition with 4 partitions (crc32 % 4: checkout 2,
# payments 2, auth 1, search 3, inventory 2): rate.py documents that such a
# service "closes no windows once it stops, and is caught by check_silence", and
# that "one silent service gets one alert".
EXPECTED_RULE = {
    "error-spike": "anomaly",
    "traffic-drop": "rate_drop",
    "silence": "rate_silence",
    "brute-force": "brute_force_login",
    "order-without-payment": "order_without_payment",
    "new-template": "new_template",
    "long-session": "long_session",
}
CALM_RATE = 10.0  # events/s: small, and still dense enough for every incident


def _settings() -> Settings:
    return Settings()


def _write(tmp_path: Path, records: list[Generated], name: str = "logs.txt") -> Path:
    path = tmp_path / name
    write_lines(path, records)
    return path


# --------------------------------------------------------------------------- error burst


def burst_records() -> list[Generated]:
    """The same file as tests/integration/test_pipeline.py replays to the broker."""
    return scenario(START)


def _count_records(rows: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    return Counter(
        (r["kind"], r["service"], r["level"], r["start"], r["end"], r["count"]) for r in rows
    )


@pytest.fixture(scope="module")
def burst_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Generated], BacktestResult]:
    tmp = tmp_path_factory.mktemp("burst")
    records = burst_records()
    path = _write(tmp, records)
    result = backtest([path], settings=_settings(), rules=parse_rules(BURST_ONLY_RULES), jobs=0)
    return records, result


def test_error_burst_fires_once_and_resolves(
    burst_run: tuple[list[Generated], BacktestResult],
) -> None:
    _, result = burst_run
    burst_service = service_names(6)[0]
    assert [(a["rule"], a["service"], a["state"]) for a in result.alerts] == [
        ("error_burst", burst_service, "firing"),
        ("error_burst", burst_service, "resolved"),
    ]
    firing = result.alerts[0]
    assert firing["observed"] == THRESHOLD and firing["threshold"] == THRESHOLD
    assert 1 <= len(firing["evidence"]) <= 5
    assert firing["window_end"] - firing["window_start"] == 60
    assert firing["detected_at"] is None
    assert result.summary_rows() == [
        {"rule": "error_burst", "firings": 1, "resolutions": 1, "services": [burst_service]}
    ]


def test_counts_equal_the_generators_truth(
    burst_run: tuple[list[Generated], BacktestResult],
) -> None:
    records, result = burst_run
    sizes = {"tumbling": 60, "hopping": 300}
    counts = expected_counts(records, tumbling_s=60, hop_size_s=300, hop_step_s=60)
    want = Counter({(k, s, lv, st, st + sizes[k], n): 1 for (k, s, lv, st), n in counts.items()})
    got = _count_records(result.counts)
    missing, extra = want - got, got - want
    assert not missing and not extra, (
        f"{sum(missing.values())} missing, {sum(extra.values())} extra; "
        f"e.g. missing {list(missing)[:3]}, extra {list(extra)[:3]}"
    )
    ids = [r["id"] for r in result.counts]
    assert len(ids) == len(set(ids))
    bad = Counter(r.bad_reason.value for r in records if r.bad_reason is not None)
    assert result.dead_letters == dict(bad)
    assert result.events == len(records)
    assert result.seconds > 0 and result.events_per_second > 0


def _parse_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the backtest take its general path: the engine parses each line again."""
    monkeypatch.setattr(_Feeder, "parses_like", lambda *_: False)


def test_helper_process_gives_the_same_result(
    burst_run: tuple[list[Generated], BacktestResult],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records, alone = burst_run
    path = _write(tmp_path, records)
    _parse_twice(monkeypatch)
    helped = backtest([path], settings=_settings(), rules=parse_rules(BURST_ONLY_RULES), jobs=1)
    assert helped.alerts == alone.alerts
    assert helped.counts == alone.counts
    assert helped.dead_letters == alone.dead_letters


def test_parsing_once_gives_what_parsing_twice_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # disordered, late, bad and (over a small size limit) too large records, every detector
    # and the correlation rules: the engine taking the keying parse's events changes nothing
    records = generate(
        start_ts=START,
        rate=40.0,
        count=12_000,
        services=7,
        seed=4,
        scenario="error-burst",
        disorder_s=10.0,
        late_every=41,
        bad_every=37,
    )
    path = _write(tmp_path, list(records))
    settings = Settings(max_record_bytes=160)
    rules = load_rules(EXAMPLE_RULES)
    once = backtest([path], settings=settings, rules=rules, partitions=3, jobs=0)
    _parse_twice(monkeypatch)
    twice = backtest([path], settings=settings, rules=rules, partitions=3, jobs=0)
    assert once.dead_letters == twice.dead_letters
    assert {"too_large", "invalid_json", "unparsed"} <= set(once.dead_letters)
    assert once.counts == twice.counts and once.counts
    assert once.alerts == twice.alerts and once.alerts
    assert once.sessions == twice.sessions
    assert once.events == twice.events == 12_000 + 30


def test_engine_parses_again_when_its_formats_differ(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # LOGRADAR_TEXT_FORMATS applies to the engine, not to the keying parse
    monkeypatch.setenv("LOGRADAR_TEXT_FORMATS", "logfmt")
    feeder = _Feeder(Settings(), parse_rules(BURST_ONLY_RULES), _Clock(0.0), BacktestResult())
    assert not feeder.parses_like("logs", None)
    assert feeder.parses_like("logs", ("logfmt",))


@pytest.mark.parametrize("fmt", ["logfmt,json", "no-such-format"])
def test_fmt_must_be_one_known_format(tmp_path: Path, fmt: str) -> None:
    """The keying parse takes ``fmt`` as one name: a list (LOGRADAR_TEXT_FORMATS syntax) or
    an unknown name would key every line as unparsed, so it is refused up front."""
    path = _write(tmp_path, burst_records()[:10])
    with pytest.raises(ValueError, match="unknown log formats"):
        backtest([path], settings=_settings(), rules=parse_rules(BURST_ONLY_RULES), fmt=fmt)


def test_partitioner_is_crc32_like_confluent_kafka() -> None:
    # librdkafka's consistent_random: crc32(key) % partitions; null keys: 0 here
    assert partition_for(b"checkout", 4) == 2
    assert partition_for(b"search", 4) == 3
    assert partition_for(None, 4) == 0


# --------------------------------------------------------------------------- calm scenarios


def calm_run(tmp: Path, scenario: str, rate: float) -> tuple[list[Incident], BacktestResult]:
    d = scenario_defaults(scenario)
    count = round(d["count"] / d["rate"] * rate)
    found: list[Incident] = []
    records = generate(
        start_ts=START,
        rate=rate,
        count=count,
        scenario=scenario,
        burst_at_s=d["burst_at_s"],
        incidents_out=found,
    )
    path = tmp / f"{scenario}.log"
    write_lines(path, records)
    rules = load_rules(EXAMPLE_RULES)
    if scenario == "new-template" and rate < 50:
        # at this small rate a service logs ~60 WARN+ lines per 10 minutes: a shorter
        # warm-up than the default 1000 lets the miner finish learning before the incident
        rules = rules.model_copy(update={"templates": TemplateRule(warmup=200)})
    result = backtest([path], settings=_settings(), rules=rules, jobs=0)
    return found, result


def data_end(scenario: str) -> float:
    d = scenario_defaults(scenario)
    return START + d["count"] / d["rate"]


def _brief(alerts: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(a["state"], a["rule"], a["service"], a["window_start"], a["summary"]) for a in alerts]


@pytest.mark.parametrize(
    "scenario",
    [s for s in CALM_SCENARIOS],
)
def test_calm_scenario_fires_its_rule_and_nothing_else(scenario: str, tmp_path: Path) -> None:
    found, result = calm_run(tmp_path, scenario, CALM_RATE)
    assert len(found) == 1
    incident = found[0]
    rule = EXPECTED_RULE[scenario]
    # alerts about the data; what the final idle flush adds for the windows after the
    # last event is test_end_of_input_raises_nothing's business
    end = data_end(scenario)
    alerts = [a for a in result.alerts if a["window_start"] < end]
    ours = [a for a in alerts if a["rule"] == rule and a["service"] == incident.service]
    firing = [a for a in ours if a["state"] == "firing"]
    assert len(firing) == 1, _brief(alerts)
    # it fires for the incident, not somewhere else in time
    assert incident.start_ts - 300 <= firing[0]["event_time"] <= incident.end_ts + 300
    # and nothing else fires in the calm stretches
    others = [a for a in alerts if a not in ours]
    assert others == [], _brief(others)


def test_end_of_input_raises_nothing(tmp_path: Path) -> None:
    _, result = calm_run(tmp_path, "error-spike", CALM_RATE)
    after = [a for a in result.alerts if a["window_start"] >= data_end("error-spike")]
    assert after == [], _brief(after)


def test_calm_baseline_at_default_rate_raises_no_template_alert(tmp_path: Path) -> None:
    d = scenario_defaults("error-spike")
    _, result = calm_run(tmp_path, "error-spike", d["rate"])
    templates = [a for a in result.alerts if a["rule"] == "new_template"]
    assert templates == [], _brief(templates)


# --------------------------------------------------------------------------- CLI


def test_rules_check_prints_the_summary() -> None:
    result = CliRunner().invoke(app, ["rules", "check", str(EXAMPLE_RULES)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[-1] == "OK"
    assert lines[0].startswith("defaults: burst >= 10 ERROR/FATAL")
    assert any("pattern brute_force_login" in line for line in lines)


def test_rules_check_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("defaults:\n  burst: {treshold: 3}\n")
    result = CliRunner().invoke(app, ["rules", "check", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:2: defaults.burst.treshold" in result.stderr
    assert "OK" not in result.stdout


def test_backtest_json_parses(
    burst_run: tuple[list[Generated], BacktestResult], tmp_path: Path
) -> None:
    records, _ = burst_run
    path = _write(tmp_path, records)
    rules = tmp_path / "burst-only.yaml"
    rules.write_text(BURST_ONLY_RULES)
    report = tmp_path / "report.html"
    result = CliRunner().invoke(
        app, ["backtest", str(path), "--rules", str(rules), "--json", "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == {"alerts", "summary", "events", "seconds"}
    assert [a["state"] for a in doc["alerts"]] == ["firing", "resolved"]
    assert doc["summary"][0]["rule"] == "error_burst"
    assert doc["events"] == len(records)
    assert report.read_text().startswith("<!DOCTYPE html>")


def test_backtest_refuses_an_invalid_rules_file(tmp_path: Path) -> None:
    path = tmp_path / "logs.txt"
    path.write_text("")
    bad = tmp_path / "bad.yaml"
    bad.write_text("patterns: [{name: x}]\n")
    result = CliRunner().invoke(app, ["backtest", str(path), "--rules", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:1: patterns.0" in result.stderr


# --------------------------------------------------------------------------- gc threshold


def test_runs_with_the_young_gc_threshold_and_puts_the_interpreters_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, burst_records()[:500])
    seen: list[int] = []
    source = _Feeder.source

    def spy(self: _Feeder, *args: Any) -> None:
        seen.append(gc.get_threshold()[0])
        source(self, *args)

    monkeypatch.setattr(_Feeder, "source", spy)
    before = gc.get_threshold()
    settings = Settings(gc_young_threshold=before[0] + 12_345)
    backtest([path], settings=settings, rules=parse_rules(BURST_ONLY_RULES), jobs=0)
    assert seen and set(seen) == {before[0] + 12_345}
    assert gc.get_threshold() == before
    seen.clear()
    backtest([path], settings=Settings(gc_young_threshold=0), rules=default_rules(), jobs=0)
    assert seen and set(seen) == {before[0]}  # 0: the interpreter's own
