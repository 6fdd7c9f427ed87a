"""Statistical anomalies per (service, level): z against a rolling baseline, with a floor."""

from __future__ import annotations

import json
import statistics
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logradar.alerts import Alert, alert_id
from logradar.detectors.anomaly import (
    AnomalyConfig,
    AnomalyDetector,
    Ring,
    SeriesState,
    series_key,
    span_text,
)
from logradar.windows import HOPPING, TUMBLING, WindowCount

WS = 60
KEY = series_key("checkout", "ERROR")


def wc(start: int, count: int, service: str = "checkout", level: str = "ERROR") -> WindowCount:
    return WindowCount(TUMBLING, service, level, start, start + WS, count)


def detector(**kw: object) -> AnomalyDetector:
    cfg = AnomalyConfig(**kw)  # type: ignore[arg-type]
    return AnomalyDetector(lambda _service: cfg, WS)


def feed(det: AnomalyDetector, counts: list[int], start: int = 0) -> list[tuple[int, Alert]]:
    """Close one window per call (index i starts at ``start + i * WS``); (index, alert) pairs."""
    out: list[tuple[int, Alert]] = []
    for i, c in enumerate(counts):
        s = start + i * WS
        closed = [wc(s, c)] if c else []
        out.extend((i, a) for a in det.on_close(closed, s if s else None, s + WS))
    return out


def last_close(det: AnomalyDetector, history: list[int], newest: int) -> list[Alert]:
    """Feed ``history`` (one window each), then return only the alerts of the newest window."""
    got = feed(det, [*history, newest])
    return [a for i, a in got if i == len(history)]


# -- firing ---------------------------------------------------------------


def test_a_clear_spike_fires_with_exact_numbers() -> None:
    det = detector()
    history = [4, 0] * 5  # mean 2, population std 2
    [alert] = last_close(det, history, 45)
    assert (alert.rule, alert.kind, alert.state, alert.severity) == (
        "anomaly",
        "anomaly",
        "firing",
        "medium",
    )
    assert (alert.service, alert.level) == ("checkout", "ERROR")
    assert (alert.window_start, alert.window_end, alert.event_time) == (600, 660, 660.0)
    assert (alert.observed, alert.expected, alert.threshold, alert.score) == (45, 2.0, 4.0, 21.5)
    assert alert.summary == "checkout: 45 ERROR in 1 min, baseline 2.0 ± 2.0, z=21.5"
    assert alert.extra["baseline"] == {"mean": 2.0, "std": 2.0, "windows": 10}
    assert alert.extra["series"] == [
        {"start": i * WS, "count": c} for i, c in enumerate([*history, 45])
    ]
    assert alert.id == alert_id("anomaly", "checkout", "ERROR", "", 660.0, "firing")
    doc = alert.to_dict()
    assert doc["series"][-1] == {"start": 600, "count": 45}
    assert json.loads(json.dumps(doc)) == doc


def test_summary_names_the_window_length() -> None:
    cfg = AnomalyConfig()
    det = AnomalyDetector(lambda _: cfg, 30)
    alerts = []
    for i, c in enumerate([3] * 10 + [10]):
        s = i * 30
        alerts += det.on_close([WindowCount(TUMBLING, "api", "WARN", s, s + 30, c)], None, s + 30)
    assert [a.summary for a in alerts] == ["api: 10 WARN in 30 s, baseline 3.0 ± 1.0, z=7.0"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(30, "30 s"), (60, "1 min"), (300, "5 min"), (90, "90 s"), (3600, "1 h"), (7200, "2 h")],
)
def test_span_text(seconds: int, text: str) -> None:
    assert span_text(seconds) == text


@pytest.mark.parametrize(
    ("history_len", "fires"),
    [(0, False), (1, False), (5, False), (9, False), (10, True), (11, True)],
)
def test_needs_min_windows_of_history_before_the_newest(history_len: int, fires: bool) -> None:
    det = detector(min_windows=10)
    alerts = last_close(det, [2] * history_len, 45)
    assert [(a.state, a.score) for a in alerts] == ([("firing", 43.0)] if fires else [])


