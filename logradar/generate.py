"""Deterministic synthetic logs: the test oracle, the benchmark load and the demo's traffic.

:func:`generate` is pure: a seeded :class:`random.Random` (never the global
one) and a start time given as an argument, so the same arguments always give
the same bytes. Every good record carries its :class:`Truth` (what a correct
parser must make of it) and every bad one the :class:`DeadReason` it must be
dead-lettered with; :func:`expected_counts` turns a list of records into the
window counts a correct worker must emit, and :func:`incidents` lists the
incidents a scenario injected (what a correct detector must report).

Scenarios (``scenario=``; the incident happens at event time
``start_ts + burst_at_s``, moved up to the next window boundary ``W``):

``steady``
    Random traffic: services picked with weights ``1/(i+1)``, levels mostly
    INFO/DEBUG, at most :data:`BASELINE_ERROR_CAP` ERROR+FATAL per (service,
    window). JSON records carry a random ``user`` (``u1``..``u4999``). No incident.
``error-burst``
    ``steady`` plus ``burst_size`` ERRORs of one service in one window.

Every other scenario runs on the *calm* baseline instead, built so that no
detector has a reason to fire outside the incident: the same service weights
and level mix, but dealt by smooth weighted round-robin rather than drawn, so
every (service, level) count per window is nearly constant (no random swings
for an anomaly or rate detector); at most :data:`BASELINE_ERROR_CAP`
ERROR+FATAL per (service, window); every service logs all the time; each
(service, level) cycles through its message templates in turn, so every
template is seen early. Generic records carry no ``user``; records with
attributes (``user``, ``order_id``) are JSON. Incident records *replace*
baseline records of the same service and level (the record is rewritten, the
slot stays), so they move no count except where the incident is a count:

``error-spike``  (kind ``anomaly``)
    In window ``W`` one service (default ``payments``) logs exactly
    :data:`SPIKE_ERRORS` ERROR+FATAL (8: above an anomaly rule's ``min_count``
    5, far above the baseline's <= 2, below a burst threshold of 10); its
    baseline errors in ``W`` become WARN and 8 INFO records become ERROR.
    Needs >= 15 windows of history before ``W``.
``traffic-drop``  (kind ``rate_drop``)
    One service (default ``inventory``) keeps only every
    :data:`DROP_KEEP_EVERY`-th record (5 %) for :data:`DROP_WINDOWS` windows
    from ``W``, then recovers. Never silent that long.
``silence``  (kind ``silence``)
    One service (default ``search``) logs nothing with event time in
    ``[W, W + SILENCE_S)`` (10 minutes), then resumes.
``brute-force``  (kind ``pattern``, rule ``brute_force_login``)
    Service ``auth``: baseline JSON records ``login failed``/``login
    succeeded`` for random users (``u1``..``u4999``, never two failures of one
    user within 300 s); at ``W + 5 s`` one other user fails
    :data:`BRUTE_FAILURES` times within 30-40 s, then logs in.
``order-without-payment``  (kind ``pattern``, rule ``order_without_payment``)
    ``checkout`` logs ``order created`` (attr ``order_id``) every 4-12 s and
    ``payments`` logs ``payment captured`` for the same ``order_id`` 5-30 s
    later, except the first order at or after ``W``, which is never paid. No
    orders in the last 120 s (their payment would be cut off).
``new-template``  (kind ``new_template``)
    One service (default ``inventory``) logs :data:`NEW_TEMPLATE_LINES` ERROR
    lines of a never-seen shape (``disk quota exceeded on volume /data/N for
    tenant t-N``) on its ERROR records from ``W``. Give it enough warm-up
    (>= 1000 WARN+ events per service; the incident's ``detail`` says how many).
``long-session``  (kind ``long_session``)
    JSON records with ``user`` on one service (default ``checkout``): a new
    user every 10-30 s is active for 1-4 minutes (an event every 5-30 s),
    then never again; one user is active from ``W`` for
    :data:`LONG_SESSION_S` (90 minutes), an event about every 10-40 s.
``all``
    Every incident above, in :data:`ALL_ORDER`, the k-th at
    ``start_ts + burst_at_s + k * ALL_SPACING_S`` (30 minutes apart), the first
    being an ``error-burst`` (kind ``burst``) on the calm baseline.
    ``burst_service`` then names the error-burst's service only.

:func:`scenario_defaults` gives each scenario a ``rate``, ``count`` and
``burst_at_s`` that fit it; the calm scenarios raise ValueError when the event
time (``count / rate``) is too short for their incident and a calm tail, or
when a service they need is missing.

Only :func:`live_generate` touches Kafka and the wall clock; it is the CLI's
face, not part of the engine.
"""

from __future__ import annotations

import functools
import heapq
import json
import math
import random
import string
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypedDict, TypeVar

from logradar.model import DeadReason, Level

if TYPE_CHECKING:
    from rich.status import Status

    from logradar.replay import ReplayStats

SERVICE_NAMES: tuple[str, ...] = (
    "checkout",
    "payments",
    "auth",
    "search",
    "inventory",
    "shipping",
    "notifications",
    "catalog",
    "cart",
    "gateway",
    "pricing",
    "reviews",
)
FORMATS: tuple[str, ...] = ("json", "logfmt", "bracketed", "syslog5424")
CALM_SCENARIOS: tuple[str, ...] = (
    "error-spike",
    "traffic-drop",
    "silence",
    "brute-force",
    "order-without-payment",
    "new-template",
    "long-session",
)
"""The scenarios that run on the calm baseline and inject one incident each."""
ALL_ORDER: tuple[str, ...] = ("error-burst", *CALM_SCENARIOS)
"""The incidents of ``all``, in event-time order."""
SCENARIOS: tuple[str, ...] = ("steady", "error-burst", *CALM_SCENARIOS, "all")

ALL_SPACING_S = 1800.0
"""Event time between two incidents of ``all``."""
SPIKE_ERRORS = 8
"""ERROR+FATAL events of the ``error-spike`` window."""
DROP_WINDOWS = 5
"""Windows of reduced traffic in ``traffic-drop``."""
DROP_KEEP_EVERY = 20
"""``traffic-drop`` keeps every N-th record of the service (5 %)."""
SILENCE_S = 600.0
"""How long the ``silence`` service logs nothing."""
BRUTE_FAILURES = 6
"""Failed logins of the ``brute-force`` user before its successful one."""
NEW_TEMPLATE_LINES = 4
"""Lines of the never-seen shape in ``new-template``."""
NEW_TEMPLATE = "disk quota exceeded on volume <*> for tenant <*>"
"""The ``new-template`` shape, variables masked."""
LONG_SESSION_S = 5400.0
"""How long the ``long-session`` user stays active."""
CALM_TAIL_S = 300.0
"""Calm event time the calm scenarios need after their incident."""

BASELINE_ERROR_CAP = 2
"""Most ERROR+FATAL events the baseline puts in one (service, tumbling window)."""

BAD_CYCLE: tuple[DeadReason, ...] = (
    DeadReason.INVALID_JSON,
    DeadReason.NOT_UTF8,
    DeadReason.EMPTY,
    DeadReason.NOT_OBJECT,
    DeadReason.BAD_TIMESTAMP,
    DeadReason.UNPARSED,
)
"""The order bad records cycle through (``bad_every``)."""

_SERVICE_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")

