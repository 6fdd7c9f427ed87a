"""Error bursts: a service's ERROR+FATAL count in one tumbling window crosses a threshold.

Edge-triggered: one ``firing`` alert the moment the running count of an open
window reaches the threshold, nothing more while later windows stay high, and
one ``resolved`` alert when a *closed* window falls below half the threshold.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from math import floor
from typing import Any

from logradar.alerts import Alert, Evidence, State, alert_id
from logradar.model import Level

RULE = "error_burst"
BURST_LEVELS: frozenset[str] = frozenset({Level.ERROR, Level.FATAL})
EVIDENCE_MAX = 5


@dataclass(frozen=True, slots=True)
class BurstConfig:
    threshold: int = 10
    severity: str = "high"
    levels: frozenset[str] = BURST_LEVELS
    enabled: bool = True

    @property
    def resolve_below(self) -> float:
        return self.threshold / 2


@dataclass(slots=True)
class BurstState:
    """One service's open-window error counts and its incident, if one is open.

    ``offset`` is the last source offset counted here: an event replayed after a
    crash at or below it is already in ``counts`` (the state record and the
    window records of one batch can reach the changelog apart).
    """

    counts: dict[int, int] = field(default_factory=dict)
    evidence: dict[int, deque[Evidence]] = field(default_factory=dict)
    fired_window: int | None = None
    offset: int = -1
    sealed: int = -1  # ``offset`` as restored: a replayed event is at or below it

    def to_dict(self) -> dict[str, Any]:
        return {
            "o": self.offset,
            "c": sorted(self.counts.items()),
            "e": {
                str(w): [[e.ts, e.level, e.message] for e in ev] for w, ev in self.evidence.items()
            },
            "f": self.fired_window,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BurstState:
        evidence = {
            int(w): deque((Evidence(float(t), str(lv), str(m)) for t, lv, m in ev), EVIDENCE_MAX)
            for w, ev in data.get("e", {}).items()
        }
        return cls(
            {int(w): int(c) for w, c in data.get("c", [])},
            evidence,
            data.get("f"),
            int(data.get("o", -1)),
            int(data.get("o", -1)),
        )


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S")


class BurstDetector:
    """Error-burst detection for the services of one source partition."""

    __slots__ = ("config_for", "window_s", "states", "dirty")

    def __init__(self, config_for: Callable[[str], BurstConfig], window_s: int = 60) -> None:
        self.config_for = config_for
        self.window_s = window_s
        self.states: dict[str, BurstState] = {}
        self.dirty: set[str] = set()

    def on_event(
        self, ts: float, service: str, level: str, message: str, offset: int = -1
    ) -> Alert | None:
        """Count an event at a burst level (already known not to be late); maybe fire.

        ``offset`` is the event's source offset (-1: unknown); one this service's
        state already includes is ignored.
        """
        cfg = self.config_for(service)
        if level not in cfg.levels or not cfg.enabled:
            return None
        state = self.states.get(service)
        if state is None:
            state = self.states[service] = BurstState()
        elif 0 <= offset <= state.sealed:
            return None
        if offset > state.offset:
            state.offset = offset
        self.dirty.add(service)
        window = floor(ts / self.window_s) * self.window_s
        count = state.counts.get(window, 0) + 1
        state.counts[window] = count
        if state.fired_window is not None:
            return None
        ev = state.evidence.get(window)
        if ev is None:
            ev = state.evidence[window] = deque(maxlen=EVIDENCE_MAX)
        ev.append(Evidence(ts, level, message[:500]))
        if count < cfg.threshold:
            return None
        state.fired_window = window
        evidence = tuple(ev)
        state.evidence.clear()
        return self._alert(service, "firing", window, window, ts, count, evidence)

    def _alert(
        self,
        service: str,
        state: State,
        incident: int,
        window: int,
        event_time: float,
        count: int,
        evidence: tuple[Evidence, ...] = (),
    ) -> Alert:
        cfg = self.config_for(service)
        if state == "firing":
            verdict = f"threshold {cfg.threshold}"
        else:
            verdict = f"below {cfg.resolve_below:g}: burst over"
        return Alert(
            id=alert_id(RULE, service, incident, state),
            rule=RULE,
            kind="burst",
            severity=cfg.severity,
            state=state,
            service=service,
            level="ERROR",
            window_start=window,
            window_end=window + self.window_s,
            event_time=event_time,
            observed=count,
            expected=cfg.resolve_below,
            threshold=cfg.threshold,
            score=round(count / cfg.threshold, 3),
            summary=(
                f"{service}: {count} {'/'.join(sorted(cfg.levels))} in the {self.window_s} s "
                f"window from {_clock(window)} UTC, {verdict}"
            ),
            evidence=evidence,
            extra={"incident_window_start": incident},
        )

    def on_close(self, closed_from: int | None, closed_to: int) -> list[Alert]:
        """Windows ending in (closed_from, closed_to] have closed: resolve and forget them."""
        w_s = self.window_s
        alerts: list[Alert] = []
        for service in sorted(self.states):
            state = self.states[service]
            if state.fired_window is not None:
                alert = self._maybe_resolve(service, state, closed_from, closed_to)
                if alert is not None:
                    alerts.append(alert)
                    self.dirty.add(service)
            done = [w for w in state.counts if w + w_s <= closed_to]
            for w in done:
                del state.counts[w]
                state.evidence.pop(w, None)
            if done:
                self.dirty.add(service)
        for service in [
            s for s, st in self.states.items() if not st.counts and st.fired_window is None
        ]:
            del self.states[service]
        return alerts

    def _maybe_resolve(
        self, service: str, state: BurstState, closed_from: int | None, closed_to: int
    ) -> Alert | None:
        """The first newly closed window of the incident below half the threshold resolves it."""
        cfg = self.config_for(service)
        fired = state.fired_window
        assert fired is not None  # noqa: S101 - the caller checks
        w_s = self.window_s
        window = fired
        if closed_from is not None:
            window = max(fired, (floor((closed_from - w_s) / w_s) + 1) * w_s)
        while window + w_s <= closed_to:
            count = state.counts.get(window, 0)
            if count < cfg.resolve_below:
                state.fired_window = None
                return self._alert(service, "resolved", fired, window, float(window + w_s), count)
            window += w_s
        return None

    def take_dirty(self) -> list[tuple[str, dict[str, Any] | None]]:
        dirty, self.dirty = self.dirty, set()
        out: list[tuple[str, dict[str, Any] | None]] = []
        for service in sorted(dirty):
            state = self.states.get(service)
            out.append((service, state.to_dict() if state is not None else None))
        return out

    def restore(self, service: str, data: dict[str, Any]) -> None:
        self.states[service] = BurstState.from_dict(data)
