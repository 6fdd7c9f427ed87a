"""The live page's pure parts: the rate ring, the /status document, `logradar status` output."""

from __future__ import annotations

import base64
import hashlib
import http.server
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry
from rich.console import Console
from typer.testing import CliRunner

from logradar.broker import free_port
from logradar.cli import app as cli
from logradar.correlation import encode_event, encode_tick
from logradar.live import (
    OTHER,
    PAGE,
    PAGE_HEADERS,
    RateRing,
    alert_view,
    build_status,
    counter_totals,
    service_totals,
)
from logradar.metrics import Metrics
from logradar.model import Level, LogEvent
from logradar.processor import CorrelationProcessor, Processor, RawRecord
from logradar.rules import parse_rules
from logradar.settings import Settings
from logradar.status import (
    StatusUnavailable,
    default_url,
    fetch_status,
    render,
    span,
    status_url,
    utc,
)

START = 28_333_333 * 60
NOW = START + 3600.0

# --------------------------------------------------------------------------- the rate ring


def test_the_first_sample_is_the_baseline_and_samples_within_a_step_are_ignored() -> None:
    ring = RateRing(step_s=2.0, span_s=60.0)
    assert ring.observe(100.0, {("api", "INFO"): 50.0})
    assert not ring.points
    assert not ring.observe(101.5, {("api", "INFO"): 60.0})
    assert ring.observe(102.0, {("api", "INFO"): 70.0})
    assert list(ring.points) == [(102.0, 2.0, {("api", "INFO"): 20.0})]


def test_a_timer_firing_a_little_early_still_samples() -> None:
    """A timer every ``step_s`` fires a few ms early now and then; those samples count,
    so the ring covers ``span_s``, not twice that."""
    ring = RateRing(step_s=2.0, span_s=60.0)
    ring.observe(0.0, {("api", "INFO"): 0.0})
    assert ring.observe(1.99, {("api", "INFO"): 10.0})
    assert not ring.observe(3.5, {("api", "INFO"): 20.0})  # 1.51 s: too soon
    t = 1.99
    for _ in range(200):
        t += 1.995
        ring.observe(t, {("api", "INFO"): 10.0 * t})
    assert len(ring.points) == ring.points.maxlen == 31
    assert 59.0 < ring.points[-1][0] - ring.points[0][0] < 61.0  # not ~120 s


def test_the_ring_stores_each_interval_as_flat_arrays() -> None:
    """3,000 keys and 151 intervals: a few MB, where dicts of tuples took ~30 MB."""
    ring = RateRing(step_s=2.0, span_s=300.0)
    keys = [(f"svc-{i}", level) for i in range(500) for level in ("A", "B", "C", "D", "E", "F")]
    for step in range(200):
        ring.observe(2.0 * step, {key: float(step * (n % 7 + 1)) for n, key in enumerate(keys)})
    assert len(ring.points) == 151
    held = sum(
        sys.getsizeof(g) + sys.getsizeof(g._index) + sys.getsizeof(g._gain)
        for _, _, g in ring.points
    )
    assert held < 6_000_000, held
    view = ring.view(398.0)
    assert view["per_second"] == pytest.approx(sum(n % 7 + 1 for n in range(3000)) / 2.0)


@pytest.mark.parametrize(
    ("before", "after", "gains"),
    [
        ({("a", "INFO"): 5.0}, {("a", "INFO"): 5.0}, {}),  # no change: nothing stored
        ({}, {("a", "INFO"): 3.0}, {("a", "INFO"): 3.0}),  # a new key counts from zero
        ({("a", "INFO"): 9.0}, {("a", "INFO"): 4.0}, {("a", "INFO"): 4.0}),  # a restart
        (
            {("a", "INFO"): 1.0, ("b", "ERROR"): 2.0},
            {("a", "INFO"): 4.0, ("b", "ERROR"): 2.0},
            {("a", "INFO"): 3.0},
        ),
    ],
)
def test_gains_between_samples(
    before: dict[tuple[str, str], float],
    after: dict[tuple[str, str], float],
    gains: dict[tuple[str, str], float],
) -> None:
    ring = RateRing(step_s=1.0, span_s=10.0)
    ring.observe(0.0, before)
    ring.observe(1.0, after)
    assert ring.points[-1][2] == gains


