"""Plain-text records: try the chosen formats in order; explain the ones nothing claims."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import orjson

from logradar.model import DeadLetter, DeadReason, LogEvent

from .formats import FORMAT_NAMES, FORMATS, Matcher, RegexFormat
from .json_ import json_error, not_object

_JSON_START = frozenset('[{"-0123456789tfn')


@dataclass(frozen=True, slots=True)
class Plan:
    """The matchers for one choice of formats, and the detail for a line none of them claims.

    :meth:`candidates` leaves out the regex formats a line cannot match by its first
    character alone (``RegexFormat.head``): most formats start with a digit, a bracket
    or a month name, and a logfmt line, last in the table, used to fail all of them.
    """

    matchers: tuple[Matcher, ...]
    unparsed: DeadLetter
    by_first: dict[str, tuple[Matcher, ...]] = field(default_factory=dict, compare=False)

    def candidates(self, first: str) -> tuple[Matcher, ...]:
        """The matchers, in order, that can claim a line starting with ``first``."""
        found = self.by_first.get(first)
        if found is None:
            if len(self.by_first) >= CANDIDATES_CACHED:
                self.by_first.clear()
            found = self.by_first[first] = tuple(m for m in self.matchers if _may_start(m, first))
        return found


CANDIDATES_CACHED = 1024  # first characters remembered per plan


def _may_start(matcher: Matcher, first: str) -> bool:
    head = matcher.head if isinstance(matcher, RegexFormat) else None
    return head is None or head.match(first) is not None


def validate_formats(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` as a tuple, or ValueError naming the unknown ones and the known ones."""
    if isinstance(names, str | bytes):
        raise ValueError(f"formats must be a sequence of names, not a single string: {names!r}")
    chosen = tuple(names)
    unknown = [name for name in chosen if name not in FORMATS]
    if unknown:
        raise ValueError(f"unknown log formats {unknown}; known: {', '.join(FORMAT_NAMES)}")
    return chosen


@lru_cache(maxsize=64)
def plan(names: tuple[str, ...]) -> Plan:
    """The plan for ``names`` (unknown names are skipped: ``parse`` never raises)."""
    known = tuple(name for name in names if name in FORMATS)
    detail = f"no format matched; tried: {', '.join(known) or '(none)'}"
    return Plan(tuple(FORMATS[name] for name in known), DeadLetter(DeadReason.UNPARSED, detail))


DEFAULT_PLAN = plan(FORMAT_NAMES)


def choose(formats: Sequence[str] | None) -> Plan:
    """The (cached) plan for a ``formats`` argument."""
    if formats is None:
        return DEFAULT_PLAN
    if isinstance(formats, str):  # one name, not a sequence of one-letter names
        return plan((formats,))
    return plan(tuple(formats))


def parse_text(
    line: str, key: bytes | None, kafka_ts: float | None, chosen: Plan
) -> LogEvent | DeadLetter:
    """The first format's result for ``line`` (already stripped of trailing whitespace)."""
    for matcher in chosen.candidates(line[0]):
        result = matcher(line, key, kafka_ts)
        if result is not None:
            return result
    if line[0] in _JSON_START:
        try:
            return not_object(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            if line[0] in "[{":
                return json_error(line, exc)
    return chosen.unparsed
