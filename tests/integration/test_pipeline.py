"""End to end on the embedded broker: a generated file in; exact counts, dead letters, alerts out.

The expectation is computed from the generator's ground truth
(:func:`logradar.generate.expected_counts`), not from logradar's parser or
window code; the topics are read back with confluent-kafka, not Faust.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from logradar.generate import Generated, expected_counts, generate, service_names, write_lines
from logradar.partitioning import murmur2
from logradar.replay import replay
from tests.integration.harness import (
    Topics,
    Worker,
    burst_only_rules,
    create_topics,
    metric_value,
    read_all,
    read_topic,
    worker_env,
)

pytestmark = pytest.mark.integration

THRESHOLD = 10


def scenario(start_ts: float) -> list[Generated]:
    """20,000+ events in mixed formats: disorder inside grace, very late events, every bad class."""
    return list(
        generate(
            start_ts=start_ts,
            rate=10.0,
            count=20_000,
            services=6,
            seed=11,
            scenario="error-burst",
            disorder_s=8.0,
            late_every=397,
            late_by_s=900.0,
            bad_every=251,
            burst_at_s=900.0,
            burst_size=3 * THRESHOLD,
        )
    )


def expected_records(records: list[Generated]) -> Counter[tuple[str, str, str, int, int, int]]:
    sizes = {"tumbling": 60, "hopping": 300}
    counts = expected_counts(records, tumbling_s=60, hop_size_s=300, hop_step_s=60)
    return Counter({(k, s, lv, st, st + sizes[k], n): 1 for (k, s, lv, st), n in counts.items()})


def as_counter(records: list[dict[str, Any]]) -> Counter[tuple[str, str, str, int, int, int]]:
    return Counter(
        (r["kind"], r["service"], r["level"], r["start"], r["end"], r["count"]) for r in records
    )


def check_outputs(bootstrap: str, topics: Topics, records: list[Generated]) -> list[dict[str, Any]]:
    want = expected_records(records)
    counts = read_topic(
        bootstrap, topics.counts, until=lambda got: len(got) >= sum(want.values()), timeout=180
    )
    got = as_counter(counts)
    missing, extra = want - got, got - want
    assert not missing and not extra, (
        f"{sum(missing.values())} missing, {sum(extra.values())} extra; "
        f"e.g. missing {list(missing)[:3]}, extra {list(extra)[:3]}"
    )
    ids = [r["id"] for r in counts]
    assert len(ids) == len(set(ids))

    bad = Counter(r.bad_reason.value for r in records if r.bad_reason is not None)
    dead = read_topic(bootstrap, topics.dead_letter, until=lambda g: len(g) >= sum(bad.values()))
    assert Counter(d["reason"] for d in dead) == bad
    assert all({"topic", "partition", "offset", "value"} <= d.keys() for d in dead)

    alerts = read_topic(bootstrap, topics.alerts, until=lambda g: len(g) >= 2)
    burst_service = service_names(6)[0]
    assert [(a["rule"], a["service"], a["state"]) for a in alerts] == [
        ("error_burst", burst_service, "firing"),
        ("error_burst", burst_service, "resolved"),
    ]
    firing = alerts[0]
    assert firing["observed"] == THRESHOLD and firing["threshold"] == THRESHOLD
    assert 1 <= len(firing["evidence"]) <= 5
    assert firing["window_end"] - firing["window_start"] == 60
    return alerts


def test_one_worker_counts_exactly(broker: Any, unique: str, tmp_path: Path) -> None:
    start = math.floor(time.time() / 60) * 60 - 3 * 3600
    records = scenario(start)
    path = tmp_path / "logs.txt"
    write_lines(path, records)
    topics = Topics.unique(unique)
    create_topics(broker, topics)
    worker = Worker(
        worker_env(
            broker,
            topics,
            f"lr-{unique}",
            tmp_path / "w1",
            LOGRADAR_RULES=burst_only_rules(tmp_path),
        ),
        tmp_path / "w1.log",
    )
    worker.start()
    try:
        worker.wait_ready()
        replay([path], bootstrap=broker.bootstrap, topic=topics.input, progress=False)
        alerts = check_outputs(broker.bootstrap, topics, records)
        assert alerts[0]["id"] != alerts[1]["id"]
        text = worker.metrics()
        good = sum(1 for r in records if r.truth is not None and not r.truth.late)
        late = sum(1 for r in records if r.truth is not None and r.truth.late)
        assert metric_value(text, "logradar_events_total") == good
        assert metric_value(text, "logradar_late_events_total") == late
        assert metric_value(text, "logradar_alerts_total", {"state": "firing"}) == 1
        assert "faust_" in text  # Faust's own sensors share the endpoint
        # and the process's own series, as on prometheus_client's default registry
        assert metric_value(text, "process_resident_memory_bytes") > 1 << 20
        assert metric_value(text, "python_gc_collections_total", {"generation": "0"}) > 0
        # closed windows delete their keys: as tombstones, which compaction drops
        values = [m.value() for m in read_all(broker.bootstrap, f"lr-{unique}-state-changelog")]
        assert None in values and b"null" not in values
        # a keyed output is on the partition a Java producer would pick for its key
        placed = [(m.key(), m.partition()) for m in read_all(broker.bootstrap, topics.counts)]
        assert len(placed) >= sum(expected_records(records).values())
        assert all(p == (murmur2(k) & 0x7FFFFFFF) % 4 for k, p in placed)
    finally:
        code = worker.stop()
    assert code == 0, worker.tail()


def test_two_workers_share_four_partitions(broker: Any, unique: str, tmp_path: Path) -> None:
    start = math.floor(time.time() / 60) * 60 - 3 * 3600
    records = scenario(start)
    path = tmp_path / "logs.txt"
    write_lines(path, records)
    topics = Topics.unique(unique)
    create_topics(broker, topics)
    workers = [
        Worker(
            worker_env(
                broker,
                topics,
                f"lr-{unique}",
                tmp_path / f"w{i}",
                LOGRADAR_RULES=burst_only_rules(tmp_path),
            ),
            tmp_path / f"w{i}.log",
        )
        for i in (1, 2)
    ]
    for w in workers:
        w.start()
    try:
        for w in workers:
            w.wait_ready(timeout=90)
        # wait until the group settled with both members owning partitions
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            owned = [set(w.status()["assigned"]) for w in workers]
            if all(owned) and not (owned[0] & owned[1]) and len(owned[0] | owned[1]) == 4:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"group did not settle: {owned}")
        replay([path], bootstrap=broker.bootstrap, topic=topics.input, progress=False)
        check_outputs(broker.bootstrap, topics, records)
        total = sum(metric_value(w.metrics(), "logradar_events_total") for w in workers)
        assert total == sum(1 for r in records if r.truth is not None and not r.truth.late)
    finally:
        codes = [w.stop() for w in workers]
    assert codes == [0, 0], [w.tail() for w in workers]
