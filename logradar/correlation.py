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

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from logradar.alerts import Alert
from logradar.detectors.patterns import PatternEngine, key_value, pattern_from_rule
from logradar.detectors.sessions import SessionTracker
from logradar.model import Level, LogEvent
from logradar.rules import Rules

SEP = "\x1f"
META, PATTERNS, SESSIONS = "m", "p", "s"


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


def encode_tick(source: str, ts: float | None) -> bytes:
    """A time marker sent to every correlation partition: ``source`` has reached ``ts``.

    Patterns with an absent step and sessions end when *time* passes, but a
    correlation partition only sees the few events routed to it. Every source
    partition reports its progress (newest event time less the grace), and a
    correlation partition's time is the *slowest* source's, so a deadline
    never passes before a slower partition had the chance to deliver the
    event that cancels it. ``ts`` None: the source went idle and stops
    holding time back.
    """
    return TICK + source.encode() + b"\n" + (b"" if ts is None else repr(float(ts)).encode())


def decode_tick(value: bytes) -> tuple[str, float | None] | None:
    if not value.startswith(TICK):
        return None
    source, _, ts = value[len(TICK) :].partition(b"\n")
    return source.decode(), (float(ts) if ts else None)


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
    """Pattern engines and session trackers of one partition of the correlation topic."""

    def __init__(self, tp: str, rules: Rules) -> None:
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
        self.watermark: float | None = None
        self.sources: dict[str, float] = {}  # active source partition -> the time it reached
        self.idle: dict[str, float] = {}  # idle source partition -> the time it had reached
        self.offset = -1
        self._dirty_meta = False

    def is_replay(self, offset: int) -> bool:
        return 0 <= offset <= self.offset

    def process(self, route: str, event: LogEvent, offset: int, out: CorrelationResult) -> None:
        if offset > self.offset:
            self.offset = offset
            self._dirty_meta = True
        if self.watermark is None or event.ts > self.watermark:
            self.watermark = event.ts
        engine = self.engines.get(route)
        if engine is not None and engine.interested(event):
            out.alerts.extend(engine.on_event(event))
        tracker = self.trackers.get(route)
        if tracker is not None:
            records, alerts = tracker.on_event(event)
            out.sessions.extend(records)
            out.alerts.extend(alerts)

    def tick(self, source: str, ts: float | None, offset: int) -> None:
        """Source partition ``source`` has progressed to ``ts`` (None: it went idle)."""
        if offset > self.offset:
            self.offset = offset
        self._dirty_meta = True
        if ts is None:
            if source in self.sources:
                self.idle[source] = self.sources.pop(source)
        elif ts > self.sources.get(source, float("-inf")):
            self.sources[source] = ts
            self.idle.pop(source, None)

    @property
    def now(self) -> float | None:
        """Time as far as every active source has got.

        When every source is idle, the furthest any of them got; without any
        tick, the newest forwarded event.
        """
        if self.sources:
            return min(self.sources.values())
        if self.idle:
            return max(self.idle.values())
        return self.watermark

    def advance(self, now: float | None, out: CorrelationResult) -> None:
        """Time moved on to ``now`` (the watermark by default): deadlines and timeouts fire."""
        now = self.now if now is None else now
        if now is None:
            return
        for engine in self.engines.values():
            out.alerts.extend(engine.advance(now))
        for tracker in self.trackers.values():
            records, alerts = tracker.advance(now)
            out.sessions.extend(records)
            out.alerts.extend(alerts)

    def take_dirty(self) -> list[tuple[str, dict[str, Any] | None]]:
        tp = self.tp
        out: list[tuple[str, dict[str, Any] | None]] = []
        for route, engine in self.engines.items():
            out.extend((SEP.join((tp, PATTERNS, route, k)), v) for k, v in engine.take_dirty())
        for route, tracker in self.trackers.items():
            out.extend((SEP.join((tp, SESSIONS, route, k)), v) for k, v in tracker.take_dirty())
        if out or self._dirty_meta:
            meta = {"wm": self.watermark, "o": self.offset, "src": self.sources, "idle": self.idle}
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
                self.idle = {str(k): float(v) for k, v in (value.get("idle") or {}).items()}
            elif kind == PATTERNS and route in self.engines:
                self.engines[route].restore(sub, value)
            elif kind == SESSIONS and route in self.trackers:
                self.trackers[route].restore(sub, value)
