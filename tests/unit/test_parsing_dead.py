"""Every dead-letter reason parse can give, and that parse never raises on them."""

from __future__ import annotations

import pytest

from logradar.model import DeadLetter, DeadReason
from logradar.parsing import parse

KAFKA = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "reason", "detail"),
    [
        (None, DeadReason.EMPTY, ""),
        (b"", DeadReason.EMPTY, ""),
        (b"   ", DeadReason.EMPTY, ""),
        (b"\r\n", DeadReason.EMPTY, ""),
        (b" \t\n\x0b\x0c ", DeadReason.EMPTY, ""),
        ("\u00a0\u2003".encode(), DeadReason.EMPTY, ""),  # Unicode blanks only
        (b"\xff\xfe", DeadReason.NOT_UTF8, "utf-8"),
        (b"plain text \xc3(", DeadReason.NOT_UTF8, "utf-8"),
        (b'{"msg": "\xff"}', DeadReason.NOT_UTF8, "utf-8"),
        (b"{", DeadReason.INVALID_JSON, "line 1"),
        (b'{"a": 1', DeadReason.INVALID_JSON, ""),
        (b'{"a": 1}}', DeadReason.INVALID_JSON, "after document"),
        (b"{'a': 1}", DeadReason.INVALID_JSON, ""),
        (b'{"ts": NaN}', DeadReason.INVALID_JSON, ""),
        (b'{"ts": Infinity}', DeadReason.INVALID_JSON, ""),
        (b"[1, 2", DeadReason.INVALID_JSON, ""),
        (b"[not json", DeadReason.INVALID_JSON, ""),
        (b"[" * 2000 + b"]" * 2000, DeadReason.INVALID_JSON, "depth limit"),
        (b'{"a":' * 2000 + b"1" + b"}" * 2000, DeadReason.INVALID_JSON, "depth limit"),
        (b"[1, 2]", DeadReason.NOT_OBJECT, "array"),
        (b"[]", DeadReason.NOT_OBJECT, "array"),
        (b'"x"', DeadReason.NOT_OBJECT, "string"),
        (b'"a line in quotes"\n', DeadReason.NOT_OBJECT, "string"),
        (b"42", DeadReason.NOT_OBJECT, "number"),
        (b"-1.5e3\r\n", DeadReason.NOT_OBJECT, "number"),
        (b"true", DeadReason.NOT_OBJECT, "boolean"),
        (b"null", DeadReason.NOT_OBJECT, "null"),
        (b'{"ts": "never", "msg": "x"}', DeadReason.BAD_TIMESTAMP, "never"),
        (b'{"ts": true}', DeadReason.BAD_TIMESTAMP, ""),
        (b'{"ts": 12}', DeadReason.BAD_TIMESTAMP, "before 2000"),
        (b'{"ts": 9999999999}', DeadReason.BAD_TIMESTAMP, "after the Kafka"),
        (b"hello world", DeadReason.UNPARSED, "tried: syslog5424"),
        (b"42 is the answer", DeadReason.UNPARSED, "logfmt"),
        (b"key=value other=thing", DeadReason.UNPARSED, ""),
        (b"  indented text", DeadReason.UNPARSED, ""),
        (b"ts=2023-11-14T22:13:20Z and then prose", DeadReason.UNPARSED, ""),
    ],
)
def test_dead_letter_reasons(value: bytes | None, reason: DeadReason, detail: str) -> None:
    got = parse(value, kafka_ts=KAFKA)
    assert isinstance(got, DeadLetter), got
    assert got.reason is reason
    assert detail.lower() in got.detail.lower()


def test_year_less_text_without_kafka_time_is_a_bad_timestamp() -> None:
    got = parse(b"Jun 14 15:16:02 combo sshd[1]: x")
    assert got == DeadLetter(
        DeadReason.BAD_TIMESTAMP, "openssh: year-less timestamp and no Kafka time"
    )


def test_unparsed_detail_names_only_the_formats_tried() -> None:
    got = parse(b"hello", formats=["apache", "logfmt"])
    assert got == DeadLetter(DeadReason.UNPARSED, "no format matched; tried: apache, logfmt")


def test_no_formats_at_all_leaves_text_unparsed() -> None:
    got = parse(b"Jun 14 15:16:02 combo sshd[1]: x", kafka_ts=KAFKA, formats=[])
    assert isinstance(got, DeadLetter)
    assert got.reason is DeadReason.UNPARSED


def test_unknown_format_names_do_not_raise_in_parse() -> None:
    got = parse(b"hello", formats=["no-such-format"])
    assert isinstance(got, DeadLetter)
    assert got.reason is DeadReason.UNPARSED


@pytest.mark.parametrize("value", ["a str, not bytes", 42, object()])
def test_wrong_argument_types_still_do_not_raise(value: object) -> None:
    got = parse(value, kafka_ts=KAFKA)  # type: ignore[arg-type]
    assert isinstance(got, DeadLetter)
