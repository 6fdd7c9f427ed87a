"""Follow logradar's output topics (alerts, window counts, dead letters) on the terminal.

A throwaway consumer group that never commits and takes its partitions by
assignment, so tailing never moves a real consumer's offsets and starts at
once. ``--json`` prints each value as it is (one line,
for ``jq``); otherwise each record becomes one readable, coloured line.
Records that do not look as expected are shown raw rather than dropped.
"""

from __future__ import annotations

import sys
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

import orjson
from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    from logradar.settings import Settings

TailKind = Literal["alerts", "counts", "dead-letter"]
KINDS: tuple[str, ...] = get_args(TailKind)

_STATE_STYLES = {"firing": "bold red", "resolved": "bold green"}


def topic_for(kind: str, settings: Settings) -> str:
    """The topic holding records of ``kind``."""
    if kind == "alerts":
        return settings.alerts_topic
    if kind == "counts":
        return settings.counts_topic
    if kind == "dead-letter":
        return settings.dead_letter_topic
    raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")


def _when(value: Any) -> str:
    """An epoch number as UTC ``YYYY-MM-DDTHH:MM:SSZ``; anything else as text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        except (OverflowError, OSError, ValueError):
            return str(value)
    return "?" if value is None else str(value)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def format_record(kind: str, value: bytes | None) -> Text:
    """One readable line for a record of ``kind`` (the raw value when it is not a JSON object)."""
    try:
        doc = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        doc = None
    if not isinstance(doc, dict):
        raw = (value or b"").decode("utf-8", "replace")
        return Text(raw[:200], style="dim")
    if kind == "alerts":
        state = _text(doc.get("state")) or "?"
        return Text.assemble(
            (f"{state.upper():<9}", _STATE_STYLES.get(state.lower(), "bold yellow")),
            (f"{_text(doc.get('rule')):<14} ", "cyan"),
            (f"{_text(doc.get('service')):<16} ", "bold"),
            _text(doc.get("summary")),
        )
    if kind == "counts":
        return Text.assemble(
            (f"{_text(doc.get('kind')):<9} ", "dim"),
            (f"{_text(doc.get('service')):<16} ", "bold"),
            (f"{_text(doc.get('level')):<7} ", "magenta"),
            f"{_when(doc.get('window_start'))} - {_when(doc.get('window_end'))} ",
            (_text(doc.get("count")), "bold cyan"),
        )
    if kind == "dead-letter":
        where = "/".join(_text(doc.get(field)) for field in ("topic", "partition", "offset"))
        raw = _text(doc.get("value"))
        if doc.get("value_encoding") == "base64":
            raw = f"(base64) {raw}"
        return Text.assemble(
            (f"{_text(doc.get('reason')):<14} ", "bold red"),
            (f"{where} ", "dim"),
            raw[:120],
        )
    raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")


def tail(
    kind: str,
    *,
    settings: Settings,
    json_out: bool = False,
    from_beginning: bool = False,
    max_records: int | None = None,
    timeout: float | None = None,
    console: Console | None = None,
) -> int:
    """Print records of ``kind`` as they arrive; return how many were printed.

    Reads every partition of the topic, from its end unless ``from_beginning``
    (partitions added later are not followed). Stops after ``max_records``
    records, after ``timeout`` seconds without a record (or without the topic
    appearing), or on Ctrl-C.
    """
    from confluent_kafka import (
        OFFSET_BEGINNING,
        OFFSET_END,
        KafkaError,
        KafkaException,
        TopicPartition,
    )

    from logradar.kafka import make_consumer

    topic = topic_for(kind, settings)
    out = console or Console(soft_wrap=True, highlight=False)
    err = Console(stderr=True, highlight=False)
    # A group of its own (never committed) and partitions assigned directly: no
    # group join to wait for, and no real consumer's offsets are touched.
    consumer = make_consumer(
        settings.bootstrap_servers,
        f"{settings.app_id}-tail-{uuid.uuid4().hex}",
        **settings.kafka_config(),
    )
    start = OFFSET_BEGINNING if from_beginning else OFFSET_END
    last = time.monotonic()

    def quiet_too_long() -> bool:
        return timeout is not None and time.monotonic() - last >= timeout

    printed = 0
    try:
        warned = False
        while True:
            meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
            if meta is not None and meta.error is None and meta.partitions:
                break
            if not warned:
                err.print(f"waiting for topic {topic} to exist", style="yellow")
                warned = True
            if quiet_too_long():
                return 0
            time.sleep(0.5)
        consumer.assign([TopicPartition(topic, p, start) for p in sorted(meta.partitions)])
        last = time.monotonic()
        while max_records is None or printed < max_records:
            msg = consumer.poll(0.25)
            if msg is None:
                if quiet_too_long():
                    break
                continue
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                if error.fatal():
                    raise KafkaException(error)
                err.print(f"kafka: {error.str()}", style="yellow")
                continue
            last = time.monotonic()
            value = msg.value()
            if json_out:
                sys.stdout.write((value or b"").decode("utf-8", "replace") + "\n")
                sys.stdout.flush()
            else:
                out.print(format_record(kind, value))
            printed += 1
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return printed