def test_the_ring_is_bounded_and_the_view_covers_the_span_only() -> None:
    ring = RateRing(step_s=1.0, span_s=10.0)
    total = 0.0
    for t in range(101):
        total += 5.0
        ring.observe(float(t), {("api", "INFO"): total})
    assert len(ring.points) == 11 == ring.points.maxlen
    view = ring.view(100.0)
    assert len(view["t"]) == 11  # intervals ending in [90, 100]
    assert view["events"] == 55 and view["seconds"] == 11.0
    assert view["per_second"] == 5.0 and view["now"] == 5.0
    # long after the last sample, nothing is recent any more
    later = ring.view(200.0)
    assert later["events"] == 0 and later["t"] == [] and later["now"] == 0.0
    assert later["error_ratio"] is None


def test_rates_per_series_totals_errors_and_the_error_ratio() -> None:
    ring = RateRing(step_s=2.0, span_s=60.0)
    counts = {("api", "INFO"): 0.0, ("api", "ERROR"): 0.0, ("db", "WARN"): 0.0}
    ring.observe(0.0, counts)
    for t in (2.0, 4.0, 6.0):
        counts = {
            ("api", "INFO"): counts[("api", "INFO")] + 16,
            ("api", "ERROR"): counts[("api", "ERROR")] + 4,
            ("db", "WARN"): counts[("db", "WARN")] + 2 * t,
        }
        ring.observe(t, counts)
    view = ring.view(6.0)
    assert view["t"] == [2.0, 4.0, 6.0]
    by = {(s["service"], s["level"]): s for s in view["series"]}
    assert by[("api", "INFO")]["rate"] == [8.0, 8.0, 8.0]
    assert by[("api", "ERROR")]["rate"] == [2.0, 2.0, 2.0]
    assert by[("db", "WARN")]["rate"] == [2.0, 4.0, 6.0]
    assert view["total"] == [12.0, 14.0, 16.0]
    assert view["errors"] == [2.0, 2.0, 2.0]
    assert view["events"] == 84 and view["per_second"] == 14.0
    assert view["error_ratio"] == round(12 / 84, 4)
    # the most active series first
    assert [(s["service"], s["level"]) for s in view["series"]][0] == ("api", "INFO")


def test_services_past_the_limit_fold_into_other_per_level() -> None:
    ring = RateRing(step_s=1.0, span_s=10.0)
    ring.observe(0.0, {})
    ring.observe(
        1.0,
        {
            ("a", "INFO"): 50.0,
            ("a", "DEBUG"): 1.0,  # a quiet level of a busy service keeps its own series
            ("b", "INFO"): 40.0,
            ("c", "INFO"): 3.0,
            ("c", "ERROR"): 1.0,
            ("d", "INFO"): 2.0,
        },
    )
    view = ring.view(1.0, max_services=2)
    got = {(s["service"], s["level"]): (s["events"], s["rate"]) for s in view["series"]}
    assert got == {
        ("a", "INFO"): (50, [50.0]),
        ("a", "DEBUG"): (1, [1.0]),
        ("b", "INFO"): (40, [40.0]),
        (OTHER, "INFO"): (5, [5.0]),
        (OTHER, "ERROR"): (1, [1.0]),
    }
    assert view["events"] == 97 and view["errors"] == [1.0]


def test_ring_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="step_s"):
        RateRing(step_s=0.0)
    with pytest.raises(ValueError, match="span_s"):
        RateRing(step_s=5.0, span_s=1.0)


def test_counter_totals_read_the_events_counter_without_created_samples() -> None:
    metrics = Metrics.create(CollectorRegistry())
    metrics.count_events({("api", "INFO"): 3, ("api", "ERROR"): 2, ("db", "INFO"): 1})
    metrics.count_events({("api", "INFO"): 1})
    assert counter_totals(metrics.events) == {
        ("api", "INFO"): 4.0,
        ("api", "ERROR"): 2.0,
        ("db", "INFO"): 1.0,
    }


def test_service_totals_rank_services_and_compute_their_error_ratio() -> None:
    rows, n = service_totals(
        {("api", "INFO"): 90.0, ("api", "FATAL"): 10.0, ("db", "INFO"): 5.0, ("x", "INFO"): 0.0},
        limit=1,
    )
    assert n == 2
    assert rows == [
        {
            "service": "api",
            "events": 100,
            "errors": 10,
            "error_ratio": 0.1,
            "levels": {"FATAL": 10, "INFO": 90},
        }
    ]


