"""Error bursts: fire once on the crossing event, stay quiet while high, resolve once."""

from __future__ import annotations

import pytest

from logradar.detectors.burst import BurstConfig, BurstDetector, BurstState

CFG = BurstConfig(threshold=10)


def errors(det: BurstDetector, service: str, start: float, n: int, step: float = 1.0) -> list:
    alerts = []
    for i in range(n):
        a = det.on_event(start + i * step, service, "ERROR", f"boom {i}")
        if a is not None:
            alerts.append(a)
    return alerts


def test_fires_once_on_the_event_that_reaches_the_threshold() -> None:
    det = BurstDetector(lambda _: CFG, 60)
    assert errors(det, "api", 0, 9) == []
    fired = errors(det, "api", 9, 5)
    assert len(fired) == 1
    alert = fired[0]
    assert (alert.state, alert.observed, alert.event_time) == ("firing", 10, 9.0)
    assert (alert.window_start, alert.window_end, alert.threshold) == (0, 60, 10)
    assert [e.message for e in alert.evidence] == ["boom 5", "boom 6", "boom 7", "boom 8", "boom 0"]
    assert "api: 10 ERROR/FATAL" in alert.summary


@pytest.mark.parametrize("level", ["INFO", "WARN", "DEBUG", "UNKNOWN"])
def test_other_levels_do_not_count(level: str) -> None:
    det = BurstDetector(lambda _: CFG, 60)
    assert [det.on_event(float(i), "api", level, "x") for i in range(50)] == [None] * 50


def test_fatal_counts_with_error() -> None:
    det = BurstDetector(lambda _: CFG, 60)
    got = [det.on_event(float(i), "api", "FATAL" if i % 2 else "ERROR", "x") for i in range(10)]
    assert got[-1] is not None and got[-1].observed == 10


def test_stays_quiet_while_later_windows_are_high_then_resolves_once() -> None:
    det = BurstDetector(lambda _: CFG, 60)
    assert len(errors(det, "api", 0, 12)) == 1
    assert det.on_close(None, 60) == []  # window 0 closed with 12: still firing
    assert errors(det, "api", 60, 15) == []  # a second high window: nothing more
    assert det.on_close(60, 120) == []
    assert errors(det, "api", 120, 4) == []  # 4 < 10/2
    resolved = det.on_close(120, 180)
    assert [(a.state, a.window_start, a.observed) for a in resolved] == [("resolved", 120, 4)]
    assert det.on_close(180, 240) == []


def test_a_window_between_half_and_threshold_keeps_it_firing() -> None:
    det = BurstDetector(lambda _: CFG, 60)
    errors(det, "api", 0, 10)
    errors(det, "api", 60, 5)  # exactly half: not below
    assert det.on_close(None, 120) == []
    assert [a.window_start for a in det.on_close(120, 180)] == [120]


def test_an_empty_window_resolves_even_after_a_long_gap() -> None:
    det = BurstDetector(lambda _: CFG, 60)
    errors(det, "api", 0, 10)
    resolved = det.on_close(None, 6000)
    assert [(a.window_start, a.observed) for a in resolved] == [(60, 0)]


def test_ids_are_deterministic_and_differ_by_state() -> None:
    a, b = BurstDetector(lambda _: CFG, 60), BurstDetector(lambda _: CFG, 60)
    fa, fb = errors(a, "api", 0, 10)[0], errors(b, "api", 0, 10)[0]
    assert fa.id == fb.id
    ra, rb = a.on_close(None, 120)[0], b.on_close(None, 120)[0]
    assert ra.id == rb.id != fa.id


def test_services_are_independent() -> None:
    det = BurstDetector(lambda _: CFG, 60)
    assert errors(det, "a", 0, 9) == [] and errors(det, "b", 0, 9) == []
    assert len(errors(det, "a", 30, 1)) == 1


def test_fires_again_after_resolution() -> None:
    det = BurstDetector(lambda _: CFG, 60)
    errors(det, "api", 0, 10)
    assert len(det.on_close(None, 120)) == 1
    again = errors(det, "api", 120, 10)
    assert [a.state for a in again] == ["firing"]


def test_state_round_trips_and_forgets_closed_windows() -> None:
    det = BurstDetector(lambda _: CFG, 60)
    errors(det, "api", 0, 7)
    for _service, data in det.take_dirty():
        assert data is not None
        restored = BurstState.from_dict(data)
        assert restored.counts == {0: 7} and len(restored.evidence[0]) == 5
    det.on_close(None, 60)
    assert det.states == {}
    assert det.take_dirty() == [("api", None)]
