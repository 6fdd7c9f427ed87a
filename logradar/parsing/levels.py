"""Level normalisation: names, syslog severities and single-letter codes to ``Level``."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from logradar.model import Level

# Syslog severities 0-7 (RFC 5424 section 6.2.1), indexed by number.
SYSLOG_SEVERITY: tuple[Level, ...] = (
    Level.FATAL,  # 0 emerg
    Level.FATAL,  # 1 alert
    Level.FATAL,  # 2 crit
    Level.ERROR,  # 3 err
    Level.WARN,  # 4 warning
    Level.INFO,  # 5 notice
    Level.INFO,  # 6 info
    Level.DEBUG,  # 7 debug
)

_NAMES: dict[str, Level] = {
    "trace": Level.TRACE,
    "debug": Level.DEBUG,
    "info": Level.INFO,
    "notice": Level.INFO,
    "warn": Level.WARN,
    "warning": Level.WARN,
    "error": Level.ERROR,
    "err": Level.ERROR,
    "severe": Level.ERROR,  # java.util.logging; BGL uses it
    "fatal": Level.FATAL,
    "critical": Level.FATAL,
    "crit": Level.FATAL,
    "alert": Level.FATAL,
    "emerg": Level.FATAL,
    "emergency": Level.FATAL,
    "panic": Level.FATAL,
}
_NAMES.update({str(number): level for number, level in enumerate(SYSLOG_SEVERITY)})

# Exact-match table: lower, UPPER and Title spellings, so the common case is one lookup.
_EXACT: dict[str, Level] = {}
for _name, _level in _NAMES.items():
    for _spelling in (_name, _name.upper(), _name.title()):
        _EXACT[_spelling] = _level

# Android logcat single letters (V verbose is below debug, A is assert).
ANDROID_LETTERS: Mapping[str, Level] = MappingProxyType(
    {
        "V": Level.TRACE,
        "D": Level.DEBUG,
        "I": Level.INFO,
        "W": Level.WARN,
        "E": Level.ERROR,
        "F": Level.FATAL,
        "A": Level.FATAL,
    }
)


def parse_level(raw: object) -> Level:
    """The ``Level`` for a level name or syslog severity number; ``UNKNOWN`` otherwise.

    Names are case-insensitive (trace, debug, info/notice, warn/warning, error/err/severe,
    fatal/critical/crit/alert/emerg/panic); numbers 0-7 are syslog severities, as an int
    or a numeric string. Anything else, bools included, is ``UNKNOWN``.
    """
    if isinstance(raw, str):
        level = _EXACT.get(raw)
        if level is not None:
            return level
        return _NAMES.get(raw.strip().lower(), Level.UNKNOWN)
    if type(raw) is int and 0 <= raw <= 7:
        return SYSLOG_SEVERITY[raw]
    return Level.UNKNOWN


def syslog_level(pri: int) -> Level:
    """The level for a syslog PRI value (facility * 8 + severity)."""
    return SYSLOG_SEVERITY[pri & 7]