# --------------------------------------------------------------------------- /status


def line(ts: float, service: str, level: str = "INFO", msg: str = "hello", **attrs: Any) -> bytes:
    return orjson.dumps({"ts": ts, "service": service, "level": level, "msg": msg, **attrs})


def make_processor() -> Processor:
    return Processor(
        Settings(),
        Metrics.create(CollectorRegistry(), 500),
        state_items=lambda _p: [],
        clock=lambda: NOW,
        rules=parse_rules("defaults: {anomaly: {enabled: false}, rate: {enabled: false}}\n"),
    )


@pytest.fixture
def bursting() -> Processor:
    """logs:0 has an open error burst of ``api`` (12 errors >= 10) and a quiet ``db``."""
    proc = make_processor()
    records = [RawRecord("logs", 0, i, None, line(START + i, "db"), None) for i in range(5)]
    records += [
        RawRecord("logs", 0, 5 + i, None, line(START + 10 + i, "api", "ERROR", f"boom {i}"), None)
        for i in range(12)
    ]
    result = proc.process(records)
    assert [(a.rule, a.state) for a in result.alerts] == [("error_burst", "firing")]
    return proc


def status_of(proc: Processor, **kw: Any) -> dict[str, Any]:
    ring = RateRing(step_s=2.0)
    totals = counter_totals(proc.metrics.events)
    ring.observe(NOW - 2.0, {})
    ring.observe(NOW, totals)
    args: dict[str, Any] = {
        "now": NOW,
        "app_id": "lr",
        "assigned": ["logs:1", "logs:0", "logs:10", "logs:2"],
        "worker": {"host": "h", "web": "127.0.0.1:6066"},
        "recent": proc.recent_alerts,
    }
    args.update(kw)
    return build_status(proc, None, ring, totals, **args)


def test_status_lists_assigned_partitions_in_order_with_watermark_lag_and_windows(
    bursting: Processor,
) -> None:
    doc = status_of(bursting)
    assert doc["assigned"] == ["logs:0", "logs:1", "logs:2", "logs:10"]
    assert list(doc["partitions"]) == ["logs:0", "logs:1", "logs:2", "logs:10"]
    p0 = doc["partitions"]["logs:0"]
    assert p0["watermark"] == START + 21
    assert p0["lag_s"] == NOW - (START + 21)
    assert p0["offset"] == 16 and p0["keys"] == 2
    assert p0["open_buckets"] == bursting.pipelines["logs:0"].open_windows() > 0
    assert p0["oldest_open"] == START
    assert p0["firing"] == ["api"]
    assert doc["partitions"]["logs:1"] == {
        "watermark": None,
        "lag_s": None,
        "closed_until": None,
        "offset": None,
        "open_buckets": 0,
        "keys": 0,
        "oldest_open": None,
        "late": 0,
        "firing": [],
    }
    assert doc["totals"]["open_buckets"] == p0["open_buckets"]
    assert doc["totals"]["max_lag_s"] == p0["lag_s"]


def test_status_carries_the_open_burst_and_the_last_alerts_with_evidence(
    bursting: Processor,
) -> None:
    doc = status_of(bursting)
    (incident,) = doc["incidents"]
    assert incident["rule"] == "error_burst" and incident["service"] == "api"
    assert incident["partition"] == "logs:0" and incident["since"] == START
    assert incident["observed"] == 12 and incident["threshold"] == 10
    assert doc["totals"]["incidents"] == 1
    last = doc["last_alert"]
    assert last is not None and last["rule"] == "error_burst" and last["state"] == "firing"
    assert [a["id"] for a in doc["recent_alerts"]] == [last["id"]]
    assert [e["message"] for e in doc["recent_alerts"][0]["evidence"]] == [
        f"boom {i}"
        for i in range(5, 10)  # the latest five before it fired
    ]


