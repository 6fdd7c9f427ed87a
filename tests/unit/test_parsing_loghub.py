"""The loghub 2k samples: every line parses, and agrees with loghub's structured CSV."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from logradar.model import Level, LogEvent
from logradar.parsing import parse

Row = dict[str, str]

LEVELS = {
    **{name: Level.INFO for name in ("INFO", "Info", "notice")},
    **{name: Level.WARN for name in ("WARN", "WARNING")},
    **{name: Level.ERROR for name in ("ERROR", "error", "SEVERE")},
    "FATAL": Level.FATAL,
    **{"V": Level.TRACE, "D": Level.DEBUG, "I": Level.INFO, "W": Level.WARN, "E": Level.ERROR},
}


def utc(text: str, fmt: str) -> float:
    return datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp()


def kafka(year: int, month: int, day: int) -> float:
    """A Kafka time just after a year-less sample, so the year is inferred as ``year``."""
    return datetime(year, month, day, tzinfo=UTC).timestamp()


def healthapp_ts(text: str) -> float:
    day, clock = text.split("-")
    hour, minute, second, millis = (int(part) for part in clock.split(":"))
    base = utc(day, "%Y%m%d")
    return base + hour * 3600 + minute * 60 + second + millis / 1000


@dataclass(frozen=True)
class Sample:
    """What the structured CSV says each parsed field must be."""

    fmt: str
    ts: Callable[[Row], float]
    service: Callable[[Row], str]
    level: Callable[[Row], Level] = lambda row: Level.UNKNOWN
    host: Callable[[Row], str] = lambda row: ""
    kafka_ts: float = kafka(2030, 1, 1)


def csv_level(row: Row) -> Level:
    return LEVELS[row["Level"]]


def component(row: Row) -> str:
    return row["Component"].strip()  # services are stripped ("scsi0 " in Thunderbird)


SAMPLES: dict[str, Sample] = {
    "Android": Sample(
        "android",
        lambda r: utc(f"2017-{r['Date']} {r['Time']}", "%Y-%m-%d %H:%M:%S.%f"),
        component,
        csv_level,
        kafka_ts=kafka(2017, 3, 18),
    ),
    "Apache": Sample(
        "apache", lambda r: utc(r["Time"], "%a %b %d %H:%M:%S %Y"), lambda r: "apache", csv_level
    ),
    "BGL": Sample(
        "bgl",
        lambda r: int(r["Timestamp"]) + int(r["Time"][-6:]) / 1e6,
        component,
        csv_level,
        lambda r: r["Node"],
    ),
    "HDFS": Sample(
        "hdfs", lambda r: utc(r["Date"] + r["Time"], "%y%m%d%H%M%S"), component, csv_level
    ),
    "HPC": Sample("hpc", lambda r: float(r["Time"]), component, host=lambda r: r["Node"]),
    "Hadoop": Sample(
        "hadoop",
        lambda r: utc(f"{r['Date']} {r['Time']}", "%Y-%m-%d %H:%M:%S,%f"),
        component,
        csv_level,
    ),
    "HealthApp": Sample("healthapp", lambda r: healthapp_ts(r["Time"]), component),
    "Linux": Sample(
        "linux",
        lambda r: utc(f"2005 {r['Month']} {r['Date']} {r['Time']}", "%Y %b %d %H:%M:%S"),
        component,
        host=lambda r: r["Level"],  # loghub's "Level" column is the hostname
        kafka_ts=kafka(2005, 8, 1),
    ),
    "Mac": Sample(
        "mac",
        lambda r: utc(f"2017 {r['Month']} {r['Date']} {r['Time']}", "%Y %b %d %H:%M:%S"),
        component,
        host=lambda r: r["User"],  # loghub's "User" column is the hostname
        kafka_ts=kafka(2017, 7, 9),
    ),
    "OpenSSH": Sample(
        "openssh",
        lambda r: utc(f"2015 {r['Date']} {r['Day']} {r['Time']}", "%Y %b %d %H:%M:%S"),
        lambda r: "sshd",
        host=lambda r: r["Component"],  # loghub's "Component" column is the hostname
        kafka_ts=kafka(2015, 12, 11),
    ),
    "OpenStack": Sample(
        "openstack",
        lambda r: utc(f"{r['Date']} {r['Time']}", "%Y-%m-%d %H:%M:%S.%f"),
        component,
        csv_level,
    ),
    "Proxifier": Sample(
        "proxifier",
        lambda r: utc(f"2016.{r['Time']}", "%Y.%m.%d %H:%M:%S"),
        lambda r: r["Program"],
        kafka_ts=kafka(2016, 11, 1),
    ),
    "Spark": Sample(
        "spark",
        lambda r: utc(f"{r['Date']} {r['Time']}", "%y/%m/%d %H:%M:%S"),
        component,
        csv_level,
    ),
    "Thunderbird": Sample(
        "thunderbird", lambda r: float(r["Timestamp"]), component, host=lambda r: r["User"]
    ),
    "Windows": Sample(
        "windows",
        lambda r: utc(f"{r['Date']} {r['Time']}", "%Y-%m-%d %H:%M:%S"),
        component,
        csv_level,
    ),
    "Zookeeper": Sample(
        "zookeeper",
        lambda r: utc(f"{r['Date']} {r['Time']}", "%Y-%m-%d %H:%M:%S,%f"),
        # loghub splits "thread:Class" at the first colon; the class follows the last one
        lambda r: f"{r['Node']}:{r['Component']}".rsplit(":", 1)[1],
        csv_level,
    ),
}


def load(loghub: Path, system: str) -> tuple[list[bytes], list[Row]]:
    lines = (loghub / system / f"{system}_2k.log").read_bytes().splitlines(keepends=True)
    with (loghub / system / f"{system}_2k.log_structured.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    return lines, rows


@pytest.mark.parametrize("system", sorted(SAMPLES))
def test_loghub_sample_agrees_with_structured_csv(loghub: Path, system: str) -> None:
    sample = SAMPLES[system]
    lines, rows = load(loghub, system)
    assert len(lines) == len(rows) == 2000
    for number, (line, row) in enumerate(zip(lines, rows, strict=True), start=1):
        alone = parse(line, key=b"k", kafka_ts=sample.kafka_ts, formats=[sample.fmt])
        assert isinstance(alone, LogEvent), (number, line, alone)
        assert parse(line, key=b"k", kafka_ts=sample.kafka_ts) == alone, (number, line)
        expected: tuple[object, ...] = (
            pytest.approx(sample.ts(row), abs=1e-6),
            sample.service(row),
            sample.level(row),
            sample.host(row),
            row["Content"].strip(),
        )
        got: tuple[object, ...] = (
            alone.ts,
            alone.service,
            alone.level,
            alone.host,
            alone.message.lstrip(),
        )
        assert got == expected, (number, line)


def test_every_loghub_system_is_covered(loghub: Path) -> None:
    systems = {p.name for p in loghub.iterdir() if (p / f"{p.name}_2k.log").is_file()}
    assert systems <= set(SAMPLES)
