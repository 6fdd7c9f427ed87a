"""replay and tail against the embedded broker: every line arrives, keyed by service."""

from __future__ import annotations

import io
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from rich.console import Console
from typer.testing import CliRunner

from logradar.generate import generate, write_lines
from logradar.kafka import ensure_topics, make_consumer, make_producer
from logradar.model import DeadLetter, DeadReason, dead_letter_record
from logradar.settings import Settings, get_settings, load_settings
from logradar.tail import tail
from tests.conftest import need

pytestmark = pytest.mark.integration

T0 = 1_795_000_020.0


@pytest.fixture
def parser_ready() -> None:
    """replay keys records with logradar.parsing.parse; skip until it exists."""
    import logradar.parsing

    need(hasattr(logradar.parsing, "parse"), "logradar.parsing.parse is not there yet")


def _consume(bootstrap: str, topic: str, n: int, timeout: float = 60.0) -> list[Any]:
    """The first ``n`` records of ``topic`` (all partitions), in arrival order."""
    consumer = make_consumer(bootstrap, f"test-read-{topic}")
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    got: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < n and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            got.append(msg)
        # Nothing more than n arrives.
        extra = consumer.poll(1.0)
        assert extra is None or extra.error() is not None
    finally:
        consumer.close()
    return got


def _value(msg: Any) -> bytes:
    return msg.value() or b""  # an empty value may come back as None


def test_replay_delivers_every_line_keyed_by_service(
    broker: Any, tmp_path: Path, unique: str, parser_ready: None
) -> None:
    records = list(
        generate(
            start_ts=T0,
            rate=100.0,
            count=1500,
            bad_every=9,
            late_every=23,
            disorder_s=2.0,
            scenario="error-burst",
            burst_at_s=3.0,
        )
    )
    path = tmp_path / "gen.log"
    write_lines(path, records)
    topic = f"replay-{unique}"
    ensure_topics(broker.bootstrap, [topic], partitions=4)

    from logradar.replay import replay

    stats = replay([path], bootstrap=broker.bootstrap, topic=topic, progress=False)
    assert (stats.records, stats.failed) == (len(records), 0)
    assert stats.bytes == sum(len(r.value) for r in records)

    got = _consume(broker.bootstrap, topic, len(records))
    assert len(got) == len(records)
    assert Counter((m.key(), _value(m)) for m in got) == Counter((r.key, r.value) for r in records)
    assert {m.key() for m in got} >= {b"checkout", None}
    assert len({m.partition() for m in got}) > 1

    # One service's records stay in file order (one key, one partition).
    sent: dict[bytes | None, list[bytes]] = defaultdict(list)
    received: dict[bytes | None, list[bytes]] = defaultdict(list)
    for r in records:
        if r.key is not None:
            sent[r.key].append(r.value)
    for m in got:
        if m.key() is not None:
            received[m.key()].append(_value(m))
    assert received == sent


def test_replay_paces_by_event_time(
    broker: Any, tmp_path: Path, unique: str, parser_ready: None
) -> None:
    # 21 records over 2 s of event time, at 4x: about half a second.
    records = list(generate(start_ts=T0, rate=10.0, count=21, formats=("logfmt",)))
    path = tmp_path / "paced.log"
    write_lines(path, records)
    topic = f"paced-{unique}"
    ensure_topics(broker.bootstrap, [topic], partitions=4)

    from logradar.replay import replay

    stats = replay([path], bootstrap=broker.bootstrap, topic=topic, speed=4.0, progress=False)
    assert stats.records == 21
    assert 0.45 <= stats.seconds < 5.0
    fast = replay([path], bootstrap=broker.bootstrap, topic=topic, progress=False)
    assert fast.seconds < stats.seconds


def _settings(broker: Any, unique: str) -> Settings:
    return load_settings(
        broker=broker.url,
        alerts_topic=f"alerts-{unique}",
        counts_topic=f"counts-{unique}",
        dead_letter_topic=f"dead-{unique}",
    )


def _produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    ensure_topics(bootstrap, [topic], partitions=4)
    producer = make_producer(bootstrap)
    for value in values:
        producer.produce(topic, value=value, key=b"one-partition")  # keeps their order
    assert producer.flush(30) == 0


