"""Everything logradar does with the events of one source partition.

A :class:`PartitionPipeline` owns the partition's windows and detectors. The
Faust agent (or the backtester) feeds it events in offset order, asks it to
close what the watermark has passed, sends what it returns, and persists the
records :meth:`PartitionPipeline.take_dirty` hands out. State records carry
the source offset they include, so a record replayed after a crash is
recognised and skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from math import floor
from typing import Any, Protocol

from logradar.alerts import Alert
from logradar.detectors.anomaly import AnomalyDetector
from logradar.detectors.burst import BurstDetector
from logradar.detectors.config import DetectorConfigs
from logradar.detectors.rate import NEVER, RateDetector
from logradar.model import LogEvent
from logradar.windows import (
    COUNTED,
    LATE,
    REPLAYED,
    TUMBLING,
    PartitionWindows,
    WindowCount,
    WindowSpec,
)

SEP = "\x1f"
_NO_LEVELS: frozenset[str] = frozenset()
META, WINDOW = "m", "w"
# Prefixes of each detector's state records (after "<tp>\x1f").
BURST, TEMPLATES, ANOMALY, RATE = "b", "t", "a", "r"


class Stateful(Protocol):
    def take_dirty(self) -> list[tuple[str, dict[str, Any] | None]]: ...
    def restore(self, key: str, data: dict[str, Any]) -> None: ...


__all__ = ["COUNTED", "LATE", "REPLAYED", "Closed", "PartitionPipeline"]


@dataclass(slots=True)
class Closed:
    """What closing windows produced: count records and alerts, in emission order."""

    counts: list[WindowCount] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)


class PartitionPipeline:
    """Windows and detectors of one source topic-partition (``tp`` names it, e.g. ``logs:3``)."""

    __slots__ = (
        "tp",
        "windows",
        "burst",
        "templates",
        "anomaly",
        "rate",
        "offset",
        "alerts",
        "_meta_dirty",
        "_parts",
        "_deleted",
        "_burst_levels",
    )

    def __init__(self, tp: str, spec: WindowSpec, detectors: DetectorConfigs) -> None:
        self.tp = tp
        self.windows = PartitionWindows(spec, tp)
        self.burst = BurstDetector(detectors.burst, spec.tumbling_s)
        self.templates = detectors.template_detector()
        self.anomaly = (
            AnomalyDetector(detectors.anomaly, spec.tumbling_s)
            if detectors.anomaly_enabled
            else None
        )
        self.rate = (
            RateDetector(detectors.rate, spec.tumbling_s) if detectors.rate_enabled else None
        )
        self._parts: dict[str, Stateful] = {BURST: self.burst}
        for prefix, part in (
            (TEMPLATES, self.templates),
            (ANOMALY, self.anomaly),
            (RATE, self.rate),
        ):
            if part is not None:
                self._parts[prefix] = part
        self.offset = -1
        self.alerts: list[Alert] = []
        self._meta_dirty = False
        self._deleted: list[str] = []
        self._burst_levels: dict[str, frozenset[str]] = {}  # service: levels its bursts count

    def is_replay(self, offset: int) -> bool:
        """True when the persisted state already includes the record at ``offset``."""
        return 0 <= offset <= self.offset

    def skip(self, offset: int) -> None:
        """Mark a record as handled without an event (a dead letter)."""
        if offset > self.offset:
            self.offset = offset
            self._meta_dirty = True

    def process(self, event: LogEvent, offset: int = -1) -> int:
        """Count one event; COUNTED, LATE or REPLAYED. Firing alerts collect in ``alerts``."""
        times: list[float] = []
        if self.process_many((event,), offset, {}, times):
            return LATE
        return COUNTED if times else REPLAYED

    def process_many(
        self,
        events: Iterable[LogEvent],
        offset: int,
        per_key: dict[tuple[str, str], int],
        times: list[float],
        counted: Callable[[LogEvent], None] | None = None,
    ) -> int:
        """Count the events of one source record (at ``offset``), in order.

        Tallies the events COUNTED in ``per_key`` by (service, level) and appends their
        times to ``times`` (not the events: a batch of OTLP records holds ~10^5, and
        keeping them alive to its end cost the OTLP worker a fifth of its speed, the
        garbage collector's passes most likely); returns how many were LATE. The rest were
        REPLAYED (their window records include them already). Firing alerts
        collect in ``alerts``. A replayed event still goes to the burst detector,
        whose record may not include it (the records of one batch can reach the
        changelog apart; the detector skips offsets it has) and to the rate detector
        (idempotent); only counted events are mined for templates. ``counted``, when
        given, is called with each counted event as soon as it is counted.
        """
        self.skip(offset)
        add = self.windows.add
        burst = self.burst
        burst_levels = self._burst_levels
        rate = self.rate
        newest = rate.newest if rate is not None else None
        templates = self.templates
        mined = templates.levels if templates is not None else _NO_LEVELS
        alerts = self.alerts
        late = 0
        for event in events:
            ts, service, level = event.ts, event.service, event.level
            status = add(ts, service, level, offset)
            if status == LATE:
                late += 1
                continue
            levels = burst_levels.get(service)
            if levels is None:
                cfg = burst.config_for(service)
                levels = burst_levels[service] = cfg.levels if cfg.enabled else _NO_LEVELS
            if level in levels:
                alert = burst.on_event(ts, service, level, event.message, offset)
                if alert is not None:
                    alerts.append(alert)
            if newest is not None and ts > newest.get(service, NEVER):  # rate.on_event, inline
                newest[service] = ts
            if status != COUNTED:
                continue
            if level in mined:
                alert = templates.on_event(event)  # type: ignore[union-attr]
                if alert is not None:
                    alerts.append(alert)
            key = (service, level)
            per_key[key] = per_key.get(key, 0) + 1
            times.append(ts)
            if counted is not None:
                counted(event)
        return late

    def close_due(self) -> Closed:
        """Close the windows the watermark has passed; hand out pending alerts."""
        before = self.windows.closed
        return self._closed(before, self.windows.close_due())

    def close_all(self) -> Closed:
        """Close every open window (the partition has been idle)."""
        before = self.windows.closed
        return self._closed(before, self.windows.close_all())

    def _closed(self, before: int | None, counts: list[WindowCount]) -> Closed:
        out = Closed(counts=counts)
        after = self.windows.closed
        if after is not None and after != before:
            self._meta_dirty = True
            out.alerts.extend(self.burst.on_close(before, after))
            if self.anomaly is not None or self.rate is not None:
                # Statistics judge complete windows only: an idle flush closes windows the
                # watermark never reached, and their emptiness says nothing about volume.
                wm = self.windows.watermark
                t = self.windows.spec.tumbling_s
                judged = after if wm is None else min(after, floor(wm / t) * t)
                lo = before if before is None or before <= judged else judged
                tumbling = [c for c in counts if c.kind == TUMBLING and c.end <= judged]
                if tumbling or judged != lo:
                    if self.anomaly is not None:
                        out.alerts.extend(self.anomaly.on_close(tumbling, lo, judged))
                    if self.rate is not None:
                        out.alerts.extend(self.rate.on_close(tumbling, lo, judged))
        if self.alerts:
            out.alerts[:0] = self.alerts
            self.alerts = []
        return out

    # -- persistence -----------------------------------------------------
    def take_dirty(self) -> list[tuple[str, dict[str, Any] | None]]:
        """State records changed since the last call: (table key, value or None to delete).

        The partition's meta record (watermark, closed boundary, source offset)
        comes last, so it reaches the changelog after the records it vouches for.
        A deletion is held back until the next call: until then the record keeps
        the state from before this batch, which is what a restart from the last
        meta record needs (a deleted record would lose the key's offset and
        closed boundary, and a replay would then emit its windows short).
        """
        tp = self.tp
        out: list[tuple[str, dict[str, Any] | None]] = []
        deleted: list[str] = []
        changed = [
            (SEP.join((tp, WINDOW, service, level)), value)
            for (service, level), value in self.windows.take_dirty()
        ]
        for prefix, part in self._parts.items():
            changed.extend((SEP.join((tp, prefix, k)), value) for k, value in part.take_dirty())
        for key, value in changed:
            if value is None:
                deleted.append(key)
            else:
                out.append((key, value))
        if self._deleted:
            written = {key for key, _ in out}
            out.extend((key, None) for key in self._deleted if key not in written)
        self._deleted = deleted
        if out or deleted or self._meta_dirty:
            meta = self.windows.meta()
            meta["o"] = self.offset
            out.append((SEP.join((tp, META)), meta))
            self._meta_dirty = False
        return out

    def owns(self, key: str) -> bool:
        return key.startswith(self.tp + SEP)

    def restore(self, items: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Rebuild state from persisted records (those of other partitions are ignored)."""
        prefix = self.tp + SEP
        for key, value in items:
            if value is None or not key.startswith(prefix):
                continue
            kind, _, rest = key[len(prefix) :].partition(SEP)
            if kind == META:
                self.windows.restore_meta(value)
                self.offset = int(value.get("o", -1))
            elif kind == WINDOW:
                service, _, level = rest.rpartition(SEP)
                self.windows.restore_key((service, level), value)
            elif kind in self._parts:
                self._parts[kind].restore(rest, value)

    def check_silence(self, now: float) -> list[Alert]:
        """Services of this partition silent for too long while time moved on to ``now``."""
        return [] if self.rate is None else self.rate.check_silence(now)

    def open_windows(self) -> int:
        return self.windows.open_windows()
