"""Volume per service: drops and spikes against a frozen-while-open baseline, and silence."""

from __future__ import annotations

import json
import statistics
import time
from math import sqrt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logradar.alerts import Alert, alert_id
from logradar.detectors.rate import SERIES_WINDOWS, RateConfig, RateDetector, RateState
from logradar.windows import HOPPING, TUMBLING, WindowCount

WS = 60
T = 1_699_999_980  # 2023-11-14 22:13:00 UTC, a multiple of 60


def wc(start: int, count: int, service: str = "checkout", level: str = "INFO") -> WindowCount:
    return WindowCount(TUMBLING, service, level, start, start + WS, count)


def detector(**kw: object) -> RateDetector:
    cfg = RateConfig(**kw)  # type: ignore[arg-type]
    return RateDetector(lambda _service: cfg, WS)


def feed(
    det: RateDetector, volumes: list[int], start: int = 0, service: str = "checkout"
) -> list[tuple[int, Alert]]:
    """Close one window per call (index i starts at ``start + i * WS``); (index, alert) pairs."""
    out: list[tuple[int, Alert]] = []
    for i, v in enumerate(volumes):
        s = start + i * WS
        closed = [wc(s, v, service)] if v else []
        out.extend((i, a) for a in det.on_close(closed, s if s else None, s + WS))
    return out


def judged(det: RateDetector, volumes: list[int]) -> list[tuple[int, str, str]]:
    return [(i, a.rule, a.state) for i, a in feed(det, volumes)]


BASE = [100] * 10


# -- drops and spikes ------------------------------------------------------


def test_a_drop_fires_with_exact_numbers() -> None:
    det = detector()
    [(i, alert)] = feed(det, [*BASE, 10])
    assert i == 10
    assert (alert.rule, alert.kind, alert.state, alert.severity, alert.level) == (
        "rate_drop",
        "rate",
        "firing",
        "high",
        "ALL",
    )
    assert (alert.window_start, alert.window_end, alert.event_time) == (600, 660, 660.0)
    assert (alert.observed, alert.expected, alert.threshold, alert.score) == (10, 100.0, 0.2, 0.1)
    assert alert.summary == "checkout: 10 events in 1 min, baseline 100.0 (drop below 20%)"
    assert alert.extra["series"] == [{"start": i * WS, "count": v} for i, v in enumerate(BASE)] + [
        {"start": 600, "count": 10}
    ]
    assert alert.extra["baseline"] == {"mean": 100.0, "windows": 10, "frozen": True}
    assert alert.id == alert_id("rate_drop", "checkout", "ALL", "", 660.0, "firing")
    doc = alert.to_dict()
    assert json.loads(json.dumps(doc)) == doc


def test_a_spike_fires_with_exact_numbers() -> None:
    det = detector()
    [(_, alert)] = feed(det, [*BASE, 600])
    assert (alert.rule, alert.observed, alert.expected, alert.threshold, alert.score) == (
        "rate_spike",
        600,
        100.0,
        5.0,
        6.0,
    )
    assert alert.summary == "checkout: 600 events in 1 min, baseline 100.0 (spike above 5x)"


def test_levels_are_summed_and_hopping_windows_ignored() -> None:
    det = detector()
    feed(det, BASE)
    closed = [
        wc(600, 6, level="INFO"),
        wc(600, 5, level="ERROR"),
        WindowCount(HOPPING, "checkout", "INFO", 360, 660, 10_000),
    ]
    [alert] = det.on_close(closed, 600, 660)
    assert (alert.rule, alert.observed) == ("rate_drop", 11)


@pytest.mark.parametrize(
    ("history", "newest", "rule"),
    [
        (BASE, 19, "rate_drop"),
        (BASE, 20, None),  # not below 20%
        (BASE, 0, "rate_drop"),
        (BASE, 501, "rate_spike"),
        (BASE, 500, None),  # not above 5x
        ([100] * 9, 0, None),  # the baseline is not full yet
        ([100] * 9, 1000, None),
        ([], 1000, None),  # no history at all
        ([5] * 10, 0, "rate_drop"),  # baseline exactly min_baseline
        ([4] * 10, 0, None),  # baseline under min_baseline: too quiet to judge a drop
        ([1] * 10, 6, "rate_spike"),  # a spike needs a baseline of 1
        ([1] + [0] * 9, 10, None),  # mean 0.1
    ],
)
def test_thresholds(history: list[int], newest: int, rule: str | None) -> None:
    det = detector()
    got = [(a.rule, a.state) for i, a in feed(det, [*history, newest]) if i == len(history)]
    assert got == ([(rule, "firing")] if rule else [])


