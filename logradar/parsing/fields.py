"""Mapping records (JSON objects, logfmt lines) to ``LogEvent`` by field aliases.

The first alias holding a usable value wins and is removed from the record; what
remains of the record becomes ``attrs``. Dotted aliases (``log.level``) are tried
as flat keys and as nested objects (``{"log": {"level": ...}}``); a nested object
emptied that way is dropped, otherwise its remaining keys stay in ``attrs``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from logradar.model import DeadLetter, DeadReason, Level, LogEvent

from .levels import parse_level
from .timestamps import problem, to_epoch

TS_FIELDS = ("ts", "timestamp", "@timestamp", "time")
LEVEL_FIELDS = ("level", "severity", "lvl", "log.level")
SERVICE_FIELDS = ("service", "service.name", "app", "application", "component")
MESSAGE_FIELDS = ("msg", "message", "log")
HOST_FIELDS = ("host", "hostname", "host.name")
# Any of these makes a logfmt line a log record rather than some other k=v text.
EVIDENCE_FIELDS = frozenset(TS_FIELDS + LEVEL_FIELDS + MESSAGE_FIELDS)

_MISSING: Any = object()
_KEY_CACHE: dict[bytes, str] = {}
_KEY_CACHE_MAX = 4096

Accept = Callable[[object], bool]
Alias = tuple[str, str, str]  # flat key, outer and inner key ("" when not dotted)


def _aliases(names: tuple[str, ...]) -> tuple[Alias, ...]:
    return tuple((name, *name.partition(".")[::2]) for name in names)


def _present(value: object) -> bool:
    return value is not None


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _is_name(value: object) -> bool:
    return isinstance(value, str) and value != ""


def _first(record: dict[str, Any], aliases: tuple[Alias, ...], accept: Accept) -> Any:
    """Remove and return the first accepted alias value (flat key, else nested for a dotted
    alias); ``_MISSING`` when there is none."""
    for name, outer, inner in aliases:
        value = record.get(name)
        if value is not None and accept(value):
            del record[name]
            return value
        if inner:
            parent = record.get(outer)
            if type(parent) is dict:
                value = parent.get(inner)
                if value is not None and accept(value):
                    del parent[inner]
                    if not parent:
                        del record[outer]
                    return value
    return _MISSING


_TS = _aliases(TS_FIELDS)
_LEVEL = _aliases(LEVEL_FIELDS)
_SERVICE = _aliases(SERVICE_FIELDS)
_MESSAGE = _aliases(MESSAGE_FIELDS)
_HOST = _aliases(HOST_FIELDS)


def key_service(key: bytes | None) -> str:
    """The service named by a Kafka record key, or ``unknown``; decoded once per key."""
    if not key:
        return "unknown"
    service = _KEY_CACHE.get(key)
    if service is None:
        if len(_KEY_CACHE) >= _KEY_CACHE_MAX:
            _KEY_CACHE.clear()
        service = _KEY_CACHE[key] = sys.intern(key.decode("utf-8", "replace"))
    return service


def bad_timestamp(raw: object, why: str) -> DeadLetter:
    return DeadLetter(DeadReason.BAD_TIMESTAMP, f"{why}: {raw!r:.120}")


def event_time(record: dict[str, Any], kafka_ts: float | None) -> float | DeadLetter:
    """The event time from the record's timestamp aliases, else ``kafka_ts``."""
    raw = _first(record, _TS, _present)
    if raw is _MISSING:
        if kafka_ts is None:
            return DeadLetter(DeadReason.BAD_TIMESTAMP, "no timestamp field and no Kafka time")
        return kafka_ts
    ts = to_epoch(raw)
    if ts is None:
        return bad_timestamp(raw, "unusable timestamp")
    why = problem(ts, kafka_ts)
    return ts if why is None else bad_timestamp(raw, why)


def from_record(
    record: dict[str, Any], key: bytes | None, kafka_ts: float | None
) -> LogEvent | DeadLetter:
    """Normalise a decoded record (consumed in place: what is left becomes ``attrs``)."""
    ts = event_time(record, kafka_ts)
    if isinstance(ts, DeadLetter):
        return ts
    raw_level = _first(record, _LEVEL, _present)
    level = Level.UNKNOWN if raw_level is _MISSING else parse_level(raw_level)
    service = _first(record, _SERVICE, _is_name)
    message = _first(record, _MESSAGE, _is_str)
    host = _first(record, _HOST, _is_name)
    return LogEvent(  # positional: half the cost of keywords, per event
        ts,
        key_service(key) if service is _MISSING else sys.intern(service),
        level,
        "" if message is _MISSING else message,
        "" if host is _MISSING else sys.intern(host),
        record,
    )
