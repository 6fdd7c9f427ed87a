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
from logradar.correlation import (
    CorrelationPipeline,
    CorrelationResult,
    Router,
    decode_forwarded,
    decode_tick,
    encode_tick,
)
from logradar.detectors.config import DetectorConfigs
from logradar.metrics import Metrics, observe_all
from logradar.model import DeadLetter, DeadReason, LogEvent, dead_letter_record
from logradar.parsing import parse
from logradar.parsing.batched import parse_batch
from logradar.pipeline import Closed, PartitionPipeline
from logradar.rules import Rules, default_rules
from logradar.settings import Settings
from logradar.windows import WindowCount, WindowSpec

StateItems = Callable[[int], Iterable[tuple[str, Any]]]  # the state records of a partition

# Event times within this many seconds of the wall clock count as live data.
LIVE_HORIZON_S = 3600.0
# A dead letter keeps at most this many bytes of an oversized or batched record.
DEAD_KEEP_BYTES = 1024


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
    forward: list[tuple[bytes, bytes]] = field(default_factory=list)  # to the correlation topic
    ticks: list[tuple[int, bytes]] = field(default_factory=list)  # (correlation partition, tick)
    sessions: list[dict[str, Any]] = field(default_factory=list)

    def add_closed(self, closed: Closed) -> None:
        self.counts.extend(closed.counts)
        self.alerts.extend(closed.alerts)


