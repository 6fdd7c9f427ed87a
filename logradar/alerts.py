"""The alert record every detector emits (the alerts-topic contract)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

State = Literal["firing", "resolved"]


def alert_id(*parts: object) -> str:
    """A deterministic id from the incident's identity, so replays can be deduplicated."""
    raw = "|".join(str(p) for p in parts)
    return hashlib.blake2b(raw.encode(), digest_size=12).hexdigest()


@dataclass(frozen=True, slots=True)
class Evidence:
    ts: float
    level: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"ts": self.ts, "level": self.level, "message": self.message}


@dataclass(frozen=True, slots=True)
class Alert:
    """One state change of one incident; ``detected_at`` is stamped when it is sent."""

    id: str
    rule: str
    kind: str
    severity: str
    state: State
    service: str
    level: str
    window_start: int
    window_end: int
    event_time: float
    observed: float
    expected: float | None
    threshold: float
    score: float
    summary: str
    evidence: tuple[Evidence, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, detected_at: float | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": self.id,
            "rule": self.rule,
            "kind": self.kind,
            "severity": self.severity,
            "state": self.state,
            "service": self.service,
            "level": self.level,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "event_time": self.event_time,
            "observed": self.observed,
            "expected": self.expected,
            "threshold": self.threshold,
            "score": self.score,
            "summary": self.summary,
            "evidence": [e.to_dict() for e in self.evidence[:5]],
            "detected_at": detected_at,
        }
        doc.update(self.extra)
        return doc