# Baseline level mix: mostly INFO/DEBUG, some WARN, few ERROR/FATAL (then capped).
_LEVELS: tuple[Level, ...] = (
    Level.TRACE,
    Level.DEBUG,
    Level.INFO,
    Level.WARN,
    Level.ERROR,
    Level.FATAL,
)
_LEVEL_WEIGHTS: tuple[float, ...] = (2.0, 22.0, 62.0, 11.0, 2.5, 0.5)

# How JSON records may spell a level (random case and the aliases parsers must know).
_JSON_LEVEL_SPELLINGS: dict[Level, tuple[str, ...]] = {
    Level.TRACE: ("trace", "TRACE", "Trace"),
    Level.DEBUG: ("debug", "DEBUG", "Debug"),
    Level.INFO: ("info", "INFO", "Info"),
    Level.WARN: ("warn", "WARN", "warning", "Warning", "WARNING"),
    Level.ERROR: ("error", "ERROR", "Error", "err"),
    Level.FATAL: ("fatal", "FATAL", "Fatal"),
}
_SYSLOG_SEVERITY: dict[Level, int] = {
    Level.FATAL: 2,
    Level.ERROR: 3,
    Level.WARN: 4,
    Level.INFO: 6,
    Level.DEBUG: 7,
}
_SYSLOG_FACILITY = 16  # local0

_PATHS = ("/api/cart", "/api/orders", "/api/login", "/api/search", "/api/items", "/healthz")
_MESSAGES: dict[Level, tuple[str, ...]] = {
    Level.TRACE: (
        "entering handler {path}",
        "span {n} started",
        "cache lookup key order:{n}",
    ),
    Level.DEBUG: (
        "cache miss for order {n}",
        "query plan chosen in {ms} ms",
        "retrying call to {peer} attempt 1",
        "loaded {n} rows from replica",
        "feature flag new-flow evaluated for user u{user}",
    ),
    Level.INFO: (
        "request completed GET {path} 200 in {ms} ms",
        "order {n} created for user u{user}",
        "user u{user} logged in",
        "processed batch of {n} items",
        "request completed POST {path} 201 in {ms} ms",
        "payment authorised for order {n}",
        "shipment {n} handed to carrier",
        "cache hit ratio {pct} percent",
    ),
    Level.WARN: (
        "slow response from {peer}: {ms} ms",
        "retrying request to {peer} after timeout",
        "connection pool at {pct} percent capacity",
        "deprecated endpoint {path} called by user u{user}",
        "rate limit close for user u{user}",
    ),
    Level.ERROR: (
        "payment failed for order {n}",
        "timeout calling {peer} after {ms} ms",
        "database connection refused on attempt {n}",
        "unhandled exception in handler {path}",
        "could not reserve stock for order {n}",
    ),
    Level.FATAL: (
        "out of memory: worker {n} exiting",
        "cannot open database: giving up after {n} attempts",
    ),
}


@dataclass(frozen=True, slots=True)
class Truth:
    """What a correct parser must make of a good record."""

    ts: float
    service: str
    level: Level
    late: bool = False


@dataclass(frozen=True, slots=True)
class Generated:
    """One synthetic Kafka record and what it must become.

    ``key`` is the service name (UTF-8) for good records and None for bad ones;
    ``value`` is one line without its newline. Exactly one of ``truth`` and
    ``bad_reason`` is set.
    """

    key: bytes | None
    value: bytes
    truth: Truth | None
    bad_reason: DeadReason | None


@dataclass(frozen=True, slots=True)
class Incident:
    """One injected incident: what a correct detector must report, once.

    ``kind`` names the detector (``burst``, ``anomaly``, ``rate_drop``,
    ``silence``, ``pattern``, ``new_template``, ``long_session``); ``start_ts``
    and ``end_ts`` bound the incident in event time (epoch seconds): the
    window(s) for count incidents (end exclusive), the silent interval, the
    first and last record of a pattern, template or session (equal for an
    order never paid). ``detail`` holds the rest (``rule`` and ``user`` or
    ``order_id`` for patterns, ``level`` and ``count`` for counts, ...).
    An ``error-burst`` window is also a statistical ERROR anomaly for its
    service; whether that is reported as well is the detectors' policy.
    """

    kind: str
    service: str
    start_ts: float
    end_ts: float
    detail: dict[str, Any] = field(default_factory=dict, hash=False)


class ScenarioDefaults(TypedDict, total=False):
    """Arguments that fit a scenario (:func:`scenario_defaults`)."""

    rate: float
    count: int
    burst_at_s: float


# rate, seconds of event time, incident time; the calm ones leave a calm tail.
_DEFAULTS: dict[str, tuple[float, float | None, float]] = {
    "steady": (200.0, None, 600.0),
    "error-burst": (200.0, None, 600.0),
    "error-spike": (50.0, 2400.0, 1200.0),
    "traffic-drop": (50.0, 2700.0, 1200.0),
    "silence": (50.0, 2700.0, 1200.0),
    "brute-force": (50.0, 1800.0, 900.0),
    "order-without-payment": (50.0, 1800.0, 900.0),
    "new-template": (50.0, 3600.0, 2400.0),
    "long-session": (50.0, 7200.0, 900.0),
    "all": (30.0, 21_600.0, 2400.0),
}


def scenario_defaults(name: str) -> ScenarioDefaults:
    """A ``rate``, ``count`` and ``burst_at_s`` that fit scenario ``name`` (5 services).

    ``steady`` and ``error-burst`` have no ``count`` (the caller decides how
    long); the others give enough event time for their incident, its warm-up
    (``new-template``: >= 1000 WARN+ events per service first) and a calm tail.
    """
    if name not in _DEFAULTS:
        raise ValueError(f"unknown scenario {name!r}; expected one of {SCENARIOS}")
    rate, seconds, burst_at_s = _DEFAULTS[name]
    out = ScenarioDefaults(rate=rate, burst_at_s=burst_at_s)
    if seconds is not None:
        out["count"] = math.ceil(seconds * rate)
    return out


def service_names(n: int) -> list[str]:
    """The first ``n`` service names: the fixed list, then ``svc-13``, ``svc-14``, ..."""
    if n <= 0:
        raise ValueError(f"need at least one service, got {n}")
    fixed = list(SERVICE_NAMES[:n])
    return fixed + [f"svc-{i + 1}" for i in range(len(fixed), n)]


def _services(services: Sequence[str] | int) -> list[str]:
    if isinstance(services, int):
        return service_names(services)
    names = list(services)
    if not names:
        raise ValueError("need at least one service")
    for name in names:
        if not name or not set(name) <= _SERVICE_NAME_CHARS:
            raise ValueError(f"service names must be [A-Za-z0-9._-]+, got {name!r}")
    return names


def _clock_text(ts_ms: int, style: str) -> str:
    """``ts_ms`` (epoch milliseconds) as UTC text: ``iso`` (2026-11-24T05:00:00.123Z)
    or ``log4j`` (2026-11-24 05:00:00,123, no zone: UTC)."""
    secs, ms = divmod(ts_ms, 1000)
    if style == "iso":
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{ms:03d}Z"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(secs)) + f",{ms:03d}"


_FIELD_RANGES: dict[str, tuple[int, int]] = {
    "n": (1, 100_000),
    "ms": (2, 5_000),
    "user": (1, 5_000),
    "pct": (1, 100),
}


@functools.cache
def _template_fields(template: str) -> tuple[str, ...]:
    return tuple(name for _, name, _, _ in string.Formatter().parse(template) if name)