@pytest.mark.parametrize(
    ("history", "newest", "std_floor", "z"),
    [
        ([3] * 10, 10, 1.0, 7.0),  # constant 3: std 0, floored at 1
        ([3] * 10, 7, 1.0, 4.0),  # exactly at the threshold fires
        ([3] * 10, 6, 1.0, None),  # z = 3: quiet
        ([3, 4] * 5, 5, 1.0, None),  # small noise: mean 3.5, std 0.5 -> 1, z = 1.5
        ([3, 4] * 5, 9, 1.0, 5.5),
        ([3] * 10, 4, 0.01, 100.0),  # without a real floor, +1 would be an anomaly
        ([5] * 10, 4, 1.0, None),  # a dip when the direction is up
    ],
)
def test_zero_variance_series_use_the_floor(
    history: list[int], newest: int, std_floor: float, z: float | None
) -> None:
    det = detector(std_floor=std_floor, min_count=1)
    alerts = last_close(det, history, newest)
    assert [a.score for a in alerts] == ([] if z is None else [z])


@pytest.mark.parametrize(("newest", "z"), [(5, 5.0), (4, None), (45, 45.0)])
def test_a_spike_from_constant_zero_fires(newest: int, z: float | None) -> None:
    # An all-zero full history is only ever held with an open incident or a
    # restored record (otherwise the series is forgotten): restore one.
    det = detector()
    det.restore(KEY, {"c": [0] * 10, "n": 30, "l": 540, "v": 0, "i": {}})
    alerts = det.on_close([wc(600, newest)], 600, 660)
    assert [a.score for a in alerts] == ([] if z is None else [z])  # 4 < min_count 5
    if z is not None:
        assert alerts[0].summary == f"checkout: {newest} ERROR in 1 min, baseline 0.0 ± 1.0, z={z}"


@pytest.mark.parametrize(
    ("direction", "newest", "z"),
    [
        ("up", 40, 20.0),
        ("up", 0, None),
        ("down", 40, None),
        ("down", 0, -20.0),
        ("both", 40, 20.0),
        ("both", 0, -20.0),
    ],
)
def test_direction(direction: str, newest: int, z: float | None) -> None:
    det = detector(direction=direction)
    alerts = last_close(det, [20] * 10, newest)
    assert [a.score for a in alerts] == ([] if z is None else [z])


def test_a_drop_needs_the_mean_to_reach_min_count() -> None:
    det = detector(direction="down", z=2.0)
    assert last_close(det, [3] * 10, 0) == []  # z = -3 but mean 3 < 5
    det = detector(direction="down", z=2.0, min_count=3)
    assert [a.score for a in last_close(det, [3] * 10, 0)] == [-3.0]


def test_a_drop_alert_reads_well() -> None:
    det = detector(direction="down")
    [alert] = last_close(det, [20] * 10, 0)
    assert alert.summary == "checkout: 0 ERROR in 1 min, baseline 20.0 ± 1.0, z=-20.0"
    assert (alert.observed, alert.expected) == (0, 20.0)
    assert alert.extra["series"][-1] == {"start": 600, "count": 0}


# -- lifecycle -------------------------------------------------------------


def test_hysteresis_keeps_firing_above_half_and_resolves_below() -> None:
    det = detector()
    got = feed(det, [2] * 10 + [45, 40, 2, 2])
    # window 11: ring [2]*10 + [45]: mean 65/11, std 12.36, z = 2.76 >= 4/2: still firing
    # window 12: ring [2]*10 + [45, 40]: mean 8.75, std 15.128, z = -0.45: resolved
    assert [(i, a.state, a.score) for i, a in got] == [
        (10, "firing", 43.0),
        (12, "resolved", -0.45),
    ]
    resolved = got[1][1]
    assert (resolved.observed, resolved.expected, resolved.event_time) == (2, 8.75, 780.0)
    assert resolved.summary == (
        "checkout: 2 ERROR in 1 min, back within baseline 8.8 ± 15.1, z=-0.4"
    )
    assert resolved.id == alert_id("anomaly", "checkout", "ERROR", "", 660.0, "resolved")
    assert resolved.id != got[0][1].id


def test_no_second_firing_while_open() -> None:
    det = detector()
    got = feed(det, [2] * 10 + [45, 45, 45])  # z 43, then 3.16 and 2.24: above 2
    assert [(i, a.state) for i, a in got] == [(10, "firing")]
    assert det.states[("checkout", "ERROR")].incident.firing


@pytest.mark.parametrize(
    ("cooldown_s", "fires_again"), [(0.0, True), (60.0, True), (61.0, False), (300.0, False)]
)
def test_cooldown_after_resolution(cooldown_s: float, fires_again: bool) -> None:
    det = detector(cooldown_s=cooldown_s)
    # fires at 660, resolves at 720 (z = -0.32); 100 at window 12 has z = 7.7
    got = feed(det, [2] * 10 + [45, 2, 100])
    expected = [(10, "firing"), (11, "resolved")] + ([(12, "firing")] if fires_again else [])
    assert [(i, a.state) for i, a in got] == expected


