"""The backtest report, rendered by a real browser (headless Chromium, nothing fetched)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from logradar.backtest import backtest
from logradar.generate import generate, service_names, write_lines
from logradar.report import write_report
from logradar.rules import parse_rules
from logradar.settings import Settings
from tests.conftest import need
from tests.integration.harness import BURST_ONLY_RULES

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
START = 28_333_333 * 60
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


def chromium() -> str:
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    need(path is not None, f"headless Chromium not found at {CHROMIUM} (apt-get install chromium)")
    assert path is not None
    return path


def run_chromium(binary: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, object]]]:
    tmp = tmp_path_factory.mktemp("report")
    logs = tmp / "logs.txt"
    write_lines(
        logs,
        generate(
            start_ts=START,
            rate=5.0,
            count=6_000,
            services=4,
            seed=3,
            scenario="error-burst",
            burst_at_s=600.0,
            burst_size=30,
            bad_every=397,
        ),
    )
    result = backtest([logs], settings=Settings(), rules=parse_rules(BURST_ONLY_RULES))
    assert [a["state"] for a in result.alerts] == ["firing", "resolved"]
    # log text is hostile input: the page must show it, not run it
    result.alerts[0]["evidence"].insert(
        0, {"ts": START + 1.0, "level": "ERROR", "message": HOSTILE}
    )
    path = write_report(result, tmp / "report.html", title="logradar backtest: error-burst")
    return path, result.alerts


def test_report_renders_services_alerts_and_charts(
    report: tuple[Path, list[dict[str, object]]], tmp_path: Path
) -> None:
    binary = chromium()
    path, alerts = report
    html = path.read_text()
    assert "<script" not in html.lower()  # no script at all, hostile text escaped
    assert "http://" not in html and "https://" not in html  # nothing fetched
    proc = run_chromium(binary, tmp_path, "--dump-dom", path.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    for service in service_names(4):
        assert f"<h3>{service}" in dom
    for alert in alerts:
        summary = str(alert["summary"])
        assert summary in dom or summary.replace("&", "&amp;") in dom
    assert dom.count('class="chart"') >= 4
    assert 'class="series"' in dom
    assert dom.count('class="alert-marker firing"') >= 1
    assert dom.count('class="alert-marker resolved"') >= 1
    assert "&lt;/title&gt;&lt;script&gt;" in dom
    assert "<title>logradar backtest: error-burst</title>" in dom
    assert "pwned" not in dom.split("<body")[0]


def test_report_screenshot(report: tuple[Path, list[dict[str, object]]], tmp_path: Path) -> None:
    binary = chromium()
    path, _ = report
    png = tmp_path / "report.png"
    proc = run_chromium(
        binary, tmp_path, f"--screenshot={png}", "--window-size=1400,1000", path.as_uri()
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert png.exists()
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 30_000  # a blank 1400x1000 page compresses to a few kB