def test_status_totals_match_the_events_counter(bursting: Processor) -> None:
    doc = status_of(bursting)
    assert doc["totals"]["events"] == 17 and doc["totals"]["errors"] == 12
    assert doc["totals"]["error_ratio"] == round(12 / 17, 4)
    assert {s["service"]: s["events"] for s in doc["services"]} == {"api": 12, "db": 5}
    assert doc["rates"]["events"] == 17 and doc["rates"]["now"] == 8.5
    assert orjson.loads(orjson.dumps(doc)) == doc  # plain JSON all the way down


def test_recent_alerts_are_bounded_newest_first(bursting: Processor) -> None:
    for i in range(60):  # a new burst per window: each service fires once
        start = START + 120 + 60 * i
        bursting.process(
            [
                RawRecord(
                    "logs", 0, 100 + 20 * i + j, None, line(start + j, f"s{i}", "ERROR"), None
                )
                for j in range(10)
            ]
        )
    assert len(bursting.recent_alerts) == bursting.recent_alerts_max == 50
    doc = status_of(bursting)
    assert len(doc["recent_alerts"]) == 20
    newest = [a["id"] + a["state"] for a in bursting.recent_alerts[-20:]][::-1]
    assert [a["id"] + a["state"] for a in doc["recent_alerts"]] == newest
    assert doc["recent_alerts"][0] == doc["last_alert"]


def test_alert_view_cuts_evidence_messages_and_series() -> None:
    alert = {
        "id": "x",
        "evidence": [{"ts": 1.0, "level": "ERROR", "message": "m" * 1000}] * 9,
        "series": [{"start": i, "count": i} for i in range(100)],
        "examples": ["e" * 999],
    }
    view = alert_view(alert)
    assert len(view["evidence"]) == 5 and len(view["evidence"][0]["message"]) == 300
    assert len(view["series"]) == 60 and view["series"][-1] == {"start": 99, "count": 99}
    assert len(view["examples"][0]) == 300
    assert len(alert["evidence"]) == 9  # the input is left alone


CORRELATION_RULES = parse_rules(
    """
patterns:
  - name: brute
    key: user
    steps:
      - {service: auth, message: "login failed", count: 3}
      - {service: auth, message: "login succeeded"}
sessions:
  - {key: user, timeout: 5m}
"""
)


def test_status_counts_partial_pattern_matches_and_open_sessions() -> None:
    corr = CorrelationProcessor(
        CORRELATION_RULES, Metrics.create(CollectorRegistry()), lambda _p: [], clock=lambda: NOW
    )

    def forwarded(offset: int, user: str, message: str) -> RawRecord:
        event = LogEvent(START + offset, "auth", Level.WARN, message, attrs={"user": user})
        return RawRecord("corr", 1, offset, user.encode(), b"user\n" + encode_event(event), None)

    corr.process(
        [
            forwarded(0, "u1", "login failed"),
            forwarded(1, "u1", "login failed"),
            forwarded(2, "u2", "login failed"),
            forwarded(3, "u3", "hello"),
            RawRecord("corr", 1, 4, b"", encode_tick("logs:0", START + 2.5, 1), None),
        ]
    )
    pipe = corr.pipelines["corr:1"]
    assert len(pipe.held) == 1  # u3's event is not passed yet: held, not yet a session
    corr.process([RawRecord("corr", 1, 5, b"", encode_tick("logs:0", START + 10, 1), None)])
    proc = make_processor()
    ring = RateRing()
    doc = build_status(
        proc, corr, ring, {}, now=NOW, app_id="lr", assigned=[], correlation_assigned=["corr:1"]
    )
    c = doc["correlation"]
    assert c["assigned"] == ["corr:1"]
    assert c["partials"] == 2 and c["sessions"] == 3
    assert c["partitions"]["corr:1"]["patterns"] == {"brute": 2}
    assert c["partitions"]["corr:1"]["held"] == 0 and c["partitions"]["corr:1"]["waiting_for"] == []
    assert doc["totals"]["partials"] == 2 and doc["totals"]["sessions"] == 3
    assert doc["incidents"] == [] and doc["last_alert"] is None and doc["recent_alerts"] == []


# --------------------------------------------------------------------------- the page


