"""The live page and `logradar status` against a real worker on the embedded broker.

One worker reads a generated quarter of an hour that ends now: an error burst
that fires and resolves (with an anomaly on the same window), then a second
burst in the newest window, which stays open (the idle flush is far away), so
the worker has alerts, an open incident, open windows, sessions and partial
pattern matches. Headless Chromium loads ``/``, lets the page's script fetch
``/status`` and render, and dumps the DOM; the numbers the page shows must be
those of ``/status`` read right after.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson
import pytest

from logradar.broker import free_port
from logradar.generate import Generated, generate, write_lines
from logradar.replay import replay
from tests.conftest import need
from tests.integration.harness import REPO, Topics, Worker, create_topics, worker_env

pytestmark = pytest.mark.integration

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOSTILE = "</title><script>document.title='pwned'</script><b>bold</b> & \"quoted\""
SHOTS = REPO / ".logradar"


@dataclass
class Live:
    worker: Worker
    tmp: Path
    events: int  # events the worker must have counted
    url: str


def scenario(start: float) -> list[Generated]:
    """15 min with a checkout burst at 11 min, then 1 min with a payments burst (still open)."""
    first = list(
        generate(
            start_ts=start,
            rate=10.0,
            count=9_000,
            services=5,
            seed=5,
            scenario="error-burst",
            burst_at_s=660.0,
            burst_size=30,
        )
    )
    second = list(
        generate(
            start_ts=start + 900,
            rate=10.0,
            count=600,
            services=5,
            seed=6,
            scenario="error-burst",
            burst_service="payments",
            burst_at_s=0.0,
            burst_size=30,
        )
    )
    # log text is hostile input: the first errors of the open burst carry markup
    hostile = [
        Generated(
            key=b"payments",
            value=orjson.dumps(
                {
                    "ts": start + 903 + i / 10,
                    "level": "ERROR",
                    "service": "payments",
                    "msg": f"{HOSTILE} #{i}",
                }
            ),
            truth=None,
            bad_reason=None,
        )
        for i in range(10)
    ]
    at = next(i for i, r in enumerate(second) if r.truth is not None and r.truth.ts >= start + 903)
    return first + second[:at] + hostile + second[at:]


@pytest.fixture(scope="module")
def live(broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("live")
    suffix = uuid.uuid4().hex[:8]
    topics = Topics.unique(suffix)
    create_topics(broker, topics)
    start = math.floor(time.time() / 60) * 60 - 960
    records = scenario(start)
    path = tmp / "logs.txt"
    write_lines(path, records)
    worker = Worker(
        worker_env(
            broker,
            topics,
            f"lr-{suffix}",
            tmp / "w",
            LOGRADAR_RULES=str(REPO / "ops" / "rules.example.yaml"),
            LOGRADAR_IDLE_FLUSH_S="900",
        ),
        tmp / "w.log",
    )
    worker.start()
    try:
        worker.wait_ready(timeout=90)
        replay([path], bootstrap=broker.bootstrap, topic=topics.input, progress=False)
        want = sum(1 for r in records if r.truth is not None) + 10
        deadline = time.monotonic() + 120
        counted = None
        while True:
            try:
                doc = worker.status()
            except OSError:  # busy with a batch: ask again
                doc = None
            if doc is not None:
                counted = doc["totals"]["events"]
                corr = doc["correlation"]["partitions"].values()
                # correlation time moves once every source partition reported (an empty one
                # says it is idle on the idle timer, after the replay has been counted)
                moving = bool(corr) and all(c["now"] is not None for c in corr)
                if counted == want and doc["last_alert"] is not None and moving:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"worker counted {counted} of {want}: {worker.tail()}")
            time.sleep(0.5)
        time.sleep(3)  # let the alert-free tail of the batch settle, and a rate sample pass
        yield Live(worker, tmp, want, f"http://127.0.0.1:{worker.port}")
    finally:
        code = worker.stop()
    assert code == 0, worker.tail()


def chromium() -> str:
    path = shutil.which("chromium")
    need(path is not None, "headless Chromium not found (apt-get install chromium)")
    assert path is not None
    return path


def run_chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class Dom(HTMLParser):
    """Attributes of elements by id, and every element with a data-service or data-id."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str]] = {}
        self.tagged: list[tuple[str, dict[str, str]]] = []
        self.body: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "body":
            self.body = a
        if "id" in a:
            self.by_id[a["id"]] = a
        if "data-service" in a or "data-id" in a or "data-tp" in a:
            self.tagged.append((tag, a))