def test_series_are_independent_and_configured_per_service() -> None:
    cfgs = {"a": AnomalyConfig(), "b": AnomalyConfig(enabled=False)}
    det = AnomalyDetector(lambda s: cfgs[s], WS)
    alerts = []
    for i in range(11):
        s, n = i * WS, (45 if i == 10 else 2)
        closed = [wc(s, n, "a", "ERROR"), wc(s, 2, "a", "WARN"), wc(s, n, "b", "ERROR")]
        alerts += det.on_close(closed, None, s + WS)
    assert [(a.service, a.level) for a in alerts] == [("a", "ERROR")]
    assert set(det.states) == {("a", "ERROR"), ("a", "WARN")}


def test_hopping_windows_and_windows_outside_the_close_are_ignored() -> None:
    det = detector(direction="both", min_count=1)  # a zero could alert: advanced
    feed(det, [2] * 10)
    hop = WindowCount(HOPPING, "checkout", "ERROR", 300, 660, 45)
    old = wc(0, 45)  # ends before closed_from: already judged
    assert det.on_close([hop, old], 600, 660) == []
    assert list(det.states[("checkout", "ERROR")].ring.values)[-1] == 0


# -- gaps ------------------------------------------------------------------


def test_a_huge_gap_runs_fast_resolves_once_and_forgets() -> None:
    det = detector()
    feed(det, [2] * 10 + [45])  # firing since 660
    t0 = time.perf_counter()
    alerts = det.on_close([], 660, 660 + 1_000_000 * WS)
    assert time.perf_counter() - t0 < 0.5
    # window 11 (start 660) is 0: z = (0 - 65/11) / 12.36 = -0.48 -> resolved
    assert [(a.state, a.window_start, a.observed) for a in alerts] == [("resolved", 660, 0)]
    assert det.states == {}
    assert det.take_dirty() == [(KEY, None)]


def test_a_huge_gap_then_a_count_starts_a_fresh_history() -> None:
    det = detector()
    feed(det, [2] * 10)
    far = 600 + 1_000_000 * WS
    t0 = time.perf_counter()
    assert det.on_close([wc(far, 45)], 600, far + WS) == []  # no history any more
    assert time.perf_counter() - t0 < 0.5
    state = det.states[("checkout", "ERROR")]
    assert (list(state.ring.values), state.last, state.seen) == ([45], far, far)


def test_a_short_gap_counts_as_zeros() -> None:
    det = detector()
    feed(det, [2] * 10)
    # up-only series are not advanced through zeros; the count catches up on them
    for s in range(600, 900, WS):
        assert det.on_close([], s, s + WS) == []
    [alert] = det.on_close([wc(900, 7)], 900, 960)
    # ring [2]*10 + [0]*5: mean 4/3, std 0.943 -> floor 1, z = 5.67
    assert alert.expected == pytest.approx(4 / 3)
    assert alert.score == 5.67
    assert [p["count"] for p in alert.extra["series"]] == [2] * 10 + [0] * 5 + [7]
    assert [p["start"] for p in alert.extra["series"]] == list(range(0, 960, WS))


def test_a_down_incident_resolves_across_a_huge_gap() -> None:
    det = detector(direction="down")
    feed(det, [20] * 10)
    t0 = time.perf_counter()
    alerts = det.on_close([], 600, 600 + 10**6 * WS)
    assert time.perf_counter() - t0 < 0.5
    # window 10: z = -20 fires; 11: -3.16, 12: -2.24, 13: mean 200/13, std 8.43, z = -1.83
    assert [(a.state, a.window_start) for a in alerts] == [("firing", 600), ("resolved", 780)]
    assert det.states == {}


# -- bounds ----------------------------------------------------------------


@pytest.mark.parametrize("direction", ["up", "down", "both"])
def test_an_all_zero_series_is_forgotten_after_window_zeros(direction: str) -> None:
    det = detector(window=5, min_windows=3, direction=direction)
    feed(det, [3])
    det.take_dirty()
    feed(det, [0] * 4, start=WS)
    assert ("checkout", "ERROR") in det.states
    feed(det, [0], start=5 * WS)
    assert det.states == {}
    assert det.take_dirty() == [(KEY, None)]


def test_the_cap_evicts_the_stalest_series_and_counts_it() -> None:
    det = AnomalyDetector(lambda _: AnomalyConfig(), WS, max_series=2)
    det.on_close([wc(0, 1, "old")], None, 60)
    det.on_close([wc(60, 1, "mid")], 60, 120)
    det.on_close([wc(120, 1, "new")], 120, 180)
    assert set(det.states) == {("mid", "ERROR"), ("new", "ERROR")}
    assert det.evicted == 1
    assert (series_key("old", "ERROR"), None) in det.take_dirty()


