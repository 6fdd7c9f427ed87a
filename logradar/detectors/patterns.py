"""Ordered sequence patterns per correlation key (complex event processing).

A :class:`PatternSpec` is a list of steps matched, in event-time order, by events
sharing one correlation value (``key: user`` -> ``event.attrs["user"]``;
``service`` and ``host`` name the event's own fields). Each step is a predicate
(service equality, level in a set, message substring, ``message_regex`` search,
attrs equality, all given ones must hold) repeated ``count`` times.

Semantics, all in event time (``event.ts``, the watermark given to :meth:`advance`):

* **Skip-till-next-match.** Events of the key that do not match the step being
  waited for are ignored; they neither advance nor break the partial match. One
  event advances a partial by at most one match.
* **One partial per (pattern, key) at a time.** While a partial is alive, an
  event matching only the first step is ignored. A partial is *dead* at time
  ``t`` once ``t`` is past its expiry, the earliest of: first event + pattern
  ``within``; last matched event + ``max_gap`` (the step's, else the
  pattern's); previous step's completion + the waited step's ``within`` (for
  the first step: its first event). Bounds are inclusive (an event exactly at
  the expiry still counts). An in-order event past the expiry discards the dead
  partial, and if it matches the first step it starts a new one (restart).
* **Completion** fires one alert (``state="firing"``) and resets the partial.
  Pattern alerts are instantaneous: there is no ``resolved`` alert. An
  :class:`Incident` per (pattern, key) is fired and resolved at once, so that a
  cooldown of the pattern's ``within`` suppresses repeats for the same key
  (counted in :attr:`PatternEngine.suppressed`).
* **Absent step** (last step only, with ``within``): once the steps before it
  complete at ``c``, the deadline is ``c + within``. An event of the same key
  matching the absent predicate with ``first <= ts < deadline`` discards the
  partial (no alert). The alert fires when :meth:`PatternEngine.advance` is
  called with ``now >= deadline``, or when a matching-service event of the key
  arrives with ``ts >= deadline`` (it proves the time has passed; it is then
  handled as a fresh event). The pattern's ``within`` bounds the positive
  steps; the absent wait counts from their completion.
* **Out-of-order events** (``ts`` before the partial's last event) are accepted
  when not before the partial's first event (they are then necessarily inside
  every bound); earlier ones are ignored for that partial. The partial's last
  time never moves backwards. Events are not checked against the watermark:
  the caller drops late events (as for the burst detector), and
  :meth:`PatternEngine.advance` frees partials whose expiry is before ``now``,
  so an event older than the watermark can no longer extend them.
* **Bounded.** At most ``max_partials`` subjects (a partial, or an incident in
  cooldown) are held; the least recently active one is evicted (counted in
  :attr:`PatternEngine.evicted`; an evicted absent partial never fires).
  Expired partials and incidents out of cooldown are freed by ``advance``.

Output is deterministic for the same sequence of ``on_event``/``advance``
calls: alert ids come from :func:`make_alert` (rule, service, level,
``key=value``, fire time), and alerts due in one ``advance`` are sorted by
(event time, pattern order, key value).
"""

from __future__ import annotations

import heapq
import math
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from logradar.alerts import Alert, Evidence
from logradar.detectors.lifecycle import Incident, make_alert
from logradar.model import LogEvent

KIND = "pattern"
EVIDENCE_MAX = 5
MESSAGE_MAX = 500
SEP = "\x1f"
_INF = math.inf


# --------------------------------------------------------------------------- helpers


