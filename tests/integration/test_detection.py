"""Every detector on the embedded broker: one incident each, and live equals backtest.

The generator's ``all`` scenario injects one incident per detector into calm
traffic and records each as ground truth. The backtest (no broker) must find
exactly those; a live worker fed the same file through Kafka must emit the
same alerts, with the same ids.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest

from logradar.backtest import backtest
from logradar.generate import Incident, generate, scenario_defaults, write_lines
from logradar.replay import replay
from logradar.rules import load_rules
from logradar.settings import Settings
from tests.integration.harness import Topics, Worker, create_topics, read_topic, worker_env

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
RATE = 10.0
# The example rules, with a template warm-up that fits 10 events/s (a service logs
# about 60 WARN+ lines in 10 minutes here; the default warm-up is 1000).
RULES = (REPO / "ops" / "rules.example.yaml").read_text() + "\ntemplates: {warmup: 200}\n"
EXPECTED = {
    "burst": "error_burst",
    "anomaly": "anomaly",
    "rate_drop": "rate_drop",
    "silence": "rate_silence",
    "new_template": "new_template",
    "long_session": "long_session",
}


def rule_for(incident: Incident) -> str:
    if incident.kind == "pattern":  # brute force is an auth incident; the unpaid order checkout's
        return "brute_force_login" if incident.service == "auth" else "order_without_payment"
    return EXPECTED[incident.kind]


def incident_file(tmp: Path) -> tuple[Path, list[Incident]]:
    d = scenario_defaults("all")
    start = math.floor(time.time() / 3600) * 3600 - 3 * 86400
    found: list[Incident] = []
    records = generate(
        start_ts=start,
        rate=RATE,
        count=round(d["count"] / d["rate"] * RATE),
        scenario="all",
        burst_at_s=d["burst_at_s"],
        incidents_out=found,
    )
    path = tmp / "all.log"
    write_lines(path, records)
    return path, found


def firings(alerts: list[dict[str, Any]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for a in alerts:
        if a["state"] == "firing":
            out.setdefault(a["service"], set()).add(a["rule"])
    return out


def test_one_alert_per_incident_and_live_equals_backtest(
    broker: Any, unique: str, tmp_path: Path
) -> None:
    path, incidents = incident_file(tmp_path)
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(RULES)
    result = backtest([path], settings=Settings(), rules=load_rules(rules_path), jobs=0)

    # ground truth: every incident fired its rule for its service, and nothing else fired
    want: dict[str, set[str]] = {}
    for incident in incidents:
        want.setdefault(incident.service, set()).add(rule_for(incident))
    # the burst window is also a genuine statistical anomaly of the same service
    burst = next(i.service for i in incidents if i.kind == "burst")
    want[burst].add("anomaly")
    assert firings(result.alerts) == want
    per_rule = [(a["rule"], a["service"]) for a in result.alerts if a["state"] == "firing"]
    assert len(per_rule) == len(set(per_rule)), "an incident fired twice"

    topics = Topics.unique(unique)
    create_topics(broker, topics)
    env = worker_env(
        broker,
        topics,
        f"lr-{unique}",
        tmp_path / "w",
        LOGRADAR_RULES=str(rules_path),
        LOGRADAR_SESSIONS_TOPIC=f"sessions-{unique}",
        # A partition is flushed as idle after this long without records once caught up.
        # With the harness's 4 s, a fresh-clone CI run saw a spurious rate drop here; the
        # likely cause (not proven) is the replay producer stalling for seconds on the
        # loaded machine, so that a partition's windows closed before its last records.
        LOGRADAR_IDLE_FLUSH_S="15",
    )
    worker = Worker(env, tmp_path / "w.log").start()
    try:
        worker.wait_ready()
        replay([path], bootstrap=broker.bootstrap, topic=topics.input, progress=False)
        live = read_topic(
            broker.bootstrap,
            topics.alerts,
            until=lambda g: len(g) >= len(result.alerts),
            timeout=300,
            settle=10,
        )
    finally:
        worker.stop()
    # The silent service sits alone on its partition. Replaying a backlog, the worker reads
    # it in seconds of wall time, so that partition never idles and its time stands still
    # while the others race ahead: the silence shows as one rate_drop when the service
    # returns. The backtest (and live traffic, where the partition idles) says rate_silence.
    # Either way the incident gets exactly one alert; everything else must match exactly.
    silent = next(i.service for i in incidents if i.kind == "silence")

    def key(a: dict[str, Any]) -> tuple[str, str, str, str]:
        return (a["rule"], a["service"], a["state"], a["id"])

    def rest(alerts: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
        return sorted(key(a) for a in alerts if a["service"] != silent or "rate" not in a["rule"])

    assert rest(live) == rest(result.alerts)
    silence_live = [a["rule"] for a in live if a["service"] == silent and a["state"] == "firing"]
    assert silence_live in (["rate_silence"], ["rate_drop"])