@pytest.mark.parametrize(
    ("ratio", "drop_resolve"), [(0.2, 0.4), (0.1, 0.2), (0.25, 0.5), (0.5, sqrt(0.5))]
)
def test_drop_hysteresis_sits_between_the_ratio_and_normal(
    ratio: float, drop_resolve: float
) -> None:
    cfg = RateConfig(drop_ratio=ratio)
    assert cfg.drop_resolve == pytest.approx(drop_resolve)
    assert ratio < cfg.drop_resolve < 1


@pytest.mark.parametrize(
    ("ratio", "spike_resolve"), [(5.0, 2.5), (10.0, 5.0), (4.0, 2.0), (2.0, sqrt(2))]
)
def test_spike_hysteresis_sits_between_normal_and_the_ratio(
    ratio: float, spike_resolve: float
) -> None:
    cfg = RateConfig(spike_ratio=ratio)
    assert cfg.spike_resolve == pytest.approx(spike_resolve)
    assert 1 < cfg.spike_resolve < ratio


def test_a_drop_stays_open_until_the_resolve_bar_and_the_baseline_stays_frozen() -> None:
    det = detector()
    got = feed(det, [*BASE, 10, 0, 30, 39, 40, 100])
    assert [(i, a.rule, a.state) for i, a in got] == [
        (10, "rate_drop", "firing"),
        (14, "rate_drop", "resolved"),  # 40 >= 0.4 * 100; 39 was not
    ]
    resolved = got[1][1]
    assert (resolved.observed, resolved.expected, resolved.score) == (40, 100.0, 0.4)
    assert resolved.summary == "checkout: 40 events in 1 min, baseline 100.0 (back above 40%)"
    assert resolved.id == alert_id("rate_drop", "checkout", "ALL", "", 660.0, "resolved")
    # the low windows and the resolving one never entered the baseline
    state = det.states["checkout"]
    assert list(state.base.values) == [100] * 10


def test_a_spike_resolves_below_half_the_ratio() -> None:
    det = detector()
    got = feed(det, [*BASE, 600, 300, 250, 249])
    assert [(i, a.state, a.score) for i, a in got] == [(10, "firing", 6.0), (13, "resolved", 2.49)]
    assert got[1][1].summary == "checkout: 249 events in 1 min, baseline 100.0 (back below 2.5x)"


def test_a_sustained_spike_is_one_alert_against_a_frozen_baseline() -> None:
    det = detector()
    assert judged(det, [*BASE] + [600] * 15) == [(10, "rate_spike", "firing")]
    assert det.states["checkout"].base.mean() == 100.0


def test_normal_windows_do_enter_the_baseline() -> None:
    det = detector()
    feed(det, [*BASE, 200, 200])
    assert det.states["checkout"].base.mean() == 120.0


@pytest.mark.parametrize(
    ("cooldown_s", "fires_again"), [(0.0, True), (60.0, True), (61.0, False), (300.0, False)]
)
def test_cooldown_after_resolution(cooldown_s: float, fires_again: bool) -> None:
    det = detector(cooldown_s=cooldown_s)
    got = judged(det, [*BASE, 10, 100, 0])  # fires at 660, resolves at 720, low again at 780
    want = [(10, "rate_drop", "firing"), (11, "rate_drop", "resolved")]
    assert got == want + ([(12, "rate_drop", "firing")] if fires_again else [])


def test_services_are_independent_and_configured_per_service() -> None:
    cfgs = {"a": RateConfig(), "b": RateConfig(enabled=False)}
    det = RateDetector(lambda s: cfgs[s], WS)
    alerts: list[Alert] = []
    for i in range(11):
        s, v = i * WS, (1 if i == 10 else 100)
        alerts += det.on_close([wc(s, v, "a"), wc(s, v, "b")], s or None, s + WS)
    assert [(a.service, a.rule) for a in alerts] == [("a", "rate_drop")]
    assert set(det.states) == {"a"}


# -- silence ---------------------------------------------------------------


def test_a_service_alone_is_caught_by_silence_once() -> None:
    det = detector()
    det.on_event(T + 13, "payments")
    det.on_event(T + 5, "payments")  # older: ignored
    det.on_close([wc(T, 2, "payments")], None, T + WS)  # its only window closes
    assert det.check_silence(T + 312.9) == []
    [alert] = det.check_silence(T + 313)
    assert (alert.rule, alert.state, alert.service, alert.level) == (
        "rate_silence",
        "firing",
        "payments",
        "ALL",
    )
    assert alert.summary == "payments: no events for 5 min (last at 22:13:13 UTC)"
    assert (alert.event_time, alert.window_start, alert.window_end) == (T + 313.0, T + 13, T + 313)
    assert (alert.observed, alert.expected, alert.threshold, alert.score) == (
        300.0,
        None,
        300.0,
        1.0,
    )
    assert alert.id == alert_id("rate_silence", "payments", "ALL", "", T + 313.0, "firing")
    assert det.check_silence(T + 100_000) == []  # one alert per silence
    det.on_event(T + 1200, "payments")  # returns nothing; resolution comes with the next call
    [back] = det.check_silence(T + 1200)
    assert (back.state, back.event_time, back.observed) == ("resolved", T + 1200.0, 1187.0)
    assert back.summary == "payments: events again at 22:33:00 UTC (silent since 22:13:13 UTC)"
    assert back.id == alert_id("rate_silence", "payments", "ALL", "", T + 313.0, "resolved")
    assert det.check_silence(T + 1400) == []


