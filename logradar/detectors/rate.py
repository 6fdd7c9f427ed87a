"""Volume changes per service (all levels summed): drops, spikes and silence.

Each closed tumbling window's volume is judged against the mean of the
service's last ``baseline_windows`` *normal* windows (a ring with a running
sum), once that ring is full:

* ``rate_drop`` fires when ``volume < drop_ratio * baseline`` (baseline at
  least ``min_baseline``) and resolves on the first window with
  ``volume >= drop_resolve * baseline``: twice the drop ratio (0.4 by
  default), or its square root when that is lower (ratios above 1/4), so the
  bar to resolve always lies between the firing ratio and normal traffic.
* ``rate_spike`` fires when ``volume > spike_ratio * baseline`` (baseline at
  least 1) and resolves on the first window with
  ``volume < spike_resolve * baseline``: half the spike ratio (2.5 by
  default), or its square root when that is higher (ratios below 4): the
  mirror image of the drop's hysteresis.
* ``rate_silence`` fires when a service that had events has none for
  ``silence_s`` while ``now`` (given to :meth:`RateDetector.check_silence`)
  has moved on. Its incident starts at ``last event + silence_s``, whatever
  the caller's ``now``, so replays get the same ids. :meth:`on_event` only
  records the newest event time; the resolution is reported by the next
  :meth:`on_close` or :meth:`check_silence` call, with the newest event time
  seen since as its event time.

The baseline is frozen while any incident of the service is open: the windows
that fired, the windows during the incident and the one that resolved it do
not enter it, so recovery is judged against normal traffic, and a long
silence does not decay the baseline into a false spike when traffic returns.

One silent service gets one alert: an open silence blocks a new drop, and an
open drop blocks silence (a stopped service in a busy partition is usually
caught as a drop first; a service alone in its partition closes no windows
once it stops, and is caught by :meth:`check_silence`).

State is bounded: each service keeps two small rings and three incidents; a
service with no open incident whose last ``baseline_windows`` windows were
all empty and whose last event is more than ``2 * silence_s`` old (the
silence check has had its chance) is forgotten, and at most ``max_services``
are kept (the least recently active go first, open incidents last;
``evicted`` counts them).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from math import ceil, floor, sqrt
from typing import Any

from logradar.alerts import Alert, State
from logradar.detectors.anomaly import Ring, span_text
from logradar.detectors.lifecycle import Incident, make_alert
from logradar.windows import TUMBLING, WindowCount

DROP, SPIKE, SILENCE = "rate_drop", "rate_spike", "rate_silence"
KIND = "rate"
LEVEL = "ALL"
MAX_SERVICES = 20_000
SERIES_WINDOWS = 20  # volumes carried in an alert's ``series``
NEVER = float("-inf")


@dataclass(frozen=True, slots=True)
class RateConfig:
    enabled: bool = True
    drop_ratio: float = 0.2
    spike_ratio: float = 5.0
    silence_s: float = 300.0
    baseline_windows: int = 10
    min_baseline: float = 5.0
    severity: str = "high"
    cooldown_s: float = 300.0

    def __post_init__(self) -> None:
        if not 0 < self.drop_ratio < 1:
            raise ValueError("drop_ratio must be between 0 and 1")
        if self.spike_ratio <= 1:
            raise ValueError("spike_ratio must exceed 1")
        if self.silence_s <= 0 or self.baseline_windows < 1:
            raise ValueError("silence_s and baseline_windows must be positive")

    @property
    def drop_resolve(self) -> float:
        """A drop resolves at this share of the baseline."""
        return min(2 * self.drop_ratio, sqrt(self.drop_ratio))

    @property
    def spike_resolve(self) -> float:
        """A spike resolves below this multiple of the baseline."""
        return max(self.spike_ratio / 2, sqrt(self.spike_ratio))


@dataclass(slots=True)
class RateState:
    """One service's baseline, recent volumes, activity and incidents."""

    base: Ring
    recent: deque[int] = field(default_factory=lambda: deque(maxlen=SERIES_WINDOWS))
    last: int | None = None  # start of the newest window judged
    seen: int = 0  # start of the newest window with events
    seen_ts: float | None = None  # newest event time
    drop: Incident = field(default_factory=Incident)
    spike: Incident = field(default_factory=Incident)
    silence: Incident = field(default_factory=Incident)
    silent_after: float | None = None  # the last event time before the open silence
    # windows starting before this were covered by a silence incident (not a drop)
    quiet_before: int | None = None

    @property
    def firing(self) -> bool:
        return self.drop.firing or self.spike.firing or self.silence.firing

    def to_dict(self) -> dict[str, Any]:
        return {
            "b": list(self.base.values),
            "n": self.base.size,
            "r": list(self.recent),
            "l": self.last,
            "v": self.seen,
            "t": self.seen_ts,
            "d": self.drop.to_dict(),
            "s": self.spike.to_dict(),
            "q": self.silence.to_dict(),
            "qa": self.silent_after,
            "qb": self.quiet_before,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RateState:
        last, ts, after = data.get("l"), data.get("t"), data.get("qa")
        return cls(
            Ring(int(data["n"]), (int(v) for v in data.get("b", []))),
            deque((int(v) for v in data.get("r", [])), maxlen=SERIES_WINDOWS),
            None if last is None else int(last),
            int(data.get("v", 0)),
            None if ts is None else float(ts),
            Incident.from_dict(data.get("d", {})),
            Incident.from_dict(data.get("s", {})),
            Incident.from_dict(data.get("q", {})),
            None if after is None else float(after),
            None if data.get("qb") is None else int(data["qb"]),
        )


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S")


class RateDetector:
    """Per-service volume drops, spikes and silences for one source partition."""

    __slots__ = ("config_for", "window_s", "max_services", "states", "dirty", "evicted", "newest")

    def __init__(
        self,
        config_for: Callable[[str], RateConfig],
        window_s: int,
        max_services: int = MAX_SERVICES,
    ) -> None:
        if window_s <= 0 or max_services <= 0:
            raise ValueError("window_s and max_services must be positive")
        self.config_for = config_for
        self.window_s = window_s
        self.max_services = max_services
        self.states: dict[str, RateState] = {}
        self.dirty: set[str] = set()
        self.evicted = 0
        self.newest: dict[str, float] = {}  # newest event time per service since the last sync

    # -- per event -------------------------------------------------------
    def on_event(self, ts: float, service: str) -> None:
        """Record that ``service`` had an event at ``ts`` (cheap: one dict update)."""
        seen = self.newest
        if ts > seen.get(service, NEVER):
            seen[service] = ts

    def _sync(self, alerts: list[Alert]) -> None:
        """Move recorded event times into the states; resolve the silences they end."""
        pending, self.newest = self.newest, {}
        for service, when in pending.items():
            ts = float(when)
            state = self.states.get(service)
            if state is None:
                cfg = self.config_for(service)
                if not cfg.enabled:
                    continue
                state = self.states[service] = RateState(Ring(cfg.baseline_windows))
            if state.seen_ts is not None and ts <= state.seen_ts:
                continue
            state.seen_ts = ts
            self.dirty.add(service)
            after = state.silent_after
            if state.silence.firing and after is not None and ts > after:
                since = state.silence.resolve(ts)
                state.silent_after = None
                # the silent windows, and the one traffic came back in, belong to this
                # incident: they are neither a drop nor part of the baseline
                state.quiet_before = floor(ts / self.window_s) * self.window_s + self.window_s
                cfg = self.config_for(service)
                alerts.append(
                    self._alert(
                        service,
                        state,
                        cfg,
                        SILENCE,
                        "resolved",
                        since,
                        start=floor(after),
                        end=ceil(ts),
                        event_time=ts,
                        observed=ts - after,
                        expected=None,
                        threshold=cfg.silence_s,
                        score=round((ts - after) / cfg.silence_s, 3),
                        summary=(
                            f"{service}: events again at {_clock(ts)} UTC "
                            f"(silent since {_clock(after)} UTC)"
                        ),
                    )
                )

    # -- silence ---------------------------------------------------------
    def check_silence(self, now: float) -> list[Alert]:
        """Fire ``rate_silence`` for services quiet for ``silence_s`` at ``now``; resolve others."""
        alerts: list[Alert] = []
        self._sync(alerts)
        for service, state in self.states.items():
            last = state.seen_ts
            if last is None or state.silence.firing or state.drop.firing:
                continue
            cfg = self.config_for(service)
            at = float(last + cfg.silence_s)
            if (
                now - last < cfg.silence_s
                or not cfg.enabled
                or not state.silence.can_fire(at, cfg.cooldown_s)
            ):
                continue
            since = state.silence.fire(at)
            state.silent_after = last
            self.dirty.add(service)
            alerts.append(
                self._alert(
                    service,
                    state,
                    cfg,
                    SILENCE,
                    "firing",
                    since,
                    start=floor(last),
                    end=ceil(at),
                    event_time=at,
                    observed=cfg.silence_s,
                    expected=None,
                    threshold=cfg.silence_s,
                    score=1.0,
                    summary=(
                        f"{service}: no events for {span_text(cfg.silence_s)} "
                        f"(last at {_clock(last)} UTC)"
                    ),
                )
            )
        alerts.sort(key=lambda a: (a.event_time, a.service, a.rule, a.state))
        return alerts

    # -- closing ---------------------------------------------------------
    def on_close(
        self, closed: Iterable[WindowCount], closed_from: int | None, closed_to: int
    ) -> list[Alert]:
        """Tumbling windows ending in ``(closed_from, closed_to]`` have closed: judge volumes."""
        alerts: list[Alert] = []
        self._sync(alerts)
        ws = self.window_s
        last_start = (closed_to // ws) * ws - ws
        volumes: dict[str, dict[int, int]] = {}
        for w in closed:
            if w.kind != TUMBLING or w.count <= 0 or w.end > closed_to:
                continue
            if closed_from is not None and w.end <= closed_from:
                continue
            per = volumes.setdefault(w.service, {})
            per[w.start] = per.get(w.start, 0) + w.count
        for service in [*self.states, *(s for s in volumes if s not in self.states)]:
            state = self.states.get(service)
            cfg = self.config_for(service)
            if state is None and not cfg.enabled:
                continue
            got = volumes.get(service)
            self._advance(
                service, state, cfg, sorted(got.items()) if got else [], last_start, alerts
            )
        self._cap()
        alerts.sort(key=lambda a: (a.event_time, a.service, a.rule, a.state))
        return alerts

    def _advance(
        self,
        service: str,
        state: RateState | None,
        cfg: RateConfig,
        volumes: list[tuple[int, int]],
        last_start: int,
        alerts: list[Alert],
    ) -> None:
        """Judge every window after ``state.last`` up to ``last_start``: volumes, zeros between.

        A service found forgettable on the way (see :meth:`_forgettable`) is
        dropped there and restarts fresh at its next volume, exactly as if the
        windows had closed one call at a time.
        """
        ws = self.window_s
        st = state
        if st is not None and st.base.size != cfg.baseline_windows:
            st.base = st.base.resized(cfg.baseline_windows)
        before = None if st is None else st.last
        for start, volume in volumes:
            if st is not None and st.last is not None:
                if start <= st.last:
                    continue  # already judged (a replay)
                if not self._zeros(service, st, cfg, st.last + ws, start, alerts):
                    st = None
            if st is None:
                st = RateState(Ring(cfg.baseline_windows))
            self._step(service, st, cfg, start, volume, alerts)
        if st is not None and st.last is not None:
            if not self._zeros(service, st, cfg, st.last + ws, last_start + ws, alerts):
                st = None
        if st is None:
            if state is not None:
                del self.states[service]
                self.dirty.add(service)
            return
        if st is not state:
            self.states[service] = st
        if st is not state or st.last != before:
            self.dirty.add(service)

    def _zeros(
        self,
        service: str,
        state: RateState,
        cfg: RateConfig,
        first: int,
        stop: int,
        alerts: list[Alert],
    ) -> bool:
        """Windows starting in ``[first, stop)`` were empty; False: the service is forgotten.

        At most ``base.size + SERIES_WINDOWS + 1`` are judged: by then the
        baseline is all zero or frozen by a drop no empty window can end, and
        ``recent`` is all zero; from there on nothing changes but the position.
        """
        ws = self.window_s
        n = (stop - first) // ws
        for i in range(min(n, state.base.size + SERIES_WINDOWS + 1)):
            start = first + i * ws
            self._step(service, state, cfg, start, 0, alerts)
            if self._forgettable(state, cfg, start):
                return False
        if n > 0:
            state.last = first + (n - 1) * ws
            return not self._forgettable(state, cfg, state.last)
        return True

    def _forgettable(self, state: RateState, cfg: RateConfig, last_start: int) -> bool:
        """No open incident, the last ``baseline_windows`` windows up to ``last_start``
        were empty, and the last event is ``2 * silence_s`` old (silence had its chance)."""
        ws = self.window_s
        if state.firing or state.seen > last_start - state.base.size * ws:
            return False
        seen_ts = state.seen_ts
        return seen_ts is None or last_start + ws - seen_ts >= 2 * cfg.silence_s

    def _step(
        self,
        service: str,
        state: RateState,
        cfg: RateConfig,
        start: int,
        volume: int,
        alerts: list[Alert],
    ) -> None:
        """Judge one closed window against the baseline; let it in if all was calm."""
        base = state.base
        end = start + self.window_s
        t_end = float(end)  # the incidents' clock (ids hash its repr)
        quiet = state.quiet_before is not None and start < state.quiet_before
        calm = not state.firing and not quiet
        mean = base.mean()
        rule: str | None = None
        verdict: State = "firing"
        since = 0.0
        if state.drop.firing:
            if volume >= cfg.drop_resolve * mean:
                rule, verdict, since = DROP, "resolved", state.drop.resolve(t_end)
        elif state.spike.firing:
            if volume < cfg.spike_resolve * mean:
                rule, verdict, since = SPIKE, "resolved", state.spike.resolve(t_end)
        if rule is None and cfg.enabled and len(base) == base.size:
            if (
                mean >= cfg.min_baseline
                and volume < cfg.drop_ratio * mean
                and not state.silence.firing
                and not quiet
                and not state.spike.firing
                and state.drop.can_fire(t_end, cfg.cooldown_s)
            ):
                rule, since = DROP, state.drop.fire(t_end)
            elif (
                mean >= 1
                and volume > cfg.spike_ratio * mean
                and not state.drop.firing
                and state.spike.can_fire(t_end, cfg.cooldown_s)
            ):
                rule, since = SPIKE, state.spike.fire(t_end)
        state.recent.append(volume)
        if calm and not state.firing:
            base.push(volume)
        state.last = start
        if volume > 0:
            state.seen = start
        if rule is None:
            return
        if rule == DROP:
            ratio, bound = cfg.drop_ratio, cfg.drop_resolve
            how = (
                f"drop below {ratio * 100:g}%"
                if verdict == "firing"
                else f"back above {bound * 100:g}%"
            )
        else:
            ratio, bound = cfg.spike_ratio, cfg.spike_resolve
            how = f"spike above {ratio:g}x" if verdict == "firing" else f"back below {bound:g}x"
        alerts.append(
            self._alert(
                service,
                state,
                cfg,
                rule,
                verdict,
                since,
                start=start,
                end=end,
                event_time=float(end),
                observed=volume,
                expected=mean,
                threshold=ratio,
                score=round(volume / mean, 3) if mean > 0 else 0.0,
                summary=(
                    f"{service}: {volume} events in {span_text(self.window_s)}, "
                    f"baseline {mean:.1f} ({how})"
                ),
                newest=start,
            )
        )

    def _alert(
        self,
        service: str,
        state: RateState,
        cfg: RateConfig,
        rule: str,
        verdict: State,
        since: float,
        *,
        start: int,
        end: int,
        event_time: float,
        observed: float,
        expected: float | None,
        threshold: float,
        score: float,
        summary: str,
        newest: int | None = None,
    ) -> Alert:
        ws = self.window_s
        recent = state.recent
        top = state.last if newest is None else newest
        series: list[dict[str, int]] = []
        if top is not None:
            first = top - (len(recent) - 1) * ws
            series = [{"start": first + i * ws, "count": v} for i, v in enumerate(recent)]
        base = state.base
        return make_alert(
            rule=rule,
            kind=KIND,
            severity=cfg.severity,
            state=verdict,
            incident_start=since,
            service=service,
            level=LEVEL,
            window_start=start,
            window_end=end,
            event_time=event_time,
            observed=observed,
            expected=expected,
            threshold=threshold,
            score=score,
            summary=summary,
            extra={
                "series": series,
                "baseline": {"mean": base.mean(), "windows": len(base), "frozen": state.firing},
            },
        )

    def _cap(self) -> None:
        """Keep at most ``max_services``: least recently active first, open incidents last."""
        excess = len(self.states) - self.max_services
        if excess > 0:
            victims = heapq.nsmallest(
                excess,
                self.states.items(),
                key=lambda kv: (
                    kv[1].firing,
                    NEVER if kv[1].seen_ts is None else kv[1].seen_ts,
                    kv[1].seen,
                    kv[0],
                ),
            )
            for service, _ in victims:
                del self.states[service]
                self.dirty.add(service)
            self.evicted += excess

    # -- persistence -----------------------------------------------------
    def take_dirty(self) -> list[tuple[str, dict[str, Any] | None]]:
        """Changed services since the last call, as (service, state or None: deleted)."""
        dirty, self.dirty = self.dirty, set()
        out: list[tuple[str, dict[str, Any] | None]] = []
        for service in sorted(dirty):
            state = self.states.get(service)
            out.append((service, state.to_dict() if state is not None else None))
        return out

    def restore(self, service: str, data: dict[str, Any]) -> None:
        self.states[service] = RateState.from_dict(data)