def attr_text(value: Any) -> str:
    """An attr value as the text it is compared as: ``500`` -> ``"500"``, ``True`` -> ``"true"``."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def key_value(key: str, event: LogEvent) -> str | None:
    """The correlation value of ``event`` for ``key``; None (ignore the event) if missing/empty."""
    if key == "service":
        return event.service or None
    if key == "host":
        return event.host or None
    value = event.attrs.get(key)
    if value is None:
        return None
    return attr_text(value) or None


def format_span(seconds: float) -> str:
    """``41 s``, ``2 min``, ``1 h 5 min 30 s``: a duration for a summary."""
    if seconds < 60:
        return f"{round(seconds, 3):g} s"
    rest = round(seconds)
    parts: list[str] = []
    for unit, name in ((3600, "h"), (60, "min"), (1, "s")):
        if rest >= unit:
            parts.append(f"{rest // unit} {name}")
            rest %= unit
    return " ".join(parts)


def _evidence(event: LogEvent) -> Evidence:
    return Evidence(float(event.ts), str(event.level), event.message[:MESSAGE_MAX])


# --------------------------------------------------------------------------- specs


@dataclass(frozen=True, slots=True, kw_only=True)
class PredicateSpec:
    """Conditions on one event; all given ones must hold (none given: any event)."""

    service: str | None = None
    level: frozenset[str] | None = None  # upper-case level names
    message: str | None = None  # substring, case-sensitive
    message_regex: re.Pattern[str] | None = None  # re.search
    attrs: tuple[tuple[str, str], ...] = ()  # equality, values compared as text

    @classmethod
    def of(
        cls,
        *,
        service: str | None = None,
        level: Iterable[str] | None = None,
        message: str | None = None,
        message_regex: str | re.Pattern[str] | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> PredicateSpec:
        """A predicate from friendly values (a level list, a regex string, an attrs dict)."""
        return cls(**_predicate_fields(service, level, message, message_regex, attrs))

    def matches(self, event: LogEvent) -> bool:
        if self.service is not None and event.service != self.service:
            return False
        if self.level is not None and str(event.level) not in self.level:
            return False
        if self.message is not None and self.message not in event.message:
            return False
        if self.message_regex is not None and self.message_regex.search(event.message) is None:
            return False
        for name, want in self.attrs:
            got = event.attrs.get(name)
            if got is None or attr_text(got) != want:
                return False
        return True

    def describe(self) -> str:
        """A short human name: the message, else the regex, else the other conditions."""
        if self.message is not None:
            return self.message
        if self.message_regex is not None:
            return f"/{self.message_regex.pattern}/"
        parts: list[str] = []
        if self.service is not None:
            parts.append(self.service)
        if self.level is not None:
            parts.append("|".join(sorted(self.level)))
        parts.extend(f"{k}={v}" for k, v in self.attrs)
        return " ".join(parts) or "any event"


@dataclass(frozen=True, slots=True, kw_only=True)
class StepSpec(PredicateSpec):
    """One step: ``count`` events matching this predicate, or (last step) an ``absent`` one.

    ``within``: this step's events must come within ``within`` of the previous
    step's completion (first step: of its own first event); for an absent step,
    how long the absent event must not come. ``max_gap`` overrides the
    pattern's gap for the events of this step.
    """

    count: int = 1
    within: float | None = None
    max_gap: float | None = None
    absent: PredicateSpec | None = None

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"count must be >= 1, got {self.count}")
        for name in ("within", "max_gap"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if self.absent is not None and self.within is None:
            raise ValueError("an absent step needs within")

    @classmethod
    def of(
        cls,
        *,
        service: str | None = None,
        level: Iterable[str] | None = None,
        message: str | None = None,
        message_regex: str | re.Pattern[str] | None = None,
        attrs: Mapping[str, Any] | None = None,
        count: int = 1,
        within: float | None = None,
        max_gap: float | None = None,
        absent: PredicateSpec | None = None,
    ) -> StepSpec:
        return cls(
            **_predicate_fields(service, level, message, message_regex, attrs),
            count=count,
            within=within,
            max_gap=max_gap,
            absent=absent,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PatternSpec:
    """A sequence of steps by events sharing ``key``, complete within ``within`` seconds."""

    name: str
    severity: str = "medium"
    key: str
    within: float = 300.0
    max_gap: float | None = None
    steps: tuple[StepSpec, ...]

    def __post_init__(self) -> None:
        if not self.name or SEP in self.name:
            raise ValueError(f"bad pattern name {self.name!r}")
        if not self.key:
            raise ValueError(f"{self.name}: key must not be empty")
        if not self.within > 0 or (self.max_gap is not None and not self.max_gap > 0):
            raise ValueError(f"{self.name}: within and max_gap must be positive")
        if not self.steps or self.steps[0].absent is not None:
            raise ValueError(f"{self.name}: the first step must match events")
        if any(s.absent is not None for s in self.steps[:-1]):
            raise ValueError(f"{self.name}: only the last step may be an absent step")


def _predicate_fields(
    service: str | None,
    level: Iterable[str] | None,
    message: str | None,
    message_regex: str | re.Pattern[str] | None,
    attrs: Mapping[str, Any] | None,
) -> dict[str, Any]:
    if isinstance(level, str):
        level = [level]
    regex = message_regex
    if regex is not None and not isinstance(regex, re.Pattern):
        regex = re.compile(str(regex))
    return {
        "service": service,
        "level": None if level is None else frozenset(str(lv).upper() for lv in level),
        "message": message,
        "message_regex": regex,
        "attrs": tuple(sorted((str(k), attr_text(v)) for k, v in (attrs or {}).items())),
    }


def _predicate_from(rule: Any) -> dict[str, Any]:
    return _predicate_fields(
        getattr(rule, "service", None),
        getattr(rule, "level", None),
        getattr(rule, "message", None),
        getattr(rule, "message_regex", None),
        getattr(rule, "attrs", None),
    )


def pattern_from_rule(rule: Any) -> PatternSpec:
    """A :class:`PatternSpec` from a ``logradar.rules.Pattern``-shaped object (duck-typed)."""
    steps: list[StepSpec] = []
    for step in rule.steps:
        absent = getattr(step, "absent", None)
        max_gap = getattr(step, "max_gap", None)
        within = getattr(step, "within", None)
        steps.append(
            StepSpec(
                **_predicate_from(step),
                count=int(getattr(step, "count", 1) or 1),
                within=None if within is None else float(within),
                max_gap=None if max_gap is None else float(max_gap),
                absent=None if absent is None else PredicateSpec(**_predicate_from(absent)),
            )
        )
    max_gap = getattr(rule, "max_gap", None)
    return PatternSpec(
        name=str(rule.name),
        severity=str(getattr(rule, "severity", "medium")),
        key=str(rule.key),
        within=float(getattr(rule, "within", 300.0)),
        max_gap=None if max_gap is None else float(max_gap),
        steps=tuple(steps),
    )


@dataclass(frozen=True, slots=True)
class _Plan:
    """A pattern split for matching: the positive steps and the optional absent one."""

    spec: PatternSpec
    steps: tuple[StepSpec, ...]
    absent: StepSpec | None
    required: int
    chain: str

    @classmethod
    def of(cls, spec: PatternSpec) -> _Plan:
        last = spec.steps[-1]
        absent = last if last.absent is not None else None
        steps = spec.steps[:-1] if absent is not None else spec.steps
        chain = " -> ".join(s.describe() + (f" x{s.count}" if s.count > 1 else "") for s in steps)
        return cls(spec, steps, absent, sum(s.count for s in steps), chain)

    def expiry(self, p: Partial) -> float:
        """The last event time at which the waited step can still match (positive phase)."""
        step = self.steps[p.step]
        end = p.first + self.spec.within
        gap = step.max_gap if step.max_gap is not None else self.spec.max_gap
        if gap is not None:
            end = min(end, p.last + gap)
        if step.within is not None:
            end = min(end, p.step_ref + step.within)
        return end


# --------------------------------------------------------------------------- state


@dataclass(slots=True)
class Partial:
    """A match in progress: waiting for match ``count + 1`` of step ``step``.

    ``step == len(positive steps)`` with a ``deadline``: waiting for the absent event.
    """

    step: int
    count: int
    first: float
    last: float
    step_ref: float  # completion time of the previous step (first event for step 0)
    matched: int = 0
    service: str = ""  # of the last matched event
    level: str = ""
    evidence: list[Evidence] = field(default_factory=list)  # first + the latest, <= 5
    deadline: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "s": self.step,
            "c": self.count,
            "f": self.first,
            "l": self.last,
            "r": self.step_ref,
            "m": self.matched,
            "sv": self.service,
            "lv": self.level,
            "e": [[e.ts, e.level, e.message] for e in self.evidence],
            "d": self.deadline,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Partial:
        deadline = data.get("d")
        return cls(
            step=int(data["s"]),
            count=int(data["c"]),
            first=float(data["f"]),
            last=float(data["l"]),
            step_ref=float(data["r"]),
            matched=int(data.get("m", 0)),
            service=str(data.get("sv", "")),
            level=str(data.get("lv", "")),
            evidence=[Evidence(float(t), str(lv), str(m)) for t, lv, m in data.get("e", [])],
            deadline=None if deadline is None else float(deadline),
        )


@dataclass(slots=True)
class PatternState:
    """One (pattern, key value): its partial match and its incident (for the cooldown)."""

    partial: Partial | None = None
    incident: Incident | None = None
    qseq: int = -1  # the due-queue entry that is authoritative for this subject (not stored)
    qdue: float = _INF

    @property
    def empty(self) -> bool:
        return self.partial is None and self.incident is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "p": None if self.partial is None else self.partial.to_dict(),
            "i": None if self.incident is None else self.incident.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PatternState:
        p, i = data.get("p"), data.get("i")
        return cls(
            None if p is None else Partial.from_dict(p),
            None if i is None else Incident.from_dict(i),
        )


Subject = tuple[int, str]  # (pattern index, key value)


# --------------------------------------------------------------------------- the engine


class PatternEngine:
    """Sequence patterns over the events of one source partition (see the module doc)."""

    __slots__ = (
        "patterns",
        "max_partials",
        "states",
        "dirty",
        "evicted",
        "suppressed",
        "_plans",
        "_index",
        "_route",
        "_route_any",
        "_any_service",
        "_heap",
        "_seq",
    )

    def __init__(self, patterns: Sequence[PatternSpec], max_partials: int = 10_000) -> None:
        if max_partials < 1:
            raise ValueError(f"max_partials must be >= 1, got {max_partials}")
        self.patterns = tuple(patterns)
        self._index = {p.name: i for i, p in enumerate(self.patterns)}
        if len(self._index) != len(self.patterns):
            raise ValueError("pattern names must be unique")
        self.max_partials = max_partials
        self._plans = tuple(_Plan.of(p) for p in self.patterns)
        self.states: OrderedDict[Subject, PatternState] = OrderedDict()
        self.dirty: set[Subject] = set()
        self.evicted = 0
        self.suppressed = 0
        self._heap: list[tuple[float, int, int, str]] = []  # (due, seq, pattern, key value)
        self._seq = 0
        # Routing: which patterns an event of a service can concern.
        named: dict[int, set[str]] = {}
        wildcard: set[int] = set()
        for i, spec in enumerate(self.patterns):
            for step in spec.steps:
                pred: PredicateSpec = step if step.absent is None else step.absent
                if pred.service is None:
                    wildcard.add(i)
                else:
                    named.setdefault(i, set()).add(pred.service)
        services = {s for names in named.values() for s in names}
        self._route = {
            s: tuple(i for i in range(len(self.patterns)) if i in wildcard or s in named.get(i, ()))
            for s in services
        }
        self._route_any = tuple(sorted(wildcard))
        self._any_service = bool(wildcard)

    def __len__(self) -> int:
        """Subjects held (partials and incidents in cooldown)."""
        return len(self.states)

    def interested(self, event: LogEvent) -> bool:
        """Cheap prefilter: can ``event`` concern any pattern at all?"""
        return self._any_service or event.service in self._route

    # ----------------------------------------------------------------------- events

    def on_event(self, event: LogEvent) -> list[Alert]:
        """Feed one event; returns the alerts it completes (or proves due)."""
        alerts: list[Alert] = []
        for i in self._route.get(event.service, self._route_any):
            plan = self._plans[i]
            value = key_value(plan.spec.key, event)
            if value is None:
                continue
            alerts.extend(self._on_subject(i, plan, value, event))
        return alerts

    def _on_subject(self, i: int, plan: _Plan, value: str, event: LogEvent) -> list[Alert]:
        sk = (i, value)
        ts = float(event.ts)  # an int ts would give another alert id (str(1) != str(1.0))
        alerts: list[Alert] = []
        state = self.states.get(sk)
        p = None if state is None else state.partial
        if state is not None and p is not None:
            if p.deadline is not None:  # waiting for the absent event
                absent = plan.absent
                assert absent is not None and absent.absent is not None
                if ts >= p.deadline:  # the wait is over: settle it, then a fresh event
                    alert = self._fire(sk, plan, state, p, p.deadline, absent=True)
                    if alert is not None:
                        alerts.append(alert)
                    state.partial = None
                    self._touch(sk, state)
                elif ts >= p.first and absent.absent.matches(event):
                    state.partial = None  # it came in time: no alert
                    self._touch(sk, state)
                    return alerts
                else:
                    return alerts  # one partial at a time
            elif ts > plan.expiry(p):  # dead: discard, maybe restart below
                state.partial = None
                self._touch(sk, state)
            else:
                if ts < p.first or not plan.steps[p.step].matches(event):
                    return alerts  # skip-till-next-match; before the partial: ignored
                alert = self._accept(sk, plan, state, p, event)
                self._touch(sk, state)
                if alert is not None:
                    alerts.append(alert)
                return alerts
        if not plan.steps[0].matches(event):
            return alerts
        state = self.states.get(sk)  # _touch may have forgotten it
        if state is None:
            state = self._new_state(sk)
        p = state.partial = Partial(step=0, count=0, first=ts, last=ts, step_ref=ts)
        alert = self._accept(sk, plan, state, p, event)
        self._touch(sk, state)
        if alert is not None:
            alerts.append(alert)
        return alerts

    def _accept(
        self, sk: Subject, plan: _Plan, state: PatternState, p: Partial, event: LogEvent
    ) -> Alert | None:
        """Count ``event`` as the next match of the waited step; fire on completion."""
        step = plan.steps[p.step]
        ts = float(event.ts)
        p.count += 1
        p.matched += 1
        p.last = max(p.last, ts)
        p.service, p.level = event.service, str(event.level)
        p.evidence.append(_evidence(event))
        if len(p.evidence) > EVIDENCE_MAX:
            del p.evidence[1]  # keep the first and the latest
        if p.count < step.count:
            return None
        p.step += 1
        p.count = 0
        p.step_ref = p.last
        if p.step < len(plan.steps):
            return None
        if plan.absent is not None:
            assert plan.absent.within is not None
            p.deadline = p.step_ref + plan.absent.within
            return None
        state.partial = None
        return self._fire(sk, plan, state, p, ts, absent=False)

    # ----------------------------------------------------------------------- time

    def advance(self, now: float) -> list[Alert]:
        """The watermark reached ``now``: fire absent steps due, free what expired."""
        due: list[tuple[float, int, str, Alert]] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, seq, i, value = heapq.heappop(heap)
            sk = (i, value)
            state = self.states.get(sk)
            if state is None or state.qseq != seq:
                continue  # stale entry
            state.qseq, state.qdue = -1, _INF
            plan = self._plans[i]
            p = state.partial
            if p is not None:
                if p.deadline is not None:
                    if now >= p.deadline:
                        alert = self._fire(sk, plan, state, p, p.deadline, absent=True)
                        if alert is not None:
                            due.append((alert.event_time, i, value, alert))
                        state.partial = None
                        self.dirty.add(sk)
                elif now > plan.expiry(p):
                    state.partial = None
                    self.dirty.add(sk)
            self._forget_idle(sk, state, now)
            if sk in self.states:
                self._schedule(sk, state, now)
        due.sort(key=lambda d: (d[0], d[1], d[2]))
        return [d[3] for d in due]

    def _forget_idle(self, sk: Subject, state: PatternState, now: float) -> None:
        """Drop an incident out of cooldown and forget a subject with nothing left."""
        inc = state.incident
        if inc is not None and inc.can_fire(now, self._plans[sk[0]].spec.within):
            state.incident = None
            self.dirty.add(sk)
        if state.empty:
            del self.states[sk]
            self.dirty.add(sk)

    def _due(self, sk: Subject, state: PatternState) -> float | None:
        plan = self._plans[sk[0]]
        due = _INF
        p = state.partial
        if p is not None:
            due = p.deadline if p.deadline is not None else math.nextafter(plan.expiry(p), _INF)
        inc = state.incident
        if inc is not None and inc.resolved_at is not None:
            due = min(due, inc.resolved_at + plan.spec.within)
        return None if due == _INF else due

    def _schedule(self, sk: Subject, state: PatternState, now: float | None = None) -> None:
        """Keep a due-queue entry no later than the subject's next expiry or deadline."""
        due = self._due(sk, state)
        if due is None:
            return
        if now is not None and due <= now:
            due = math.nextafter(now, _INF)  # not actionable yet (rounding): look again later
        if state.qseq >= 0 and state.qdue <= due:
            return
        self._seq += 1
        state.qseq, state.qdue = self._seq, due
        heapq.heappush(self._heap, (due, self._seq, sk[0], sk[1]))
        if len(self._heap) > 2 * len(self.states) + 64:
            self._heap = [
                (s.qdue, s.qseq, k[0], k[1]) for k, s in self.states.items() if s.qseq >= 0
            ]
            heapq.heapify(self._heap)

    def _touch(self, sk: Subject, state: PatternState) -> None:
        self.dirty.add(sk)
        if state.empty:
            self.states.pop(sk, None)
            return
        self.states.move_to_end(sk)
        self._schedule(sk, state)

    def _new_state(self, sk: Subject) -> PatternState:
        while len(self.states) >= self.max_partials:
            old, _ = self.states.popitem(last=False)
            self.dirty.add(old)
            self.evicted += 1
        state = self.states[sk] = PatternState()
        return state

    # ----------------------------------------------------------------------- alerts

    def _fire(
        self,
        sk: Subject,
        plan: _Plan,
        state: PatternState,
        p: Partial,
        now: float,
        *,
        absent: bool,
    ) -> Alert | None:
        """A completed match: one instantaneous alert, unless the key is in cooldown."""
        now = float(now)
        inc = state.incident
        if inc is None:
            inc = state.incident = Incident()
        if not inc.can_fire(now, plan.spec.within):
            self.suppressed += 1
            return None
        start = inc.fire(now)
        inc.resolve(now)
        spec, value = plan.spec, sk[1]
        subject = f"{spec.key}={value}"
        if absent:
            step = plan.absent
            assert step is not None and step.absent is not None and step.within is not None
            summary = (
                f"{spec.name}: {subject} no '{step.absent.describe()}' within "
                f"{format_span(step.within)} after '{plan.steps[-1].describe()}'"
            )
            end = now
        else:
            summary = (
                f"{spec.name}: {subject} matched {p.matched} events in "
                f"{format_span(p.last - p.first)} ({plan.chain})"
            )
            end = p.last
        return make_alert(
            rule=spec.name,
            kind=KIND,
            severity=spec.severity,
            state="firing",
            incident_start=start,
            service=p.service,
            level=p.level,
            window_start=math.floor(p.first),
            window_end=math.ceil(end),
            event_time=now,
            observed=p.matched,
            expected=None,
            threshold=plan.required,
            score=1.0,
            summary=summary,
            evidence=tuple(p.evidence),
            subject=subject,
            extra={"key": spec.key, "key_value": value},
        )

    # ----------------------------------------------------------------------- persistence

    def take_dirty(self) -> list[tuple[str, dict[str, Any] | None]]:
        """Subjects changed since the last call, keyed ``<pattern>\\x1f<key>``; None: deleted."""
        dirty, self.dirty = self.dirty, set()
        out: list[tuple[str, dict[str, Any] | None]] = []
        for sk in dirty:
            state = self.states.get(sk)
            key = f"{self.patterns[sk[0]].name}{SEP}{sk[1]}"
            out.append((key, None if state is None else state.to_dict()))
        out.sort(key=lambda kv: kv[0])
        return out

    def restore(self, key: str, data: dict[str, Any]) -> None:
        """Load one stored subject; unknown patterns and shapes that no longer fit are dropped."""
        name, sep, value = key.partition(SEP)
        i = self._index.get(name)
        if i is None or not sep or not value:
            return
        plan = self._plans[i]
        state = PatternState.from_dict(data)
        p = state.partial
        if p is not None:
            n = len(plan.steps)
            waiting_absent = p.step == n and plan.absent is not None and p.deadline is not None
            positive = p.step < n and p.deadline is None
            if not (waiting_absent or positive):
                state.partial = None
        if state.empty:
            return
        sk = (i, value)
        self.states.pop(sk, None)
        fresh = self._new_state(sk)
        fresh.partial, fresh.incident = state.partial, state.incident
        self._schedule(sk, fresh)
