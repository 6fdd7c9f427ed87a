"""logradar's Prometheus metrics, built once per registry.

Labels come from closed sets: levels are an enum, reasons and rules come from
code, and service names are capped (past the cap they report as ``_other``).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter as Tally
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

from logradar.model import DeadReason

OTHER = "_other"
STEP_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    float("inf"),
)
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 86400, float("inf"))


MAX_LABEL_CHARS = 128


class LabelCap:
    """Admits the first ``limit`` distinct values; every later one becomes ``_other``.

    A value longer than ``MAX_LABEL_CHARS`` is cut there (with ``~`` appended),
    so one absurd service name cannot bloat every scrape.
    """

    __slots__ = ("limit", "seen")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if len(value) > MAX_LABEL_CHARS:
            value = value[: MAX_LABEL_CHARS - 1] + "~"
        if value in self.seen:
            return value
        if len(self.seen) >= self.limit:
            return OTHER
        self.seen.add(value)
        return value


def add_process_collectors(registry: CollectorRegistry) -> None:
    """The series prometheus_client's default registry carries, on ``registry``.

    ``process_*`` (resident memory, CPU seconds, open files; Linux), ``python_gc_*``
    (collections and objects collected per generation: see
    ``LOGRADAR_GC_YOUNG_THRESHOLD``) and ``python_info``.
    """
    ProcessCollector(registry=registry)
    GCCollector(registry=registry)
    PlatformCollector(registry=registry)


@dataclass(frozen=True)
class Metrics:
    events: Counter
    dead_letters: Counter
    late_events: Counter
    correlation_late: Counter
    duplicates: Counter
    offset_gaps: Counter
    offsets_read_back: Counter
    changelog_tail: Counter
    evictions: Counter
    windows_closed: Counter
    alerts: Counter
    event_lag: Histogram
    open_windows: Gauge
    watermark: Gauge
    broker_up: Gauge
    batch_seconds: Histogram
    output_seconds: Histogram
    service_cap: LabelCap

    @classmethod
    def create(cls, registry: CollectorRegistry, max_services: int = 500) -> Metrics:
        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(f"logradar_{name}", doc, labels, registry=registry)

        metrics = cls(
            events=counter("events", "Log events counted.", ("service", "level")),
            dead_letters=counter("dead_letters", "Records dead-lettered.", ("reason",)),
            late_events=counter("late_events", "Events whose window had already closed (dropped)."),
            correlation_late=counter(
                "correlation_late_events",
                "Events a pattern or session rule needed, older than their partition's "
                "watermark less the grace: counted in windows, not forwarded to correlation.",
            ),
            duplicates=counter(
                "replayed_events", "Records skipped because the state already included them."
            ),
            offset_gaps=counter(
                "offset_gaps",
                "Source offsets that held no record (transaction markers, compaction, retention).",
            ),
            offsets_read_back=counter(
                "offsets_read_back",
                "Records the consumer skipped that logradar read back from the broker directly.",
            ),
            changelog_tail=counter(
                "changelog_tail_records",
                "State records read past the changelog end the broker reported at assignment.",
            ),
            evictions=counter(
                "evictions",
                "Open pattern matches or sessions evicted by their cap, or held correlation "
                "events fed on before time passed them (oldest first).",
                ("kind",),
            ),
            windows_closed=counter("windows_closed", "Windows closed and emitted.", ("kind",)),
            alerts=counter("alerts", "Alerts emitted.", ("rule", "severity", "state")),
            event_lag=Histogram(
                "logradar_event_lag_seconds",
                "Wall time minus event time when an event is processed.",
                buckets=LAG_BUCKETS,
                registry=registry,
            ),
            open_windows=Gauge(
                "logradar_open_window_buckets",
                "Step buckets held for windows not yet closed, on this worker.",
                registry=registry,
            ),
            watermark=Gauge(
                "logradar_watermark_seconds",
                "Newest event time seen across this worker's partitions.",
                registry=registry,
            ),
            broker_up=Gauge(
                "logradar_broker_up",
                "1 while the Kafka cluster answers this worker's metadata requests, else 0.",
                registry=registry,
            ),
            batch_seconds=Histogram(
                "logradar_batch_seconds",
                "Time to process one batch, send its outputs and persist its state.",
                buckets=STEP_BUCKETS,
                registry=registry,
            ),
            output_seconds=Histogram(
                "logradar_output_seconds",
                "Time until the broker acknowledged a batch's outputs (back-pressure).",
                buckets=STEP_BUCKETS,
                registry=registry,
            ),
            service_cap=LabelCap(max_services),
        )
        # Labelled series of closed label sets exist from the start, at 0, so that
        # rate() over them is 0 rather than empty before the first increment.
        for reason in DeadReason:
            metrics.dead_letters.labels(reason.value)
        for kind in ("tumbling", "hopping"):
            metrics.windows_closed.labels(kind)
        for kind in ("pattern", "session", "held"):
            metrics.evictions.labels(kind)
        return metrics

    def count_events(self, per_key: Mapping[tuple[str, str], int]) -> None:
        """Add a batch's per-(service, level) event counts."""
        cap = self.service_cap
        for (service, level), n in per_key.items():
            self.events.labels(cap(service), level).inc(n)


def observe_all(histogram: Histogram, amounts: list[float]) -> None:
    """``histogram.observe(a)`` for each of ``amounts``, touching each bucket and the sum once.

    observe() takes ~0.65 us (two locks and a scan of the buckets); once per counted
    event, that was most of the per-event metrics cost. This does the same through the
    internals observe() itself uses (``_upper_bounds``, ``_buckets``, ``_sum``; an
    unlabelled histogram, no exemplars), checked against observe() by the unit tests.
    The sum is added once, so it may differ from adding one by one in the last bits.
    Amounts that are not all finite (never event lags) go one by one, so that NaN
    stays out of every bucket as observe() keeps it. So do all amounts when the
    histogram lacks those internals (another prometheus_client version): slower, the
    same figures.
    """
    if not amounts:
        return
    total = sum(amounts)
    internals = _internals(histogram) if math.isfinite(total) else None
    if internals is None:
        for amount in amounts:
            histogram.observe(amount)
        return
    bounds, buckets, sum_ = internals
    for index, count in Tally(bisect_left(bounds, a) for a in amounts).items():
        buckets[index].inc(count)  # the first bucket with amount <= bound, as observe()
    sum_.inc(total)


def _internals(histogram: Histogram) -> tuple[Sequence[float], Sequence[Any], Any] | None:
    """An unlabelled histogram's bounds (ascending, the last +Inf), buckets and sum; None
    when this prometheus_client keeps them otherwise."""
    try:
        bounds, buckets, sum_ = histogram._upper_bounds, histogram._buckets, histogram._sum
    except AttributeError:
        return None
    if len(bounds) != len(buckets) or not bounds or bounds[-1] != math.inf:
        return None
    return bounds, buckets, sum_