def test_silence_ids_do_not_depend_on_when_the_check_runs() -> None:
    ids = []
    for now in (T + 400, T + 86_400):
        det = detector()
        det.on_event(T + 13, "payments")
        [alert] = det.check_silence(now)
        ids.append((alert.id, alert.event_time))
    assert ids[0] == ids[1]


def test_silence_resolution_is_also_reported_by_on_close() -> None:
    det = detector()
    det.on_event(T + 13, "payments")
    assert len(det.check_silence(T + 400)) == 1
    det.on_event(T + 500, "payments")
    [back] = det.on_close([], T, T + WS)
    assert (back.rule, back.state) == ("rate_silence", "resolved")


def test_no_silence_for_services_never_seen_or_disabled() -> None:
    det = RateDetector(lambda s: RateConfig(enabled=s != "off"), WS)
    assert det.check_silence(T) == []
    det.on_event(T, "off")
    assert det.check_silence(T + 10_000) == []
    assert det.states == {}


def busy_partition(det: RateDetector) -> None:
    """checkout at 100/min and other at 50/min for windows 0..9, with their events."""
    for i in range(10):
        s = T + i * WS
        det.on_event(s + 30, "checkout")
        det.on_event(s + 30, "other")
        det.on_close([wc(s, 100), wc(s, 50, "other")], s if i else None, s + WS)


def test_silence_suppresses_a_drop() -> None:
    det = detector()
    busy_partition(det)
    last = T + 9 * WS + 30
    det.on_event(last + 299, "other")
    assert [a.service for a in det.check_silence(last + 300)] == ["checkout"]
    alerts: list[Alert] = []
    for i in range(10, 20):  # checkout has nothing; other keeps the windows closing
        s = T + i * WS
        det.on_event(s + 30, "other")
        alerts += det.on_close([wc(s, 50, "other")], s, s + WS)
        alerts += det.check_silence(s + 30)
    assert alerts == []
    # back to normal: the silence resolves, nothing else (the baseline was frozen)
    s = T + 20 * WS
    det.on_event(s + 1, "checkout")
    alerts = det.on_close([wc(s, 100), wc(s, 50, "other")], s, s + WS)
    assert [(a.rule, a.state) for a in alerts] == [("rate_silence", "resolved")]
    assert det.states["checkout"].base.mean() == 100.0


def test_a_drop_already_firing_suppresses_silence() -> None:
    det = detector()
    busy_partition(det)
    s = T + 10 * WS
    det.on_event(s + 30, "other")
    [drop] = det.on_close([wc(s, 50, "other")], s, s + WS)
    assert (drop.rule, drop.service, drop.observed) == ("rate_drop", "checkout", 0)
    assert [a.service for a in det.check_silence(T + 100_000)] == ["other"]  # not checkout
    s = T + 11 * WS
    det.on_event(s + 1, "checkout")
    [back] = det.on_close([wc(s, 90), wc(s, 50, "other")], s, s + WS)
    assert (back.rule, back.state) == ("rate_drop", "resolved")


# -- gaps and bounds -------------------------------------------------------


def test_a_huge_gap_runs_fast_and_gives_zeros() -> None:
    det = detector()
    feed(det, BASE)
    far = 600 + 1_000_000 * WS
    t0 = time.perf_counter()
    alerts = det.on_close([], 600, far)
    assert time.perf_counter() - t0 < 0.5
    assert [(a.rule, a.state, a.window_start) for a in alerts] == [("rate_drop", "firing", 600)]
    state = det.states["checkout"]
    assert list(state.recent) == [0] * SERIES_WINDOWS and state.last == far - WS
    [back] = det.on_close([wc(far, 100)], far, far + WS)
    assert (back.state, back.window_start) == ("resolved", far)
    assert back.extra["series"] == [
        {
            "start": far - (SERIES_WINDOWS - 1 - i) * WS,
            "count": 0 if i < SERIES_WINDOWS - 1 else 100,
        }
        for i in range(SERIES_WINDOWS)
    ]


