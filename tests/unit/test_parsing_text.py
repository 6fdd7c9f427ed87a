"""Text formats on hand-written lines: each format alone, and through the default order."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logradar.model import DeadLetter, DeadReason, Level, LogEvent
from logradar.parsing import FORMAT_NAMES, parse, validate_formats
from logradar.parsing.formats import _TABLE, RegexFormat, first_char
from logradar.parsing.text import plan


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> float:
    """Epoch seconds for a UTC calendar time."""
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC).timestamp()


KAFKA_2023 = at(2023, 11, 14, 12, 0, 0)


def ev(
    ts: float, service: str, level: Level, message: str, host: str = "", **attrs: Any
) -> LogEvent:
    return LogEvent(ts=ts, service=service, level=level, message=message, host=host, attrs=attrs)


CASES: list[tuple[str, str, LogEvent]] = [
    (
        "logfmt",
        'ts=2023-11-14T10:00:00Z level=warn service=api msg="disk \\"almost\\" full\\n" pct=91',
        ev(at(2023, 11, 14, 10, 0, 0), "api", Level.WARN, 'disk "almost" full\n', pct="91"),
    ),
    (
        "logfmt",
        "time=1699956000 severity=3 app=billing host=h1 user= message=boom",
        ev(at(2023, 11, 14, 10, 0, 0), "billing", Level.ERROR, "boom", "h1", user=""),
    ),
    (
        "logfmt",
        'lvl=info log.level=debug service.name=web msg="path=/x y=z" dur=1.5s',
        ev(KAFKA_2023, "web", Level.INFO, "path=/x y=z", **{"log.level": "debug", "dur": "1.5s"}),
    ),
    (
        "bracketed",
        "2023-11-14T10:00:00.250Z ERROR [payments] card declined: code=51",
        ev(
            at(2023, 11, 14, 10, 0, 0, micro=250000),
            "payments",
            Level.ERROR,
            "card declined: code=51",
        ),
    ),
    (
        "bracketed",
        "2023-11-14 10:00:00,500 INFO  [api] started",
        ev(at(2023, 11, 14, 10, 0, 0, micro=500000), "api", Level.INFO, "started"),
    ),
    (
        "bracketed",
        "2023-11-14T12:00:00+02:00 WARNING [db pool] slow\n\tat line two",
        ev(at(2023, 11, 14, 10, 0, 0), "db pool", Level.WARN, "slow\n\tat line two"),
    ),
    (
        "bracketed",
        "2023-11-14T10:00:00 NOISE [x] what level?",
        ev(at(2023, 11, 14, 10, 0, 0), "x", Level.UNKNOWN, "what level?"),
    ),
    (
        "syslog5424",
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
        '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]'
        '[examplePriority@32473 class="high \\"x\\" \\]"] \ufeffAn application event',
        ev(
            at(2003, 10, 11, 22, 14, 15, micro=3000),
            "evntslog",
            Level.INFO,
            "An application event",
            "mymachine.example.com",
            msgid="ID47",
            **{
                "exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"},
                "examplePriority@32473": {"class": 'high "x" ]'},
            },
        ),
    ),
    (
        "syslog5424",
        "<34>1 2003-10-11T22:14:15.003-07:00 host su 77 - - 'su root' failed",
        ev(
            at(2003, 10, 12, 5, 14, 15, micro=3000),
            "su",
            Level.FATAL,
            "'su root' failed",
            "host",
            procid="77",
        ),
    ),
    (
        "syslog5424",
        "<11>1 - - - - - -",
        ev(KAFKA_2023, "unknown", Level.ERROR, ""),
    ),
    (
        "syslog3164",
        "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
        ev(
            at(2023, 10, 11, 22, 14, 15),
            "su",
            Level.FATAL,
            "'su root' failed for lonvick on /dev/pts/8",
            "mymachine",
        ),
    ),
    (
        "syslog3164",
        "<13>Nov 15 11:00:00 web1 nginx[812]: upstream timed out",  # 23h after Kafka time
        ev(
            at(2023, 11, 15, 11, 0, 0), "nginx", Level.INFO, "upstream timed out", "web1", pid="812"
        ),
    ),
    (
        "syslog3164",
        "Dec  1 08:00:00 web1 cron[5]: nightly job",  # would be weeks ahead: last year
        ev(at(2022, 12, 1, 8, 0, 0), "cron", Level.UNKNOWN, "nightly job", "web1", pid="5"),
    ),
    (
        "apache",
        "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6",
        ev(
            at(2005, 12, 4, 4, 47, 44),
            "apache",
            Level.ERROR,
            "mod_jk child workerEnv in error state 6",
        ),
    ),
    (
        "apache",
        "[Wed Oct 11 14:32:52.123456 2023] [core:crit] [pid 1:tid 2] AH00001: bad",
        ev(
            at(2023, 10, 11, 14, 32, 52, micro=123456),
            "core",
            Level.FATAL,
            "[pid 1:tid 2] AH00001: bad",
        ),
    ),
    (
        "openssh",
        "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
        ev(
            at(2022, 12, 10, 6, 55, 46),
            "sshd",
            Level.UNKNOWN,
            "Invalid user webmaster from 173.234.31.186",
            "LabSZ",
            pid="24200",
        ),
    ),
    (
        "hdfs",
        "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating",
        ev(
            at(2008, 11, 9, 20, 36, 15),
            "dfs.DataNode$PacketResponder",
            Level.INFO,
            "PacketResponder 1 terminating",
            pid="148",
        ),
    ),
    (
        "zookeeper",
        "2015-07-29 19:04:29,071 - WARN  [SendWorker:188978561024:QuorumCnxManager$SendWorker@688]"
        " - Send worker leaving thread",
        ev(
            at(2015, 7, 29, 19, 4, 29, micro=71000),
            "QuorumCnxManager$SendWorker",
            Level.WARN,
            "Send worker leaving thread",
            thread="SendWorker:188978561024",
            line="688",
        ),
    ),
    (
        "linux",
        "Jun 14 15:16:02 combo sshd(pam_unix)[19937]: check pass; user unknown",
        ev(
            at(2023, 6, 14, 15, 16, 2),
            "sshd(pam_unix)",
            Level.UNKNOWN,
            "check pass; user unknown",
            "combo",
            pid="19937",
        ),
    ),
    (
        "linux",
        "Jun  9 06:06:20 combo kernel: Linux version 2.6.5",
        ev(at(2023, 6, 9, 6, 6, 20), "kernel", Level.UNKNOWN, "Linux version 2.6.5", "combo"),
    ),
    (
        "hadoop",
        "2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster:"
        " Created MRAppMaster",
        ev(
            at(2015, 10, 18, 18, 1, 47, micro=978000),
            "org.apache.hadoop.mapreduce.v2.app.MRAppMaster",
            Level.INFO,
            "Created MRAppMaster",
            thread="main",
        ),
    ),
    (
        "spark",
        "17/06/09 20:10:40 INFO spark.SecurityManager: Changing view acls to: yarn,curi",
        ev(
            at(2017, 6, 9, 20, 10, 40),
            "spark.SecurityManager",
            Level.INFO,
            "Changing view acls to: yarn,curi",
        ),
    ),
    (
        "android",
        "03-17 16:13:38.819  1702  8671 D PowerManagerService: acquire lock=233570404",
        ev(
            at(2023, 3, 17, 16, 13, 38, micro=819000),
            "PowerManagerService",
            Level.DEBUG,
            "acquire lock=233570404",
            pid="1702",
            tid="8671",
        ),
    ),
    (
        "android",
        "03-17 16:13:38.819  1702  8671 A libc : Fatal signal 6",
        ev(
            at(2023, 3, 17, 16, 13, 38, micro=819000),
            "libc",
            Level.FATAL,
            "Fatal signal 6",
            pid="1702",
            tid="8671",
        ),
    ),
    (
        "openstack",
        "nova-compute.log.1.2017-05-16_13:55:31 2017-05-16 00:00:20.345 2931 WARNING"
        " nova.virt.libvirt.imagecache [req-1 - - - - -] Unknown base file",
        ev(
            at(2017, 5, 16, 0, 0, 20, micro=345000),
            "nova.virt.libvirt.imagecache",
            Level.WARN,
            "Unknown base file",
            logrecord="nova-compute.log.1.2017-05-16_13:55:31",
            pid="2931",
            context="req-1 - - - - -",
        ),
    ),
    (
        "bgl",
        "KERNDTLB 1118536327 2005.06.11 R30-M0-N9-C:J16-U01 2005-06-11-17.32.07.581048"
        " R30-M0-N9-C:J16-U01 RAS KERNEL FATAL data TLB error interrupt",
        ev(
            1118536327.581048,
            "KERNEL",
            Level.FATAL,
            "data TLB error interrupt",
            "R30-M0-N9-C:J16-U01",
            label="KERNDTLB",
            type="RAS",
        ),
    ),
    (
        "hpc",
        "350766 node-109 unix.hw state_change.unavailable 1084680778 1"
        " Component State Change: Component \\042alt0\\042 is unavailable",
        ev(
            1084680778.0,
            "unix.hw",
            Level.UNKNOWN,
            "Component State Change: Component \\042alt0\\042 is unavailable",
            "node-109",
            logid="350766",
            state="state_change.unavailable",
            flag="1",
        ),
    ),
    (
        "healthapp",
        "20171224-1:2:35:7|Step_LSC|30002312|onStandStepChanged 3579",
        ev(
            at(2017, 12, 24, 1, 2, 35, micro=7000),
            "Step_LSC",
            Level.UNKNOWN,
            "onStandStepChanged 3579",
            pid="30002312",
        ),
    ),
    (
        "mac",
        "Jul  1 09:01:05 calvisitor-10-105-160-95 sandboxd[129] ([31211]): Deny mach-lookup",
        ev(
            at(2023, 7, 1, 9, 1, 5),
            "sandboxd",
            Level.UNKNOWN,
            "Deny mach-lookup",
            "calvisitor-10-105-160-95",
            pid="129",
            address="[31211]",
        ),
    ),
    (
        "proxifier",
        "[10.30 16:49:06] chrome.exe *64 - proxy.cse.cuhk.edu.hk:5070 open through proxy",
        ev(
            at(2023, 10, 30, 16, 49, 6),
            "chrome.exe *64",
            Level.UNKNOWN,
            "proxy.cse.cuhk.edu.hk:5070 open through proxy",
        ),
    ),
    (
        "thunderbird",
        "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond(pam_unix)[2915]:"
        " session closed for user root",
        ev(
            1131566461.0,
            "crond(pam_unix)",
            Level.UNKNOWN,
            "session closed for user root",
            "dn228",
            label="-",
            location="dn228/dn228",
            pid="2915",
        ),
    ),
    (
        "windows",
        "2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack v6.1.7601.23505",
        ev(at(2016, 9, 28, 4, 30, 30), "CBS", Level.INFO, "Loaded Servicing Stack v6.1.7601.23505"),
    ),
]


@pytest.mark.parametrize(("name", "line", "expected"), CASES)
@pytest.mark.parametrize("ending", ["", "\n", "\r\n", "  \r\n"])
def test_format_alone_and_in_default_order(
    name: str, line: str, expected: LogEvent, ending: str
) -> None:
    raw = (line + ending).encode()
    assert parse(raw, kafka_ts=KAFKA_2023, formats=[name]) == expected
    assert parse(raw, kafka_ts=KAFKA_2023) == expected


def test_every_format_has_a_hand_written_case() -> None:
    assert {name for name, _, _ in CASES} == set(FORMAT_NAMES)


def test_key_is_the_service_fallback_for_text() -> None:
    got = parse(b"ts=1699956000 msg=hi", key=b"orders")
    assert isinstance(got, LogEvent)
    assert got.service == "orders"


@pytest.mark.parametrize(
    "line",
    [
        "user=bob role=admin",  # k=v, but no timestamp, level or message alias
        "msg=hello and some prose",  # not all pairs
        'msg="unterminated',
        "=value msg=x",
        "msg = spaced",
    ],
)
def test_logfmt_does_not_claim_other_text(line: str) -> None:
    got = parse(line.encode(), kafka_ts=KAFKA_2023, formats=["logfmt"])
    assert got == DeadLetter(DeadReason.UNPARSED, "no format matched; tried: logfmt")


@pytest.mark.parametrize(
    ("line", "formats", "kafka_ts", "why"),
    [
        ("<34>Feb 30 10:00:00 h su: x", ["syslog3164"], KAFKA_2023, "invalid date"),
        ("<34>Oct 11 22:14:15 h su: x", ["syslog3164"], None, "year-less"),
        ("ts=yesterday msg=x", ["logfmt"], KAFKA_2023, "unusable"),
        (
            "2023-11-14T10:00:00Z INFO [a] too old? no: too new",
            ["bracketed"],
            at(2023, 11, 1),
            "1 day",
        ),
        ("1999-12-31T23:59:59Z INFO [a] too old", ["bracketed"], KAFKA_2023, "before 2000"),
        ("<34>1 2003-13-11T22:14:15Z h su - - - x", ["syslog5424"], KAFKA_2023, "unusable"),
        ("<34>1 - h su - - - x", ["syslog5424"], None, "no Kafka time"),
        ("081139 203615 148 INFO dfs.X: y", ["hdfs"], KAFKA_2023, "invalid date"),
    ],
)
def test_text_bad_timestamps(
    line: str, formats: list[str], kafka_ts: float | None, why: str
) -> None:
    got = parse(line.encode(), kafka_ts=kafka_ts, formats=formats)
    assert isinstance(got, DeadLetter)
    assert got.reason is DeadReason.BAD_TIMESTAMP
    assert why in got.detail


def test_feb_29_takes_the_latest_leap_year() -> None:
    got = parse(b"<34>Feb 29 10:00:00 h su: x", kafka_ts=at(2023, 3, 1), formats=["syslog3164"])
    assert isinstance(got, LogEvent)
    assert got.ts == at(2020, 2, 29, 10, 0, 0)


@pytest.mark.parametrize(
    ("kafka_ts", "year"),
    [
        (at(2023, 12, 31, 23, 59, 0), 2024),  # just after New Year on the sender: next year
        (at(2024, 1, 1, 0, 5, 0), 2024),
        (at(2024, 12, 30, 0, 0, 0), 2024),  # Jan 1 2025 is more than a day ahead
        (at(2024, 6, 1), 2024),
    ],
)
def test_year_inference_around_new_year(kafka_ts: float, year: int) -> None:
    got = parse(b"Jan  1 00:00:30 h cron: tick", kafka_ts=kafka_ts, formats=["syslog3164"])
    assert isinstance(got, LogEvent)
    assert got.ts == at(year, 1, 1, 0, 0, 30)


def test_formats_restrict_and_reorder() -> None:
    line = b"2015-10-18 18:01:47,978 INFO [main] org.example.Job: started"
    default = parse(line)
    bracketed = parse(line, formats=["bracketed", "hadoop"])
    assert isinstance(default, LogEvent) and isinstance(bracketed, LogEvent)
    assert (default.service, default.message) == ("org.example.Job", "started")
    assert (bracketed.service, bracketed.message) == ("main", "org.example.Job: started")
    assert parse(line, formats=["apache"]) == DeadLetter(
        DeadReason.UNPARSED, "no format matched; tried: apache"
    )


def test_a_single_format_name_string_is_one_format() -> None:
    got = parse(b"msg=x ts=1699956000", formats="logfmt")
    assert isinstance(got, LogEvent)


def test_validate_formats() -> None:
    assert validate_formats(["logfmt", "apache"]) == ("logfmt", "apache")
    assert validate_formats(FORMAT_NAMES) == FORMAT_NAMES
    assert validate_formats([]) == ()
    with pytest.raises(ValueError, match="'nope'"):
        validate_formats(["logfmt", "nope"])
    with pytest.raises(ValueError, match="single string"):
        validate_formats("logfmt")


def test_default_order_puts_specific_formats_before_generic_ones() -> None:
    order = {name: i for i, name in enumerate(FORMAT_NAMES)}
    assert order["hadoop"] < order["bracketed"]
    for specific in ("openssh", "linux", "mac"):
        assert order[specific] < order["syslog3164"]
    assert FORMAT_NAMES[-1] == "logfmt"


# --------------------------------------------------------------------------- first characters


def test_first_char_follows_optional_prefixes_and_alternatives() -> None:
    head = first_char(re.compile(r"(?:<(?P<pri>\d+)>)?(?P<mon>Jan|Feb) +x|\[y"))
    assert head is not None
    assert [c for c in "<JF[x\u0663 " if head.fullmatch(c)] == ["<", "J", "F", "["]


def test_first_char_gives_up_where_it_cannot_tell() -> None:
    assert first_char(re.compile(r".x")) is None
    assert first_char(re.compile(r"(?=a)\w+")) is None
    assert first_char(re.compile(r"abc", re.IGNORECASE)) is None
    assert first_char(re.compile(r"(?i:a)b")) is None
    # unicode digits are digits for the format and for its first character alike
    head = first_char(re.compile(r"\d{4}-"))
    assert head is not None and head.fullmatch("\u0663")


@pytest.mark.parametrize("fmt", _TABLE, ids=lambda f: f.name)
@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_first_char_admits_every_line_a_format_matches(
    fmt: RegexFormat, data: st.DataObject
) -> None:
    line = data.draw(st.from_regex(fmt.pattern, fullmatch=True).filter(bool))
    assert fmt.head is None or fmt.head.match(line[0]), (fmt.name, line)


def test_candidates_keep_the_order_and_drop_what_cannot_match() -> None:
    chosen = plan(("syslog5424", "logfmt", "bracketed", "linux"))
    names = [getattr(m, "name", "logfmt") for m in chosen.candidates("<")]
    assert names == ["syslog5424", "logfmt"]
    names = [getattr(m, "name", "logfmt") for m in chosen.candidates("2")]
    assert names == ["logfmt", "bracketed"]
    names = [getattr(m, "name", "logfmt") for m in chosen.candidates("M")]
    assert names == ["logfmt", "linux"]