ALERTS = [
    orjson.dumps(
        {"state": state, "rule": "error_burst", "service": "checkout", "summary": f"{n} errors"}
    )
    for n, state in ((12, "firing"), (14, "firing"), (3, "resolved"))
]


def test_tail_json_prints_the_raw_values(
    broker: Any, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(broker, unique)
    _produce(broker.bootstrap, settings.alerts_topic, ALERTS)

    printed = tail(
        "alerts", settings=settings, json_out=True, from_beginning=True, max_records=3, timeout=30
    )
    assert printed == 3
    assert capsys.readouterr().out.splitlines() == [a.decode() for a in ALERTS]


def test_tail_stops_after_timeout_when_quiet(broker: Any, unique: str) -> None:
    settings = _settings(broker, unique)
    ensure_topics(broker.bootstrap, [settings.counts_topic], partitions=4)
    started = time.monotonic()
    printed = tail("counts", settings=settings, from_beginning=True, timeout=1.0)
    assert printed == 0
    assert time.monotonic() - started < 20


def test_tail_readable_lines(broker: Any, unique: str) -> None:
    settings = _settings(broker, unique)
    dead = [
        dead_letter_record(
            DeadLetter(DeadReason.INVALID_JSON),
            b'{"ts": 1',
            topic="logs.raw",
            partition=2,
            offset=41,
        ),
        dead_letter_record(
            DeadLetter(DeadReason.NOT_UTF8), b"\xff\xfe", topic="logs.raw", partition=0, offset=7
        ),
    ]
    counts = [
        {
            "kind": "tumbling",
            "service": "payments",
            "level": "ERROR",
            "window_start": T0,
            "window_end": T0 + 60,
            "count": 17,
        }
    ]
    cases: list[tuple[str, str, list[bytes], list[str]]] = [
        (
            "dead-letter",
            settings.dead_letter_topic,
            [orjson.dumps(d) for d in dead] + [b"not json at all"],
            [
                'invalid_json   logs.raw/2/41 {"ts": 1',
                "not_utf8       logs.raw/0/7 (base64) //4=",
                "not json at all",
            ],
        ),
        (
            "counts",
            settings.counts_topic,
            [orjson.dumps(c) for c in counts],
            ["payments", "ERROR", "2026-11-18T11:07:00Z - 2026-11-18T11:08:00Z 17"],
        ),
        ("alerts", settings.alerts_topic, ALERTS[:1], ["FIRING", "error_burst", "12 errors"]),
    ]
    for kind, topic, values, expected in cases:
        _produce(broker.bootstrap, topic, values)
        buf = io.StringIO()
        console = Console(file=buf, width=200, soft_wrap=True, color_system=None)
        n = tail(
            kind,
            settings=settings,
            from_beginning=True,
            max_records=len(values),
            timeout=30,
            console=console,
        )
        assert n == len(values)
        text = buf.getvalue()
        for fragment in expected:
            assert fragment in text, (kind, fragment, text)


@pytest.fixture
def cli_env(broker: Any, unique: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("LOGRADAR_BROKER", broker.url)
    monkeypatch.setenv("LOGRADAR_INPUT_TOPICS", f"raw-{unique}")
    monkeypatch.setenv("LOGRADAR_ALERTS_TOPIC", f"alerts-{unique}")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_cli_replay_then_tail(
    cli_env: Settings, tmp_path: Path, broker: Any, parser_ready: None
) -> None:
    from logradar.cli import app

    runner = CliRunner()
    path = tmp_path / "in.log"
    write_lines(path, generate(start_ts=T0, rate=50.0, count=200, bad_every=20))
    result = runner.invoke(app, ["replay", str(path), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert len(_consume(broker.bootstrap, cli_env.input_topics[0], 200)) == 200

    _produce(broker.bootstrap, cli_env.alerts_topic, ALERTS)
    result = runner.invoke(
        app, ["tail", "alerts", "--json", "--from-beginning", "--max", "2", "--timeout", "30"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [a.decode() for a in ALERTS[:2]]
