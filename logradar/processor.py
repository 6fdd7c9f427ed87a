"""Turns batches of raw Kafka records into counts, alerts, dead letters and state records.

The Faust agent hands each batch over as plain tuples; nothing here knows
Faust. One :class:`~logradar.pipeline.PartitionPipeline` per source
topic-partition keeps that partition's windows, watermark and detectors; its
persisted records are returned with the changelog partition they belong on
(the source partition), so state moves with its partition on a rebalance.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from logradar.alerts import Alert
from logradar.detectors.config import DetectorConfigs
from logradar.metrics import Metrics
from logradar.model import DeadLetter, dead_letter_record
from logradar.parsing import parse
from logradar.pipeline import COUNTED, LATE, Closed, PartitionPipeline
from logradar.rules import Rules, default_rules
from logradar.settings import Settings
from logradar.windows import WindowCount, WindowSpec

StateItems = Callable[[], Iterable[tuple[str, Any]]]


class RawRecord(NamedTuple):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float | None  # the Kafka record timestamp, epoch seconds


@dataclass(slots=True)
class BatchResult:
    """What one batch (or one idle flush) produced, in the order it must be sent."""

    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    counts: list[WindowCount] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    state: list[tuple[int, str, Any]] = field(default_factory=list)  # (partition, key, value)

    def add_closed(self, closed: Closed) -> None:
        self.counts.extend(closed.counts)
        self.alerts.extend(closed.alerts)


def tp_name(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


class Processor:
    """All source partitions this worker owns, and the glue to parse and count their records."""

    def __init__(
        self,
        settings: Settings,
        metrics: Metrics,
        state_items: StateItems,
        clock: Callable[[], float] = time.time,
        rules: Rules | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.spec = WindowSpec(
            settings.tumbling_s, settings.hopping_size_s, settings.hopping_step_s, settings.grace_s
        )
        self.detectors = DetectorConfigs(rules if rules is not None else default_rules())
        self.state_items = state_items
        self.clock = clock
        self.pipelines: dict[str, PartitionPipeline] = {}
        self.partitions: dict[str, int] = {}
        self.last_seen: dict[str, float] = {}
        self._formats: dict[str, Sequence[str] | None] = {}
        self.last_alert: dict[str, Any] | None = None

    def pipeline(self, topic: str, partition: int) -> PartitionPipeline:
        """The pipeline of a source partition, restored from persisted state on first use."""
        tp = tp_name(topic, partition)
        pipe = self.pipelines.get(tp)
        if pipe is None:
            pipe = PartitionPipeline(tp, self.spec, self.detectors)
            pipe.restore(self.state_items())
            self.pipelines[tp] = pipe
            self.partitions[tp] = partition
        return pipe

    def forget(self, tps: Iterable[tuple[str, int]]) -> None:
        """Drop in-memory pipelines of partitions this worker no longer owns."""
        for topic, partition in tps:
            tp = tp_name(topic, partition)
            self.pipelines.pop(tp, None)
            self.last_seen.pop(tp, None)

    def formats(self, topic: str) -> Sequence[str] | None:
        try:
            return self._formats[topic]
        except KeyError:
            fmts = self._formats[topic] = self.settings.formats_for(topic)
            return fmts

    def process(self, records: Iterable[RawRecord]) -> BatchResult:
        """Parse and count a batch; close what the watermarks passed; collect state changes."""
        result = BatchResult()
        touched: dict[str, PartitionPipeline] = {}
        per_key: dict[tuple[str, str], int] = {}
        metrics = self.metrics
        lag = metrics.event_lag.observe
        now = self.clock()
        late = replayed = 0
        for rec in records:
            tp = tp_name(rec.topic, rec.partition)
            pipe = (
                touched.get(tp) or self.pipelines.get(tp) or self.pipeline(rec.topic, rec.partition)
            )
            touched[tp] = pipe
            if pipe.is_replay(rec.offset):
                replayed += 1
                continue
            parsed = parse(
                rec.value, key=rec.key, kafka_ts=rec.timestamp, formats=self.formats(rec.topic)
            )
            if isinstance(parsed, DeadLetter):
                pipe.skip(rec.offset)
                result.dead_letters.append(
                    dead_letter_record(
                        parsed,
                        rec.value,
                        topic=rec.topic,
                        partition=rec.partition,
                        offset=rec.offset,
                        key=rec.key,
                    )
                )
                metrics.dead_letters.labels(parsed.reason.value).inc()
                continue
            status = pipe.process(parsed, rec.offset)
            if status == COUNTED:
                k = (parsed.service, parsed.level)
                per_key[k] = per_key.get(k, 0) + 1
                lag(now - parsed.ts)
            elif status == LATE:
                late += 1
            else:
                replayed += 1
        for tp, pipe in touched.items():
            self.last_seen[tp] = now
            result.add_closed(pipe.close_due())
        self._finish(result, touched)
        metrics.count_events(per_key)
        if late:
            metrics.late_events.inc(late)
        if replayed:
            metrics.duplicates.inc(replayed)
        return result

    def flush_idle(self, idle_s: float | None = None) -> BatchResult:
        """Close every open window of partitions that saw no record for ``idle_s`` wall seconds."""
        idle_s = self.settings.idle_flush_s if idle_s is None else idle_s
        now = self.clock()
        result = BatchResult()
        touched: dict[str, PartitionPipeline] = {}
        for tp, seen in list(self.last_seen.items()):
            pipe = self.pipelines.get(tp)
            if pipe is None or now - seen < idle_s or not pipe.windows.keys:
                continue
            result.add_closed(pipe.close_all())
            touched[tp] = pipe
        self._finish(result, touched)
        return result

    def _finish(self, result: BatchResult, touched: dict[str, PartitionPipeline]) -> None:
        metrics = self.metrics
        for tp, pipe in touched.items():
            partition = self.partitions[tp]
            result.state.extend((partition, key, value) for key, value in pipe.take_dirty())
        for wc in result.counts:
            metrics.windows_closed.labels(wc.kind).inc()
        for alert in result.alerts:
            metrics.alerts.labels(alert.rule, alert.severity, alert.state).inc()
        if result.alerts:
            self.last_alert = result.alerts[-1].to_dict()
        metrics.open_windows.set(sum(p.open_windows() for p in self.pipelines.values()))
        marks = [p.windows.watermark for p in self.pipelines.values() if p.windows.watermark]
        if marks:
            metrics.watermark.set(max(marks))
