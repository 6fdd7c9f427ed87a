"""Faults on the embedded broker, each checked against an independent expectation (`make chaos`).

Every test feeds the same generated stream (40,000 events, disorder inside
grace, one error burst), injects one fault while the stream is being
processed, and then requires of the counts topic: every window the generator's
ground truth implies, with its exact count, and no window with any other count
(a window emitted a second time after a fault carries the same id and the same
count: at-least-once output with deterministic ids); and of the alerts topic:
the burst fires and resolves (repeats share their id).

Faults that need a broker of their own (pausing it) start one; the others use
the session's broker. Tansu delays a second JoinGroup by about half the
session timeout, so group changes take a few seconds here.
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from logradar.broker import EmbeddedBroker, start_broker
from logradar.generate import Generated, generate, write_lines
from logradar.replay import replay
from tests.integration.harness import (
    Topics,
    Worker,
    burst_only_rules,
    create_topics,
    metric_value,
    read_topic,
    worker_env,
)
from tests.integration.test_pipeline import as_counter, expected_records

pytestmark = pytest.mark.integration
COUNT = 40_000


def stream(tmp_path: Path) -> tuple[list[Generated], Path]:
    start = math.floor(time.time() / 60) * 60 - 4 * 3600
    records = list(
        generate(
            start_ts=start,
            rate=10.0,
            count=COUNT,
            services=6,
            seed=11,
            scenario="error-burst",
            disorder_s=5.0,
            burst_at_s=2400.0,
            burst_size=30,
        )
    )
    path = tmp_path / "logs.txt"
    write_lines(path, records)
    return records, path


def counted(workers: list[Worker]) -> float:
    total = 0.0
    for w in workers:
        try:
            total += metric_value(w.metrics(), "logradar_events_total")
        except OSError:
            pass
    return total


def wait_until(what: str, check: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def check_exact(
    bootstrap: str, topics: Topics, records: list[Generated], evidence: Path | None = None
) -> int:
    """Counts and alerts equal the expectation; returns how many windows were emitted twice.

    On a mismatch the state changelog and the counts topic are written to ``evidence``.
    """
    want = expected_records(records)
    counts = read_topic(
        bootstrap, topics.counts, until=lambda g: len(g) >= sum(want.values()), timeout=240
    )
    distinct = Counter(dict.fromkeys(as_counter(counts), 1))
    missing, wrong = want - distinct, distinct - want
    if (missing or wrong) and evidence is not None:
        from tests.integration.harness import dump_topic

        app_id = topics.input.replace("in-", "lr-", 1)
        dump_topic(bootstrap, f"{app_id}-state-changelog", evidence / "changelog.txt")
        dump_topic(bootstrap, topics.counts, evidence / "counts.txt")
    assert (sum(missing.values()), sum(wrong.values())) == (0, 0), (
        f"missing e.g. {list(missing)[:3]}, wrong e.g. {list(wrong)[:3]}"
    )
    by_id: dict[str, set[int]] = {}
    for r in counts:
        by_id.setdefault(r["id"], set()).add(r["count"])
    assert all(len(c) == 1 for c in by_id.values()), "one window id with different counts"
    alerts = read_topic(bootstrap, topics.alerts, until=lambda g: len(g) >= 2)
    states = {a["id"]: a["state"] for a in alerts}
    assert sorted(states.values()) == ["firing", "resolved"], alerts
    return len(counts) - len(by_id)


def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    from confluent_kafka import TopicPartition

    from logradar.kafka import make_consumer

    consumer = make_consumer(bootstrap, group)
    try:
        got = consumer.committed([TopicPartition(topic, p) for p in range(4)], timeout=10)
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in got}


def persisted_offsets(bootstrap: str, changelog: str) -> dict[int, int]:
    """Each source partition's offset in its last meta state record."""
    import orjson

    from tests.integration.harness import dump_topic

    path = Path(f"/tmp/{changelog}.txt")  # noqa: S108 - a scratch file of this test
    dump_topic(bootstrap, changelog, path)
    offsets: dict[int, int] = {}
    for line in path.read_text().splitlines():
        partition, _offset, rest = line.split(" ", 2)
        key, _, value = rest.partition(" ")  # the key is a JSON string (Faust's serializer)
        if orjson.loads(key).endswith("\x1fm") and value:
            offsets[int(partition)] = orjson.loads(value)["o"]
    path.unlink()
    return offsets


def workers_for(
    broker: EmbeddedBroker, topics: Topics, unique: str, tmp_path: Path, n: int
) -> list[Worker]:
    rules = burst_only_rules(tmp_path)
    return [
        Worker(
            worker_env(
                broker,
                topics,
                f"lr-{unique}",
                tmp_path / f"data{i}",
                LOGRADAR_BATCH_SIZE="500",
                LOGRADAR_RULES=rules,
            ),
            tmp_path / f"w{i}.log",
        )
        for i in range(n)
    ]


