"""Sessions per key (``user`` by default) that end after ``timeout_s`` of inactivity.

A session of key value ``v`` is opened by the first event carrying ``v`` and
extended by every later one whose time is at most ``timeout_s`` after the
session's last event. It ends, in event time, when the watermark given to
:meth:`SessionTracker.advance` is *more* than ``timeout_s`` after its last
event (exactly ``timeout_s`` later it is still open), or when an event of the
key arrives more than ``timeout_s`` after it (that event opens the next
session). An ended session yields one record and, when it qualifies, one-shot
``firing`` alerts (``long_session``: duration >= ``long_s``; ``error_session``:
ERROR+FATAL count >= ``max_errors``); there is no ``resolved`` alert.

State per session is counts and times only (no events kept): start, last,
events, errors, the first 10 distinct services, the last event's service and
level. Out-of-order events extend the session (``start`` may move back,
``last`` never does); an event more than ``timeout_s`` before the session's
start belongs to a session already over and is ignored (counted in ``late``).
At most ``max_sessions`` are open: the least recently active is ended early,
its record marked ``"evicted": true`` (counted in ``evicted``).
"""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from logradar.alerts import Alert
from logradar.detectors.lifecycle import make_alert
from logradar.detectors.patterns import format_span, key_value
from logradar.model import Level, LogEvent

KIND = "session"
LONG_RULE = "long_session"
ERROR_RULE = "error_session"
ERROR_LEVELS = frozenset({Level.ERROR.value, Level.FATAL.value})
SERVICES_MAX = 10

Ended = tuple[list[dict[str, Any]], list[Alert]]


