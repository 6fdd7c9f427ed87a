"""The Alertmanager sink against a real Alertmanager (Debian's prometheus-alertmanager)."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from logradar.alerts import Alert, Evidence
from logradar.broker import free_port
from logradar.notify import AlertmanagerSink, Notifier
from logradar.notify.sinks import incident_key
from tests.conftest import need

pytestmark = pytest.mark.integration

BINARY = "/usr/bin/prometheus-alertmanager"
CONFIG = """\
route:
  receiver: "null"
receivers:
  - name: "null"
"""


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """An Alertmanager on a free port, clustering off; yields its base URL."""
    binary = BINARY if Path(BINARY).exists() else shutil.which("alertmanager")
    need(
        binary is not None,
        f"Alertmanager not found at {BINARY} (apt-get install prometheus-alertmanager)",
    )
    assert binary is not None
    (tmp_path / "am.yml").write_text(CONFIG)
    port = free_port()
    log = open(tmp_path / "am.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'am.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp_path / "am.log").read_text(errors="replace")[-2000:])
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def active_alerts(url: str, logradar_id: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"filter": f'logradar_id="{logradar_id}"'})
    with urllib.request.urlopen(f"{url}/api/v2/alerts?{query}", timeout=5) as r:
        result: list[dict[str, Any]] = orjson.loads(r.read())
    return result


def record(state: str, now: float) -> dict[str, Any]:
    start = int(now // 60 * 60) - 120
    return Alert(
        id=f"am-{state}",
        rule="error_burst",
        kind="burst",
        severity="critical",
        state=state,  # type: ignore[arg-type]
        service="checkout",
        level="ERROR",
        window_start=start if state == "firing" else start + 60,
        window_end=start + 60 if state == "firing" else start + 120,
        event_time=now - 30,
        observed=42 if state == "firing" else 0,
        expected=5,
        threshold=20,
        score=2.1,
        summary=f"checkout: error burst {state}",
        evidence=(Evidence(now - 90, "ERROR", "payment gateway timeout"),),
        extra={"incident_window_start": start},
    ).to_dict(detected_at=now)


async def test_firing_then_resolved_in_a_real_alertmanager(alertmanager: str) -> None:
    now = time.time()
    firing, resolved = record("firing", now), record("resolved", now)
    key = incident_key(firing)
    sink = AlertmanagerSink(alertmanager, generator_url="http://logradar.example/alerts")
    notifier = Notifier([sink], attempts=2, backoff_s=0.1)

    [outcome] = await notifier.notify(firing) or []
    assert outcome.status == "delivered", outcome.error
    [got] = active_alerts(alertmanager, key)
    assert got["labels"] == {
        "alertname": "error_burst",
        "service": "checkout",
        "severity": "critical",
        "level": "ERROR",
        "logradar_id": key,
    }
    assert got["annotations"]["summary"] == "checkout: error burst firing"
    assert "payment gateway timeout" in got["annotations"]["evidence"]
    assert got["generatorURL"] == "http://logradar.example/alerts"
    assert got["status"]["state"] in {"active", "unprocessed"}

    [outcome] = await notifier.notify(resolved) or []
    await notifier.close()
    assert outcome.status == "delivered", outcome.error
    deadline = time.monotonic() + 10
    while active_alerts(alertmanager, key) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert active_alerts(alertmanager, key) == []