def settled(workers: list[Worker]) -> bool:
    try:
        owned = [set(w.status()["assigned"]) for w in workers]
    except OSError:
        return False
    union: set[str] = set().union(*owned)
    return all(owned) and sum(map(len, owned)) == len(union) == 4


def test_two_workers_one_killed_the_survivor_takes_over_exactly(
    broker: Any, unique: str, tmp_path: Path
) -> None:
    records, path = stream(tmp_path)
    topics = Topics.unique(unique)
    create_topics(broker, topics)
    workers = workers_for(broker, topics, unique, tmp_path, 2)
    for w in workers:
        w.start()
    try:
        for w in workers:
            w.wait_ready(timeout=90)
        wait_until("both workers owning partitions", lambda: settled(workers))
        replay([path], bootstrap=broker.bootstrap, topic=topics.input, progress=False)
        good = sum(1 for r in records if r.truth is not None)
        wait_until("40% counted", lambda: counted(workers) >= good * 0.4)
        victim, survivor = workers
        assert victim.process is not None
        os.killpg(victim.process.pid, signal.SIGKILL)
        victim.process.wait()
        wait_until("the survivor owning all 4 partitions", lambda: settled([survivor]), 120)
        twice = check_exact(broker.bootstrap, topics, records, tmp_path)
        print(f"windows emitted again after the kill: {twice}")
    finally:
        for w in workers:
            w.stop()


def test_a_third_worker_joins_mid_stream_nothing_lost_or_counted_twice(
    broker: Any, unique: str, tmp_path: Path
) -> None:
    records, path = stream(tmp_path)
    topics = Topics.unique(unique)
    create_topics(broker, topics)
    workers = workers_for(broker, topics, unique, tmp_path, 3)
    for w in workers[:2]:
        w.start()
    try:
        for w in workers[:2]:
            w.wait_ready(timeout=90)
        wait_until("two workers owning partitions", lambda: settled(workers[:2]))
        replay([path], bootstrap=broker.bootstrap, topic=topics.input, progress=False)
        good = sum(1 for r in records if r.truth is not None)
        wait_until("30% counted", lambda: counted(workers[:2]) >= good * 0.3)
        workers[2].start()
        wait_until("three workers sharing 4 partitions", lambda: settled(workers), 120)
        check_exact(broker.bootstrap, topics, records, tmp_path)
        # the group counted every event once (each worker's metric counts its own)
        late = sum(1 for r in records if r.truth is not None and r.truth.late)
        assert counted(workers) == good - late
    finally:
        codes = [w.stop() for w in workers]
    assert codes == [0, 0, 0], [w.tail() for w in workers]


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A broker of this test's own, so pausing it disturbs no other test."""
    b = start_broker(log_path=tmp_path / "broker.log")
    yield b
    if b.process.poll() is None:
        os.kill(b.process.pid, signal.SIGCONT)
    b.stop()


def test_broker_paused_then_resumed_the_worker_waits_and_loses_nothing(
    own_broker: EmbeddedBroker, unique: str, tmp_path: Path
) -> None:
    records, path = stream(tmp_path)
    topics = Topics.unique(unique)
    create_topics(own_broker, topics)
    (worker,) = workers_for(own_broker, topics, unique, tmp_path, 1)
    worker.start()
    try:
        worker.wait_ready(timeout=90)
        replay([path], bootstrap=own_broker.bootstrap, topic=topics.input, progress=False)
        good = sum(1 for r in records if r.truth is not None)
        wait_until("30% counted", lambda: counted([worker]) >= good * 0.3)
        os.kill(own_broker.process.pid, signal.SIGSTOP)
        try:
            wait_until(
                "logradar_broker_up 0",
                lambda: metric_value(worker.metrics(), "logradar_broker_up") == 0,
                timeout=30,
            )
            time.sleep(10)
        finally:
            os.kill(own_broker.process.pid, signal.SIGCONT)
        wait_until(
            "logradar_broker_up 1",
            lambda: metric_value(worker.metrics(), "logradar_broker_up") == 1,
            timeout=60,
        )
        check_exact(own_broker.bootstrap, topics, records, tmp_path)
        log = worker.log.read_text(errors="replace")
        assert "unreachable" in log and "reachable again" in log
        assert worker.process is not None and worker.process.poll() is None
    finally:
        code = worker.stop()
    assert code == 0, worker.tail()