@dataclass(slots=True)
class Session:
    """One open session: counts and times, no events."""

    start: float
    last: float
    events: int = 0
    errors: int = 0
    services: list[str] = field(default_factory=list)  # first SERVICES_MAX distinct, as seen
    service: str = ""  # of the latest event
    level: str = ""
    gen: int = 0  # due-queue identity, not stored

    def add(self, event: LogEvent) -> None:
        ts = float(event.ts)
        self.start = min(self.start, ts)
        if ts >= self.last:
            self.last = ts
            self.service, self.level = event.service, str(event.level)
        self.events += 1
        if str(event.level) in ERROR_LEVELS:
            self.errors += 1
        if len(self.services) < SERVICES_MAX and event.service not in self.services:
            self.services.append(event.service)

    def to_dict(self) -> dict[str, Any]:
        return {
            "s": self.start,
            "l": self.last,
            "n": self.events,
            "e": self.errors,
            "v": list(self.services),
            "sv": self.service,
            "lv": self.level,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session:
        return cls(
            start=float(data["s"]),
            last=float(data["l"]),
            events=int(data.get("n", 0)),
            errors=int(data.get("e", 0)),
            services=[str(s) for s in data.get("v", [])][:SERVICES_MAX],
            service=str(data.get("sv", "")),
            level=str(data.get("lv", "")),
        )


class SessionTracker:
    """Sessions of one key over the events of one source partition (see the module doc)."""

    __slots__ = (
        "key",
        "timeout_s",
        "max_sessions",
        "long_s",
        "max_errors",
        "severity",
        "sessions",
        "dirty",
        "evicted",
        "late",
        "_heap",
        "_gen",
    )

    def __init__(
        self,
        key: str = "user",
        timeout_s: float = 300,
        max_sessions: int = 50_000,
        long_s: float | None = None,
        max_errors: int | None = None,
        severity: str = "medium",
    ) -> None:
        if not key:
            raise ValueError("key must not be empty")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        if max_sessions < 1:
            raise ValueError(f"max_sessions must be >= 1, got {max_sessions}")
        if long_s is not None and not long_s > 0:
            raise ValueError(f"long_s must be positive, got {long_s}")
        if max_errors is not None and max_errors < 1:
            raise ValueError(f"max_errors must be >= 1, got {max_errors}")
        self.key = key
        self.timeout_s = float(timeout_s)
        self.max_sessions = max_sessions
        self.long_s = long_s
        self.max_errors = max_errors
        self.severity = severity
        self.sessions: OrderedDict[str, Session] = OrderedDict()  # least recently active first
        self.dirty: set[str] = set()
        self.evicted = 0
        self.late = 0
        self._heap: list[tuple[float, int, str]] = []  # (last + timeout lower bound, gen, value)
        self._gen = 0

    def __len__(self) -> int:
        return len(self.sessions)

    def on_event(self, event: LogEvent) -> Ended:
        """Open or extend the session of the event's key value.

        Returns the sessions this ends: the key's previous session when the
        event comes more than ``timeout_s`` after it, or the evicted one.
        """
        value = key_value(self.key, event)
        records: list[dict[str, Any]] = []
        alerts: list[Alert] = []
        if value is None:
            return records, alerts
        ts = float(event.ts)  # an int ts would give another alert id (str(1) != str(1.0))
        session = self.sessions.get(value)
        if session is not None:
            if ts - session.last > self.timeout_s:
                del self.sessions[value]
                self._end(value, session, records, alerts, evicted=False)
                session = None
            elif session.start - ts > self.timeout_s:
                self.late += 1
                return records, alerts
        if session is None:
            while len(self.sessions) >= self.max_sessions:
                old, old_session = self.sessions.popitem(last=False)
                self.dirty.add(old)
                self.evicted += 1
                self._end(old, old_session, records, alerts, evicted=True)
            session = self._open(value, Session(start=ts, last=ts))
        else:
            self.sessions.move_to_end(value)
        session.add(event)
        self.dirty.add(value)
        return records, alerts

    def _open(self, value: str, session: Session) -> Session:
        self._gen += 1
        session.gen = self._gen
        self.sessions[value] = session
        heapq.heappush(self._heap, (session.last + self.timeout_s, session.gen, value))
        if len(self._heap) > 2 * len(self.sessions) + 64:
            self._heap = [(s.last + self.timeout_s, s.gen, v) for v, s in self.sessions.items()]
            heapq.heapify(self._heap)
        return session

    def advance(self, now: float) -> Ended:
        """The watermark reached ``now``: end the sessions idle for more than ``timeout_s``."""
        ended: list[tuple[str, Session]] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, gen, value = heapq.heappop(heap)
            session = self.sessions.get(value)
            if session is None or session.gen != gen:
                continue  # stale: that session already ended
            if now - session.last > self.timeout_s:
                del self.sessions[value]
                self.dirty.add(value)
                ended.append((value, session))
            else:  # extended since it was queued
                due = max(session.last + self.timeout_s, math.nextafter(now, math.inf))
                heapq.heappush(heap, (due, gen, value))
        return self._end_all(ended)

    def flush_all(self) -> Ended:
        """End every open session now (an idle flush, or shutdown)."""
        ended = list(self.sessions.items())
        self.dirty.update(self.sessions)
        self.sessions.clear()
        self._heap.clear()
        return self._end_all(ended)

    def _end_all(self, ended: list[tuple[str, Session]]) -> Ended:
        records: list[dict[str, Any]] = []
        alerts: list[Alert] = []
        ended.sort(key=lambda vs: (vs[1].last, vs[0]))
        for value, session in ended:
            self._end(value, session, records, alerts, evicted=False)
        return records, alerts

    def _end(
        self,
        value: str,
        s: Session,
        records: list[dict[str, Any]],
        alerts: list[Alert],
        *,
        evicted: bool,
    ) -> None:
        """The record of an ended session, and its alerts."""
        duration = s.last - s.start
        records.append(
            {
                "key": self.key,
                "key_value": value,
                "start": s.start,
                "end": s.last,
                "duration_s": round(duration, 6),
                "events": s.events,
                "errors": s.errors,
                "services": sorted(s.services),
                "evicted": evicted,
            }
        )
        subject = f"{self.key}={value}"
        counts = f"{s.events} events, {s.errors} ERROR/FATAL"
        if self.long_s is not None and duration >= self.long_s:
            alerts.append(
                self._alert(
                    LONG_RULE,
                    value,
                    s,
                    level=s.level,
                    observed=duration,
                    threshold=self.long_s,
                    summary=(
                        f"{LONG_RULE}: {subject} session lasted {format_span(duration)} "
                        f"({counts}; limit {format_span(self.long_s)})"
                    ),
                    evicted=evicted,
                )
            )
        if self.max_errors is not None and s.errors >= self.max_errors:
            alerts.append(
                self._alert(
                    ERROR_RULE,
                    value,
                    s,
                    level=Level.ERROR.value,
                    observed=s.errors,
                    threshold=self.max_errors,
                    summary=(
                        f"{ERROR_RULE}: {subject} session had {s.errors} ERROR/FATAL in "
                        f"{s.events} events over {format_span(duration)} "
                        f"(limit {self.max_errors})"
                    ),
                    evicted=evicted,
                )
            )

    def _alert(
        self,
        rule: str,
        value: str,
        s: Session,
        *,
        level: str,
        observed: float,
        threshold: float,
        summary: str,
        evicted: bool,
    ) -> Alert:
        return make_alert(
            rule=rule,
            kind=KIND,
            severity=self.severity,
            state="firing",
            incident_start=s.start,
            service=s.service,
            level=level,
            window_start=math.floor(s.start),
            window_end=math.ceil(s.last),
            event_time=s.last,
            observed=observed,
            expected=None,
            threshold=threshold,
            score=round(observed / threshold, 3),
            summary=summary,
            subject=f"{self.key}={value}",
            extra={
                "key": self.key,
                "key_value": value,
                "events": s.events,
                "errors": s.errors,
                "evicted": evicted,
            },
        )

    # ----------------------------------------------------------------------- persistence

    def take_dirty(self) -> list[tuple[str, dict[str, Any] | None]]:
        """Sessions changed since the last call, keyed by key value; None: ended."""
        dirty, self.dirty = self.dirty, set()
        out: list[tuple[str, dict[str, Any] | None]] = []
        for value in sorted(dirty):
            session = self.sessions.get(value)
            out.append((value, None if session is None else session.to_dict()))
        return out

    def restore(self, value: str, data: dict[str, Any]) -> None:
        """Load one stored open session (the cap still holds: the oldest loaded is evicted)."""
        if not value:
            return
        self.sessions.pop(value, None)
        while len(self.sessions) >= self.max_sessions:
            old, _ = self.sessions.popitem(last=False)
            self.dirty.add(old)
            self.evicted += 1
        self._open(value, Session.from_dict(data))