def render_page(live: Live, tmp: Path, *extra: str) -> str:
    proc = run_chromium(tmp, "--virtual-time-budget=8000", *extra, live.url + "/")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_the_page_shows_what_status_says(live: Live, tmp_path: Path) -> None:
    dom_text = render_page(live, tmp_path, "--dump-dom")
    status = live.worker.status()
    dom = Dom()
    dom.feed(dom_text)
    assert int(dom.body.get("data-rendered", "0")) >= 1, dom_text[:2000]
    ids = dom.by_id
    totals = status["totals"]

    # whose page this is; LOGRADAR_EVENT_LOOP=auto with uvloop installed runs uvloop
    assert status["worker"]["event_loop"] == "uvloop"
    assert ids["assigned"]["data-list"] == ",".join(status["assigned"])
    assert int(ids["assigned"]["data-count"]) == len(status["assigned"]) >= 1
    assert "Grafana shows the whole fleet" in dom_text
    for tp in status["assigned"]:
        assert f'<span class="tp">{tp}</span>' in dom_text

    # events: since start in total and per service, and over the rate span
    assert int(ids["events-total"]["data-value"]) == totals["events"] == live.events
    assert int(ids["events-span"]["data-value"]) == status["rates"]["events"] == live.events
    cards = {a["data-service"]: a for tag, a in dom.tagged if tag == "div" and "data-events" in a}
    services = {s["service"]: s for s in status["services"]}
    assert set(cards) == set(services) and len(cards) == 5
    for name, card in cards.items():
        assert int(card["data-events"]) == services[name]["events"]
        assert int(card["data-errors"]) == services[name]["errors"]
    assert float(ids["error-ratio"]["data-value"]) == status["rates"]["error_ratio"]
    assert dom_text.count('class="series"') >= len(cards)  # a line per level drawn

    # state
    assert int(ids["open-buckets"]["data-value"]) == totals["open_buckets"] > 0
    assert int(ids["partials"]["data-value"]) == totals["partials"]
    assert int(ids["sessions"]["data-value"]) == totals["sessions"] > 0
    rows = {a["data-tp"]: a for tag, a in dom.tagged if tag == "tr" and "data-buckets" in a}
    assert set(rows) == set(status["partitions"])
    for tp, row in rows.items():
        p = status["partitions"][tp]
        assert int(row["data-buckets"]) == p["open_buckets"] and int(row["data-keys"]) == p["keys"]
        assert row["data-watermark"] == ("" if p["watermark"] is None else _js(p["watermark"]))

    # incidents: the payments burst is still open
    assert int(ids["incident-count"]["data-value"]) == len(status["incidents"]) >= 1
    assert int(ids["incidents"]["data-count"]) == len(status["incidents"])
    assert ("error_burst", "payments") in {(i["rule"], i["service"]) for i in status["incidents"]}

    # alerts: the last one, and the recent ones with their evidence
    last = status["last_alert"]
    assert ids["last-alert"]["data-id"] == last["id"]
    assert ids["last-alert"]["data-rule"] == last["rule"]
    assert ids["last-alert"]["data-service"] == last["service"]
    shown = [a["data-id"] for tag, a in dom.tagged if tag == "article"]
    assert shown == [a["id"] for a in status["recent_alerts"]]
    rules = {(a["rule"], a["service"], a["state"]) for a in status["recent_alerts"]}
    assert {("error_burst", "checkout", "firing"), ("error_burst", "checkout", "resolved")} <= rules
    assert ("error_burst", "payments", "firing") in rules
    with_series = [a for a in status["recent_alerts"] if a.get("series")]
    assert dom_text.count('class="spark"') >= len(with_series)
    # hostile log text is shown as text, never run or parsed as markup
    assert "&lt;/title&gt;&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom_text
    assert "<b>bold</b>" not in dom_text
    assert "pwned" not in dom_text.split("<body", 1)[0]


def _js(x: float) -> str:
    """A number as JavaScript's String() writes it (integers without a fraction)."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def test_the_page_is_one_self_contained_document(live: Live) -> None:
    with urllib.request.urlopen(live.url + "/", timeout=5) as response:
        headers = response.headers
        html = response.read().decode()
    assert headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "<title>logradar live: this worker</title>" in html
    assert "<script src" not in html and "<link" not in html


def test_screenshot(live: Live, tmp_path: Path) -> None:
    png = tmp_path / "live.png"
    render_page(live, tmp_path, f"--screenshot={png}", "--window-size=1400,1000")
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 60_000  # a rendered dashboard, not a blank or half-drawn page
    SHOTS.mkdir(exist_ok=True)
    shutil.copyfile(png, SHOTS / "live.png")


def logradar(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "logradar", *args],
        cwd=REPO,
        env={**os.environ, "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_logradar_status_prints_the_workers_tables(live: Live) -> None:
    status = live.worker.status()
    # the address comes from LOGRADAR_WEB_BIND / LOGRADAR_WEB_PORT when --url is not given
    proc = logradar(
        "status", LOGRADAR_WEB_BIND="127.0.0.1", LOGRADAR_WEB_PORT=str(live.worker.port)
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"{len(status['assigned'])} input partition" in out
    for tp in status["assigned"]:
        assert tp in out
    assert "watermark (UTC)" in out and "open buckets" in out
    wm = status["partitions"][status["assigned"][0]]["watermark"]
    if wm is not None:
        assert time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(wm)) in out
    assert f"Open incidents ({len(status['incidents'])})" in out
    last = status["last_alert"]
    assert f"last alert: {last['state']} {last['rule']} {last['service']}" in out
    as_json = logradar("status", "--url", live.url, "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert orjson.loads(as_json.stdout)["assigned"] == status["assigned"]


def test_logradar_status_exits_1_when_the_worker_is_unreachable() -> None:
    port = free_port()
    proc = logradar("status", "--url", f"http://127.0.0.1:{port}")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == (
        f"logradar: worker unreachable at http://127.0.0.1:{port}/status: Connection refused\n"
    )
