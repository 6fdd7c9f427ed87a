"""Replay log files onto a Kafka topic, one record per line, keyed by service.

Every line is a record, an empty one included (the worker dead-letters it);
a file's final newline does not add one. Each line is parsed once, only to
key it by its service so one service's records stay in order on one
partition; lines that do not parse are sent with no key.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from logradar.progress import FileProgress

if TYPE_CHECKING:
    pass


@dataclass
class ReplayStats:
    """What a replay (or a live generation) sent: ``bytes`` counts record values
    (not newlines), ``failed`` the records that were not delivered."""

    records: int = 0
    bytes: int = 0
    seconds: float = 0.0
    failed: int = 0

    @property
    def rate(self) -> float:
        """Records per second (0 for an instant run)."""
        return self.records / self.seconds if self.seconds > 0 else 0.0


class DeliveryError(RuntimeError):
    """Some records were not delivered; ``stats`` says how many."""

    def __init__(self, stats: ReplayStats, first_error: str | None) -> None:
        super().__init__(
            f"{stats.failed} of {stats.records} records were not delivered"
            + (f" (first error: {first_error})" if first_error else "")
        )
        self.stats = stats
        self.first_error = first_error


class Sender:
    """A confluent-kafka producer for one topic that counts failed deliveries.

    ``send`` waits (serving delivery reports) while the local queue is full;
    a record the client refuses outright, or whose delivery report carries an
    error, or that is still queued when ``flush`` gives up, counts as failed.
    """

    def __init__(self, bootstrap: str, topic: str, **conf: Any) -> None:
        from logradar.kafka import make_producer

        self.topic = topic
        self.producer = make_producer(bootstrap, **conf)
        self.sent = 0
        self.failed = 0
        self.first_error: str | None = None

    def _failed(self, error: object) -> None:
        self.failed += 1
        if self.first_error is None:
            self.first_error = str(error)

    def _on_delivery(self, err: Any, msg: Any) -> None:
        if err is not None:
            self._failed(err)

    def send(self, value: bytes, key: bytes | None) -> None:
        from confluent_kafka import KafkaException

        while True:
            try:
                self.producer.produce(
                    self.topic, value=value, key=key, on_delivery=self._on_delivery
                )
                break
            except BufferError:
                self.producer.poll(0.05)
            except KafkaException as exc:
                self._failed(exc)
                break
        self.sent += 1
        if self.sent % 1000 == 0:
            self.producer.poll(0)

    def poll(self, timeout: float) -> None:
        """Serve delivery reports, waiting up to ``timeout`` seconds."""
        self.producer.poll(timeout)

    def flush(self, timeout: float = 60.0) -> None:
        """Wait for every queued record; those still queued after ``timeout`` count as failed."""
        remaining = int(self.producer.flush(timeout))
        if remaining > 0:
            self.failed += remaining
            if self.first_error is None:
                self.first_error = f"{remaining} records still queued after {timeout:g}s"


def read_records(path: str | Path) -> Iterator[bytes]:
    """The records of a file: its lines without ``\\n`` or ``\\r\\n``, empty ones included."""
    with open(path, "rb") as src:
        for line in src:
            if line.endswith(b"\r\n"):
                yield line[:-2]
            elif line.endswith(b"\n"):
                yield line[:-1]
            else:
                yield line


class _Pacer:
    """Holds records back so event time passes ``speed`` times faster than wall time."""

    def __init__(self, speed: float, sender: Sender) -> None:
        self.speed = speed
        self.sender = sender
        self.first_ts: float | None = None
        self.first_wall = 0.0

    def wait(self, ts: float) -> None:
        if self.first_ts is None:
            self.first_ts, self.first_wall = ts, time.monotonic()
            return
        due = self.first_wall + (ts - self.first_ts) / self.speed
        while (ahead := due - time.monotonic()) > 0:
            self.sender.poll(min(ahead, 0.05))


def replay(
    paths: Sequence[str | Path],
    *,
    bootstrap: str,
    topic: str,
    fmt: str | None = None,
    speed: float | None = None,
    progress: bool = True,
    conf: dict[str, Any] | None = None,
) -> ReplayStats:
    """Send every line of ``paths`` (in order) to ``topic``; raise DeliveryError if any failed.

    Each line is keyed by the service :func:`logradar.parsing.parse` finds in
    it (trying only ``fmt`` when given); a line that does not parse gets no
    key. By default records go out as fast as the producer takes them; with
    ``speed`` they are paced by event time at ``speed`` times real time (a
    record whose time is behind the newest seen goes out at once, and so do
    dead letters and events whose time had to come from the clock).
    """
    from logradar.model import DeadLetter
    from logradar.parsing import parse

    if speed is not None and speed <= 0:
        raise ValueError(f"speed must be > 0, got {speed}")
    files = [Path(p) for p in paths]
    formats = [fmt] if fmt else None
    total_bytes = sum(os.path.getsize(f) for f in files)
    sender = Sender(bootstrap, topic, **(conf or {}))
    pacer = _Pacer(speed, sender) if speed is not None else None
    stats = ReplayStats()
    started = time.monotonic()
    newest: float | None = None
    bar = FileProgress("replay", progress, total_bytes)
    try:
        for path in files:
            bar.describe(path.name)
            for line in read_records(path):
                now = time.time()
                parsed = parse(line, formats=formats, kafka_ts=now)
                if isinstance(parsed, DeadLetter):
                    key = None
                else:
                    key = parsed.service.encode()
                    # An event that took its time from the clock says nothing about pace.
                    if pacer is not None and parsed.ts != now:
                        if newest is None or parsed.ts > newest:
                            newest = parsed.ts
                            pacer.wait(parsed.ts)
                sender.send(line, key)
                stats.records += 1
                stats.bytes += len(line)
                bar.advance(len(line) + 1, stats.records)
    except KeyboardInterrupt:
        sender.flush(5.0)
        raise
    finally:
        bar.stop(stats.records)
    sender.flush()
    stats.failed = sender.failed
    stats.seconds = time.monotonic() - started
    if stats.failed:
        raise DeliveryError(stats, sender.first_error)
    return stats
