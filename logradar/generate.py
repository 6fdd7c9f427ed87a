"""Deterministic synthetic logs: the test oracle, the benchmark load and the demo's traffic.

:func:`generate` is pure: a seeded :class:`random.Random` (never the global
one) and a start time given as an argument, so the same arguments always give
the same bytes. Every good record carries its :class:`Truth` (what a correct
parser must make of it) and every bad one the :class:`DeadReason` it must be
dead-lettered with; :func:`expected_counts` turns a list of records into the
window counts a correct worker must emit.

Only :func:`live_generate` touches Kafka and the wall clock; it is the CLI's
face, not part of the engine.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

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
SCENARIOS: tuple[str, ...] = ("steady", "error-burst")

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


class _Renderer:
    """Writes one good event in one of the formats, varying the spellings (seeded)."""

    def __init__(self, rng: random.Random, services: Sequence[str]) -> None:
        self.rng = rng
        self.peers = list(services) + ["postgres", "redis", "stripe-api"]

    def message(self, level: Level) -> str:
        rng = self.rng
        template = rng.choice(_MESSAGES[level])
        return template.format(
            n=rng.randrange(1, 100_000),
            ms=rng.randrange(2, 5_000),
            user=rng.randrange(1, 5_000),
            pct=rng.randrange(1, 100),
            path=rng.choice(_PATHS),
            peer=rng.choice(self.peers),
        )

    def render(self, fmt: str, ts_ms: int, service: str, level: Level, msg: str) -> bytes:
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
            doc["user"] = f"u{rng.randrange(1, 5_000)}"
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
    """
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
    sender = Sender(bootstrap, topic)
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