class _Renderer:
    """Writes one good event in one of the formats, varying the spellings (seeded)."""

    def __init__(self, rng: random.Random, services: Sequence[str]) -> None:
        self.rng = rng
        self.peers = list(services) + ["postgres", "redis", "stripe-api"]

    def message(self, level: Level) -> str:
        return self.fill(self.rng.choice(_MESSAGES[level]))

    def fill(self, template: str) -> str:
        rng = self.rng
        return template.format(
            n=rng.randrange(1, 100_000),
            ms=rng.randrange(2, 5_000),
            user=rng.randrange(1, 5_000),
            pct=rng.randrange(1, 100),
            path=rng.choice(_PATHS),
            peer=rng.choice(self.peers),
        )

    def fill_needed(self, template: str) -> str:
        """Like :meth:`fill`, drawing only the fields ``template`` uses (the calm path)."""
        rnd = self.rng.random
        values: dict[str, object] = {}
        for name in _template_fields(template):
            if name == "path":
                values[name] = _PATHS[int(rnd() * len(_PATHS))]
            elif name == "peer":
                values[name] = self.peers[int(rnd() * len(self.peers))]
            else:
                low, high = _FIELD_RANGES[name]
                values[name] = low + int(rnd() * (high - low))
        return template.format_map(values)

    def render(
        self,
        fmt: str,
        ts_ms: int,
        service: str,
        level: Level,
        msg: str,
        attrs: dict[str, str] | None = None,
    ) -> bytes:
        """One line; a JSON record gets ``attrs`` (None: a random ``user``, as ``steady``)."""
        rng = self.rng
        host = f"web-{rng.randrange(1, 9)}"
        if fmt == "json":
            doc: dict[str, object] = {}
            ts_style = rng.randrange(3)
            if ts_style == 0:
                doc["ts"] = ts_ms / 1000
            elif ts_style == 1:
                doc["timestamp"] = _clock_text(ts_ms, "iso")
            else:
                doc["@timestamp"] = ts_ms
            level_key = "severity" if rng.random() < 0.25 else "level"
            doc[level_key] = rng.choice(_JSON_LEVEL_SPELLINGS[level])
            service_style = rng.randrange(4)
            if service_style == 2:
                doc["service"] = {"name": service}
            elif service_style == 3:
                doc["app"] = service
            else:
                doc["service"] = service
            doc["msg"] = msg
            doc["host"] = host
            if attrs is None:
                doc["user"] = f"u{rng.randrange(1, 5_000)}"
            else:
                doc.update(attrs)
            return json.dumps(doc).encode()
        if fmt == "logfmt":
            return (
                f"ts={_clock_text(ts_ms, 'iso')} level={level.value.lower()} "
                f'service={service} msg="{msg}" host={host}'
            ).encode()
        if fmt == "bracketed":
            style = "iso" if rng.random() < 0.5 else "log4j"
            return f"{_clock_text(ts_ms, style)} {level.value} [{service}] {msg}".encode()
        if fmt == "syslog5424":
            pri = 8 * _SYSLOG_FACILITY + _SYSLOG_SEVERITY[level]
            pid = rng.randrange(100, 32_768)
            return f"<{pri}>1 {_clock_text(ts_ms, 'iso')} {host} {service} {pid} - - {msg}".encode()
        raise ValueError(f"unknown format {fmt!r}")  # pragma: no cover - checked up front


def _bad_value(reason: DeadReason, variant: int, serial: int, service: str) -> bytes:
    """The raw bytes of a bad record of class ``reason`` (``variant``: how many came before)."""
    if reason is DeadReason.INVALID_JSON:
        return b'{"ts": 1700000000, "level": "info", "msg": '
    if reason is DeadReason.NOT_UTF8:
        return b"\xff\xfe\xfa log line \xc3\x28"
    if reason is DeadReason.EMPTY:
        return b""
    if reason is DeadReason.NOT_OBJECT:
        return (b"[1, 2, 3]", b'"just a string"', b"42")[variant % 3]
    if reason is DeadReason.BAD_TIMESTAMP:
        ts: object = "yesterday-ish" if variant % 2 == 0 else 946684799
        doc = {"ts": ts, "service": service, "level": "error", "msg": "clock went wrong"}
        return json.dumps(doc).encode()
    if reason is DeadReason.UNPARSED:
        return f"~~~ garbage line {serial} ~~~".encode()
    raise ValueError(f"no bad record of class {reason}")  # pragma: no cover


