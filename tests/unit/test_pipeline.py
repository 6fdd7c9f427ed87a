"""PartitionPipeline.process_many (a source record's events at once) against process (one by one).

The processor feeds a record's events through ``process_many``; ``process`` is the
reference. Both pipelines get the same records (out-of-order and late events,
error bursts, new templates, records replayed after a restore from the state they
wrote) and must report the same statuses, alerts, closed windows and state records.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from logradar.detectors.config import DetectorConfigs
from logradar.model import Level, LogEvent
from logradar.pipeline import COUNTED, LATE, REPLAYED, Closed, PartitionPipeline
from logradar.rules import parse_rules
from logradar.windows import WindowSpec

START = 28_333_333 * 60
SPEC = WindowSpec(tumbling_s=60, hop_size_s=300, hop_step_s=60, grace_s=10)
RULES = parse_rules(
    """
defaults:
  burst: {threshold: 4}
  rate: {baseline_windows: 3}
templates: {warmup: 3}
services:
  quiet:
    burst: {enabled: false}
"""
)
MESSAGES = ["disk {} full", "user {} logged in", "payment {} failed", "cache miss {}", "x"]

event = st.builds(
    lambda dt, service, level, m, n: LogEvent(START + dt, service, level, MESSAGES[m].format(n)),
    st.floats(0, 900, allow_nan=False),
    st.sampled_from(["api", "db", "quiet"]),
    st.sampled_from([Level.INFO, Level.WARN, Level.ERROR, Level.FATAL]),
    st.integers(0, len(MESSAGES) - 1),
    st.integers(0, 3),
)
# records of 1-6 events; time mostly moves forward, so some events come late
records = st.lists(st.lists(event, min_size=1, max_size=6), min_size=1, max_size=60).map(
    lambda recs: [
        [LogEvent(e.ts + i * 8, e.service, e.level, e.message) for e in rec]
        for i, rec in enumerate(recs)
    ]
)


def closed(out: Closed) -> tuple[list[Any], list[Any]]:
    return [c.to_dict() for c in out.counts], [a.to_dict(None) for a in out.alerts]


def fresh(state: dict[str, Any] | None = None) -> PartitionPipeline:
    pipe = PartitionPipeline("logs:0", SPEC, DetectorConfigs(RULES))
    if state:
        pipe.restore(state.items())
    return pipe


def feed(
    one: PartitionPipeline, many: PartitionPipeline, recs: list[list[LogEvent]], first: int
) -> tuple[dict[str, Any], int, set[str]]:
    """Feed both; compare after each record and batch. The state written, how many events
    were late, and the rules that alerted."""
    state: dict[str, Any] = {}
    late = 0
    rules: set[str] = set()
    for offset, rec in enumerate(recs[first:], start=first):
        statuses = [one.process(e, offset) for e in rec]
        per_key: dict[tuple[str, str], int] = {}
        times: list[float] = []
        assert many.process_many(rec, offset, per_key, times) == statuses.count(LATE)
        counted = [e for e, s in zip(rec, statuses, strict=True) if s == COUNTED]
        assert times == [e.ts for e in counted]
        assert per_key == Counter((e.service, e.level) for e in counted)
        late += statuses.count(LATE)
        if offset % 4 == 3 or offset == len(recs) - 1:  # a batch ends
            counts, alerts = closed(one.close_due())
            assert closed(many.close_due()) == (counts, alerts)
            rules.update(a["rule"] for a in alerts)
            written = one.take_dirty()
            assert many.take_dirty() == written
            state.update(written)
    return state, late, rules


@settings(max_examples=150, deadline=None)
@given(records, st.data())
def test_process_many_is_process_for_each_event(recs: list[list[LogEvent]], data: Any) -> None:
    state, _, _ = feed(fresh(), fresh(), recs, 0)
    # restored from what they wrote, both replay the last records the same way
    first = data.draw(st.integers(0, len(recs) - 1))
    feed(fresh(state), fresh(state), recs, first)


def test_the_example_covers_late_events_replays_bursts_and_new_templates() -> None:
    recs = [
        [
            LogEvent(START + i * 5 + j, "api", Level.ERROR, MESSAGES[(i + j) % 5].format(i))
            for j in range(3)
        ]
        for i in range(40)
    ]
    recs.insert(30, [LogEvent(START + 1, "api", Level.INFO, "late")])
    state, late, rules = feed(fresh(), fresh(), recs, 0)
    assert late == 1
    assert {"error_burst", "new_template"} <= rules
    one, many = fresh(state), fresh(state)
    last = len(recs) - 1
    per_key: dict[tuple[str, str], int] = {}
    times: list[float] = []
    assert many.process_many(recs[last], last, per_key, times) == 0
    assert times == [] and per_key == {}  # its offset is in the state: replayed
    assert {one.process(e, last) for e in recs[last]} == {REPLAYED}
