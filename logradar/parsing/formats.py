"""Plain-text line formats: a table of named regexes and the one builder they share.

Each regex names its parts with a small vocabulary, and the builder reads only those:

* time: ``ts`` (an ISO-8601-like string; unmatched means "use the Kafka time"), or
  ``epoch`` (seconds, plus ``f`` fraction digits), or calendar parts ``Y`` (2 or 4
  digits), ``mo`` or ``mon`` (month number or name), ``d``, ``H``, ``M``, ``S``, ``f``
  (fraction digits) or ``ms`` (milliseconds). Without ``Y`` the year is inferred
  from the Kafka time.
* ``level`` (a name, or a key of the format's level table), or ``pri`` (syslog PRI).
* ``service``, ``host``, ``msg``; ``sd`` is RFC 5424 structured data.
* every other named group is copied into ``attrs`` when it matched.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from re import _constants, _parser  # type: ignore[attr-defined]
from typing import Any

from logradar.model import DeadLetter, DeadReason, Level, LogEvent

from .fields import key_service
from .levels import ANDROID_LETTERS, parse_level, syslog_level
from .logfmt import QUOTED, parse_logfmt
from .timestamps import MONTHS, epoch, from_iso, infer_year, problem

Groups = dict[str, str | None]
Clock = Callable[[Groups, float | None], float | str]  # a str says why the time is bad
Matcher = Callable[[str, bytes | None, float | None], LogEvent | DeadLetter | None]

_MONTH = "(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_HMS = r"(?P<H>\d\d):(?P<M>\d\d):(?P<S>\d\d)"
_MSG = r"(?P<msg>(?s:.*))"  # a message may carry continuation lines (stack traces)
# BSD syslog "program[pid]: "; a program may hold a parenthesised part with colons in it
_TAG = r"(?P<service>(?:[^\[:(]|\([^)]*\))+)(?:\[(?P<pid>\d+)\])?: ?"
_SD_ELEMENT = rf'\[[^\s\]="]+(?:\s+[^\s\]="]+="{QUOTED}")*\]'
_ISO_TS = r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:[Zz]|[+-]\d\d(?::?\d\d)?)?"
_STANDARD = frozenset(
    {"ts", "epoch", "Y", "mo", "mon", "d", "H", "M", "S", "f", "ms"}
    | {"level", "pri", "service", "host", "msg", "sd"}
)


def _fraction(g: Groups) -> float:
    f, ms = g.get("f"), g.get("ms")
    if f is not None:
        return float("0." + f)
    return int(ms) / 1000 if ms is not None else 0.0


def _calendar(g: Groups) -> tuple[int, int, int, int, int]:
    mon, mo = g.get("mon"), g.get("mo")
    month = MONTHS[mon] if mon is not None else int(mo or 0)
    return month, int(g["d"] or 0), int(g["H"] or 0), int(g["M"] or 0), int(g["S"] or 0)


def _clock_iso(g: Groups, kafka_ts: float | None) -> float | str:
    text = g["ts"]
    if text is None:
        return "no timestamp and no Kafka time" if kafka_ts is None else kafka_ts
    ts = from_iso(text)
    return f"unusable timestamp: {text!r}" if ts is None else ts


def _clock_epoch(g: Groups, kafka_ts: float | None) -> float | str:
    return int(g["epoch"] or 0) + _fraction(g)


def _clock_dated(g: Groups, kafka_ts: float | None) -> float | str:
    year = int(g["Y"] or 0)
    month, day, hour, minute, second = _calendar(g)
    ts = epoch(year + 2000 if year < 100 else year, month, day, hour, minute, second, _fraction(g))
    return "invalid date" if ts is None else ts


def _clock_yearless(g: Groups, kafka_ts: float | None) -> float | str:
    if kafka_ts is None:
        return "year-less timestamp and no Kafka time"
    ts = infer_year(*_calendar(g), _fraction(g), kafka_ts)
    return "invalid date" if ts is None else ts


def _clock_for(groups: Mapping[str, int]) -> Clock:
    if "ts" in groups:
        return _clock_iso
    if "epoch" in groups:
        return _clock_epoch
    return _clock_dated if "Y" in groups else _clock_yearless


_SD_ELEMENT_PARTS = re.compile(rf'\[([^\s\]="]+)([^\]"]*(?:"{QUOTED}"[^\]"]*)*)\]')
_SD_PARAM = re.compile(rf'([^\s\]="]+)="({QUOTED})"', re.S)
_SD_ESCAPE = re.compile(r'\\(["\\\]])')


def structured_data(sd: str) -> dict[str, Any]:
    """RFC 5424 structured data as ``{sd_id: {param: value}}`` (``-`` gives ``{}``)."""
    return {
        element[1]: {
            name: _SD_ESCAPE.sub(r"\1", value) for name, value in _SD_PARAM.findall(element[2])
        }
        for element in _SD_ELEMENT_PARTS.finditer(sd)
    }


_CATEGORIES = {
    _constants.CATEGORY_DIGIT: r"\d",
    _constants.CATEGORY_NOT_DIGIT: r"\D",
    _constants.CATEGORY_SPACE: r"\s",
    _constants.CATEGORY_NOT_SPACE: r"\S",
    _constants.CATEGORY_WORD: r"\w",
    _constants.CATEGORY_NOT_WORD: r"\W",
}


def _char_class(items: list[tuple[Any, Any]]) -> str | None:
    """An ``IN`` node of a parsed regex as a character class; None if it holds other parts."""
    out: list[str] = []
    for op, av in items:
        if op is _constants.NEGATE:
            out.insert(0, "^")
        elif op is _constants.LITERAL:
            out.append(re.escape(chr(av)))
        elif op is _constants.RANGE:
            out.append(f"{re.escape(chr(av[0]))}-{re.escape(chr(av[1]))}")
        elif op is _constants.CATEGORY and av in _CATEGORIES:
            out.append(_CATEGORIES[av])
        else:
            return None
    return f"[{''.join(out)}]"


def _heads(seq: list[tuple[Any, Any]], after: list[str]) -> list[str] | None:
    """Classes the first character of a match of ``seq`` can be in, when the match is
    followed by one of ``after`` (a match of nothing at all is followed by ``after``);
    None when this walk cannot tell (any node it does not know)."""
    if not seq:
        return after
    (op, av), rest = seq[0], seq[1:]
    if op is _constants.LITERAL:
        return [re.escape(chr(av))]
    if op is _constants.IN:
        cls = _char_class(av)
        return None if cls is None else [cls]
    if op is _constants.SUBPATTERN:
        if av[1] & re.IGNORECASE:
            return None
        return _heads([*av[3], *rest], after)
    if op is _constants.BRANCH:
        out: list[str] = []
        for alternative in av[1]:
            heads = _heads([*alternative, *rest], after)
            if heads is None:
                return None
            out.extend(heads)
        return out
    if op in (_constants.MAX_REPEAT, _constants.MIN_REPEAT):
        low, _, sub = av
        heads = _heads([*sub, *rest], after)
        if heads is None or low > 0:
            return heads
        skipped = _heads(rest, after)
        return None if skipped is None else heads + skipped
    return None


def first_char(pattern: re.Pattern[str]) -> re.Pattern[str] | None:
    """A regex for the characters a non-empty full match of ``pattern`` can start with,
    or None when any may (or the pattern is beyond :func:`_heads`).

    Derived from the parsed pattern, so it cannot disagree with it: a line whose first
    character it rejects is one ``pattern.fullmatch`` rejects too, and the format need
    not be tried (see :func:`logradar.parsing.text.parse_text`).
    """
    if pattern.flags & re.IGNORECASE:
        return None
    heads = _heads(list(_parser.parse(pattern.pattern, pattern.flags)), [])
    if not heads:
        return None
    return re.compile("|".join(heads))


@dataclass(frozen=True, slots=True)
class RegexFormat:
    """One text format: a regex in the group vocabulary above, plus per-format defaults."""

    name: str
    regex: str
    levels: Mapping[str, Level] | None = None  # None: parse_level on the ``level`` group
    service: str = ""  # used when the line names no service
    pattern: re.Pattern[str] = field(init=False)
    clock: Clock = field(init=False)
    attr_groups: tuple[str, ...] = field(init=False)
    head: re.Pattern[str] | None = field(init=False)  # see first_char

    def __post_init__(self) -> None:
        pattern = re.compile(self.regex)
        set_ = object.__setattr__
        set_(self, "pattern", pattern)
        set_(self, "head", first_char(pattern))
        set_(self, "clock", _clock_for(pattern.groupindex))
        set_(self, "attr_groups", tuple(n for n in pattern.groupindex if n not in _STANDARD))

    def __call__(
        self, line: str, key: bytes | None, kafka_ts: float | None
    ) -> LogEvent | DeadLetter | None:
        match = self.pattern.fullmatch(line)
        if match is None:
            return None
        g = match.groupdict()
        ts = self.clock(g, kafka_ts)
        why = ts if isinstance(ts, str) else problem(ts, kafka_ts)
        if isinstance(ts, str) or why is not None:
            return DeadLetter(DeadReason.BAD_TIMESTAMP, f"{self.name}: {why}")
        return LogEvent(  # positional: half the cost of keywords, per event
            ts,
            self._service(g, key),
            self._level(g),
            (g.get("msg") or "").removeprefix("\ufeff"),
            sys.intern(g.get("host") or ""),
            self._attrs(g),
        )

    def _service(self, g: Groups, key: bytes | None) -> str:
        service = (g.get("service") or "").strip()
        if service:
            return sys.intern(service)
        return self.service or key_service(key)

    def _level(self, g: Groups) -> Level:
        raw, pri = g.get("level"), g.get("pri")
        if raw is not None:
            return parse_level(raw) if self.levels is None else self.levels.get(raw, Level.UNKNOWN)
        return Level.UNKNOWN if pri is None else syslog_level(int(pri))

    def _attrs(self, g: Groups) -> dict[str, Any]:
        attrs: dict[str, Any] = {n: g[n] for n in self.attr_groups if g[n] is not None}
        sd = g.get("sd")
        if sd is not None and sd != "-":
            attrs.update(structured_data(sd))
        return attrs


_NIL = "(?:-|(?P<{0}>\\S+))"  # an RFC 5424 field that may be the NILVALUE "-"

_TABLE: tuple[RegexFormat, ...] = (
    RegexFormat(
        "syslog5424",
        r"<(?P<pri>\d{1,3})>1 "
        + " ".join(_NIL.format(n) for n in ("ts", "host", "service", "procid", "msgid"))
        + rf" (?P<sd>-|(?:{_SD_ELEMENT})+)(?: {_MSG})?",
    ),
    RegexFormat(
        "hadoop",
        r"(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (?P<level>\w+) "
        rf"\[(?P<thread>[^\]]*)\] (?P<service>[^:\s]+): {_MSG}",
    ),
    RegexFormat(
        "zookeeper",
        r"(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - (?P<level>\w+) +"
        rf"\[(?P<thread>.*):(?P<service>[^:@]+)@(?P<line>\d+)\] - {_MSG}",
    ),
    RegexFormat(
        "openstack",
        r"(?P<logrecord>\S+) (?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (?P<pid>\d+) "
        rf"(?P<level>\w+) (?P<service>\S+) \[(?P<context>[^\]]*)\] {_MSG}",
    ),
    RegexFormat(
        "windows",
        rf"(?P<ts>\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d), (?P<level>\w+) +(?P<service>\S+) +{_MSG}",
    ),
    RegexFormat(
        "bracketed",
        rf"(?P<ts>{_ISO_TS}) (?P<level>[A-Za-z]+) +\[(?P<service>[^\]]+)\] {_MSG}",
    ),
    RegexFormat(
        "hdfs",
        r"(?P<Y>\d\d)(?P<mo>\d\d)(?P<d>\d\d) (?P<H>\d\d)(?P<M>\d\d)(?P<S>\d\d) "
        rf"(?P<pid>\d+) (?P<level>\w+) (?P<service>[^:]+): {_MSG}",
    ),
    RegexFormat(
        "spark",
        rf"(?P<Y>\d\d)/(?P<mo>\d\d)/(?P<d>\d\d) {_HMS} (?P<level>\w+) (?P<service>[^:]+): {_MSG}",
    ),
    RegexFormat(
        "bgl",
        r"(?P<label>\S+) (?P<epoch>\d{1,12}) \d{4}\.\d\d\.\d\d (?P<host>\S+) "
        r"\d{4}-\d\d-\d\d-\d\d\.\d\d\.\d\d\.(?P<f>\d{6}) \S+ "
        rf"(?P<type>\S+) (?P<service>\S+) (?P<level>\S+) {_MSG}",
    ),
    RegexFormat(
        "thunderbird",
        r"(?P<label>\S+) (?P<epoch>\d{1,12}) \d{4}\.\d\d\.\d\d (?P<host>\S+) "
        rf"[A-Z][a-z]{{2}} +\d+ \d\d:\d\d:\d\d (?P<location>\S+) {_TAG}{_MSG}",
    ),
    RegexFormat(
        "hpc",
        r"(?P<logid>\d+) (?P<host>\S+) (?P<service>\S+) (?P<state>\S+) (?P<epoch>\d{1,12}) "
        rf"(?P<flag>-?\d) {_MSG}",
    ),
    RegexFormat(
        "healthapp",
        r"(?P<Y>\d{4})(?P<mo>\d\d)(?P<d>\d\d)-(?P<H>\d{1,2}):(?P<M>\d{1,2}):(?P<S>\d{1,2}):"
        rf"(?P<ms>\d{{1,3}})\|(?P<service>[^|]*)\|(?P<pid>\d+)\|{_MSG}",
    ),
    RegexFormat(
        "android",
        rf"(?P<mo>\d\d)-(?P<d>\d\d) {_HMS}\.(?P<f>\d{{3}}) +(?P<pid>\d+) +(?P<tid>\d+) "
        rf"(?P<level>[VDIWEFA]) (?P<service>[^:]*?) *: {_MSG}",
        levels=ANDROID_LETTERS,
    ),
    RegexFormat(
        "apache",
        rf"\[[A-Z][a-z]{{2}} {_MONTH} (?P<d>\d\d) {_HMS}(?:\.(?P<f>\d+))? (?P<Y>\d{{4}})\] "
        rf"\[(?:(?P<service>[\w.-]+):)?(?P<level>\w+)\] {_MSG}",
        service="apache",
    ),
    RegexFormat(
        "proxifier",
        rf"\[(?P<mo>\d\d)\.(?P<d>\d\d) {_HMS}\] (?P<service>.*?) - {_MSG}",
    ),
    RegexFormat(
        "openssh",
        rf"{_MONTH} +(?P<d>\d+) {_HMS} (?P<host>\S+) (?P<service>sshd)\[(?P<pid>\d+)\]: {_MSG}",
    ),
    RegexFormat("linux", rf"{_MONTH} +(?P<d>\d+) {_HMS} (?P<host>\S+) {_TAG}{_MSG}"),
    RegexFormat(
        "mac",
        rf"{_MONTH} +(?P<d>\d+) {_HMS} (?P<host>\S+) (?P<service>.+?)\[(?P<pid>\d+)\]"
        rf"(?: \((?P<address>[^)]*)\))?: {_MSG}",
    ),
    RegexFormat(
        "syslog3164",
        rf"(?:<(?P<pri>\d{{1,3}})>)?{_MONTH} +(?P<d>\d{{1,2}}) {_HMS} (?P<host>\S+) "
        rf"(?P<service>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?: ?{_MSG}",
    ),
)

FORMATS: Mapping[str, Matcher] = {f.name: f for f in _TABLE} | {"logfmt": parse_logfmt}
FORMAT_NAMES: tuple[str, ...] = tuple(FORMATS)
