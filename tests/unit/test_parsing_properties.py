"""Properties: parse never raises, and whatever it returns is well formed."""

from __future__ import annotations

import math
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from logradar.model import DeadLetter, DeadReason, Level, LogEvent
from logradar.parsing import FORMAT_NAMES, parse
from logradar.parsing.fields import (
    HOST_FIELDS,
    LEVEL_FIELDS,
    MESSAGE_FIELDS,
    SERVICE_FIELDS,
    TS_FIELDS,
)

KAFKA = st.one_of(
    st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**40), 2**40)
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)
ALIASES = TS_FIELDS + LEVEL_FIELDS + SERVICE_FIELDS + MESSAGE_FIELDS + HOST_FIELDS
ALIAS_VALUES = st.one_of(
    JSON,
    st.integers(0, 8),
    st.sampled_from(["info", "WARN", "crit", "2023-11-14T22:13:20Z", "1700000000123"]),
    st.dictionaries(st.sampled_from(["name", "level", "x"]), JSON, max_size=3),
)
RECORDS = st.dictionaries(st.sampled_from(ALIASES) | st.text(max_size=6), ALIAS_VALUES, max_size=8)
FORMATS = st.none() | st.lists(st.sampled_from([*FORMAT_NAMES, "bogus"]), max_size=4)


def check(result: object) -> None:
    assert isinstance(result, LogEvent | DeadLetter)
    if isinstance(result, DeadLetter):
        assert isinstance(result.reason, DeadReason)
        assert not result.detail.startswith("internal error"), result.detail
        return
    assert isinstance(result.ts, float) and math.isfinite(result.ts)
    assert result.ts >= 946_684_800.0
    assert isinstance(result.level, Level)
    assert isinstance(result.service, str) and result.service
    assert isinstance(result.message, str)
    assert isinstance(result.host, str)
    assert isinstance(result.attrs, dict)


@settings(max_examples=500)
@given(value=st.binary(max_size=300), key=st.none() | st.binary(max_size=8), kafka_ts=KAFKA)
def test_arbitrary_bytes(value: bytes, key: bytes | None, kafka_ts: float | None) -> None:
    check(parse(value, key=key, kafka_ts=kafka_ts))


@settings(max_examples=500)
@given(doc=JSON, kafka_ts=KAFKA)
def test_arbitrary_json(doc: Any, kafka_ts: float | None) -> None:
    result = parse(orjson.dumps(doc), kafka_ts=kafka_ts)
    check(result)
    if not isinstance(doc, dict):
        assert isinstance(result, DeadLetter)
        assert result.reason is DeadReason.NOT_OBJECT


@settings(max_examples=500)
@given(doc=RECORDS, key=st.none() | st.binary(max_size=8), kafka_ts=KAFKA)
def test_records_full_of_aliases(doc: dict[str, Any], key: bytes | None, kafka_ts: Any) -> None:
    check(parse(orjson.dumps(doc), key=key, kafka_ts=kafka_ts))


@settings(max_examples=500)
@given(line=st.text(max_size=200), formats=FORMATS, kafka_ts=KAFKA)
def test_arbitrary_text(line: str, formats: list[str] | None, kafka_ts: Any) -> None:
    check(parse(line.encode(), kafka_ts=kafka_ts, formats=formats))


TEMPLATES = [
    "<{n}>1 {iso} h app {n} - - m",
    "<{n}>{mon} {d} 10:00:00 h tag[{n}]: m",
    "{iso} {w} [{w}] m",
    "{mon} {d} 10:00:00 h {w}[{n}]: m",
    "{w}={iso} level={w} msg={w}",
]


@settings(max_examples=500)
@given(
    template=st.sampled_from(TEMPLATES),
    n=st.integers(0, 10**6).map(str) | st.text(max_size=4),
    iso=st.text(alphabet="0123456789-:T .,Z+", max_size=30),
    mon=st.sampled_from(["Jan", "Feb", "Dec", "Xyz"]),
    d=st.integers(-1, 40).map(str),
    w=st.text(max_size=8),
    kafka_ts=KAFKA,
)
def test_nearly_valid_lines(
    template: str, n: str, iso: str, mon: str, d: str, w: str, kafka_ts: Any
) -> None:
    line = template.format(n=n, iso=iso, mon=mon, d=d, w=w)
    check(parse(line.encode(), kafka_ts=kafka_ts))


# The quoted-string body as first written: one branch per character. The parsers use the
# unrolled form (logfmt.QUOTED), which must accept and capture exactly the same strings.
PLAIN_QUOTED = r'(?:[^"\\]|\\.)*'
QUOTING = st.text(alphabet='ab= "\\\n\t[]', max_size=40)


@settings(max_examples=600)
@given(QUOTING)
def test_unrolled_quoted_strings_match_what_the_plain_form_matches(text: str) -> None:
    import re

    from logradar.parsing import formats, logfmt

    for flags in (0, re.S):
        plain = re.compile(rf'"({PLAIN_QUOTED})"', flags)
        unrolled = re.compile(rf'"({logfmt.QUOTED})"', flags)
        assert bool(unrolled.fullmatch(text)) == bool(plain.fullmatch(text))
        assert unrolled.findall(text) == plain.findall(text)
    plain_pairs = re.compile(rf'([^\s="]+)=(?:"({PLAIN_QUOTED})"|([^\s"]*))', re.S)
    assert logfmt._PAIRS.findall(text) == plain_pairs.findall(text)
    plain_param = re.compile(rf'([^\s\]="]+)="({PLAIN_QUOTED})"', re.S)
    assert formats._SD_PARAM.findall(text) == plain_param.findall(text)
