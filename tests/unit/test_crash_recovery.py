"""Crash anywhere, restart from the changelog and the committed offset: outputs stay exact.

A simulated worker runs the real :class:`~logradar.processor.Processor` the
Faust agent runs, with the agent's ordering: outputs are sent, then the batch's
state records are written to a changelog in order, then (every few batches)
the source offset is committed. A crash stops it part-way through writing a
batch's state records: any prefix of them reached the changelog. The restarted
worker restores from the changelog (the last record of each key wins, as in
Faust's recovery) and reads again from the committed offset.

Against a run without crashes: every window emitted has the same count (a
window emitted again after a crash carries the same id and count), no window
is missing, and every alert id of the clean run is emitted.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from logradar.generate import generate
from logradar.metrics import Metrics
from logradar.processor import BatchResult, Processor, RawRecord
from logradar.rules import parse_rules
from logradar.settings import Settings

START = 28_333_333 * 60  # on a window boundary
PARTITIONS = 2
RULES = parse_rules(
    """
defaults:
  burst: {threshold: 10}
  anomaly: {enabled: false}
templates: {enabled: false}
"""
)


class Outputs:
    """What reached the output topics, across every run of the worker."""

    def __init__(self) -> None:
        self.counts: dict[str, set[int]] = {}
        self.alerts: set[str] = set()

    def take(self, result: BatchResult) -> None:
        for wc in result.counts:
            self.counts.setdefault(wc.id, set()).add(wc.count)
        self.alerts.update(f"{a.id}:{a.state}" for a in result.alerts)


class Worker:
    """One life of a worker: a Processor restored from ``changelog``."""

    def __init__(self, changelog: dict[str, Any], clock: list[float]) -> None:
        self.changelog = changelog
        metrics = Metrics.create(CollectorRegistry(), 500)
        self.processor = Processor(
            Settings(topic_partitions=PARTITIONS),
            metrics,
            state_items=lambda _p: list(changelog.items()),
            clock=lambda: clock[0],
            rules=RULES,
        )

    def persist(self, result: BatchResult, limit: int | None = None) -> bool:
        """Write the state records (only the first ``limit``); True if all were written."""
        records = result.state if limit is None else result.state[:limit]
        for _partition, key, value in records:
            if value is None:
                self.changelog.pop(key, None)
            else:
                self.changelog[key] = value
        return limit is None or limit >= len(result.state)


def records_of(seed: int, count: int) -> list[RawRecord]:
    out: list[RawRecord] = []
    offsets = [0] * PARTITIONS
    for g in generate(
        start_ts=START,
        rate=20.0,
        count=count,
        services=5,
        seed=seed,
        scenario="error-burst",
        disorder_s=5.0,
        burst_at_s=count / 40,
        burst_size=30,
    ):
        p = zlib.crc32(g.key or b"") % PARTITIONS
        out.append(RawRecord("logs", p, offsets[p], g.key, g.value, START + len(out) / 20))
        offsets[p] += 1
    return out


def run(
    records: Sequence[RawRecord],
    batch: int,
    crashes: Iterable[tuple[int, float]],
    commit_every: int,
) -> Outputs:
    """Process ``records`` in batches; crash before batch i after writing a fraction of its
    state records, for each (i, fraction) in ``crashes``; commit offsets every few batches."""
    crash_at = dict(crashes)
    clock = [float(START + 10 * 86400)]
    changelog: dict[str, Any] = {}
    out = Outputs()
    committed = 0  # index of the first record not yet committed
    worker = Worker(changelog, clock)
    pos = committed
    n = 0
    while pos < len(records):
        chunk = records[pos : pos + batch]
        result = worker.processor.process(chunk)
        out.take(result)  # outputs are sent before state is written
        fraction = crash_at.pop(n, None)
        n += 1
        if fraction is not None:
            worker.persist(result, limit=int(len(result.state) * fraction))
            worker = Worker(changelog, clock)  # the restarted process
            pos = committed
            continue
        worker.persist(result)
        pos += len(chunk)
        if n % commit_every == 0:
            committed = pos
    clock[0] += 3600
    final = worker.processor.flush_idle(0.0)
    out.take(final)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_crash_while_writing_state_loses_and_doubles_nothing(seed: int) -> None:
    rng = random.Random(seed)
    records = records_of(seed, 6000)
    batch = rng.choice([50, 200, 500])
    every = rng.choice([1, 2, 4])
    batches = -(-len(records) // batch)
    clean = run(records, batch, (), commit_every=every)
    crashes = [(i, rng.random()) for i in sorted(rng.sample(range(1, batches), 4))]
    crashed = run(records, batch, crashes, commit_every=every)
    twice = {wid: c for wid, c in crashed.counts.items() if len(c) != 1}
    assert not twice, f"windows emitted with different counts: {list(twice.items())[:3]}"
    assert crashed.counts == clean.counts
    assert clean.alerts <= crashed.alerts
    assert clean.alerts, "the scenario's burst must fire"


def _line(ts: float, service: str, level: str) -> bytes:
    return f'{{"ts": {ts}, "service": "{service}", "level": "{level}", "msg": "m"}}'.encode()


@pytest.mark.parametrize("fraction", [i / 10 for i in range(10)])
def test_a_key_whose_windows_all_closed_is_not_forgotten_before_its_batch_is_complete(
    fraction: float,
) -> None:
    # a/ERROR has one event before the committed offset and one after; the second
    # batch closes every window holding them, so the key's buckets empty out there.
    first = [_line(START + 1, "a", "ERROR")] + [_line(START + 2 + i, "b", "INFO") for i in range(5)]
    second = [_line(START + 8, "a", "ERROR")] + [
        _line(START + t, "b", "INFO") for t in (10, 100, 200, 320, 400)
    ]
    records = [
        RawRecord("logs", 0, offset, None, value, None)
        for offset, value in enumerate(first + second)
    ]
    clean = run(records, len(first), (), commit_every=1)
    # batch 1 (0-based) is the second batch: crash while writing its state records
    crashed = run(records, len(first), [(1, fraction)], commit_every=1)
    assert crashed.counts == clean.counts