def tp_name(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


class Hole(NamedTuple):
    """Offsets ``start`` to ``end - 1`` of a partition, missing from what the consumer gave."""

    topic: str
    partition: int
    start: int
    end: int


class _Owned:
    """Adopting and forgetting the partitions a processor owns (both processors below)."""

    pipelines: dict[str, Any]
    last_seen: dict[str, float]
    clock: Callable[[], float]

    def pipeline(self, topic: str, partition: int) -> Any:
        raise NotImplementedError

    def holes(self, records: Iterable[RawRecord]) -> list[Hole]:
        """Offsets missing before ``records``: after a partition's state, or between its records.

        Faust's consumer can hand a stream a partition's records with one missing:
        a record queued while its stream's flow control resumes is cleared from the
        queue, and Faust's commit then steps over a one-record hole
        (tests/chaos/test_faults.py catches it across a restart). The caller reads
        the missing offsets back and processes them in their place. Restores the
        pipelines of partitions it has not seen yet.
        """
        found: list[Hole] = []
        want: dict[tuple[str, int], int] = {}
        for rec in records:
            key = (rec.topic, rec.partition)
            nxt = want.get(key)
            if nxt is None:
                offset = self.pipeline(rec.topic, rec.partition).offset
                nxt = offset + 1 if offset >= 0 else rec.offset
            if rec.offset > nxt:
                found.append(Hole(rec.topic, rec.partition, nxt, rec.offset))
            want[key] = max(nxt, rec.offset + 1)
        return found

    def adopt(self, tps: Iterable[tuple[str, int]]) -> None:
        """Restore the pipelines of assigned partitions that have not sent a record yet.

        A partition whose records were all processed (and committed) before a
        restart sends nothing afterwards; adopting it starts its idle clock, so
        the windows (or matches) it left open still close.
        """
        now = self.clock()
        for topic, partition in tps:
            tp = tp_name(topic, partition)
            if tp not in self.pipelines:
                self.pipeline(topic, partition)
                self.last_seen.setdefault(tp, now)

    def quiet(self, quiet_s: float) -> list[tuple[str, int, int]]:
        """(topic, partition, offset in state) of partitions without a record for ``quiet_s``."""
        now = self.clock()
        found = []
        for tp, seen in self.last_seen.items():
            pipe = self.pipelines.get(tp)
            if pipe is not None and pipe.offset >= 0 and now - seen >= quiet_s:
                topic, _, partition = tp.rpartition(":")
                found.append((topic, int(partition), pipe.offset))
        return found

    def forget(self, tps: Iterable[tuple[str, int]]) -> None:
        """Drop in-memory pipelines of partitions this worker no longer owns."""
        for topic, partition in tps:
            tp = tp_name(topic, partition)
            self.pipelines.pop(tp, None)
            self.last_seen.pop(tp, None)


class _Forward:
    """What a batch forwards to the correlation topic: each counted event's routed copies.

    An event older than the time its partition has already reported (the watermark,
    just moved by the event, less the grace; see ``Processor._tick``) is late for
    correlation: it still counts, but is not forwarded.
    """

    __slots__ = ("routes", "grace", "out", "too_late", "pipe")

    def __init__(
        self,
        routes: Callable[[LogEvent], list[tuple[bytes, bytes]]],
        grace: float,
        out: list[tuple[bytes, bytes]],
    ) -> None:
        self.routes = routes
        self.grace = grace
        self.out = out
        self.too_late = 0
        self.pipe: PartitionPipeline | None = None  # the pipeline counting the events

    def __call__(self, event: LogEvent) -> None:
        copies = self.routes(event)
        if not copies:
            return
        wm = self.pipe.windows.watermark if self.pipe is not None else None
        if wm is not None and event.ts < wm - self.grace:
            self.too_late += 1
        else:
            self.out.extend(copies)


class Processor(_Owned):
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
        self.rules = rules if rules is not None else default_rules()
        self.detectors = DetectorConfigs(self.rules)
        self.router = Router(self.rules)
        # only pattern and session rules read an event's attrs; without them, batched
        # decoders skip building them (parse_batch's ``attrs``)
        self.reads_attrs = bool(self.rules.patterns or self.rules.sessions)
        self._ticked: dict[str, float] = {}
        self._idle_told: set[str] = set()  # source partitions whose idle tick went out
        self._silence_at: float | None = None
        self.state_items = state_items
        self.clock = clock
        self.pipelines: dict[str, PartitionPipeline] = {}
        self.partitions: dict[str, int] = {}
        self.last_seen: dict[str, float] = {}
        self._formats: dict[str, Sequence[str] | None] = {}
        self._encodings: dict[str, str] = {}
        self.last_alert: dict[str, Any] | None = None

    def pipeline(self, topic: str, partition: int) -> PartitionPipeline:
        """The pipeline of a source partition, restored from persisted state on first use."""
        tp = tp_name(topic, partition)
        pipe = self.pipelines.get(tp)
        if pipe is None:
            pipe = PartitionPipeline(tp, self.spec, self.detectors)
            pipe.restore(self.state_items(partition))
            self.pipelines[tp] = pipe
            self.partitions[tp] = partition
        return pipe

    def formats(self, topic: str) -> Sequence[str] | None:
        try:
            return self._formats[topic]
        except KeyError:
            fmts = self._formats[topic] = self.settings.formats_for(topic)
            return fmts

    def encoding(self, topic: str) -> str:
        try:
            return self._encodings[topic]
        except KeyError:
            enc = self._encodings[topic] = self.settings.encoding_for(topic)
            return enc

    def _dead(
        self,
        result: BatchResult,
        dead: DeadLetter,
        rec: RawRecord,
        keep: int | None = None,
        index: int | None = None,
    ) -> None:
        record = dead_letter_record(
            dead,
            rec.value,
            topic=rec.topic,
            partition=rec.partition,
            offset=rec.offset,
            key=rec.key,
            keep_bytes=keep,
        )
        if index is not None:
            record["index"] = index
        result.dead_letters.append(record)
        self.metrics.dead_letters.labels(dead.reason.value).inc()

    def _too_large(self, rec: RawRecord, result: BatchResult) -> bool:
        """Whether the record is over the size limit (then its dead letter goes to ``result``)."""
        value = rec.value
        limit = self.settings.max_record_bytes
        if value is not None and len(value) > limit:
            detail = f"{len(value)} bytes, over LOGRADAR_MAX_RECORD_BYTES={limit}"
            self._dead(result, DeadLetter(DeadReason.TOO_LARGE, detail), rec, DEAD_KEEP_BYTES)
            return True
        return False

    def _given(
        self, rec: RawRecord, one: LogEvent | DeadLetter, result: BatchResult
    ) -> list[LogEvent]:
        """:meth:`_parsed` for a line record the caller has parsed already."""
        if self._too_large(rec, result):
            return []
        if isinstance(one, DeadLetter):
            self._dead(result, one, rec)
            return []
        return [one]

    def _parsed(self, rec: RawRecord, result: BatchResult) -> list[LogEvent]:
        """The events of one record; its dead letters go to ``result``."""
        if self._too_large(rec, result):
            return []
        value = rec.value
        encoding = self.encoding(rec.topic)
        formats = self.formats(rec.topic)
        if encoding == "line":
            one = parse(value, key=rec.key, kafka_ts=rec.timestamp, formats=formats)
            if isinstance(one, DeadLetter):
                self._dead(result, one, rec)
                return []
            return [one]
        events: list[LogEvent] = []
        many = parse_batch(
            value,
            encoding=encoding,
            key=rec.key,
            kafka_ts=rec.timestamp,
            formats=formats,
            attrs=self.reads_attrs,
        )
        for i, item in enumerate(many):
            if isinstance(item, DeadLetter):
                # the detail names the record within the batch; the batch's first KiB is kept
                self._dead(result, item, rec, DEAD_KEEP_BYTES, i if len(many) > 1 else None)
            else:
                events.append(item)
        return events

    def process(
        self,
        records: Iterable[RawRecord],
        parsed: Sequence[LogEvent | DeadLetter] | None = None,
    ) -> BatchResult:
        """Parse and count a batch; close what the watermarks passed; collect state changes.

        ``parsed``, when given, holds :func:`~logradar.parsing.parse`'s result for each
        record, as :meth:`_parsed` would get it (a line-encoded topic, this processor's
        formats): the backtest parses each line once to key it, and not again here.
        """
        result = BatchResult()
        touched: dict[str, PartitionPipeline] = {}
        per_key: dict[tuple[str, str], int] = {}  # counted events
        times: list[float] = []  # and their times
        metrics = self.metrics
        now = self.clock()
        late = replayed = 0
        forward = (
            _Forward(self.router.routes, self.settings.grace_s, result.forward)
            if self.router.active
            else None
        )
        for i, rec in enumerate(records):
            tp = tp_name(rec.topic, rec.partition)
            pipe = touched.get(tp) or self.pipeline(rec.topic, rec.partition)
            if pipe.offset >= 0 and rec.offset > pipe.offset + 1:
                # offsets without a record (transaction markers, compaction, retention); the
                # worker has read back any the consumer skipped (``holes``) before this
                metrics.offset_gaps.inc(rec.offset - pipe.offset - 1)
            touched[tp] = pipe
            if pipe.is_replay(rec.offset):
                replayed += 1
                continue
            pipe.skip(rec.offset)
            events = (
                self._parsed(rec, result) if parsed is None else self._given(rec, parsed[i], result)
            )
            if forward is not None:
                forward.pipe = pipe
            before = len(times)
            late_now = pipe.process_many(events, rec.offset, per_key, times, forward)
            late += late_now
            replayed += len(events) - late_now - (len(times) - before)
        for tp, pipe in touched.items():
            self.last_seen[tp] = now
            result.add_closed(pipe.close_due())
        self._idle_told.difference_update(touched)
        if forward is not None:
            self._tick(result)
        self._check_silence(self._event_now(), result, touched)
        self._finish(result, touched)
        metrics.count_events(per_key)
        observe_all(metrics.event_lag, [now - ts for ts in times])  # once a batch: see there
        if late:
            metrics.late_events.inc(late)
        if forward is not None and forward.too_late:
            metrics.correlation_late.inc(forward.too_late)
        if replayed:
            metrics.duplicates.inc(replayed)
        return result

    def _event_now(self) -> float | None:
        """Event time as far as every active partition of this worker has got.

        A partition that saw records within ``IDLE_FLUSH_S`` is active; the
        slowest active one sets the time, so a partition that is merely behind
        (a backlog read unevenly) does not make its services look silent. With
        no active partition, the newest event time of any.
        """
        wall = self.clock()
        idle_s = self.settings.idle_flush_s
        marks = []
        active = []
        for tp, pipe in self.pipelines.items():
            wm = pipe.windows.watermark
            if wm is None:
                continue
            marks.append(wm)
            if wall - self.last_seen.get(tp, wall) < idle_s:
                active.append(wm)
        if active:
            return min(active)
        return max(marks) if marks else None

    def _check_silence(
        self, now: float | None, result: BatchResult, touched: dict[str, PartitionPipeline]
    ) -> None:
        """Silence is judged against time across all partitions, at most once a second."""
        if now is None or (self._silence_at is not None and now < self._silence_at + 1.0):
            return
        self._silence_at = now
        for tp, pipe in self.pipelines.items():
            alerts = pipe.check_silence(now)
            if alerts:
                result.alerts.extend(alerts)
                touched[tp] = pipe

    def _tick(self, result: BatchResult, idle: Iterable[str] = ()) -> None:
        """Tell every correlation partition how far each source partition has got.

        A source reports its watermark less the grace: it forwards no event
        older than that (such an event still counts in its window, if that is
        open, but is late for correlation: ``logradar_correlation_late_events_total``).
        It reports at most once per second of event time. An idle one reports
        that it stopped, so it no longer holds the correlation time back. Each
        tick names its topic's partition count, so a correlation partition
        knows which sources have not reported yet.
        """
        # every input topic has TOPIC_PARTITIONS partitions: `logradar worker` refuses to
        # start otherwise (logradar/kafka.py)
        n = self.settings.topic_partitions
        partitions = range(n)
        told = self._idle_told
        grace = self.settings.grace_s
        for tp, pipe in self.pipelines.items():
            wm = pipe.windows.watermark
            if wm is None or tp in told:
                continue
            reached = wm - grace
            last = self._ticked.get(tp)
            if last is not None and reached < last + 1.0:
                continue
            self._ticked[tp] = reached
            tick = encode_tick(tp, reached, n)
            result.ticks.extend((p, tick) for p in partitions)
        for tp in idle:
            self._ticked.pop(tp, None)
            told.add(tp)
            pipe = self.pipelines[tp]
            horizon = pipe.windows.horizon  # after its idle flush: past all it counted
            at = None if horizon == float("-inf") else horizon
            tick = encode_tick(tp, at, n, idle=True)
            result.ticks.extend((p, tick) for p in partitions)

    def forget(self, tps: Iterable[tuple[str, int]]) -> None:
        tps = list(tps)
        super().forget(tps)
        for topic, partition in tps:
            tp = tp_name(topic, partition)
            self._ticked.pop(tp, None)
            self._idle_told.discard(tp)

    def flush_idle(
        self, idle_s: float | None = None, caught_up: Callable[[str, int], bool] | None = None
    ) -> BatchResult:
        """Close every open window of partitions that saw no record for ``idle_s`` wall seconds.

        Each such partition tells the correlation partitions once that it is
        idle; a partition that never had a record does so as soon as it is
        caught up.

        ``caught_up(tp, offset)`` says whether a partition has nothing left to
        read after ``offset`` (the consumer's high watermark); a partition that
        is merely starved while a backlog is read unevenly is not idle, and
        closing its windows then would make its next records late.
        """
        idle_s = self.settings.idle_flush_s if idle_s is None else idle_s
        now = self.clock()
        result = BatchResult()
        touched: dict[str, PartitionPipeline] = {}
        idle: list[str] = []
        told = self._idle_told
        for tp, seen in list(self.last_seen.items()):
            pipe = self.pipelines.get(tp)
            if pipe is None:
                continue
            empty = not pipe.windows.keys
            if empty and tp in told:
                continue
            # a partition that never had a record holds nothing open: idle once caught up
            if (pipe.offset >= 0 or not empty) and now - seen < idle_s:
                continue
            if caught_up is not None and not caught_up(tp, pipe.offset):
                continue
            if pipe.windows.keys:
                result.add_closed(pipe.close_all())
                touched[tp] = pipe
            if tp not in told:
                idle.append(tp)  # even a partition that never had a record must say so
        if idle and self.router.active:
            self._tick(result, idle=idle)
        newest = self._event_now()
        all_idle = bool(self.last_seen) and all(now - s >= idle_s for s in self.last_seen.values())
        if all_idle and newest is not None and now - newest <= LIVE_HORIZON_S:
            # every partition is idle and the data is live: wall time moves on for silence
            self._check_silence(now, result, touched)
        self._finish(result, touched)
        return result

    # The latest alerts of this worker's source partitions, oldest first (the live page's list).
    recent_alerts: tuple[dict[str, Any], ...] = ()
    recent_alerts_max = 50

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
            keep = self.recent_alerts_max
            docs = [a.to_dict() for a in result.alerts[-keep:]]
            self.last_alert = docs[-1]
            self.recent_alerts = (*self.recent_alerts, *docs)[-keep:]
        metrics.open_windows.set(sum(p.open_windows() for p in self.pipelines.values()))
        marks = [p.windows.watermark for p in self.pipelines.values() if p.windows.watermark]
        if marks:
            metrics.watermark.set(max(marks))


class CorrelationProcessor(_Owned):
    """The partitions of the correlation topic this worker owns: patterns and sessions."""

    def __init__(
        self,
        rules: Rules,
        metrics: Metrics,
        state_items: StateItems,
        clock: Callable[[], float] = time.time,
        inputs: Sequence[str] = (),
    ) -> None:
        self.rules = rules
        self.inputs = tuple(inputs)  # the source topics every correlation partition waits for
        self.metrics = metrics
        self.state_items = state_items
        self.clock = clock
        self.pipelines: dict[str, CorrelationPipeline] = {}
        self.partitions: dict[str, int] = {}
        self.last_seen: dict[str, float] = {}
        self._evicted: dict[str, int] = {}

    def pipeline(self, topic: str, partition: int) -> CorrelationPipeline:
        tp = tp_name(topic, partition)
        pipe = self.pipelines.get(tp)
        if pipe is None:
            pipe = CorrelationPipeline(tp, self.rules, self.inputs)
            pipe.restore(self.state_items(partition))
            self.pipelines[tp] = pipe
            self.partitions[tp] = partition
        return pipe

    def process(self, records: Iterable[RawRecord]) -> BatchResult:
        """Feed forwarded events to their partition's engines, then advance each watermark."""
        out = CorrelationResult()
        touched: dict[str, CorrelationPipeline] = {}
        result = BatchResult()
        now = self.clock()
        for rec in records:
            pipe = self.pipeline(rec.topic, rec.partition)
            touched[pipe.tp] = pipe
            if pipe.is_replay(rec.offset):
                self.metrics.duplicates.inc()
                continue
            tick = decode_tick(rec.value or b"")
            if tick is not None:
                pipe.tick(tick, rec.offset)
                continue
            try:
                route, event = decode_forwarded(rec.value or b"")
            except (ValueError, KeyError, TypeError) as exc:
                dead = DeadLetter(DeadReason.UNPARSED, f"malformed correlation record: {exc}")
                result.dead_letters.append(
                    dead_letter_record(
                        dead, rec.value, topic=rec.topic, partition=rec.partition, offset=rec.offset
                    )
                )
                self.metrics.dead_letters.labels(dead.reason.value).inc()
                continue
            pipe.hold(route, event, rec.offset, rec.value or b"")
        for tp, pipe in touched.items():
            self.last_seen[tp] = now
            pipe.advance(None, out)
        return self._finish(result, out, touched)

    def advance_idle(self, idle_s: float, live_horizon_s: float = LIVE_HORIZON_S) -> BatchResult:
        """Partitions idle for ``idle_s`` wall seconds advance to wall time, if their data is live.

        Historical data (a watermark more than ``live_horizon_s`` behind the wall
        clock) is left alone: jumping it to today would time out every session
        and pattern at once.
        """
        now = self.clock()
        out = CorrelationResult()
        touched: dict[str, CorrelationPipeline] = {}
        for tp, seen in list(self.last_seen.items()):
            pipe = self.pipelines.get(tp)
            wm = None if pipe is None else pipe.watermark
            if pipe is None or wm is None or now - seen < idle_s or now - wm > live_horizon_s:
                continue
            pipe.advance(now, out)
            touched[tp] = pipe
        return self._finish(BatchResult(), out, touched)

    def _finish(
        self, result: BatchResult, out: CorrelationResult, touched: dict[str, CorrelationPipeline]
    ) -> BatchResult:
        result.alerts.extend(out.alerts)
        result.sessions.extend(out.sessions)
        for tp, pipe in touched.items():
            partition = self.partitions[tp]
            result.state.extend((partition, key, value) for key, value in pipe.take_dirty())
        for alert in result.alerts:
            self.metrics.alerts.labels(alert.rule, alert.severity, alert.state).inc()
        self._count_evictions()
        return result

    def _count_evictions(self) -> None:
        """Export the engines' eviction counters (cumulative per engine) as metric increments."""
        totals = {"pattern": 0, "session": 0, "held": 0}
        for pipe in self.pipelines.values():
            totals["pattern"] += sum(e.evicted for e in pipe.engines.values())
            totals["session"] += sum(t.evicted for t in pipe.trackers.values())
            totals["held"] += pipe.evicted
        for kind, total in totals.items():
            delta = total - self._evicted.get(kind, 0)
            if delta > 0:
                self.metrics.evictions.labels(kind).inc(delta)
            self._evicted[kind] = total
