"""Statistical anomalies: one (service, level) window count far from its own recent past.

Each series keeps the counts of its last ``window`` closed tumbling windows in a
fixed ring with a running sum and sum of squares (integers, so exact), which
give the mean and population standard deviation in O(1). When a window closes
it is judged against that baseline *before* joining it::

    z = (count - mean) / max(std, std_floor)

The floor keeps a spike visible in a quiet series (constant 0 or 3: std 0).
The detector fires once when ``z`` crosses ``z`` in the configured direction
(and the count, or for drops the mean, reaches ``min_count``), stays quiet
while the incident is open, and resolves on the first later window with
``|z| < z / 2`` (hysteresis). The cooldown and the ids come from
:mod:`logradar.detectors.lifecycle`: an incident's id is seeded by the end of
the window that fired it.

Zero windows: the pipeline only reports non-zero counts; a tracked series with
no count for a closed window had 0. After ``window + 1`` zeros the state is a
fixed point (all-zero ring, any incident resolved), so longer gaps are jumped,
never looped over. A series that cannot alert on a zero (direction ``up``, or
too low a mean to drop) is not advanced until its next count or incident, so a
quiet series costs no state write per close. A series whose last ``window``
windows were all zero and that has no open incident is forgotten, and at most
``max_series`` series are kept (the least recently non-zero go first, open
incidents last; ``evicted`` counts them). A forgotten series that comes back
starts a fresh history and needs ``min_windows`` windows before it can alert.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from math import sqrt
from typing import Any, Literal

from logradar.alerts import Alert, State
from logradar.detectors.lifecycle import Incident, make_alert
from logradar.windows import TUMBLING, WindowCount

RULE = "anomaly"
KIND = "anomaly"
KEY_SEP = "\x1f"
MAX_SERIES = 20_000

Direction = Literal["up", "down", "both"]
DIRECTIONS: frozenset[str] = frozenset({"up", "down", "both"})
SeriesKey = tuple[str, str]


def span_text(seconds: float) -> str:
    """A duration for a sentence: ``30 s``, ``1 min``, ``5 min``, ``2 h``, ``90 s``."""
    s = float(seconds)
    if s >= 3600 and s % 3600 == 0:
        return f"{s / 3600:g} h"
    if s >= 60 and s % 60 == 0:
        return f"{s / 60:g} min"
    return f"{s:g} s"


def series_key(service: str, level: str) -> str:
    """The subject key :meth:`AnomalyDetector.take_dirty` hands out for one series."""
    return f"{service}{KEY_SEP}{level}"


@dataclass(frozen=True, slots=True)
class AnomalyConfig:
    enabled: bool = True
    z: float = 4.0
    min_windows: int = 10
    min_count: int = 5
    direction: Direction = "up"
    window: int = 30  # history length N, in windows
    std_floor: float = 1.0
    severity: str = "medium"
    cooldown_s: float = 300.0

    def __post_init__(self) -> None:
        if self.z <= 0 or self.std_floor <= 0:
            raise ValueError("z and std_floor must be positive")
        if self.window < 1 or self.min_windows < 1:
            raise ValueError("window and min_windows must be at least 1")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {sorted(DIRECTIONS)}")


class Ring:
    """The last ``size`` integer values with their exact running sum and sum of squares."""

    __slots__ = ("values", "total", "total_sq")

    def __init__(self, size: int, values: Iterable[int] = ()) -> None:
        self.values: deque[int] = deque(maxlen=size)
        self.total = 0
        self.total_sq = 0
        for v in values:
            self.push(v)

    @property
    def size(self) -> int:
        maxlen = self.values.maxlen
        assert maxlen is not None
        return maxlen

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        return f"Ring({self.size}, {list(self.values)!r})"

    def push(self, value: int) -> None:
        """Append ``value``, evicting the oldest when full: O(1)."""
        values = self.values
        if len(values) == values.maxlen:
            old = values[0]
            self.total -= old
            self.total_sq -= old * old
        values.append(value)
        self.total += value
        self.total_sq += value * value

    def mean(self) -> float:
        n = len(self.values)
        return self.total / n if n else 0.0

    def std(self) -> float:
        """Population standard deviation (0 for fewer than two values)."""
        n = len(self.values)
        if n == 0:
            return 0.0
        # n * sumsq - sum^2 is an exact integer; max() guards it all the same.
        var_n2 = max(n * self.total_sq - self.total * self.total, 0)
        return sqrt(var_n2) / n

    def resized(self, size: int) -> Ring:
        """The same history in a ring of another size (the newest values kept)."""
        return Ring(size, self.values)


@dataclass(slots=True)
class SeriesState:
    """One series' history ring, its position in time and its incident."""

    ring: Ring
    last: int | None = None  # start of the newest window in ``ring``
    seen: int = 0  # start of the newest window with a non-zero count
    incident: Incident = field(default_factory=Incident)

    def to_dict(self) -> dict[str, Any]:
        return {
            "c": list(self.ring.values),
            "n": self.ring.size,
            "l": self.last,
            "v": self.seen,
            "i": self.incident.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SeriesState:
        last = data.get("l")
        return cls(
            Ring(int(data["n"]), (int(c) for c in data.get("c", []))),
            None if last is None else int(last),
            int(data.get("v", 0)),
            Incident.from_dict(data.get("i", {})),
        )


class AnomalyDetector:
    """Per-(service, level) z-score anomalies over the closed tumbling windows of one partition."""

    __slots__ = ("config_for", "window_s", "max_series", "states", "dirty", "evicted")

    def __init__(
        self,
        config_for: Callable[[str], AnomalyConfig],
        window_s: int,
        max_series: int = MAX_SERIES,
    ) -> None:
        if window_s <= 0 or max_series <= 0:
            raise ValueError("window_s and max_series must be positive")
        self.config_for = config_for
        self.window_s = window_s
        self.max_series = max_series
        self.states: dict[SeriesKey, SeriesState] = {}
        self.dirty: set[SeriesKey] = set()
        self.evicted = 0

    # -- closing ---------------------------------------------------------
    def on_close(
        self, closed: Iterable[WindowCount], closed_from: int | None, closed_to: int
    ) -> list[Alert]:
        """Tumbling windows ending in ``(closed_from, closed_to]`` have closed: judge them.

        ``closed`` holds their non-zero counts; any other kind is ignored, as is
        a window a series has already seen (a replay).
        """
        ws = self.window_s
        last_start = (closed_to // ws) * ws - ws  # newest window now closed
        by_key: dict[SeriesKey, list[tuple[int, int]]] = {}
        for w in closed:
            if w.kind != TUMBLING or w.count <= 0 or w.end > closed_to:
                continue
            if closed_from is not None and w.end <= closed_from:
                continue
            by_key.setdefault((w.service, w.level), []).append((w.start, w.count))

        configs: dict[str, AnomalyConfig] = {}

        def config(service: str) -> AnomalyConfig:
            cfg = configs.get(service)
            if cfg is None:
                cfg = configs[service] = self.config_for(service)
            return cfg

        alerts: list[Alert] = []
        for key, counts in by_key.items():
            cfg = config(key[0])
            state = self.states.get(key)
            if state is None and not cfg.enabled:
                continue
            counts.sort()
            self._advance(key, state, cfg, counts, last_start, alerts)
        idle = [
            (key, state)
            for key, state in self.states.items()
            if key not in by_key and self._zeros_matter(state, config(key[0]))
        ]
        for key, state in idle:
            self._advance(key, state, config(key[0]), [], last_start, alerts)

        self._forget(last_start)
        alerts.sort(key=lambda a: (a.event_time, a.service, a.level, a.state))
        return alerts

    @staticmethod
    def _zeros_matter(state: SeriesState, cfg: AnomalyConfig) -> bool:
        """Could a zero window change this series' alert state (so it must advance now)?"""
        if state.incident.firing:
            return True
        if not cfg.enabled or cfg.direction == "up":
            return False
        # A drop needs mean >= min_count, and zeros only lower the mean.
        ring = state.ring
        return ring.total >= cfg.min_count * len(ring)

    def _advance(
        self,
        key: SeriesKey,
        state: SeriesState | None,
        cfg: AnomalyConfig,
        counts: list[tuple[int, int]],
        last_start: int,
        alerts: list[Alert],
    ) -> None:
        """Judge every window after ``state.last`` up to ``last_start``: counts, zeros between.

        A series found forgettable on the way (see :meth:`_zeros`) is dropped
        there and restarts fresh at its next count, exactly as if the windows
        had closed one call at a time.
        """
        ws = self.window_s
        st = state
        if st is not None and st.ring.size != cfg.window:
            st.ring = st.ring.resized(cfg.window)
        before = None if st is None else st.last
        for start, count in counts:
            if st is not None and st.last is not None:
                if start <= st.last:
                    continue  # already judged (a replay)
                if not self._zeros(key, st, cfg, st.last + ws, start, alerts):
                    st = None
            if st is None:
                st = SeriesState(Ring(cfg.window))
            self._step(key, st, cfg, start, count, alerts)
        if st is not None and st.last is not None:
            if not self._zeros(key, st, cfg, st.last + ws, last_start + ws, alerts):
                st = None
        if st is None:
            if state is not None:
                del self.states[key]
                self.dirty.add(key)
            return
        if st is not state:
            self.states[key] = st
        if st is not state or st.last != before:
            self.dirty.add(key)

    def _zeros(
        self,
        key: SeriesKey,
        state: SeriesState,
        cfg: AnomalyConfig,
        first: int,
        stop: int,
        alerts: list[Alert],
    ) -> bool:
        """Windows starting in ``[first, stop)`` had count 0; False: the series is forgotten.

        At most ``size + 1`` zeros are judged: after ``size`` the ring is all zero
        and the next zero has z = 0, resolving any incident, so the series is
        forgettable by then and nothing more could happen to it.
        """
        ws = self.window_s
        n = (stop - first) // ws
        for i in range(min(n, state.ring.size + 1)):
            start = first + i * ws
            self._step(key, state, cfg, start, 0, alerts)
            if self._forgettable(state, start):
                return False
        if n > 0:
            state.last = first + (n - 1) * ws
        return True

    def _forgettable(self, state: SeriesState, last_start: int) -> bool:
        """No open incident, and the last ``size`` windows up to ``last_start`` were all zero."""
        return (
            not state.incident.firing and state.seen <= last_start - state.ring.size * self.window_s
        )

    def _step(
        self,
        key: SeriesKey,
        state: SeriesState,
        cfg: AnomalyConfig,
        start: int,
        count: int,
        alerts: list[Alert],
    ) -> None:
        """Judge one closed window against the history before it, then add it."""
        ring = state.ring
        n = len(ring)
        end = float(start + self.window_s)  # the incident's clock (ids hash its repr)
        incident = state.incident
        verdict: State | None = None
        since = 0.0
        mean = std = z = 0.0
        if n:
            mean = ring.mean()
            std = max(ring.std(), cfg.std_floor)
            z = (count - mean) / std
            thr = cfg.z
            if incident.firing:
                if abs(z) < thr / 2:
                    since, verdict = incident.resolve(end), "resolved"
            elif (
                cfg.enabled
                and n >= cfg.min_windows
                and incident.can_fire(end, cfg.cooldown_s)
                and self._crosses(cfg, count, mean, z)
            ):
                since, verdict = incident.fire(end), "firing"
        ring.push(count)
        state.last = start
        if count > 0:
            state.seen = start
        if verdict is not None:
            alerts.append(
                self._alert(key, state, cfg, verdict, since, start, count, mean, std, z, n)
            )

    @staticmethod
    def _crosses(cfg: AnomalyConfig, count: int, mean: float, z: float) -> bool:
        up = z >= cfg.z and count >= cfg.min_count
        down = z <= -cfg.z and mean >= cfg.min_count
        if cfg.direction == "up":
            return up
        if cfg.direction == "down":
            return down
        return up or down

    def _alert(
        self,
        key: SeriesKey,
        state: SeriesState,
        cfg: AnomalyConfig,
        verdict: State,
        since: float,
        start: int,
        count: int,
        mean: float,
        std: float,
        z: float,
        n: int,
    ) -> Alert:
        service, level = key
        ws = self.window_s
        values = state.ring.values
        first = start - (len(values) - 1) * ws
        series = [{"start": first + i * ws, "count": c} for i, c in enumerate(values)]
        how = "baseline" if verdict == "firing" else "back within baseline"
        return make_alert(
            rule=RULE,
            kind=KIND,
            severity=cfg.severity,
            state=verdict,
            incident_start=since,
            service=service,
            level=level,
            window_start=start,
            window_end=start + ws,
            event_time=float(start + ws),
            observed=count,
            expected=mean,
            threshold=cfg.z,
            score=round(z, 2),
            summary=(
                f"{service}: {count} {level} in {span_text(ws)}, "
                f"{how} {mean:.1f} ± {std:.1f}, z={z:.1f}"
            ),
            extra={
                "series": series,
                # std is the one z divided by (floored at std_floor).
                "baseline": {"mean": mean, "std": std, "windows": n},
            },
        )

    def _forget(self, last_start: int) -> None:
        """Drop all-zero series without an incident; then keep at most ``max_series``."""
        quiet = [key for key, st in self.states.items() if self._forgettable(st, last_start)]
        for key in quiet:
            del self.states[key]
            self.dirty.add(key)
        excess = len(self.states) - self.max_series
        if excess > 0:
            victims = heapq.nsmallest(
                excess,
                self.states.items(),
                key=lambda kv: (kv[1].incident.firing, kv[1].seen, kv[0]),
            )
            for key, _ in victims:
                del self.states[key]
                self.dirty.add(key)
            self.evicted += excess

    # -- persistence -----------------------------------------------------
    def take_dirty(self) -> list[tuple[str, dict[str, Any] | None]]:
        """Changed series since the last call, as (subject key, state or None: deleted)."""
        dirty, self.dirty = self.dirty, set()
        out: list[tuple[str, dict[str, Any] | None]] = []
        for key in sorted(dirty):
            state = self.states.get(key)
            out.append((series_key(*key), state.to_dict() if state is not None else None))
        return out

    def restore(self, key: str, data: dict[str, Any]) -> None:
        service, _, level = key.rpartition(KEY_SEP)
        self.states[(service, level)] = SeriesState.from_dict(data)
