"""One alert lifecycle for every detector: firing -> resolved, cooldown, no double firing.

A detector keeps one :class:`Incident` per thing it watches (a service, a
(service, level) series, a pattern key). It asks :meth:`Incident.can_fire`
before firing, calls :meth:`Incident.fire` / :meth:`Incident.resolve`, and
builds the alert with :func:`make_alert`, whose id depends only on the rule,
the subject and the event time the incident started at, so a replay of the
same input produces the same ids. Hysteresis (a lower bar to resolve than to
fire) is the detector's business; the cooldown is here. Times are event
times, passed in, never read from a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from logradar.alerts import Alert, Evidence, State, alert_id


@dataclass(slots=True)
class Incident:
    """The alert state of one watched subject."""

    since: float | None = None  # event time the open incident fired at; None: not firing
    resolved_at: float | None = None  # event time the last incident resolved at

    @property
    def firing(self) -> bool:
        return self.since is not None

    def can_fire(self, now: float, cooldown_s: float) -> bool:
        """Not already firing, and out of the cooldown that follows a resolution."""
        if self.since is not None:
            return False
        return self.resolved_at is None or now - self.resolved_at >= cooldown_s

    def fire(self, now: float) -> float:
        """Open an incident at ``now``; returns its start (the id seed)."""
        self.since = now
        return now

    def resolve(self, now: float) -> float:
        """Close the open incident; returns the start it had (the id seed)."""
        since = self.since
        if since is None:
            raise ValueError("resolve() without an open incident")
        self.since = None
        self.resolved_at = now
        return since

    def to_dict(self) -> dict[str, Any]:
        return {"s": self.since, "r": self.resolved_at}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Incident:
        return cls(data.get("s"), data.get("r"))


def make_alert(
    *,
    rule: str,
    kind: str,
    severity: str,
    state: State,
    incident_start: float,
    service: str,
    level: str,
    window_start: int,
    window_end: int,
    event_time: float,
    observed: float,
    expected: float | None,
    threshold: float,
    score: float,
    summary: str,
    evidence: tuple[Evidence, ...] = (),
    subject: str = "",
    extra: dict[str, Any] | None = None,
) -> Alert:
    """An alert whose id is fixed by (rule, service, level, subject, incident start, state)."""
    return Alert(
        id=alert_id(rule, service, level, subject, float(incident_start), state),
        rule=rule,
        kind=kind,
        severity=severity,
        state=state,
        service=service,
        level=level,
        window_start=window_start,
        window_end=window_end,
        event_time=event_time,
        observed=observed,
        expected=expected,
        threshold=threshold,
        score=score,
        summary=summary,
        evidence=evidence,
        extra=dict(extra or {}),
    )