def test_a_quiet_service_without_incident_is_forgotten() -> None:
    det = detector(baseline_windows=3)
    feed(det, [2, 2, 2])  # under min_baseline: a stop cannot be a drop
    det.take_dirty()
    t0 = time.perf_counter()
    assert det.on_close([], 180, 180 + 10**6 * WS) == []
    assert time.perf_counter() - t0 < 0.5
    assert det.states == {} and det.take_dirty() == [("checkout", None)]


def test_a_quiet_service_is_kept_until_silence_had_its_chance() -> None:
    det = detector(baseline_windows=3)
    det.on_event(150.0, "checkout")
    feed(det, [2, 2, 2])
    feed(det, [0, 0, 0], start=180)  # 3 empty windows, but the last event is 210 s old
    assert "checkout" in det.states
    assert [a.rule for a in det.check_silence(450.0)] == ["rate_silence"]
    feed(det, [0] * 20, start=360)
    assert "checkout" in det.states  # an open silence is never forgotten


def test_the_cap_evicts_the_least_recently_active_and_counts_it() -> None:
    det = RateDetector(lambda _: RateConfig(), WS, max_services=2)
    det.on_close([wc(0, 1, "old")], None, 60)
    det.on_close([wc(60, 1, "mid")], 60, 120)
    det.on_close([wc(120, 1, "new")], 120, 180)
    assert set(det.states) == {"mid", "new"} and det.evicted == 1
    assert ("old", None) in det.take_dirty()


# -- persistence and determinism -------------------------------------------

PREFIX = [*BASE, 10]  # an open drop
SUFFIX = [20, 100, 100, 700, 300, 0, 0, 100]


def docs(alerts: list[tuple[int, Alert]]) -> list[dict[str, object]]:
    return [a.to_dict() for _, a in alerts]


def test_state_round_trip_gives_identical_alerts() -> None:
    a = detector(cooldown_s=0.0)
    a.on_event(500.0, "checkout")
    feed(a, PREFIX)
    b = detector(cooldown_s=0.0)
    for key, data in json.loads(json.dumps(a.take_dirty())):
        assert data is not None
        assert RateState.from_dict(data).to_dict() == data
        b.restore(key, data)
    start = len(PREFIX) * WS
    want, got = feed(a, SUFFIX, start), feed(b, SUFFIX, start)
    assert len(want) >= 4 and docs(want) == docs(got)
    assert [x.to_dict() for x in a.check_silence(5000)] == [
        x.to_dict() for x in b.check_silence(5000)
    ]


def test_ids_are_deterministic() -> None:
    runs = [feed(detector(), PREFIX + SUFFIX) for _ in range(2)]
    assert [a.id for _, a in runs[0]] == [a.id for _, a in runs[1]]
    assert len({a.id for _, a in runs[0]}) == len(runs[0])


@settings(max_examples=150, deadline=None)
@given(
    volumes=st.lists(st.integers(0, 40) | st.just(0), min_size=1, max_size=60),
    cuts=st.sets(st.integers(1, 59)),
    cooldown_s=st.sampled_from([0.0, 120.0]),
)
def test_alerts_do_not_depend_on_how_closes_are_batched(
    volumes: list[int], cuts: set[int], cooldown_s: float
) -> None:
    kw = {"baseline_windows": 3, "drop_ratio": 0.5, "spike_ratio": 2.0, "min_baseline": 1.0}
    want = docs(feed(detector(cooldown_s=cooldown_s, **kw), volumes))
    chunked = detector(cooldown_s=cooldown_s, **kw)
    got: list[Alert] = []
    bounds = [0, *sorted(c for c in cuts if c < len(volumes)), len(volumes)]
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        closed = [wc(i * WS, v) for i, v in enumerate(volumes) if lo <= i < hi and v]
        got += chunked.on_close(closed, lo * WS if lo else None, hi * WS)
    assert [a.to_dict() for a in got] == want


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(1, 12),
    volumes=st.lists(st.integers(0, 10**6), min_size=1, max_size=80),
)
def test_running_baseline_matches_a_recomputation(size: int, volumes: list[int]) -> None:
    # thresholds nothing can cross: the baseline is never frozen
    det = detector(baseline_windows=size, drop_ratio=1e-12, spike_ratio=1e12)
    feed(det, [max(v, 1) for v in volumes])
    tail = [max(v, 1) for v in volumes][-size:]
    base = det.states["checkout"].base
    assert base.mean() == pytest.approx(statistics.fmean(tail), rel=1e-6)
    assert base.std() == pytest.approx(statistics.pstdev(tail), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize(
    "kw",
    [
        {"drop_ratio": 0},
        {"drop_ratio": 1},
        {"spike_ratio": 1},
        {"silence_s": 0},
        {"baseline_windows": 0},
    ],
)
def test_config_rejects_nonsense(kw: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RateConfig(**kw)  # type: ignore[arg-type]
