"""Window assignment, watermark and grace edges, and batching independence."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logradar.windows import COUNTED, LATE, REPLAYED, PartitionWindows, WindowCount, WindowSpec

SPEC = WindowSpec(tumbling_s=60, hop_size_s=300, hop_step_s=60, grace_s=10)


def as_set(counts: list[WindowCount]) -> set[tuple[str, str, str, int, int, int]]:
    return {(w.kind, w.service, w.level, w.start, w.end, w.count) for w in counts}


@pytest.mark.parametrize(
    ("ts", "start"),
    [(0.0, 0), (59.999, 0), (60.0, 60), (61.5, 60), (-0.5, -60), (1_700_000_000.25, 1_699_999_980)],
)
def test_tumbling_start(ts: float, start: int) -> None:
    assert SPEC.tumbling_start(ts) == start


@pytest.mark.parametrize(
    ("spec", "ts", "starts"),
    [
        (SPEC, 0.0, [-240, -180, -120, -60, 0]),
        (SPEC, 125.0, [-120, -60, 0, 60, 120]),
        (WindowSpec(60, 20, 10, 0), 25.0, [10, 20]),
        (WindowSpec(60, 60, 60, 0), 59.0, [0]),
    ],
)
def test_hopping_starts(spec: WindowSpec, ts: float, starts: list[int]) -> None:
    assert spec.hopping_starts(ts) == starts


@pytest.mark.parametrize(
    ("sizes", "bucket"),
    [((60, 300, 60), 60), ((60, 300, 20), 20), ((45, 60, 30), 15), ((10, 10, 10), 10)],
)
def test_bucket_is_gcd_of_tumbling_and_step(sizes: tuple[int, int, int], bucket: int) -> None:
    assert WindowSpec(*sizes).bucket_s == bucket


@pytest.mark.parametrize("bad", [(0, 60, 60), (60, 90, 60), (60, 300, -1)])
def test_invalid_specs_are_rejected(bad: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError, match="must"):
        WindowSpec(*bad)


def test_window_closes_exactly_when_watermark_reaches_end_plus_grace() -> None:
    w = PartitionWindows(SPEC)
    w.add(30.0, "a", "INFO")
    w.add(69.999, "a", "INFO")
    assert [c for c in w.close_due() if c.kind == "tumbling"] == []
    w.add(70.0, "a", "INFO")
    tumbling = [c for c in w.close_due() if c.kind == "tumbling"]
    assert tumbling == [WindowCount("tumbling", "a", "INFO", 0, 60, 1)]


@pytest.mark.parametrize("behind", [0.0, 5.0, 9.999, 10.0])
def test_event_within_grace_of_the_newest_is_never_late(behind: float) -> None:
    for newest in (70.0, 75.5, 119.999, 120.0, 1_000_000.0):
        w = PartitionWindows(SPEC)
        w.add(newest, "a", "INFO")
        w.close_due()
        assert w.add(newest - behind, "a", "INFO") == COUNTED


def test_late_event_is_dropped_and_counted() -> None:
    w = PartitionWindows(SPEC)
    w.add(10.0, "a", "INFO")
    w.add(125.0, "a", "INFO")  # horizon 115 -> floor to 60: window [0, 60) is closed
    assert w.add(50.0, "a", "INFO") == LATE
    assert w.late == 1
    closed = as_set(w.close_due() + w.close_all())
    assert ("tumbling", "a", "INFO", 0, 60, 1) in closed


def test_hopping_windows_sum_their_step_buckets() -> None:
    w = PartitionWindows(SPEC)
    for ts in (5.0, 65.0, 66.0, 250.0):
        w.add(ts, "a", "ERROR")
    got = {(c.start, c.count) for c in w.close_all() if c.kind == "hopping"}
    # every 300 s window starting at a multiple of 60 that contains any event
    expected = {}
    for ts in (5.0, 65.0, 66.0, 250.0):
        for start in SPEC.hopping_starts(ts):
            expected[start] = expected.get(start, 0) + 1
    assert got == set(expected.items())


def test_close_all_empties_state_and_later_events_are_late() -> None:
    w = PartitionWindows(SPEC)
    w.add(100.0, "a", "INFO")
    out = w.close_all()
    assert {c.kind for c in out} == {"tumbling", "hopping"}
    assert w.keys == {}
    assert w.add(110.0, "a", "INFO") == LATE
    assert w.add(1000.0, "a", "INFO") == COUNTED


def test_offsets_at_or_below_the_restored_key_state_are_replays() -> None:
    w = PartitionWindows(SPEC)
    assert w.add(1.0, "a", "INFO", offset=5) == COUNTED
    # live records never replay: one record (an OTLP batch) may hold many events of a key
    assert w.add(2.0, "a", "INFO", offset=5) == COUNTED
    restored = PartitionWindows(SPEC)
    restored.restore_meta(w.meta())
    for key, value in w.take_dirty():
        assert value is not None
        restored.restore_key(key, value)
    assert restored.add(2.0, "a", "INFO", offset=5) == REPLAYED
    assert restored.add(2.0, "a", "INFO", offset=3) == REPLAYED
    assert restored.add(2.0, "a", "INFO", offset=6) == COUNTED
    assert restored.add(2.0, "a", "INFO", offset=6) == COUNTED


def run(
    events: list[tuple[float, str, str]], close_every: int, spec: WindowSpec = SPEC
) -> tuple[set[tuple[str, str, str, int, int, int]], int]:
    w = PartitionWindows(spec)
    out: list[WindowCount] = []
    for i, (ts, service, level) in enumerate(events):
        w.add(ts, service, level, offset=i)
        if close_every and i % close_every == 0:
            out.extend(w.close_due())
    out.extend(w.close_due())
    out.extend(w.close_all())
    emitted = [(c.kind, c.service, c.level, c.start, c.end) for c in out]
    assert len(emitted) == len(set(emitted)), "a window was emitted twice"
    return as_set(out), w.late


def reference(events: list[tuple[float, str, str]], spec: WindowSpec) -> tuple[dict, int]:
    """Straightforward recomputation: lateness against the running max, then plain bucketing."""
    counts: dict[tuple[str, str, str, int], int] = {}
    newest = float("-inf")
    late = 0
    b = spec.bucket_s
    for ts, service, level in events:
        newest = max(newest, ts)
        horizon = ((newest - spec.grace_s) // b) * b
        if (ts // b) * b + b <= horizon:
            late += 1
            continue
        t = spec.tumbling_start(ts)
        counts[("tumbling", service, level, t)] = counts.get(("tumbling", service, level, t), 0) + 1
        for h in spec.hopping_starts(ts):
            counts[("hopping", service, level, h)] = (
                counts.get(("hopping", service, level, h), 0) + 1
            )
    return counts, late


events_strategy = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=3000, allow_nan=False),
        st.sampled_from(["a", "b"]),
        st.sampled_from(["INFO", "ERROR"]),
    ),
    max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(events=events_strategy, close_every=st.integers(min_value=0, max_value=7))
def test_output_does_not_depend_on_when_windows_are_closed(
    events: list[tuple[float, str, str]], close_every: int
) -> None:
    assert run(events, close_every) == run(events, 1)


@settings(max_examples=200, deadline=None)
@given(events=events_strategy)
def test_counts_equal_a_straightforward_recomputation(events: list[tuple[float, str, str]]) -> None:
    got, late = run(events, 3)
    counts, ref_late = reference(events, SPEC)
    sizes = {"tumbling": SPEC.tumbling_s, "hopping": SPEC.hop_size_s}
    assert got == {(k, s, lv, st_, st_ + sizes[k], n) for (k, s, lv, st_), n in counts.items()}
    assert late == ref_late


def test_state_round_trip_resumes_exactly() -> None:
    rng = random.Random(7)
    events = [(i * 0.7 - rng.uniform(0, 9), rng.choice("xyz"), "INFO") for i in range(2000)]
    whole, _ = run(events, 50)
    # the same events, but the state is persisted and restored twice on the way
    w = PartitionWindows(SPEC)
    out: list[WindowCount] = []
    for i, (ts, service, level) in enumerate(events):
        w.add(ts, service, level, offset=i)
        if i % 50 == 0:
            out.extend(w.close_due())
        if i in (700, 1500):
            list(w.take_dirty())
            saved = {k: s.to_dict() for k, s in w.keys.items()}
            meta = w.meta()
            w = PartitionWindows(SPEC)
            w.restore_meta(meta)
            for k, v in saved.items():
                w.restore_key(k, v)
            # a crash replays the last few records: they are recognised
            for j in range(i - 5, i + 1):
                assert w.add(events[j][0], events[j][1], events[j][2], offset=j) in (REPLAYED, LATE)
    out.extend(w.close_due())
    out.extend(w.close_all())
    assert as_set(out) == whole


def test_key_records_alone_prevent_reemission_when_the_meta_record_is_older() -> None:
    """A changelog read can end between a batch's key records and its meta record."""
    w = PartitionWindows(SPEC)
    for i, ts in enumerate([10.0, 70.0, 130.0, 190.0]):
        w.add(ts, "a", "INFO", offset=i)
    old_meta = w.meta()  # persisted by an earlier batch, before anything closed
    first = w.close_due()  # closes windows ending by 180
    keys = {k: s.to_dict() for k, s in w.keys.items()}  # the newer key records made it
    restored = PartitionWindows(SPEC)
    restored.restore_meta(old_meta)
    for k, v in keys.items():
        restored.restore_key(k, v)
    restored.add(400.0, "a", "INFO", offset=4)
    again = restored.close_due() + restored.close_all()
    emitted = [(c.kind, c.start) for c in first + again]
    assert len(emitted) == len(set(emitted)), "a window was emitted twice"
    whole, _ = run(
        [
            (10.0, "a", "INFO"),
            (70.0, "a", "INFO"),
            (130.0, "a", "INFO"),
            (190.0, "a", "INFO"),
            (400.0, "a", "INFO"),
        ],
        1,
    )
    assert as_set(first + again) == whole
