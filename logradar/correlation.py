"""Sequence patterns and sessions, which correlate events *across* services.

Input is keyed by service, so the events of one user or one order can sit on
several partitions. The ingest side therefore forwards the few events a
pattern or session rule cares about to an internal topic keyed by the
correlation value (``user=u42``, ``order_id=o17``); every event of one value
then lands on one partition of that topic, where a
:class:`CorrelationPipeline` runs the pattern engines and session trackers.

A forwarded record names its *route* (the key field it was keyed by), so an
event that carries two correlation keys is forwarded twice and each copy only
feeds the rules of its own key.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from logradar.alerts import Alert
from logradar.detectors.patterns import PatternEngine, key_value, pattern_from_rule
from logradar.detectors.sessions import SessionTracker
from logradar.model import Level, LogEvent
from logradar.rules import Rules

SEP = "\x1f"
# Forwarded events a correlation partition holds at most. Time stands still while a
# source partition does not report (its worker is gone until the group rebalances);
# past this many, the oldest are fed on anyway, perhaps out of order, and counted
# (logradar_evictions_total{kind="held"}), rather than the worker running out of memory.
HELD_MAX = 100_000
META, PATTERNS, SESSIONS, HELD = "m", "p", "s", "q"


class Router:
    """Decides which correlation routes an event is forwarded on."""

    def __init__(self, rules: Rules) -> None:
        by_key: dict[str, list[Any]] = {}
        for pattern in rules.patterns:
            by_key.setdefault(pattern.key, []).append(pattern_from_rule(pattern))
        self.engines = {k: PatternEngine(specs) for k, specs in by_key.items()}
        self.session_keys = frozenset(s.key for s in rules.sessions)
        self.keys = tuple(sorted(set(self.engines) | self.session_keys))

    @property
    def active(self) -> bool:
        return bool(self.keys)

    def routes(self, event: LogEvent) -> list[tuple[bytes, bytes]]:
        """(Kafka key, value) of each forwarded copy of ``event`` (usually none)."""
        out: list[tuple[bytes, bytes]] = []
        value_doc: bytes | None = None
        for key in self.keys:
            engine = self.engines.get(key)
            if key not in self.session_keys and (engine is None or not engine.interested(event)):
                continue
            value = key_value(key, event)
            if value is None:
                continue
            if value_doc is None:
                value_doc = encode_event(event)
            out.append((f"{key}={value}".encode(), key.encode() + b"\n" + value_doc))
        return out


TICK = b"\x00tick\n"


class Tick(NamedTuple):
    source: str  # the source partition, ``topic:partition``
    ts: float | None  # no forwarded event of ``source`` will be older (None: not known)
    partitions: int | None = None  # how many partitions the source's topic has (None: unknown)
    idle: bool = False  # the source went idle: it stops holding time back


def encode_tick(
    source: str, ts: float | None, partitions: int | None = None, idle: bool = False
) -> bytes:
    """A time marker sent to every correlation partition: ``source`` has reached ``ts``.

    Patterns with an absent step and sessions end when *time* passes, and a
    pattern's steps must be seen in event-time order, but a correlation
    partition gets events from many source partitions, interleaved however
    the consumers happened to read them. Every source partition reports its
    progress: the time before which it will forward nothing more (its
    watermark less the grace). A correlation partition holds the events it
    gets until every source of every input topic has passed them
    (``partitions`` says how many sources a topic has), then feeds them in
    time order, so the result never depends on which partition was read
    first. An ``idle`` source has read all there is and stops holding time
    back.
    """
    ts_text = b"" if ts is None else repr(float(ts)).encode()
    n_text = b"" if partitions is None else str(int(partitions)).encode()
    return b"\n".join((TICK + source.encode(), ts_text, n_text, b"idle" if idle else b""))


def decode_tick(value: bytes) -> Tick | None:
    if not value.startswith(TICK):
        return None
    source, ts, n, idle = (value[len(TICK) :].split(b"\n") + [b"", b"", b""])[:4]
    # an older version's tick: no partition count, and idle is a tick without a time
    return Tick(
        source.decode(), float(ts) if ts else None, int(n) if n else None, idle == b"idle" or not ts
    )


def encode_event(event: LogEvent) -> bytes:
    return orjson.dumps(
        {
            "ts": event.ts,
            "service": event.service,
            "level": event.level.value,
            "message": event.message,
            "host": event.host,
            "attrs": event.attrs,
        },
        default=str,
    )


def decode_forwarded(value: bytes) -> tuple[str, LogEvent]:
    """The route and the event of a forwarded record (raises ValueError when malformed)."""
    route, _, doc = value.partition(b"\n")
    data = orjson.loads(doc)
    return route.decode(), LogEvent(
        ts=float(data["ts"]),
        service=str(data["service"]),
        level=Level(data["level"]),
        message=str(data["message"]),
        host=str(data.get("host", "")),
        attrs=dict(data.get("attrs") or {}),
    )


@dataclass(slots=True)
class CorrelationResult:
    alerts: list[Alert] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)


class CorrelationPipeline:
    """Pattern engines and session trackers of one partition of the correlation topic.

    Forwarded events are *held* until every source partition has passed them
    (:attr:`now`), then fed to the engines in event-time order: events of one
    order or user come from several source partitions, and which of those a
    consumer reads first is chance. Held events are state, persisted like the
    engines', so a crash loses none.
    """

    def __init__(self, tp: str, rules: Rules, inputs: Iterable[str] = ()) -> None:
        self.tp = tp
        router = Router(rules)
        self.engines = router.engines
        self.trackers = {
            s.key: SessionTracker(
                key=s.key,
                timeout_s=s.timeout,
                max_sessions=s.max_sessions,
                long_s=s.long,
                max_errors=s.max_errors,
                severity=s.severity,
            )
            for s in rules.sessions
        }
        self.inputs = tuple(inputs)  # topics whose every partition must report before time moves
        self.watermark: float | None = None
        self.sources: dict[str, float] = {}  # active source partition -> the time it reached
        self.idle: dict[str, float] = {}  # idle source partition -> the time it had reached
        self.topic_partitions: dict[str, int] = {}  # source topic -> its partition count
        self.offset = -1
        # held events: (time, forwarded record, its offset here, route, event)
        self.held: list[tuple[float, bytes, int, str, LogEvent]] = []
        self._held_dirty: dict[str, dict[str, Any] | None] = {}
        self._complete = not self.inputs
        self._dirty_meta = False
        self.held_max = HELD_MAX
        self.evicted = 0  # held events fed before time passed them, because of ``held_max``

    def is_replay(self, offset: int) -> bool:
        return 0 <= offset <= self.offset

    def hold(self, route: str, event: LogEvent, offset: int, raw: bytes) -> None:
        """Hold a forwarded event (``raw``, its record) until time passes it.

        :meth:`advance` feeds it on.
        """
        if offset > self.offset:
            self.offset = offset
            self._dirty_meta = True
        if self.watermark is None or event.ts > self.watermark:
            self.watermark = event.ts
        heapq.heappush(self.held, (event.ts, raw, offset, route, event))
        self._held_dirty[str(offset)] = {"r": raw.decode()}

    def _feed(self, route: str, event: LogEvent, out: CorrelationResult) -> None:
        engine = self.engines.get(route)
        if engine is not None and engine.interested(event):
            out.alerts.extend(engine.on_event(event))
        tracker = self.trackers.get(route)
        if tracker is not None:
            records, alerts = tracker.on_event(event)
            out.sessions.extend(records)
            out.alerts.extend(alerts)

    def tick(self, tick: Tick, offset: int) -> None:
        """A source partition progressed to ``tick.ts``, or went idle."""
        if offset > self.offset:
            self.offset = offset
        self._dirty_meta = True
        source, ts = tick.source, tick.ts
        if tick.partitions is not None:
            topic = source.rpartition(":")[0]
            if self.topic_partitions.get(topic) != tick.partitions:
                self.topic_partitions[topic] = tick.partitions
                self._complete = False
        if source not in self.sources and source not in self.idle:
            self._complete = False
        reached = float("-inf") if ts is None else ts
        if tick.idle:
            before = self.sources.pop(source, float("-inf"))
            self.idle[source] = max(reached, before, self.idle.get(source, float("-inf")))
        elif source in self.idle or reached > self.sources.get(source, float("-inf")):
            self.sources[source] = max(reached, self.idle.pop(source, float("-inf")))

    def missing(self) -> list[str]:
        """Source partitions (or whole input topics) that have not reported yet."""
        known = self.sources.keys() | self.idle.keys()
        gone = [t for t in self.inputs if t not in self.topic_partitions]
        for topic, n in self.topic_partitions.items():
            gone.extend(f"{topic}:{p}" for p in range(n) if f"{topic}:{p}" not in known)
        return gone

    @property
    def now(self) -> float | None:
        """Time as far as every source partition has got (None: not every one reported yet).

        Active sources hold time back, the slowest first; when every source is
        idle, the furthest any of them got.
        """
        if not self._complete:
            if self.missing():
                return None
            self._complete = True
        if self.sources:
            return min(self.sources.values())
        if self.idle:
            reached = max(self.idle.values())
            return None if reached == float("-inf") else reached
        return None

    def advance(self, now: float | None, out: CorrelationResult) -> None:
        """Time moved on to ``now`` (:attr:`now` by default): held events older than it
        are fed in time order, then deadlines and timeouts up to it fire."""
        held = self.held
        while len(held) > self.held_max:
            self.evicted += 1
            self._release(out)
        now = self.now if now is None else now
        if now is None:
            return
        while held and held[0][0] < now:
            self._release(out)
        for engine in self.engines.values():
            out.alerts.extend(engine.advance(now))
        for tracker in self.trackers.values():
            records, alerts = tracker.advance(now)
            out.sessions.extend(records)
            out.alerts.extend(alerts)

    def _release(self, out: CorrelationResult) -> None:
        """Feed the oldest held event on."""
        _ts, _raw, offset, route, event = heapq.heappop(self.held)
        key = str(offset)
        if self._held_dirty.get(key) is not None:
            del self._held_dirty[key]  # held and let go before it was ever written
        else:
            self._held_dirty[key] = None  # written by an earlier batch: a tombstone
        self._feed(route, event, out)

    def take_dirty(self) -> list[tuple[str, dict[str, Any] | None]]:
        """State records to persist: the engines', then held events, then the meta record.

        The meta record (the offset read up to) goes last, so a crash part-way
        through the writes leaves it behind what was written: the batch is read
        again, never skipped.
        """
        tp = self.tp
        out: list[tuple[str, dict[str, Any] | None]] = []
        for route, engine in self.engines.items():
            out.extend((SEP.join((tp, PATTERNS, route, k)), v) for k, v in engine.take_dirty())
        for route, tracker in self.trackers.items():
            out.extend((SEP.join((tp, SESSIONS, route, k)), v) for k, v in tracker.take_dirty())
        if self._held_dirty:
            out.extend((SEP.join((tp, HELD, k)), v) for k, v in self._held_dirty.items())
            self._held_dirty = {}
        if out or self._dirty_meta:
            meta = {
                "wm": self.watermark,
                "o": self.offset,
                "src": self.sources,
                "idle": {k: (None if v == float("-inf") else v) for k, v in self.idle.items()},
                "n": self.topic_partitions,
            }
            out.append((SEP.join((tp, META)), meta))
            self._dirty_meta = False
        return out

    def restore(self, items: Iterable[tuple[str, Any]]) -> None:
        prefix = self.tp + SEP
        for key, value in items:
            if value is None or not key.startswith(prefix):
                continue
            kind, _, rest = key[len(prefix) :].partition(SEP)
            route, _, sub = rest.partition(SEP)
            if kind == META:
                self.watermark = value.get("wm")
                self.offset = int(value.get("o", -1))
                self.sources = {str(k): float(v) for k, v in (value.get("src") or {}).items()}
                self.idle = {
                    str(k): float("-inf") if v is None else float(v)
                    for k, v in (value.get("idle") or {}).items()
                }
                self.topic_partitions = {str(k): int(v) for k, v in (value.get("n") or {}).items()}
                self._complete = False
            elif kind == PATTERNS and route in self.engines:
                self.engines[route].restore(sub, value)
            elif kind == SESSIONS and route in self.trackers:
                self.trackers[route].restore(sub, value)
            elif kind == HELD:
                raw = str(value["r"]).encode()
                held_route, event = decode_forwarded(raw)
                heapq.heappush(self.held, (event.ts, raw, int(route), held_route, event))