def _window_ms(ts_ms: int, window_ms: int) -> int:
    return (ts_ms // window_ms) * window_ms


def _burst_times(start_ts: float, burst_at_s: float, size: int, window_s: int) -> list[int]:
    """Epoch ms of the burst's events: ``size`` events spread over 20 s from 5 s into
    a tumbling window (the first such start at or after ``start_ts + burst_at_s``),
    so all of them fall in that one window."""
    window_ms = window_s * 1000
    anchor_ms = math.ceil((start_ts + burst_at_s) * 1000)
    offset_ms = min(5_000, window_ms // 4)
    spread_ms = min(20_000, window_ms - 2 * offset_ms)
    first = _window_ms(anchor_ms - offset_ms - 1, window_ms) + window_ms + offset_ms
    return [first + j * spread_ms // size for j in range(size)]


@dataclass(frozen=True, slots=True)
class _Args:
    """:func:`generate`'s arguments, checked."""

    start_ts: float
    rate: float
    count: int
    names: tuple[str, ...]
    seed: int
    scenario: str
    fmts: tuple[str, ...]
    disorder_s: float
    late_every: int
    late_by_s: float
    bad_every: int
    burst_service: str | None
    burst_at_s: float
    burst_size: int
    window_s: int

    def plan(self) -> list[tuple[str, float]]:
        """``(scenario, incident time)`` of every incident to inject, in time order."""
        at = self.start_ts + self.burst_at_s
        if self.scenario == "all":
            return [(name, at + k * ALL_SPACING_S) for k, name in enumerate(ALL_ORDER)]
        if self.scenario == "steady":
            return []
        return [(self.scenario, at)]

    def target(self, kind: str) -> str:
        """The service incident ``kind`` happens to."""
        if self.burst_service is not None and (self.scenario != "all" or kind == "error-burst"):
            return self.burst_service
        preferred = _PREFERRED_SERVICE.get(kind, self.names[0])
        return preferred if preferred in self.names else self.names[0]


_PREFERRED_SERVICE: dict[str, str] = {
    "error-spike": "payments",
    "traffic-drop": "inventory",
    "silence": "search",
    "new-template": "inventory",
    "long-session": "checkout",
}
_NEEDS_SERVICES: dict[str, tuple[str, ...]] = {
    "brute-force": ("auth",),
    "order-without-payment": ("checkout", "payments"),
}
_MIN_HISTORY_WINDOWS: dict[str, int] = {"error-spike": 15, "traffic-drop": 10, "silence": 10}


def _span_s(kind: str, window_s: int) -> float:
    """Event time incident ``kind`` needs after its nominal time (before the calm tail)."""
    w = float(window_s)
    spans = {
        "error-burst": 2 * w,
        "error-spike": 2 * w,
        "traffic-drop": (DROP_WINDOWS + 1) * w,
        "silence": w + SILENCE_S,
        "brute-force": w + 90.0,
        "order-without-payment": w + 150.0,
        "new-template": 6 * w,
        "long-session": w + LONG_SESSION_S + 60.0,
    }
    return spans[kind]


def _arguments(
    *,
    start_ts: float,
    rate: float,
    count: int,
    services: Sequence[str] | int,
    seed: int,
    scenario: str,
    formats: Sequence[str],
    disorder_s: float,
    late_every: int,
    late_by_s: float,
    bad_every: int,
    burst_service: str | None,
    burst_at_s: float,
    burst_size: int,
    window_s: int,
) -> _Args:
    if rate <= 0:
        raise ValueError(f"rate must be > 0, got {rate}")
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; expected one of {SCENARIOS}")
    fmts = tuple(formats)
    if not fmts or not set(fmts) <= set(FORMATS):
        raise ValueError(f"formats must be a non-empty subset of {FORMATS}, got {fmts}")
    if disorder_s < 0 or late_by_s < 0:
        raise ValueError("disorder_s and late_by_s must be >= 0")
    if late_every < 0 or bad_every < 0 or burst_size < 0:
        raise ValueError("late_every, bad_every and burst_size must be >= 0")
    if window_s <= 0:
        raise ValueError(f"window_s must be > 0, got {window_s}")
    names = _services(services)
    if burst_service is not None:
        _services([burst_service])
    args = _Args(
        start_ts=start_ts,
        rate=rate,
        count=count,
        names=tuple(names),
        seed=seed,
        scenario=scenario,
        fmts=fmts,
        disorder_s=disorder_s,
        late_every=late_every,
        late_by_s=late_by_s,
        bad_every=bad_every,
        burst_service=burst_service,
        burst_at_s=burst_at_s,
        burst_size=burst_size,
        window_s=window_s,
    )
    if scenario in ("steady", "error-burst"):
        return args
    # The calm scenarios: the incident must fit, with its history and a calm tail.
    if burst_service is not None and burst_service not in names:
        raise ValueError(f"burst_service {burst_service!r} is not one of the services {names}")
    if burst_at_s < 0:
        raise ValueError(f"burst_at_s must be >= 0, got {burst_at_s}")
    seconds = count / rate
    for kind, at in args.plan():
        for needed in _NEEDS_SERVICES.get(kind, ()):
            if needed not in names:
                raise ValueError(f"scenario {kind} needs a service named {needed!r}, got {names}")
        history = _MIN_HISTORY_WINDOWS.get(kind, 0) * window_s
        if at - start_ts < history:
            raise ValueError(
                f"scenario {kind} needs {history:g} s of history before its incident, "
                f"got burst_at_s={at - start_ts:g}"
            )
        need = at - start_ts + _span_s(kind, window_s) + CALM_TAIL_S
        if seconds < need:
            raise ValueError(
                f"scenario {scenario} needs >= {need:g} s of event time "
                f"(count >= {math.ceil(need * rate)} at rate {rate:g}/s), got {seconds:g} s"
            )
    return args


def generate(
    *,
    start_ts: float,
    rate: float,
    count: int,
    services: Sequence[str] | int = 5,
    seed: int = 0,
    scenario: str = "steady",
    formats: Sequence[str] = FORMATS,
    disorder_s: float = 0.0,
    late_every: int = 0,
    late_by_s: float = 900.0,
    bad_every: int = 0,
    burst_service: str | None = None,
    burst_at_s: float = 600.0,
    burst_size: int = 30,
    window_s: int = 60,
    incidents_out: list[Incident] | None = None,
) -> Iterator[Generated]:
    """Yield ``count`` baseline records (plus ``burst_size`` burst records for ``error-burst``).

    Record ``i`` (0-based) of the baseline has event time ``start_ts + i / rate``,
    minus a uniform jitter in ``[0, disorder_s)``; every ``late_every``-th good
    record is instead ``late_by_s`` in the past (``truth.late``); every
    ``bad_every``-th record is a bad one, cycling through :data:`BAD_CYCLE`.
    Timestamps have millisecond precision and ``truth.ts`` is exactly the value
    written. The baseline never puts more than :data:`BASELINE_ERROR_CAP`
    ERROR+FATAL events in one (service, ``window_s`` tumbling window); extra
    ones become WARN.

    ``error-burst`` adds ``burst_size`` ERROR events for ``burst_service``
    (default: the first service), spread over 20 s from 5 s into a tumbling
    window (the first such point at or after ``start_ts + burst_at_s``),
    interleaved with the baseline in event-time order (appended at the end if
    the baseline stops earlier). The baseline has no ERROR/FATAL for that
    service in that window, so the window holds exactly ``burst_size`` of them.

    The other scenarios (module docstring) run on the calm baseline; their
    incident records replace baseline ones (``traffic-drop`` and ``silence``
    leave records out), so they yield ``count`` records or fewer, plus the
    burst of ``all``. ``burst_service`` names the incident's service; only
    :data:`ALL_ORDER`'s error-burst in ``all``. Late and bad records never
    carry an incident. Arguments are checked before the first record: a
    ValueError then, or (calm scenarios, a rate too low to place the incident
    as described) while iterating.

    ``incidents_out``, when given, is extended with the injected
    :class:`Incident` s (:func:`incidents`) once the records are exhausted.
    """
    args = _arguments(
        start_ts=start_ts,
        rate=rate,
        count=count,
        services=services,
        seed=seed,
        scenario=scenario,
        formats=formats,
        disorder_s=disorder_s,
        late_every=late_every,
        late_by_s=late_by_s,
        bad_every=bad_every,
        burst_service=burst_service,
        burst_at_s=burst_at_s,
        burst_size=burst_size,
        window_s=window_s,
    )
    found: list[Incident] = []
    if scenario in ("steady", "error-burst"):
        if scenario == "error-burst" and burst_size > 0:
            at = start_ts + burst_at_s
            found.append(_burst_incident(args.target(scenario), at, burst_size, window_s))
        records = _classic(args)
    else:
        calm = _Calm(args)
        found = calm.found
        records = calm.records()
    if incidents_out is None:
        return records
    return _reporting(records, found, incidents_out)


def _reporting(
    records: Iterator[Generated], found: list[Incident], out: list[Incident]
) -> Iterator[Generated]:
    yield from records
    out.extend(found)


def incidents(
    *,
    start_ts: float,
    rate: float,
    count: int,
    services: Sequence[str] | int = 5,
    seed: int = 0,
    scenario: str = "steady",
    formats: Sequence[str] = FORMATS,
    disorder_s: float = 0.0,
    late_every: int = 0,
    late_by_s: float = 900.0,
    bad_every: int = 0,
    burst_service: str | None = None,
    burst_at_s: float = 600.0,
    burst_size: int = 30,
    window_s: int = 60,
) -> list[Incident]:
    """The incidents :func:`generate` injects with the same arguments, in event-time order.

    ``steady`` has none, ``error-burst`` one (none when ``burst_size`` is 0).
    This runs the generator to the end (the incidents' exact times depend on
    the records), so it costs what ``generate`` costs; to have both in one
    pass, give ``generate`` an ``incidents_out`` list.
    """
    found: list[Incident] = []
    records = generate(
        start_ts=start_ts,
        rate=rate,
        count=count,
        services=services,
        seed=seed,
        scenario=scenario,
        formats=formats,
        disorder_s=disorder_s,
        late_every=late_every,
        late_by_s=late_by_s,
        bad_every=bad_every,
        burst_service=burst_service,
        burst_at_s=burst_at_s,
        burst_size=burst_size,
        window_s=window_s,
        incidents_out=found,
    )
    for _ in records:
        pass
    return found


def _burst_incident(service: str, at: float, size: int, window_s: int) -> Incident:
    first = _burst_times(at, 0.0, size, window_s)[0]
    start = _window_ms(first, window_s * 1000) / 1000
    detail = {"level": Level.ERROR.value, "count": size}
    return Incident("burst", service, start, start + window_s, detail)


def _classic(args: _Args) -> Iterator[Generated]:
    """``steady`` and ``error-burst``: random traffic (byte for byte as it always was)."""
    start_ts, rate, count, seed = args.start_ts, args.rate, args.count, args.seed
    names, fmts, scenario, window_s = list(args.names), args.fmts, args.scenario, args.window_s
    disorder_s, late_every, late_by_s = args.disorder_s, args.late_every, args.late_by_s
    bad_every, burst_service = args.bad_every, args.burst_service
    burst_at_s, burst_size = args.burst_at_s, args.burst_size

    # A seeded generator of our own: deterministic, and not a security use.
    rng = random.Random(seed)  # noqa: S311
    render = _Renderer(rng, names)
    service_weights = [1.0 / (i + 1) for i in range(len(names))]
    window_ms = window_s * 1000
    late_by_ms = round(late_by_s * 1000)
    disorder_ms = disorder_s * 1000

    # Baseline ERROR+FATAL count per (service, window start ms); bounded by pruning
    # windows no event can reach any more (older than the latest jitter or lateness).
    errors: dict[tuple[str, int], int] = {}
    horizon_ms = math.ceil(disorder_ms) + (late_by_ms if late_every > 0 else 0) + window_ms
    pruned_below = 0

    burst: deque[int] = deque()
    burst_svc = burst_service or names[0]
    if scenario == "error-burst" and burst_size > 0:
        burst.extend(_burst_times(start_ts, burst_at_s, burst_size, window_s))
        errors[(burst_svc, _window_ms(burst[0], window_ms))] = BASELINE_ERROR_CAP

    def burst_record(ts_ms: int) -> Generated:
        fmt = rng.choice(fmts)
        value = render.render(fmt, ts_ms, burst_svc, Level.ERROR, render.message(Level.ERROR))
        truth = Truth(ts_ms / 1000, burst_svc, Level.ERROR)
        return Generated(burst_svc.encode(), value, truth, None)

    good_no = 0
    bad_no = 0
    variants: dict[DeadReason, int] = {}
    for i in range(count):
        base_ms = round((start_ts + i / rate) * 1000)
        while burst and burst[0] <= base_ms:
            yield burst_record(burst.popleft())

        if bad_every > 0 and (i + 1) % bad_every == 0:
            reason = BAD_CYCLE[bad_no % len(BAD_CYCLE)]
            variant = variants.get(reason, 0)
            variants[reason] = variant + 1
            bad_no += 1
            service = rng.choices(names, service_weights)[0]
            yield Generated(None, _bad_value(reason, variant, bad_no, service), None, reason)
            continue

        good_no += 1
        late = late_every > 0 and good_no % late_every == 0
        if late:
            ts_ms = base_ms - late_by_ms
        elif disorder_ms > 0:
            ts_ms = base_ms - math.floor(rng.random() * disorder_ms)
        else:
            ts_ms = base_ms
        service = rng.choices(names, service_weights)[0]
        level = rng.choices(_LEVELS, _LEVEL_WEIGHTS)[0]
        fmt = rng.choice(fmts)
        if fmt == "syslog5424" and level is Level.TRACE:
            level = Level.DEBUG  # syslog has no TRACE severity
        if level is Level.ERROR or level is Level.FATAL:
            cell = (service, _window_ms(ts_ms, window_ms))
            seen = errors.get(cell, 0)
            if seen >= BASELINE_ERROR_CAP:
                level = Level.WARN
            else:
                errors[cell] = seen + 1
        value = render.render(fmt, ts_ms, service, level, render.message(level))
        yield Generated(service.encode(), value, Truth(ts_ms / 1000, service, level, late), None)

        if base_ms - pruned_below > horizon_ms + window_ms:
            pruned_below = base_ms - horizon_ms
            for cell in [c for c in errors if c[1] + window_ms < pruned_below]:
                del errors[cell]

    while burst:
        yield burst_record(burst.popleft())


# ---------------------------------------------------------------- the calm baseline

# ERROR here stands for an error slot: ERROR, or FATAL one time in _FATAL_EVERY,
# or WARN once the (service, window) has BASELINE_ERROR_CAP of them.
_CALM_LEVELS: tuple[Level, ...] = (Level.TRACE, Level.DEBUG, Level.INFO, Level.WARN, Level.ERROR)
_CALM_LEVEL_WEIGHTS: tuple[int, ...] = (2, 22, 62, 11, 3)
_FATAL_EVERY = 6
_WARN_PLUS = frozenset({Level.WARN, Level.ERROR, Level.FATAL})
_NEVER = 2**62

_T = TypeVar("_T")


class _RoundRobin(Generic[_T]):
    """Smooth weighted round-robin (nginx's upstream choice): every stretch of the
    sequence holds each item in proportion to its weight, give or take one.
    The sequence repeats every ``sum(weights)`` picks; a short one is dealt once
    and then replayed."""

    __slots__ = ("items", "weights", "total", "current", "cycle", "i")

    def __init__(self, items: Sequence[_T], weights: Sequence[int]) -> None:
        self.items = tuple(items)
        self.weights = tuple(weights)
        self.total = sum(self.weights)
        self.current = [0] * len(self.items)
        self.cycle: list[_T] = []
        self.i = 0
        if self.total * len(self.items) <= 1_000_000:
            self.cycle = [self._deal() for _ in range(self.total)]

    def _deal(self) -> _T:
        current = self.current
        best = 0
        for k, weight in enumerate(self.weights):
            current[k] += weight
            if current[k] > current[best]:
                best = k
        current[best] -= self.total
        return self.items[best]

    def next(self) -> _T:
        if not self.cycle:
            return self._deal()
        i = self.i
        self.i = i + 1 if i + 1 < self.total else 0
        return self.cycle[i]


@dataclass(slots=True)
class _Overlay:
    """What to write over the first good, non-late baseline record of a (service,
    level) at or after the due time; ``until_ms``: a session's end or an order's time."""

    kind: str
    user: str = ""
    order_id: str = ""
    until_ms: int = 0


@dataclass(slots=True)
class _Span:
    """A (service, event-time range) an incident changes; ``counts`` per window start."""

    service: str
    start_ms: int
    end_ms: int
    counts: dict[int, int] = field(default_factory=dict)
    seen: int = 0


@dataclass(slots=True)
class _Trail:
    """The records one incident wrote (times in ms), and what to report about them."""

    service: str
    user: str = ""
    times: list[int] = field(default_factory=list)
    warm: int = 0


class _Calm:
    """The calm baseline and the planned incidents; :attr:`found` fills while iterating."""

    def __init__(self, a: _Args) -> None:
        self.a = a
        # A seeded generator of our own: deterministic, and not a security use.
        self.rng = random.Random(a.seed)  # noqa: S311
        self.render = _Renderer(self.rng, a.names)
        self.window_ms = a.window_s * 1000
        self.end_ms = round((a.start_ts + max(a.count - 1, 0) / a.rate) * 1000)
        weights = [max(1, round(2520 / (i + 1))) for i in range(len(a.names))]
        self.services = _RoundRobin(a.names, weights)
        self.levels = {s: _RoundRobin(_CALM_LEVELS, _CALM_LEVEL_WEIGHTS) for s in a.names}
        self.trace_fmts = tuple(f for f in a.fmts if f != "syslog5424")
        self.errors: dict[tuple[str, int], int] = {}
        self.error_no: dict[str, int] = {}
        self.message_no: dict[tuple[str, Level], int] = {}
        self.pending: dict[tuple[str, Level], list[tuple[int, int, _Overlay]]] = {}
        self.serial = 0
        self.warn_plus = dict.fromkeys(a.names, 0)
        self.found: list[Incident] = []

        self.burst: deque[int] = deque()
        self.burst_service = ""
        self.spike: _Span | None = None
        self.drop: _Span | None = None
        self.silence: _Span | None = None
        self.attack: _Trail | None = None
        self.template: _Trail | None = None
        self.long: _Trail | None = None
        self.unpaid_from: int | None = None
        self.unpaid: str | None = None
        self.session_service = a.target("long-session")
        self.recent_failures: deque[tuple[int, str]] = deque()
        self.recent_failed: set[str] = set()
        self.next_login: int | None = None
        self.next_order: int | None = None
        self.next_session: int | None = None
        self.order_no = 0
        self.session_no = 0
        for kind, at in a.plan():
            self._schedule(kind, at)
        self._next_feed()

    # ------------------------------------------------------------ planning

    def _ms(self, low_s: float, high_s: float) -> int:
        return round(self.rng.uniform(low_s, high_s) * 1000)

    def _push(self, kind: str, service: str, level: Level, due_ms: int, **kw: Any) -> None:
        self.serial += 1
        entry = (due_ms, self.serial, _Overlay(kind, **kw))
        heapq.heappush(self.pending.setdefault((service, level), []), entry)

    def _schedule(self, kind: str, at: float) -> None:
        a, wms = self.a, self.window_ms
        start = self.a.start_ts * 1000
        w = math.ceil(at * 1000 / wms) * wms  # the first window boundary at or after `at`
        if kind == "error-burst":
            if a.burst_size > 0:
                self.burst_service = a.target(kind)
                self.burst.extend(_burst_times(at, 0.0, a.burst_size, a.window_s))
                cell = (self.burst_service, _window_ms(self.burst[0], wms))
                self.errors[cell] = BASELINE_ERROR_CAP
                self.found.append(_burst_incident(self.burst_service, at, a.burst_size, a.window_s))
        elif kind == "error-spike":
            self.spike = _Span(a.target(kind), w, w + wms)
            self.errors[(self.spike.service, w)] = BASELINE_ERROR_CAP
            offset = min(5_000, wms // 4)
            spread = min(40_000, wms - 2 * offset)
            for j in range(SPIKE_ERRORS):
                due = w + offset + j * spread // SPIKE_ERRORS
                self._push("spike", self.spike.service, Level.INFO, due)
        elif kind == "traffic-drop":
            self.drop = _Span(a.target(kind), w, w + DROP_WINDOWS * wms)
        elif kind == "silence":
            self.silence = _Span(a.target(kind), w, w + round(SILENCE_S * 1000))
        elif kind == "brute-force":
            self.next_login = round(start) + self._ms(2, 20)
            self.attack = _Trail("auth", user=f"u{self.rng.randrange(5_000, 7_500)}")
            for j in range(BRUTE_FAILURES):
                due = w + 5_000 + j * 6_000
                self._push("attack_failed", "auth", Level.WARN, due, user=self.attack.user)
        elif kind == "order-without-payment":
            self.next_order = round(start) + self._ms(1, 10)
            self.unpaid_from = w
        elif kind == "new-template":
            self.template = _Trail(a.target(kind))
            for j in range(NEW_TEMPLATE_LINES):
                self._push("template", self.template.service, Level.ERROR, w + j * 15_000)
        elif kind == "long-session":
            self.next_session = round(start) + self._ms(0, 10)
            self.long = _Trail(self.session_service, user=f"u{self.rng.randrange(7_500, 10_000)}")
            until = w + round(LONG_SESSION_S * 1000)
            self._push("long", self.session_service, Level.INFO, w, until_ms=until)
        else:  # pragma: no cover - SCENARIOS is checked up front
            raise ValueError(f"no incident {kind!r}")

    def _next_feed(self) -> None:
        times = [t for t in (self.next_login, self.next_order, self.next_session) if t is not None]
        self.next_feed_ms = min(times, default=_NEVER)

    def _feed(self, now_ms: int) -> None:
        """Start the background activity due by ``now_ms``: logins, orders, sessions."""
        while self.next_login is not None and self.next_login <= now_ms:
            due = self.next_login
            failed = self.rng.random() < 0.3
            user = self._login_user(due, failed)
            if failed:
                self._push("login_failed", "auth", Level.WARN, due, user=user)
            else:
                self._push("login_ok", "auth", Level.INFO, due, user=user)
            self.next_login = due + self._ms(5, 30)
        while self.next_order is not None and self.next_order <= now_ms:
            due = self.next_order
            if due > self.end_ms - 120_000:  # its payment could fall off the end
                self.next_order = None
                break
            self.order_no += 1
            order_id = f"ord-{self.order_no:06d}"
            self._push("order", "checkout", Level.INFO, due, order_id=order_id)
            self.next_order = due + self._ms(4, 12)
        while self.next_session is not None and self.next_session <= now_ms:
            due = self.next_session
            self.session_no += 1
            user = f"u{10_000 + self.session_no}"  # never seen again after this session
            until = due + self._ms(60, 240)
            self._push("session", self.session_service, Level.INFO, due, user=user, until_ms=until)
            self.next_session = due + self._ms(10, 30)
        self._next_feed()

    def _login_user(self, due_ms: int, failed: bool) -> str:
        """A random user; one that failed within the last 300 s never fails again."""
        recent = self.recent_failures
        while recent and recent[0][0] < due_ms - 300_000:
            self.recent_failed.discard(recent.popleft()[1])
        while True:
            user = f"u{self.rng.randrange(1, 5_000)}"
            if not failed or user not in self.recent_failed:
                break
        if failed:
            recent.append((due_ms, user))
            self.recent_failed.add(user)
        return user

    # ------------------------------------------------------------ records

    def records(self) -> Iterator[Generated]:
        a, rng, window_ms = self.a, self.rng, self.window_ms
        late_by_ms = round(a.late_by_s * 1000)
        disorder_ms = a.disorder_s * 1000
        horizon_ms = math.ceil(disorder_ms) + (late_by_ms if a.late_every > 0 else 0) + window_ms
        pruned_below = 0
        good_no = 0
        bad_no = 0
        variants: dict[DeadReason, int] = {}
        for i in range(a.count):
            base_ms = round((a.start_ts + i / a.rate) * 1000)
            while self.burst and self.burst[0] <= base_ms:
                yield self._burst_record(self.burst.popleft())
            if base_ms >= self.next_feed_ms:
                self._feed(base_ms)
            service = self.services.next()

            if a.bad_every > 0 and (i + 1) % a.bad_every == 0:
                reason = BAD_CYCLE[bad_no % len(BAD_CYCLE)]
                variant = variants.get(reason, 0)
                variants[reason] = variant + 1
                bad_no += 1
                yield Generated(None, _bad_value(reason, variant, bad_no, service), None, reason)
                continue

            good_no += 1
            late = a.late_every > 0 and good_no % a.late_every == 0
            if late:
                ts_ms = base_ms - late_by_ms
            elif disorder_ms > 0:
                ts_ms = base_ms - math.floor(rng.random() * disorder_ms)
            else:
                ts_ms = base_ms
            level = self.levels[service].next()
            if self._suppressed(service, ts_ms, late):
                continue
            if level is Level.ERROR:
                level = self._error_level(service, ts_ms)
            elif level is Level.TRACE and not self.trace_fmts:
                level = Level.DEBUG  # syslog has no TRACE severity
            yield self._record(service, level, ts_ms, late)

            if base_ms - pruned_below > horizon_ms + window_ms:
                pruned_below = base_ms - horizon_ms
                for cell in [c for c in self.errors if c[1] + window_ms < pruned_below]:
                    del self.errors[cell]

        while self.burst:
            yield self._burst_record(self.burst.popleft())
        self._finish()

    def _burst_record(self, ts_ms: int) -> Generated:
        svc = self.burst_service
        msg = self._message(svc, Level.ERROR)
        value = self.render.render(self.rng.choice(self.a.fmts), ts_ms, svc, Level.ERROR, msg, {})
        return Generated(svc.encode(), value, Truth(ts_ms / 1000, svc, Level.ERROR), None)

    def _suppressed(self, service: str, ts_ms: int, late: bool) -> bool:
        """Whether silence or a traffic drop leaves this record out."""
        quiet = self.silence
        if quiet is not None and service == quiet.service:
            if quiet.start_ms <= ts_ms < quiet.end_ms:
                return True
        drop = self.drop
        if drop is not None and service == drop.service and drop.start_ms <= ts_ms < drop.end_ms:
            drop.seen += 1
            if (drop.seen - 1) % DROP_KEEP_EVERY != 0:
                return True
            if not late:
                cell = _window_ms(ts_ms, self.window_ms)
                drop.counts[cell] = drop.counts.get(cell, 0) + 1
        return False

    def _error_level(self, service: str, ts_ms: int) -> Level:
        cell = (service, _window_ms(ts_ms, self.window_ms))
        seen = self.errors.get(cell, 0)
        if seen >= BASELINE_ERROR_CAP:
            return Level.WARN
        self.errors[cell] = seen + 1
        n = self.error_no.get(service, 0)
        self.error_no[service] = n + 1
        return Level.FATAL if n % _FATAL_EVERY == 0 else Level.ERROR

    def _message(self, service: str, level: Level) -> str:
        """The (service, level)'s next template in turn, filled in at random."""
        templates = _MESSAGES[level]
        n = self.message_no.get((service, level), 0)
        self.message_no[(service, level)] = n + 1
        return self.render.fill_needed(templates[n % len(templates)])

    def _record(self, service: str, level: Level, ts_ms: int, late: bool) -> Generated:
        overlay = None
        if not late:
            heap = self.pending.get((service, level))
            if heap and heap[0][0] <= ts_ms:
                overlay = heapq.heappop(heap)[2]
        attrs: dict[str, str] = {}
        if overlay is None:
            fmts = self.trace_fmts if level is Level.TRACE else self.a.fmts
            fmt, msg = self.rng.choice(fmts), self._message(service, level)
        else:
            level, fmt, msg, attrs = self._place(overlay, service, level, ts_ms)
        if not late and level in _WARN_PLUS:
            self.warn_plus[service] += 1
        value = self.render.render(fmt, ts_ms, service, level, msg, attrs)
        return Generated(service.encode(), value, Truth(ts_ms / 1000, service, level, late), None)

    def _too_sparse(self, kind: str) -> ValueError:
        return ValueError(
            f"{kind}: {self.a.rate:g} records/s over {len(self.a.names)} services is too "
            "sparse to place the incident as documented; raise rate"
        )

    def _place(
        self, ov: _Overlay, service: str, level: Level, ts_ms: int
    ) -> tuple[Level, str, str, dict[str, str]]:
        """Write ``ov`` over this record: its (level, format, message, attrs)."""
        kind = ov.kind
        if kind == "spike":
            spike = self.spike
            assert spike is not None
            if ts_ms >= spike.end_ms:
                raise self._too_sparse("error-spike")
            spike.counts[spike.start_ms] = spike.counts.get(spike.start_ms, 0) + 1
            msg = self._message(service, Level.ERROR)
            return Level.ERROR, self.rng.choice(self.a.fmts), msg, {}
        if kind == "template":
            trail = self.template
            assert trail is not None
            if not trail.times:
                trail.warm = min(self.warn_plus.values())
            trail.times.append(ts_ms)
            volume, tenant = self.rng.randrange(1, 64), self.rng.randrange(1, 100)
            msg = f"disk quota exceeded on volume /data/{volume} for tenant t-{tenant}"
            return level, self.rng.choice(self.a.fmts), msg, {}
        if kind in ("login_failed", "attack_failed"):
            if kind == "attack_failed":
                self._attack_failed(ts_ms)
            return (
                level,
                "json",
                f"login failed for user {ov.user}: bad password",
                {"user": ov.user},
            )
        if kind in ("login_ok", "attack_ok"):
            if kind == "attack_ok":
                self._attack_ok(ts_ms)
            return level, "json", f"login succeeded for user {ov.user}", {"user": ov.user}
        if kind == "order":
            attrs = {"order_id": ov.order_id}
            if self.unpaid is None and self.unpaid_from is not None and ts_ms >= self.unpaid_from:
                self.unpaid = ov.order_id
                detail = {"rule": "order_without_payment", "order_id": ov.order_id}
                self.found.append(Incident("pattern", service, ts_ms / 1000, ts_ms / 1000, detail))
            else:
                due = ts_ms + self._ms(5, 25)
                self._push("payment", "payments", Level.INFO, due, **attrs, until_ms=ts_ms)
            items = self.rng.randrange(1, 6)
            return level, "json", f"order created {ov.order_id} with {items} items", attrs
        if kind == "payment":
            if ts_ms - ov.until_ms > 30_000:
                raise self._too_sparse("order-without-payment")
            msg = f"payment captured for order {ov.order_id}"
            return level, "json", msg, {"order_id": ov.order_id}
        # a session's event: the next one follows unless the session is over
        gap = self._ms(10, 40) if kind == "long" else self._ms(5, 30)
        if ts_ms + gap <= ov.until_ms:
            self._push(kind, service, level, ts_ms + gap, user=ov.user, until_ms=ov.until_ms)
        if kind == "long":
            assert self.long is not None
            self.long.times.append(ts_ms)
            user = self.long.user
        else:
            user = ov.user
        return level, "json", self._message(service, level), {"user": user}

    def _attack_failed(self, ts_ms: int) -> None:
        attack = self.attack
        assert attack is not None
        attack.times.append(ts_ms)
        if len(attack.times) == BRUTE_FAILURES:
            if ts_ms - attack.times[0] > 40_000:
                raise self._too_sparse("brute-force")
            self._push("attack_ok", "auth", Level.INFO, ts_ms + 4_000, user=attack.user)

    def _attack_ok(self, ts_ms: int) -> None:
        attack = self.attack
        assert attack is not None
        if ts_ms - attack.times[0] > 60_000:
            raise self._too_sparse("brute-force")
        attack.times.append(ts_ms)
        detail = {"rule": "brute_force_login", "user": attack.user, "failures": BRUTE_FAILURES}
        self.found.append(Incident("pattern", "auth", attack.times[0] / 1000, ts_ms / 1000, detail))

    def _finish(self) -> None:
        """Report the incidents known only at the end; fail loudly on an incomplete one."""
        wms = self.window_ms
        if self.spike is not None:
            spike = self.spike
            if spike.counts.get(spike.start_ms, 0) != SPIKE_ERRORS:
                raise self._too_sparse("error-spike")
            detail: dict[str, Any] = {"level": Level.ERROR.value, "count": SPIKE_ERRORS}
            self._found("anomaly", spike.service, spike.start_ms, spike.end_ms, detail)
        if self.drop is not None:
            drop = self.drop
            counts = [drop.counts.get(drop.start_ms + j * wms, 0) for j in range(DROP_WINDOWS)]
            detail = {"windows": DROP_WINDOWS, "keep_every": DROP_KEEP_EVERY, "counts": counts}
            self._found("rate_drop", drop.service, drop.start_ms, drop.end_ms, detail)
        if self.silence is not None:
            quiet = self.silence
            detail = {"silence_s": SILENCE_S}
            self._found("silence", quiet.service, quiet.start_ms, quiet.end_ms, detail)
        if self.attack is not None and len(self.attack.times) <= BRUTE_FAILURES:
            raise self._too_sparse("brute-force")
        if self.unpaid_from is not None and self.unpaid is None:
            raise self._too_sparse("order-without-payment")
        if self.template is not None:
            trail = self.template
            if len(trail.times) != NEW_TEMPLATE_LINES:
                raise self._too_sparse("new-template")
            detail = {
                "level": Level.ERROR.value,
                "template": NEW_TEMPLATE,
                "count": NEW_TEMPLATE_LINES,
                "warn_plus_before": trail.warm,
            }
            self._found("new_template", trail.service, trail.times[0], trail.times[-1], detail)
        if self.long is not None:
            times = self.long.times
            if not times:
                raise self._too_sparse("long-session")
            gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
            detail = {
                "user": self.long.user,
                "duration_s": (times[-1] - times[0]) / 1000,
                "events": len(times),
                "max_gap_s": max(gaps, default=0) / 1000,
            }
            self._found("long_session", self.long.service, times[0], times[-1], detail)
        self.found.sort(key=lambda inc: inc.start_ts)

    def _found(self, kind: str, service: str, start_ms: int, end_ms: int, detail: Any) -> None:
        self.found.append(Incident(kind, service, start_ms / 1000, end_ms / 1000, detail))


def write_lines(path: str | Path, records: Iterable[Generated]) -> int:
    """Write each record's value as one line (bytes as they are) and return how many.

    Every line ends with ``\\n``, so an empty record is an empty line and
    ``replay`` reads back exactly the records written.
    """
    written = 0
    with open(path, "wb") as out:
        for rec in records:
            out.write(rec.value)
            out.write(b"\n")
            written += 1
    return written


def expected_counts(
    records: Iterable[Generated], *, tumbling_s: int, hop_size_s: int, hop_step_s: int
) -> dict[tuple[str, str, str, int], int]:
    """Count good, non-late records per ``(kind, service, level, window_start)``.

    ``kind`` is ``"tumbling"`` or ``"hopping"``, ``level`` the level's name and
    ``window_start`` epoch seconds. A tumbling window ``[s, s + tumbling_s)``
    has ``s`` a multiple of ``tumbling_s``; an event falls in every hopping
    window ``[s, s + hop_size_s)`` with ``s`` a multiple of ``hop_step_s`` and
    ``s <= ts < s + hop_size_s``. Written the slow, obvious way on purpose: it
    is the independent expectation the worker is checked against.
    """
    counts: dict[tuple[str, str, str, int], int] = {}

    def add(key: tuple[str, str, str, int]) -> None:
        counts[key] = counts.get(key, 0) + 1

    for rec in records:
        truth = rec.truth
        if truth is None or truth.late:
            continue
        level = truth.level.value
        start = math.floor(truth.ts / tumbling_s) * tumbling_s
        add(("tumbling", truth.service, level, start))
        latest = math.floor(truth.ts / hop_step_s) * hop_step_s
        for start in range(latest - hop_size_s + hop_step_s, latest + 1, hop_step_s):
            add(("hopping", truth.service, level, start))
    return counts


def live_generate(
    *,
    bootstrap: str,
    topic: str,
    rate: float,
    count: int | None = None,
    services: Sequence[str] | int = 5,
    seed: int = 0,
    scenario: str = "steady",
    formats: Sequence[str] = FORMATS,
    bad_every: int = 0,
    late_every: int = 0,
    disorder_s: float = 0.0,
    burst_service: str | None = None,
    burst_at_s: float = 600.0,
    burst_size: int = 30,
    window_s: int = 60,
    progress: bool = True,
    conf: dict[str, Any] | None = None,
) -> ReplayStats:
    """Produce :func:`generate`'s records to ``topic``, paced at ``rate`` events/s of wall time.

    Event time is wall time: the run starts at ``time.time()`` and each good
    record is sent once the wall clock reaches its timestamp (late and bad
    records go out at once). ``count=None`` runs until Ctrl-C, which stops
    cleanly (what was queued is flushed). Raises ``DeliveryError`` when any
    record could not be delivered.
    """
    from logradar.replay import DeliveryError, ReplayStats, Sender

    start_wall = time.time()
    start_mono = time.monotonic()
    records = generate(
        start_ts=start_wall,
        rate=rate,
        count=count if count is not None else 2**62,
        services=services,
        seed=seed,
        scenario=scenario,
        formats=formats,
        disorder_s=disorder_s,
        late_every=late_every,
        bad_every=bad_every,
        burst_service=burst_service,
        burst_at_s=burst_at_s,
        burst_size=burst_size,
        window_s=window_s,
    )
    sender = Sender(bootstrap, topic, **(conf or {}))
    stats = ReplayStats()
    status = _LiveStatus(progress, topic, rate)
    try:
        for rec in records:
            truth = rec.truth
            if truth is not None and not truth.late:
                while (ahead := truth.ts - time.time()) > 0:
                    sender.poll(min(ahead, 0.05))
            sender.send(rec.value, rec.key)
            stats.records += 1
            stats.bytes += len(rec.value)
            if stats.records % 500 == 0:
                status.update(stats.records)
    except KeyboardInterrupt:
        pass
    finally:
        sender.flush()
        stats.failed = sender.failed
        stats.seconds = time.monotonic() - start_mono
        status.stop(stats.records)
    if stats.failed:
        raise DeliveryError(stats, sender.first_error)
    return stats


class _LiveStatus:
    """A one-line rich status on stderr for :func:`live_generate` (nothing when off)."""

    def __init__(self, enabled: bool, topic: str, rate: float) -> None:
        self.topic, self.rate = topic, rate
        self.status: Status | None = None
        if enabled:
            from rich.console import Console

            self.status = Console(stderr=True).status(self._text(0))
            self.status.start()

    def _text(self, records: int) -> str:
        return f"producing to {self.topic} at {self.rate:g}/s: {records} records"

    def update(self, records: int) -> None:
        if self.status is not None:
            self.status.update(self._text(records))

    def stop(self, records: int) -> None:
        if self.status is not None:
            self.status.stop()
