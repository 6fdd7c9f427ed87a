"""Raw Kafka record values to ``LogEvent`` or ``DeadLetter``.

``parse`` never raises and never logs. A value whose first non-blank byte is ``{``
is a JSON object (decoded with orjson); anything else is UTF-8 text, stripped of
trailing whitespace (``\\r\\n`` included) and tried against the text formats in order
(``FORMAT_NAMES`` by default; ``validate_formats`` checks a user's choice).

Field aliases (JSON objects and logfmt lines; the first usable alias wins, is removed,
and everything left over becomes ``attrs``):

* time: ``ts``, ``timestamp``, ``@timestamp``, ``time``; else the Kafka record's time.
* level: ``level``, ``severity``, ``lvl``, ``log.level``; missing or unknown is UNKNOWN.
* service: ``service``, ``service.name``, ``app``, ``application``, ``component``;
  else the record key (UTF-8); else ``unknown``.
* message: ``msg``, ``message``, ``log`` (when a string); host: ``host``, ``hostname``,
  ``host.name``. Dotted aliases match a flat dotted key or a nested object.

Timestamp policy (a violation is ``DeadLetter(bad_timestamp)``):

* Numbers are epoch seconds, milliseconds, microseconds or nanoseconds, chosen by
  magnitude (below 1e11, 1e14, 1e17, else nanoseconds). Strings are numeric (same
  rule) or ISO 8601 / RFC 3339 with ``T`` or a space, optional fraction (``.`` or
  ``,``), and ``Z`` or an offset; no zone means UTC. Bools, NaN, infinities and other
  strings are bad.
* Plausible means not before 2000-01-01T00:00:00Z and, when the Kafka time is known,
  at most 1 day after it; without a Kafka time, before 2100-01-01T00:00:00Z.
* A JSON or logfmt record without a timestamp field takes the Kafka time; without
  one either it is bad. A Kafka time that is not finite or before 2000 (Kafka uses
  -1 for "none") counts as no Kafka time.
* Year-less text formats (syslog3164, linux, openssh, mac, android, proxifier) take
  the latest year that puts the date at most 1 day after the Kafka time (the Kafka
  record's year, or the one before; the one after across New Year); with no Kafka
  time they are bad. Two-digit years are 20yy. All naive times are UTC.

Other dead letters: ``empty`` (None, empty or blank), ``not_utf8``, ``invalid_json``
(starts with ``{``, or with ``[`` and no text format claims it, and orjson rejects
it: the detail is orjson's message), ``not_object`` (valid JSON that is not an
object, e.g. a bare number or quoted string line), ``unparsed`` (text no format
claims; the detail names the formats tried).
"""

from __future__ import annotations

from collections.abc import Sequence

from logradar.model import DeadLetter, DeadReason, LogEvent

from .formats import FORMAT_NAMES
from .json_ import parse_json
from .levels import parse_level
from .text import choose, parse_text, validate_formats
from .timestamps import parse_timestamp, usable_kafka_ts

__all__ = ["FORMAT_NAMES", "parse", "parse_level", "parse_timestamp", "validate_formats"]

_EMPTY = DeadLetter(DeadReason.EMPTY, "no bytes")
_BLANK = DeadLetter(DeadReason.EMPTY, "only whitespace")


def parse(
    value: bytes | None,
    *,
    key: bytes | None = None,
    kafka_ts: float | None = None,
    formats: Sequence[str] | None = None,
) -> LogEvent | DeadLetter:
    """Normalise one Kafka record value; never raises (see the module docstring).

    ``key`` is the Kafka record key (the service when the record names none),
    ``kafka_ts`` the Kafka record time in epoch seconds, ``formats`` the text formats
    to try, in order (None: ``FORMAT_NAMES``). Unknown format names are skipped here;
    check a user's choice once with ``validate_formats``.
    """
    try:
        return _parse(value, key, usable_kafka_ts(kafka_ts), formats)
    except Exception as exc:  # a bug, not an input problem: still no exception escapes
        return DeadLetter(DeadReason.UNPARSED, f"internal error: {type(exc).__name__}: {exc}")


def _parse(
    value: bytes | None, key: bytes | None, kafka_ts: float | None, formats: Sequence[str] | None
) -> LogEvent | DeadLetter:
    if not value:
        return _EMPTY
    if value[0] == 0x7B:  # "{": the fast path
        return parse_json(value, key, kafka_ts)
    if value[0] in b" \t\r\n":
        stripped = value.lstrip()
        if not stripped:
            return _BLANK
        if stripped[0] == 0x7B:
            return parse_json(stripped, key, kafka_ts)
    try:
        line = value.decode("utf-8").rstrip()
    except UnicodeDecodeError as exc:
        return DeadLetter(DeadReason.NOT_UTF8, str(exc))
    if not line:
        return _BLANK
    return parse_text(line, key, kafka_ts, choose(formats))
