"""Event-time tumbling and hopping window counts for one source partition.

Every window is a sum of *step buckets* of width ``bucket_s`` (the gcd of the
tumbling size and the hopping step), so one event touches one counter however
many hopping windows contain it, and a key's state is a handful of integers.

Windows close on the partition's *watermark* (the newest event time it has
seen): a window ``[start, end)`` closes once ``watermark - grace >= end``.
Lateness is decided per event against that same horizon, so the output does
not depend on how records were batched, nor on the wall clock. Only
:meth:`PartitionWindows.close_all` (the idle flush) is driven from outside.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from math import floor, gcd
from typing import Any

TUMBLING = "tumbling"
HOPPING = "hopping"

# What happened to an event offered to PartitionWindows.add.
COUNTED, LATE, REPLAYED = 0, 1, 2


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """Window sizes in whole seconds, aligned to the Unix epoch."""

    tumbling_s: int = 60
    hop_size_s: int = 300
    hop_step_s: int = 60
    grace_s: float = 10.0

    def __post_init__(self) -> None:
        if min(self.tumbling_s, self.hop_size_s, self.hop_step_s) <= 0:
            raise ValueError("window sizes must be positive")
        if self.hop_size_s % self.hop_step_s:
            raise ValueError("the hopping size must be a multiple of its step")
        if self.grace_s < 0:
            raise ValueError("grace must not be negative")

    @property
    def bucket_s(self) -> int:
        return gcd(self.tumbling_s, self.hop_step_s)

    def tumbling_start(self, ts: float) -> int:
        return floor(ts / self.tumbling_s) * self.tumbling_s

    def hopping_starts(self, ts: float) -> list[int]:
        """Starts of every hopping window that contains ``ts``, oldest first."""
        last = floor(ts / self.hop_step_s) * self.hop_step_s
        first = last - self.hop_size_s + self.hop_step_s
        return list(range(first, last + 1, self.hop_step_s))


@dataclass(frozen=True, slots=True)
class WindowCount:
    """One closed window's count for one (service, level) in one source partition: a
    counts-topic record.

    ``source`` (``topic:partition``) is part of the identity: a service whose records
    are spread over several partitions gets one count from each, and those must not
    share an id (consumers deduplicate by it) or a key (the counts topic is compacted).
    """

    kind: str
    service: str
    level: str
    start: int
    end: int
    count: int
    source: str = ""

    @property
    def key(self) -> str:
        """The counts-topic record key: the same window of the same source, the same key."""
        return f"{self.kind}|{self.service}|{self.level}|{self.start}|{self.source}"

    @property
    def id(self) -> str:
        """Deterministic identity: the same window of the same source always has the same id."""
        raw = f"{self.kind}|{self.service}|{self.level}|{self.start}|{self.end}|{self.source}"
        return hashlib.blake2b(raw.encode(), digest_size=12).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "service": self.service,
            "level": self.level,
            "start": self.start,
            "end": self.end,
            "count": self.count,
            "source": self.source,
        }


@dataclass(slots=True)
class KeyBuckets:
    """Counts per step bucket of one (service, level), the last source offset in them, and
    the boundary through which this key's windows have been emitted.

    Each record is self-sufficient: restored from a changelog that ends at any
    record, a key never emits a window twice nor from buckets it already dropped.
    """

    buckets: dict[int, int] = field(default_factory=dict)
    offset: int = -1
    closed: int | None = None
    # The offset this state included when it was restored: a record at or below it is
    # a replay. Live records never compare against ``offset`` itself, because one
    # record (an OTLP or NDJSON batch) may carry several events of the same key.
    sealed: int = -1

    def to_dict(self) -> dict[str, Any]:
        return {"o": self.offset, "b": sorted(self.buckets.items()), "c": self.closed}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeyBuckets:
        closed = data.get("c")
        offset = int(data["o"])
        return cls(
            {int(b): int(c) for b, c in data["b"]},
            offset,
            None if closed is None else int(closed),
            offset,
        )


Key = tuple[str, str]


class PartitionWindows:
    """Open windows of one source partition, closed by its event-time watermark."""

    __slots__ = ("spec", "source", "keys", "watermark", "closed", "horizon", "late", "dirty", "_b")

    def __init__(self, spec: WindowSpec, source: str = "") -> None:
        self.spec = spec
        self.source = source  # topic:partition, named in the counts (WindowCount.source)
        self._b = spec.bucket_s
        self.keys: dict[Key, KeyBuckets] = {}
        self.watermark: float | None = None
        # Every window ending at or before ``closed`` has been emitted.
        self.closed: int | None = None
        # Events whose bucket ends at or before ``horizon`` are late.
        self.horizon: float = float("-inf")
        self.late = 0
        self.dirty: set[Key] = set()

    # -- per event -------------------------------------------------------
    def add(self, ts: float, service: str, level: str, offset: int = -1) -> int:
        """Count one event: COUNTED, LATE (its window already closed) or REPLAYED."""
        wm = self.watermark
        if wm is None or ts > wm:
            self.watermark = ts
            due = floor((ts - self.spec.grace_s) / self._b) * self._b
            if due > self.horizon:
                self.horizon = due
        b = self._b
        bucket = floor(ts / b) * b
        if bucket + b <= self.horizon:
            self.late += 1
            return LATE
        key = (service, level)
        state = self.keys.get(key)
        if state is None:
            state = self.keys[key] = KeyBuckets()
        elif 0 <= offset <= state.sealed:
            return REPLAYED
        buckets = state.buckets
        buckets[bucket] = buckets.get(bucket, 0) + 1
        if offset > state.offset:
            state.offset = offset
        self.dirty.add(key)
        return COUNTED

    # -- closing ---------------------------------------------------------
    @property
    def due(self) -> int | None:
        """The boundary up to which windows should be closed now (None: nothing seen)."""
        if self.watermark is None:
            return None
        return int(self.horizon)

    def close_due(self) -> list[WindowCount]:
        """Close every window that the watermark has passed (end + grace)."""
        due = self.due
        if due is None or (self.closed is not None and due <= self.closed):
            return []
        return self._close_until(due)

    def close_all(self) -> list[WindowCount]:
        """Close every open window now (the partition has been idle)."""
        if not self.keys:
            return []
        spec = self.spec
        newest = max(max(s.buckets) for s in self.keys.values() if s.buckets)
        until = max(
            self._ceil(newest + self._b, spec.tumbling_s),
            self._ceil(newest + self._b, spec.hop_step_s) + spec.hop_size_s - spec.hop_step_s,
        )
        self.horizon = max(self.horizon, until)
        return self._close_until(until)

    @staticmethod
    def _ceil(x: int, step: int) -> int:
        return -(-x // step) * step

    def _close_until(self, until: int) -> list[WindowCount]:
        """Emit each window with ``closed < end <= until``; drop buckets no open window needs."""
        spec = self.spec
        lo = self.closed if self.closed is not None else -(2**62)
        t, size, step = spec.tumbling_s, spec.hop_size_s, spec.hop_step_s
        out: list[WindowCount] = []
        source = self.source
        emptied: list[Key] = []
        for key, state in self.keys.items():
            acc: dict[tuple[str, int], int] = {}
            keep: dict[int, int] = {}
            klo = lo if state.closed is None or state.closed < lo else state.closed
            for bucket, count in state.buckets.items():
                t_end = (bucket // t) * t + t
                if klo < t_end <= until:
                    k = (TUMBLING, t_end)
                    acc[k] = acc.get(k, 0) + count
                h_last = (bucket // step) * step
                for start in range(h_last - size + step, h_last + 1, step):
                    h_end = start + size
                    if klo < h_end <= until:
                        k = (HOPPING, h_end)
                        acc[k] = acc.get(k, 0) + count
                if max(t_end, h_last + size) > until:
                    keep[bucket] = count
            if not acc:
                continue
            service, level = key
            for (kind, end), count in acc.items():
                width = t if kind == TUMBLING else size
                out.append(WindowCount(kind, service, level, end - width, end, count, source))
            state.closed = until
            self.dirty.add(key)
            if len(keep) != len(state.buckets):
                state.buckets = keep
                if not keep:
                    emptied.append(key)
        for key in emptied:
            del self.keys[key]
        self.closed = until
        out.sort(key=lambda w: (w.end, w.kind, w.service, w.level))
        return out

    # -- persistence -----------------------------------------------------
    def meta(self) -> dict[str, Any]:
        return {"wm": self.watermark, "c": self.closed, "h": self.horizon, "late": self.late}

    def restore_meta(self, data: dict[str, Any]) -> None:
        self.watermark = data.get("wm")
        self.closed = data.get("c")
        h = data.get("h")
        self.horizon = float("-inf") if h is None else float(h)
        self.late = int(data.get("late", 0))

    def take_dirty(self) -> Iterator[tuple[Key, dict[str, Any] | None]]:
        """Changed keys since the last call, with their state (None: deleted)."""
        dirty, self.dirty = self.dirty, set()
        for key in sorted(dirty):
            state = self.keys.get(key)
            yield key, (state.to_dict() if state is not None else None)

    def restore_key(self, key: Key, data: dict[str, Any]) -> None:
        self.keys[key] = KeyBuckets.from_dict(data)

    def open_windows(self) -> int:
        return sum(len(s.buckets) for s in self.keys.values())
