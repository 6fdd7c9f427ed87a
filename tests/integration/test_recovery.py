"""A worker killed with SIGKILL mid-stream and restarted: state recovers from the changelog."""

from __future__ import annotations

import math
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from logradar.generate import generate, write_lines
from logradar.replay import replay
from tests.integration.harness import (
    Topics,
    Worker,
    burst_only_rules,
    create_topics,
    dump_topic,
    metric_value,
    read_topic,
    worker_env,
)
from tests.integration.test_pipeline import as_counter, expected_records

pytestmark = pytest.mark.integration


def test_sigkill_mid_stream_then_restart_counts_exactly(
    broker: Any, unique: str, tmp_path: Path
) -> None:
    start = math.floor(time.time() / 60) * 60 - 4 * 3600
    records = list(
        generate(
            start_ts=start,
            rate=10.0,
            count=40_000,
            services=6,
            seed=5,
            scenario="error-burst",
            disorder_s=5.0,
            burst_at_s=2400.0,
            burst_size=30,
        )
    )
    path = tmp_path / "logs.txt"
    write_lines(path, records)
    topics = Topics.unique(unique)
    create_topics(broker, topics)
    env = worker_env(
        broker,
        topics,
        f"lr-{unique}",
        tmp_path / "data",
        LOGRADAR_BATCH_SIZE="500",
        LOGRADAR_RULES=burst_only_rules(tmp_path),
    )
    first = Worker(env, tmp_path / "w1.log").start()
    first.wait_ready()
    replay([path], bootstrap=broker.bootstrap, topic=topics.input, progress=False)
    good = sum(1 for r in records if r.truth is not None)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if metric_value(first.metrics(), "logradar_events_total") >= good * 0.4:
            break
        time.sleep(0.2)
    assert first.process is not None
    os.killpg(first.process.pid, signal.SIGKILL)
    first.process.wait()
    second = Worker(env, tmp_path / "w2.log", port=first.port).start()
    try:
        second.wait_ready(timeout=90)
        want = expected_records(records)
        counts = read_topic(
            broker.bootstrap,
            topics.counts,
            until=lambda g: len(g) >= sum(want.values()),
            timeout=180,
        )
        text = second.metrics()
        gaps = metric_value(text, "logradar_offset_gaps_total")
        if gaps:
            # The embedded broker under-reports a changelog partition's high watermark
            # (tests/integration/test_broker_quirks.py), so Faust's recovery can stop short of
            # the last records; logradar counts the source offsets that fell into the gap.
            pytest.xfail(
                f"embedded-broker high-watermark quirk: recovery missed {gaps:.0f} offsets"
            )
        distinct = Counter(dict.fromkeys(as_counter(counts), 1))
        missing, wrong = want - distinct, distinct - want
        if missing or wrong:  # keep the evidence next to the worker logs
            dump_topic(broker.bootstrap, f"lr-{unique}-state-changelog", tmp_path / "changelog.txt")
            dump_topic(broker.bootstrap, topics.counts, tmp_path / "counts.txt")
        diagnostics = {
            name: metric_value(text, f"logradar_{name}_total")
            for name in ("replayed_events", "changelog_tail_records", "late_events", "events")
        }
        assert (sum(missing.values()), sum(wrong.values())) == (0, 0), (
            f"missing e.g. {list(missing)[:3]}, wrong e.g. {list(wrong)[:3]}; {diagnostics}"
        )
        # A window emitted just before the kill may be emitted again after it (at-least-once
        # output): the copy has the same id and the same count, so a consumer can drop it.
        by_id: dict[str, set[int]] = {}
        for r in counts:
            by_id.setdefault(r["id"], set()).add(r["count"])
        assert all(len(c) == 1 for c in by_id.values()), "one window id with different counts"
        duplicates = len(counts) - len(by_id)
        print(f"re-emitted windows after the kill: {duplicates} of {len(by_id)}")
        alerts = read_topic(broker.bootstrap, topics.alerts, until=lambda g: len(g) >= 2)
        assert [a["state"] for a in alerts] == ["firing", "resolved"]
        # the records delivered again after the kill were recognised, not counted twice
        assert metric_value(text, "logradar_replayed_events_total") > 0
    finally:
        second.stop()
