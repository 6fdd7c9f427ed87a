"""A real Prometheus scrapes a real worker: counts, lint, and every name the ops files query.

One worker on the embedded broker counts a generated file (three services, with late and
undecodable records); one Prometheus 2.x server (Debian's ``prometheus``) scrapes it every
second with ops/prometheus/rules.yml loaded. The tests then read through Prometheus' HTTP
API, lint the live /metrics with ``promtool check metrics``, and check that the dashboard
and the rules name only metrics the live worker exports (Faust's sensors included, which
the unit tests cannot see).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from logradar.broker import free_port, wait_for_port
from logradar.generate import generate, write_lines
from logradar.replay import replay
from tests.conftest import need
from tests.integration.harness import Topics, Worker, create_topics, metric_value, worker_env
from tests.unit.test_ops_files import (
    RULES_FILE,
    SYNTHETIC_SERIES,
    dashboard_exprs,
    promql_metric_names,
    recorded_names,
    rule_exprs,
)

pytestmark = pytest.mark.integration

SERVICES = 3
RECORDS = 3000
# promtool's lint findings on Faust's own sensor names, reviewed and accepted: Faust names
# this histogram in milliseconds. logradar's own metrics must lint clean.
ACCEPTED_FAUST_LINT = {"faust_events_runtime_ms", "faust_events_runtime_ms_created"}


@dataclass
class Live:
    worker: Worker
    prometheus: str  # base URL
    expected: dict[str, int]  # service -> events logradar must count
    metrics: str  # the worker's /metrics once every record was handled

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = _get_json(
            f"{self.prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        )
        assert body["status"] == "success", body
        return body["data"]["result"]


def _get_json(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:  # 400 on a bad query: the body says why
        return json.loads(exc.read())


def _wait(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _start_prometheus(workdir: Path, target: str) -> tuple[subprocess.Popen[bytes], str]:
    prometheus = shutil.which("prometheus")
    need(prometheus is not None, "prometheus not installed (Debian package prometheus)")
    assert prometheus is not None
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES_FILE)],
        "scrape_configs": [{"job_name": "logradar", "static_configs": [{"targets": [target]}]}],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [
            prometheus,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=open(workdir / "prometheus.log", "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    if not wait_for_port("127.0.0.1", port, 30):
        process.kill()
        raise AssertionError((workdir / "prometheus.log").read_text()[-3000:])
    _wait(lambda: urllib.request.urlopen(f"{url}/-/ready", timeout=2).status == 200, 30, "ready")
    return process, url


@pytest.fixture(scope="module")
def live(broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("prometheus")
    suffix = uuid.uuid4().hex[:8]
    start = math.floor(time.time() / 60) * 60 - 3600
    records = list(
        generate(
            start_ts=start,
            rate=10.0,
            count=RECORDS,
            services=SERVICES,
            seed=7,
            scenario="error-burst",
            late_every=97,
            late_by_s=900.0,
            bad_every=83,
        )
    )
    expected = Counter(r.truth.service for r in records if r.truth and not r.truth.late)
    write_lines(tmp / "logs.txt", records)
    topics = Topics.unique(suffix)
    create_topics(broker, topics)
    worker = Worker(worker_env(broker, topics, f"lr-{suffix}", tmp / "w1"), tmp / "w1.log")
    worker.start()
    prometheus = None
    try:
        worker.wait_ready()
        prometheus, url = _start_prometheus(tmp, f"127.0.0.1:{worker.port}")
        replay([tmp / "logs.txt"], bootstrap=broker.bootstrap, topic=topics.input, progress=False)

        def handled() -> str | None:
            text = worker.metrics()
            done = sum(
                metric_value(text, name)
                for name in (
                    "logradar_events_total",
                    "logradar_late_events_total",
                    "logradar_dead_letters_total",
                )
            )
            return text if done == len(records) else None

        text = _wait(handled, 120, f"the worker to handle {len(records)} records")
        yield Live(worker, url, dict(expected), text)
    finally:
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(30)
        code = worker.stop()
    assert code == 0, worker.tail()


def test_prometheus_counts_what_was_produced(live: Live) -> None:
    assert len(live.expected) == SERVICES

    def per_service() -> dict[str, int] | None:
        rows = live.query('sum by (service) (logradar_events_total{job="logradar"})')
        got = {row["metric"]["service"]: int(float(row["value"][1])) for row in rows}
        return got if got == live.expected else None

    try:
        _wait(per_service, 30, "Prometheus to scrape the final counts")
    except AssertionError:
        rows = live.query('sum by (service) (logradar_events_total{job="logradar"})')
        got = {row["metric"]["service"]: float(row["value"][1]) for row in rows}
        raise AssertionError(f"Prometheus has {got}, produced {live.expected}") from None
    (up,) = live.query('up{job="logradar"}')
    assert up["value"][1] == "1"


def test_promtool_check_metrics_on_live_metrics(live: Live) -> None:
    promtool = shutil.which("promtool")
    need(promtool is not None, "promtool not installed (Debian package prometheus)")
    assert promtool is not None
    result = subprocess.run(
        [promtool, "check", "metrics"], input=live.metrics, capture_output=True, text=True
    )
    # Exit 1 is an exposition error; 3 means lint findings, which are examined below.
    assert result.returncode in (0, 3), result.stdout + result.stderr
    findings = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    flagged = {line.split()[0] for line in findings}
    assert not {n for n in flagged if n.startswith("logradar_")}, findings
    assert flagged <= ACCEPTED_FAUST_LINT, f"new lint findings: {findings}"


def _exported_names(text: str) -> set[str]:
    """Every name a PromQL selector may use against this /metrics text."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names.add(name)
            if kind == "histogram":
                names.update(f"{name}{s}" for s in ("_bucket", "_sum", "_count"))
            if kind == "counter" and not name.endswith("_total"):
                names.add(f"{name}_total")
        elif line and not line.startswith("#"):
            names.add(line.split("{", 1)[0].split(" ", 1)[0])
    return names