def test_the_cap_keeps_open_incidents_longest() -> None:
    det = AnomalyDetector(lambda _: AnomalyConfig(), WS, max_series=1)
    det.restore(series_key("hot", "ERROR"), {"c": [1], "n": 30, "l": 0, "v": 0, "i": {"s": 60.0}})
    det.on_close([wc(0, 1, "cold")], 0, 60)
    assert set(det.states) == {("hot", "ERROR")} and det.evicted == 1


# -- persistence and determinism --------------------------------------------

PREFIX = [2] * 10 + [45]  # an open incident
SUFFIX = [40, 3, 0, 0, 60, 2, 2]


def docs(alerts: list[tuple[int, Alert]]) -> list[dict[str, object]]:
    return [a.to_dict() for _, a in alerts]


def test_state_round_trip_gives_identical_alerts() -> None:
    a = detector(direction="both", cooldown_s=0.0)
    feed(a, PREFIX)
    b = detector(direction="both", cooldown_s=0.0)
    for key, data in json.loads(json.dumps(a.take_dirty())):
        assert data is not None
        assert SeriesState.from_dict(data).to_dict() == data
        b.restore(key, data)
    start = len(PREFIX) * WS
    want, got = feed(a, SUFFIX, start), feed(b, SUFFIX, start)
    assert want and docs(want) == docs(got)


def test_ids_are_deterministic() -> None:
    runs = [feed(detector(), PREFIX + SUFFIX) for _ in range(2)]
    assert [a.id for _, a in runs[0]] == [a.id for _, a in runs[1]]
    assert len({a.id for _, a in runs[0]}) == len(runs[0])


@settings(max_examples=150, deadline=None)
@given(
    counts=st.lists(st.integers(0, 30) | st.just(0), min_size=1, max_size=60),
    cuts=st.sets(st.integers(1, 59)),
    direction=st.sampled_from(["up", "down", "both"]),
    cooldown_s=st.sampled_from([0.0, 120.0]),
)
def test_alerts_do_not_depend_on_how_closes_are_batched(
    counts: list[int], cuts: set[int], direction: str, cooldown_s: float
) -> None:
    kw = {"window": 5, "min_windows": 3, "z": 2.0, "min_count": 1}
    one = detector(direction=direction, cooldown_s=cooldown_s, **kw)
    want = docs(feed(one, counts))
    chunked = detector(direction=direction, cooldown_s=cooldown_s, **kw)
    got: list[Alert] = []
    bounds = [0, *sorted(c for c in cuts if c < len(counts)), len(counts)]
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        closed = [wc(i * WS, c) for i, c in enumerate(counts) if lo <= i < hi and c]
        got += chunked.on_close(closed, lo * WS if lo else None, hi * WS)
    assert [a.to_dict() for a in got] == want


# -- the rolling statistics --------------------------------------------------


@settings(max_examples=300)
@given(
    size=st.integers(1, 40),
    values=st.lists(st.integers(0, 10**6) | st.integers(0, 5), max_size=200),
)
def test_running_mean_and_std_match_a_recomputation(size: int, values: list[int]) -> None:
    ring = Ring(size)
    for v in values:
        ring.push(v)
    tail = values[-size:]
    if not tail:
        assert (len(ring), ring.mean(), ring.std()) == (0, 0.0, 0.0)
        return
    assert ring.mean() == pytest.approx(statistics.fmean(tail), rel=1e-6, abs=1e-9)
    assert ring.std() == pytest.approx(statistics.pstdev(tail), rel=1e-6, abs=1e-9)
    assert Ring(size, ring.values).total_sq == ring.total_sq


@settings(max_examples=100)
@given(values=st.lists(st.integers(0, 1000), min_size=1, max_size=80))
def test_series_state_round_trips(values: list[int]) -> None:
    state = SeriesState(Ring(30, values), last=len(values) * WS, seen=WS)
    back = SeriesState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert (back.ring.mean(), back.ring.std()) == (state.ring.mean(), state.ring.std())
    assert back.to_dict() == state.to_dict()


@pytest.mark.parametrize(
    "kw",
    [{"z": 0}, {"std_floor": 0}, {"window": 0}, {"direction": "sideways"}],
)
def test_config_rejects_nonsense(kw: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        AnomalyConfig(**kw)  # type: ignore[arg-type]