def test_the_page_is_self_contained_and_its_script_is_pinned_by_the_csp() -> None:
    # nothing is loaded from anywhere: no src/href to another origin, no @import, no fonts
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", PAGE)
    assert "@import" not in PAGE and "url(" not in PAGE
    urls = set(re.findall(r"https?://[^\s\"'<>]+", PAGE))
    assert urls == {"http://www.w3.org/2000/svg"}  # the SVG namespace, an identifier
    assert PAGE.count("<script>") == 1 and "<script src" not in PAGE
    script = PAGE.split("<script>", 1)[1].split("</script>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = PAGE_HEADERS["Content-Security-Policy"]
    assert f"script-src 'sha256-{digest}'" in csp and "default-src 'none'" in csp
    assert "connect-src 'self'" in csp
    # data reaches the DOM as text only
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script
    assert 'fetch("/status"' in script and "setInterval(refresh, 2000)" in script
    for anchor in ("events-rate", "events-total", "incident-count", "last-alert", "assigned"):
        assert f'id="{anchor}"' in PAGE
    assert "Grafana shows the whole fleet" in PAGE


def test_the_page_script_parses() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node not installed")
    script = PAGE.split("<script>", 1)[1].split("</script>", 1)[0]
    proc = subprocess.run(
        [node, "--check", "-"], input=script, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------- logradar status


@pytest.mark.parametrize(
    ("bind", "port", "url"),
    [
        ("127.0.0.1", 6066, "http://127.0.0.1:6066"),
        ("0.0.0.0", 7000, "http://127.0.0.1:7000"),
        ("::1", 6066, "http://[::1]:6066"),
        ("worker-3.local", 6066, "http://worker-3.local:6066"),
    ],
)
def test_default_url_from_settings(bind: str, port: int, url: str) -> None:
    assert default_url(Settings(web_bind=bind, web_port=port)) == url


@pytest.mark.parametrize(
    ("given", "want"),
    [
        ("http://h:1", "http://h:1/status"),
        ("http://h:1/", "http://h:1/status"),
        ("http://h:1/status", "http://h:1/status"),
        ("h:1", "http://h:1/status"),
    ],
)
def test_status_url(given: str, want: str) -> None:
    assert status_url(given) == want


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0.25, "0.25 s"),
        (8.04, "8.0 s"),
        (75, "75 s"),
        (720, "12 min"),
        (10800, "3.0 h"),
    ],
)
def test_span(seconds: float | None, text: str) -> None:
    assert span(seconds) == text


def test_render_prints_partitions_incidents_and_the_last_alert(bursting: Processor) -> None:
    console = Console(record=True, width=160, color_system=None)
    render(status_of(bursting), console)
    out = console.export_text()
    assert "worker h (127.0.0.1:6066) group lr: 4 input partitions" in out
    row = next(ln for ln in out.splitlines() if "logs:0 " in ln)
    assert utc(START + 21) in row  # the watermark as UTC time
    assert "60 min" in row  # its lag behind the worker's clock
    assert "not read yet" in out
    assert "Open incidents (1)" in out and "error_burst" in out
    assert "last alert: firing error_burst api" in out


@pytest.fixture
def fake_worker() -> Iterator[str]:
    """A tiny HTTP server answering /status with a fixed document."""
    doc = orjson.dumps({"app_id": "lr", "partitions": {}, "assigned": []})

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server interface
            body = doc if self.path == "/status" else b"<html>"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_status_reads_json_and_rejects_what_is_not_a_worker(fake_worker: str) -> None:
    assert fetch_status(fake_worker)["app_id"] == "lr"
    with pytest.raises(StatusUnavailable, match="did not answer JSON"):
        fetch_status(fake_worker + "/other", timeout=2)


def test_fetch_status_unreachable_is_one_line() -> None:
    port = free_port()
    with pytest.raises(StatusUnavailable) as info:
        fetch_status(f"http://127.0.0.1:{port}", timeout=2)
    message = str(info.value)
    assert message.startswith(f"worker unreachable at http://127.0.0.1:{port}/status")
    assert "\n" not in message


def test_the_status_command_exits_1_when_the_worker_is_unreachable() -> None:
    port = free_port()
    result = CliRunner().invoke(cli, ["status", "--url", f"http://127.0.0.1:{port}"])
    assert result.exit_code == 1
    assert "worker unreachable" in result.output
    assert result.output.count("\n") == 1


def test_the_status_command_prints_json(fake_worker: str) -> None:
    result = CliRunner().invoke(cli, ["status", "--url", fake_worker, "--json"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["app_id"] == "lr"