@pytest.mark.parametrize(
    ("source", "expr"),
    [("dashboard", e) for e in dashboard_exprs()] + [("rules.yml", e) for e in rule_exprs()],
)
def test_queries_name_only_live_metrics(live: Live, source: str, expr: str) -> None:
    allowed = _exported_names(live.metrics) | SYNTHETIC_SERIES
    if source == "rules.yml":
        allowed |= recorded_names()
    names = promql_metric_names(expr)
    assert names, expr
    missing = names - allowed
    assert not missing, f"{source}: {sorted(missing)} not exported by a live worker in {expr!r}"
    # And the real Prometheus parses and evaluates it (Grafana's $__rate_interval -> 1m).
    body = _get_json(
        f"{live.prometheus}/api/v1/query?"
        + urllib.parse.urlencode({"query": expr.replace("$__rate_interval", "1m")})
    )
    assert body["status"] == "success", body


def test_rules_evaluate_without_errors(live: Live) -> None:
    def evaluated() -> list[dict[str, Any]] | None:
        groups = _get_json(f"{live.prometheus}/api/v1/rules")["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        return rules if rules and all(r["health"] != "unknown" for r in rules) else None

    rules = _wait(evaluated, 30, "every rule to be evaluated once")
    assert len(rules) == len(rule_exprs())
    broken = {r["name"]: r.get("lastError") for r in rules if r["health"] != "ok"}
    assert not broken, broken
    # The recording rules produce series for the services that were counted.
    recorded = _wait(
        lambda: live.query("service:logradar_error_ratio:rate5m"), 10, "a recorded error ratio"
    )
    assert {row["metric"]["service"] for row in recorded} == set(live.expected)
    alerts = _get_json(f"{live.prometheus}/api/v1/alerts")["data"]["alerts"]
    active = {a["labels"]["alertname"] for a in alerts}  # pending or firing
    assert not active & {"LogradarWorkerDown", "LogradarNoWorkerUp"}, alerts
