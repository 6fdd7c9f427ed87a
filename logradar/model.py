"""The records that flow through logradar: normalised events and dead letters."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Level(StrEnum):
    """Severity of a log event, after normalisation."""

    TRACE = "TRACE"
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"
    FATAL = "FATAL"
    UNKNOWN = "UNKNOWN"


LEVELS: tuple[Level, ...] = tuple(Level)


class DeadReason(StrEnum):
    """Why a record could not become a LogEvent (a closed set: it labels a metric)."""

    INVALID_JSON = "invalid_json"
    NOT_UTF8 = "not_utf8"
    EMPTY = "empty"
    NOT_OBJECT = "not_object"
    BAD_TIMESTAMP = "bad_timestamp"
    UNPARSED = "unparsed"
    TOO_LARGE = "too_large"


@dataclass(slots=True)
class LogEvent:
    """One normalised log record.

    ``ts`` is event time in epoch seconds (UTC); ``attrs`` holds the fields of
    the source record that did not map onto the named fields.
    """

    ts: float
    service: str
    level: Level
    message: str
    host: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class DeadLetter:
    """A record that could not be normalised, and why (``detail`` is for humans)."""

    reason: DeadReason
    detail: str = ""


def dead_letter_record(
    dead: DeadLetter,
    value: bytes | None,
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None = None,
    keep_bytes: int | None = None,
) -> dict[str, Any]:
    """The JSON document sent to the dead-letter topic for ``dead``.

    The original bytes are kept as UTF-8 text when they decode, else base64;
    ``keep_bytes`` truncates them (for oversized records) and says so.
    """
    raw = value or b""
    truncated = keep_bytes is not None and len(raw) > keep_bytes
    if truncated:
        raw = raw[:keep_bytes]
    try:
        text, encoding = raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(raw).decode("ascii"), "base64"
    record: dict[str, Any] = {
        "reason": str(dead.reason),
        "detail": dead.detail,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "key": None if key is None else key.decode("utf-8", "replace"),
        "value": None if value is None else text,
        "value_encoding": encoding,
        "value_bytes": 0 if value is None else len(value),
    }
    if truncated:
        record["truncated"] = True
    return record
