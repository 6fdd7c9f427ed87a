"""`logradar demo` shows windows and the injected burst, and leaves no process behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from logradar.broker import free_port

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def processes_mentioning(text: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            blob = (proc / "environ").read_bytes() + (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if text.encode() in blob:
            pids.append(int(proc.name))
    return pids


def test_demo_fires_the_burst_and_ctrl_c_stops_everything() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "logradar", "demo", "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "200"},
    )
    time.sleep(90)  # the burst comes 40 s into the 60x replay (2,400 s of event time)
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    out, _ = proc.communicate(timeout=60)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-3000:]
    assert "firing" in text and "error_burst" in text, text[-3000:]
    assert "demo stopped" in text
    logs = re.search(r"logs in (\S+)", text)
    assert logs is not None
    time.sleep(1)
    assert processes_mentioning(logs.group(1)) == [], "a demo child outlived the demo"
    assert processes_mentioning(f"127.0.0.1:{port}") == [], "the broker outlived the demo"