def test_sigterm_stops_within_bounds_commits_and_restarts_without_replays(
    broker: Any, unique: str, tmp_path: Path
) -> None:
    records, path = stream(tmp_path)
    topics = Topics.unique(unique)
    create_topics(broker, topics)
    first, second = workers_for(broker, topics, unique, tmp_path, 2)
    first.start()
    first.wait_ready(timeout=90)
    replay([path], bootstrap=broker.bootstrap, topic=topics.input, progress=False)
    good = sum(1 for r in records if r.truth is not None)
    wait_until("40% counted", lambda: counted([first]) >= good * 0.4)
    started = time.monotonic()
    code = first.stop(signal.SIGTERM, timeout=30)
    took = time.monotonic() - started
    assert code == 0, first.tail()
    print(f"SIGTERM to exit: {took:.1f}s")
    # Every processed batch is committed: each partition's committed offset is one past
    # the last source offset its persisted state includes (the meta record's "o").
    committed = committed_offsets(broker.bootstrap, f"lr-{unique}", topics.input)
    included = persisted_offsets(broker.bootstrap, f"lr-{unique}-state-changelog")
    assert committed == {p: o + 1 for p, o in included.items()}, (committed, included)
    # Open windows stay in the changelog: a window emitted early, at shutdown, would
    # carry a short count, which check_exact below rejects.
    second.port = first.port
    second.start()
    try:
        second.wait_ready(timeout=90)
        check_exact(broker.bootstrap, topics, records, tmp_path)
        # No offset of the input lacks a record; any the consumer skipped were read back
        # (tests/unit/test_faust_quirks.py shows how Faust's consumer can skip them).
        assert metric_value(second.metrics(), "logradar_offset_gaps_total") == 0
        read_back = metric_value(second.metrics(), "logradar_offsets_read_back_total")
        print(f"records the restarted worker's consumer skipped and it read back: {read_back:.0f}")
    finally:
        second.stop()
    assert took < 30


def test_broker_absent_at_start_the_worker_waits_then_runs(unique: str, tmp_path: Path) -> None:
    from logradar.broker import free_port

    port = free_port()
    topics = Topics.unique(unique)
    env = {
        "LOGRADAR_BROKER": f"kafka://127.0.0.1:{port}",
        "LOGRADAR_APP_ID": f"lr-{unique}",
        "LOGRADAR_INPUT_TOPICS": topics.input,
        "LOGRADAR_COUNTS_TOPIC": topics.counts,
        "LOGRADAR_ALERTS_TOPIC": topics.alerts,
        "LOGRADAR_DEAD_LETTER_TOPIC": topics.dead_letter,
        "LOGRADAR_DATA_DIR": str(tmp_path / "data"),
        "LOGRADAR_SESSION_TIMEOUT_S": "10",
    }
    worker = Worker(env, tmp_path / "w.log").start()
    broker = None
    try:
        wait_until(
            "a 'waiting for the broker' line",
            lambda: "waiting for the broker" in worker.log.read_text(errors="replace"),
            timeout=60,
        )
        assert worker.process is not None and worker.process.poll() is None
        broker = start_broker(port=port, log_path=tmp_path / "broker.log")
        worker.wait_ready(timeout=120)  # it created its topics and joined the group
        wait_until(
            "logradar_broker_up 1",
            lambda: metric_value(worker.metrics(), "logradar_broker_up") == 1,
            30,
        )
    finally:
        code = worker.stop()
        if broker is not None:
            broker.stop()
    assert code == 0, worker.tail()


def test_a_failing_notifier_does_not_slow_the_worker(
    broker: Any, unique: str, tmp_path: Path
) -> None:
    """The notifier is its own consumer: a webhook that always fails stalls only it."""
    import http.server
    import sys
    import threading

    class Failing(http.server.BaseHTTPRequestHandler):
        hits = 0

        def do_POST(self) -> None:  # noqa: N802 - the http.server interface
            type(self).hits += 1
            time.sleep(0.5)
            self.send_response(503)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    records, path = stream(tmp_path)
    topics = Topics.unique(unique)
    create_topics(broker, topics)
    (worker,) = workers_for(broker, topics, unique, tmp_path, 1)
    env = {
        **os.environ,
        **worker.env,
        "LOGRADAR_NOTIFY_WEBHOOK_URL": f"http://127.0.0.1:{server.server_address[1]}/hook",
        "LOGRADAR_NOTIFY_ATTEMPTS": "50",
        "LOGRADAR_NOTIFY_BACKOFF_S": "1",
    }
    import subprocess

    notifier = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "logradar", "notify"],
        env=env,
        stdout=open(tmp_path / "notify.log", "ab"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    worker.start()
    try:
        worker.wait_ready(timeout=90)
        replay([path], bootstrap=broker.bootstrap, topic=topics.input, progress=False)
        # the burst's alerts reach the notifier, whose webhook keeps failing ...
        check_exact(broker.bootstrap, topics, records, tmp_path)
        wait_until("the notifier retrying", lambda: Failing.hits >= 2, timeout=60)
        # ... while the worker counted everything, with its outputs acknowledged promptly
        text = worker.metrics()
        late = sum(1 for r in records if r.truth is not None and r.truth.late)
        good = sum(1 for r in records if r.truth is not None)
        assert metric_value(text, "logradar_events_total") == good - late
        assert notifier.poll() is None, "the notifier keeps retrying, it does not exit"
        # mid-backoff, SIGTERM still stops it promptly (the alert stays uncommitted)
        os.killpg(notifier.pid, signal.SIGTERM)
        assert notifier.wait(30) == 0
    finally:
        if notifier.poll() is None:
            os.killpg(notifier.pid, signal.SIGKILL)
            notifier.wait(30)
        worker.stop()
        server.shutdown()
