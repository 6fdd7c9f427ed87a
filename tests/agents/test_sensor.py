"""The lean Prometheus sensor exposes what Faust's own sensor exposes, given the same hooks."""

from __future__ import annotations

import random
from typing import Any

import faust
import pytest
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP
from prometheus_client import CollectorRegistry

from streams import sensor
from streams.sensor import LeanPrometheusMonitor


class _Message:
    time_in: float | None = None
    time_out: float | None = None
    time_total: float | None = None


class _Owner:
    pass


class _App:
    rebalancing_count = 1


def _streams() -> list[Any]:
    app = faust.App("sensor-test", broker="kafka://localhost:1", store="memory://")
    out = []
    for name in ("logs.raw", "logradar.correlation"):
        stream = app.topic(name, value_serializer="raw").stream()
        stream.task_owner = _Owner()
        out.append(stream)
    return out


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample but those of times measured as the test runs: ``_created`` and the
    histograms' sums and buckets (their ``_count`` is compared)."""
    out = {}
    for family in registry.collect():
        for s in family.samples:
            if s.name.endswith("_created") or (
                s.name.endswith("_sum") or s.name.endswith("_bucket")
            ):  # wall-clock measures: compared by their counts
                continue
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _drive(
    monitors: list[PrometheusMonitor], streams: list[Any], seed: int, rebalance_at: int = 300
) -> None:
    """The same random mix of messages, events and a rebalance, fed to every monitor."""
    rng = random.Random(seed)
    topics = [("logs.raw", streams[0]), ("logradar.correlation", streams[1])]
    offsets: dict[TP, int] = {}
    for step in range(600):
        if step == rebalance_at:  # Faust's sensor drops per-topic and per-partition series here
            for m in monitors:
                state = m.on_rebalance_start(_App())  # type: ignore[arg-type]
                m.on_rebalance_return(_App(), state)  # type: ignore[arg-type]
                m.on_rebalance_end(_App(), state)  # type: ignore[arg-type]
        topic, stream = rng.choice(topics)
        tp = TP(topic, rng.randrange(4))
        offset = offsets[tp] = offsets.get(tp, -1) + 1
        event = object()
        done = rng.random() < 0.9  # some events still in flight at the end
        end = offset + rng.randrange(100)
        # now and then an output or a state record is sent
        out = rng.choice(["logradar.counts", "logradar-state-changelog", None, None, None])
        for m in monitors:
            m.track_tp_end_offset(tp, end)  # Faust's consumer: once per record it hands out
            msg = _Message()
            m.on_message_in(tp, offset, msg)  # type: ignore[arg-type]
            state = m.on_stream_event_in(tp, offset, stream, event)  # type: ignore[arg-type]
            if out is not None:
                sent = m.on_send_initiated(None, out, None, 3, 40)  # type: ignore[arg-type]
                m.on_send_completed(None, sent, None)  # type: ignore[arg-type]
            if done:
                m.on_stream_event_out(tp, offset, stream, event, state)  # type: ignore[arg-type]
                m.on_message_out(tp, offset, msg)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_lean_sensor_exposes_what_fausts_sensor_exposes(seed: int) -> None:
    streams = _streams()
    faust_registry, lean_registry = CollectorRegistry(), CollectorRegistry()
    theirs = PrometheusMonitor(metrics=FaustMetrics.create(faust_registry, "faust"))
    ours = LeanPrometheusMonitor(metrics=FaustMetrics.create(lean_registry, "faust"))
    _drive([theirs, ours], streams, seed)
    ours.flush()
    expected = _samples(faust_registry)
    assert expected, "Faust's sensor recorded nothing: the test drives no hook"
    assert _samples(lean_registry) == expected
    assert expected[("faust_events_runtime_ms_count", ())] > 500


def test_nothing_shows_before_a_flush_and_a_second_flush_adds_nothing() -> None:
    registry = CollectorRegistry()
    ours = LeanPrometheusMonitor(metrics=FaustMetrics.create(registry, "faust"))
    _drive([ours], _streams(), seed=4, rebalance_at=-1)
    assert registry.get_sample_value("faust_messages_received_total") == 0
    ours.flush()
    once = _samples(registry)
    assert once[("faust_messages_received_total", ())] == 600
    ours.flush()
    assert _samples(registry) == once


def test_the_monitor_flushes_by_itself_when_runtimes_pile_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sensor, "FLUSH_EVERY", 50)
    registry = CollectorRegistry()
    ours = LeanPrometheusMonitor(metrics=FaustMetrics.create(registry, "faust"))
    _drive([ours], _streams(), seed=5, rebalance_at=-1)
    seen = registry.get_sample_value("faust_messages_received_total")
    assert seen is not None and 500 <= seen < 600  # flushed on the way, not at the end
    assert len(ours._runtimes) < 50


def test_the_app_scrapes_through_the_lean_sensor() -> None:
    from streams.app import app

    assert type(app.monitor) is LeanPrometheusMonitor
