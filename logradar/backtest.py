"""Run the live worker's engine over log files, without a broker: what would have fired?

:func:`backtest` reads files as ``logradar replay`` does (one record a line),
gives each record the Kafka key the replayer would give it (the service
:func:`logradar.parsing.parse` finds, None for a dead letter) and the partition
confluent-kafka's default partitioner (``consistent_random``) would choose:
``crc32(key) % partitions``, partition 0 for a null key. It then feeds the
records, in file order and in batches of ``settings.batch_size``, to the same
:class:`~logradar.processor.Processor` the Faust worker runs; the records the
processor forwards (keyed by correlation value) and its ticks go to a
:class:`~logradar.processor.CorrelationProcessor` the same way.

Time: a live worker reads the wall clock for event lag, for "is this partition
idle" and for "is this data live". A backtest has no meaningful wall time, so
both processors get a *fake clock* that returns the newest event time read so
far (the records of the batch being handed over included; events whose time
came from the Kafka timestamp are left out): the worker behaves as if it kept
up with the data in real time. At the end everything is closed the way an idle
worker would close it: ``processor.flush_idle(0)``, then every correlation
partition advances to the newest event time, and nothing more.

The Kafka timestamp of every record of a file is that file's mtime (a fixed
reference time, the one the keying parse uses too). ``fmt`` restricts parsing
to one text format, for the keying (as ``replay --format``) and for the engine
(as ``LOGRADAR_TEXT_FORMATS=fmt``).

Speed: the keying parse is the engine's parse. Given the key the keying parse
finds, the engine's own parse of a line would give the same result (the key
only names the service of a record that names none, and the keying parse's
service is that same name), so the parsed events are handed to
``Processor.process`` and each line is parsed once. That holds when the
engine parses the input topic as lines with the keying's formats; otherwise
(``LOGRADAR_INPUT_ENCODING`` set for it, or ``LOGRADAR_TEXT_FORMATS`` without
``fmt``) the engine parses every line itself, and on big inputs the keying parse
then runs in a helper process a few chunks ahead (``jobs``).
"""

from __future__ import annotations

import marshal
import os
import queue
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from prometheus_client import CollectorRegistry

from logradar.gctune import restore_threshold, set_young_threshold
from logradar.metrics import Metrics
from logradar.model import DeadLetter, LogEvent
from logradar.parsing import parse, validate_formats
from logradar.parsing.text import choose
from logradar.processor import BatchResult, CorrelationProcessor, Processor, RawRecord
from logradar.progress import FileProgress
from logradar.replay import read_records
from logradar.rules import Rules
from logradar.settings import Settings

if TYPE_CHECKING:
    pass

__all__ = ["BacktestResult", "backtest", "partition_for"]


def partition_for(key: bytes | None, partitions: int) -> int:
    """The partition confluent-kafka's default partitioner picks: CRC32 of the key."""
    return 0 if key is None else zlib.crc32(key) % partitions


@dataclass(slots=True)
class BacktestResult:
    """What the worker would have emitted for the files, and how fast the backtest ran.

    ``events`` counts records read (lines, dead letters included); ``dead_letters``
    counts them by reason. Alerts are ``Alert.to_dict(detected_at=None)``, counts
    ``WindowCount.to_dict()``, both in emission order.
    """

    alerts: list[dict[str, Any]] = field(default_factory=list)
    counts: list[dict[str, Any]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: dict[str, int] = field(default_factory=dict)
    events: int = 0
    seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def summary_rows(self) -> list[dict[str, Any]]:
        """Per rule (sorted by name): firings, resolutions and the services involved."""
        rows: dict[str, dict[str, Any]] = {}
        for alert in self.alerts:
            row = rows.setdefault(
                alert["rule"], {"rule": alert["rule"], "firings": 0, "resolutions": 0, "s": set()}
            )
            if alert["state"] == "firing":
                row["firings"] += 1
            else:
                row["resolutions"] += 1
            row["s"].add(alert["service"])
        out = []
        for rule in sorted(rows):
            row = rows[rule]
            services = sorted(row.pop("s"))
            out.append({**row, "services": services})
        return out


class _Clock:
    """The fake wall clock: the newest event time fed so far (see the module docstring)."""

    __slots__ = ("now",)

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class _Feeder:
    """Hands records to the processors in batches, as the two Faust agents would."""

    def __init__(self, settings: Settings, rules: Rules, clock: _Clock, out: BacktestResult):
        registry = CollectorRegistry()
        metrics = Metrics.create(registry, settings.max_service_labels)
        self.processor = Processor(
            settings, metrics, state_items=lambda _partition: [], clock=clock, rules=rules
        )
        self.partitions = n = settings.topic_partitions
        topic = settings.input_topics[0]
        # every source partition reports, even one no line is keyed to (its idle tick at the end)
        self.processor.adopt((topic, p) for p in range(n))
        self.correlation = CorrelationProcessor(
            self.processor.rules,
            metrics,
            state_items=lambda _partition: [],
            clock=clock,
            inputs=(topic,),
        )
        self.batch_size = settings.batch_size
        self.topic = f"{settings.app_id}-correlate"
        self.offsets = [0] * self.partitions
        self.clock = clock
        self.out = out
        self.dead: Counter[str] = Counter()

    def parses_like(self, topic: str, formats: tuple[str, ...] | None) -> bool:
        """Whether the processor parses ``topic`` as the keying does (one line, ``formats``)."""
        processor = self.processor
        return processor.encoding(topic) == "line" and choose(processor.formats(topic)) == choose(
            formats
        )

    def source(
        self, batch: list[RawRecord], parsed: Sequence[LogEvent | DeadLetter] | None = None
    ) -> None:
        result = self.processor.process(batch, parsed)
        self._collect(result)
        if result.forward or result.ticks:
            self._correlate(result)

    def _correlate(self, result: BatchResult) -> None:
        n, offsets, topic, ts = self.partitions, self.offsets, self.topic, self.clock.now
        records: list[RawRecord] = []
        for key, value in result.forward:
            p = zlib.crc32(key) % n
            records.append(RawRecord(topic, p, offsets[p], key, value, ts))
            offsets[p] += 1
        for p, tick in result.ticks:
            records.append(RawRecord(topic, p, offsets[p], b"", tick, ts))
            offsets[p] += 1
        size = self.batch_size
        for i in range(0, len(records), size):
            self._collect(self.correlation.process(records[i : i + size]))

    def _collect(self, result: BatchResult) -> None:
        out = self.out
        if result.alerts:
            out.alerts.extend(a.to_dict(None) for a in result.alerts)
        if result.counts:
            out.counts.extend(c.to_dict() for c in result.counts)
        if result.sessions:
            out.sessions.extend(result.sessions)
        for record in result.dead_letters:
            self.dead[record["reason"]] += 1

    def close(self) -> None:
        """What an idle worker does: close every window, then advance correlation to now."""
        result = self.processor.flush_idle(0)
        self._collect(result)
        if result.ticks:
            self._correlate(result)
        self._collect(self.correlation.advance_idle(0))
        self.out.dead_letters = dict(sorted(self.dead.items()))


def backtest(
    paths: Sequence[str | Path],
    *,
    settings: Settings,
    rules: Rules,
    partitions: int | None = None,
    fmt: str | None = None,
    progress: bool = False,
    jobs: int | None = None,
) -> BacktestResult:
    """Run the worker's engine over ``paths`` (in order); see the module docstring.

    ``fmt`` is one text format's name (ValueError otherwise, naming the known ones).
    ``partitions`` (default ``settings.topic_partitions``) is the partition count
    of the input and correlation topics. ``jobs=1`` keys the records (the
    replayer's parse) a few chunks ahead in a helper process, in parallel with the
    engine's own parse; ``jobs=0`` keys them here; None picks 1 when more than one
    CPU is available and the files are big enough to pay for starting it. The
    result does not depend on ``jobs``, which only matters when the engine cannot
    take the keying parse's events (see the module docstring).
    """
    n = settings.topic_partitions if partitions is None else partitions
    if n <= 0:
        raise ValueError(f"partitions must be > 0, got {n}")
    update: dict[str, Any] = {"topic_partitions": n}
    if fmt:
        # one name: "a,b" would restrict the engine to a and b (LOGRADAR_TEXT_FORMATS
        # syntax) but key with a format of that whole name, which does not exist
        validate_formats((fmt,))
        update["text_formats"] = fmt
    settings = settings.model_copy(update=update)
    files = [Path(p) for p in paths]
    mtimes = [f.stat().st_mtime for f in files]
    topic = settings.input_topics[0]
    size = settings.batch_size
    total_bytes = sum(f.stat().st_size for f in files)
    formats = (fmt,) if fmt else None
    result = BacktestResult()
    clock = _Clock(mtimes[0] if mtimes else 0.0)
    feeder = _Feeder(settings, rules, clock, result)
    once = feeder.parses_like(topic, formats)
    if once:
        jobs = 0  # the engine's parse is the keying parse: nothing to do in parallel
    elif jobs is None:
        jobs = 1 if total_bytes >= PARALLEL_MIN_BYTES and len(os.sched_getaffinity(0)) > 1 else 0
    offsets = [0] * n
    newest = NO_TIME
    bar = FileProgress("backtest", progress, total_bytes)
    keyer = _Keyer(jobs, formats, n, size, keep=once)
    started = time.perf_counter()
    # a batch's objects outlive CPython's default young threshold: see logradar.gctune
    gc_was = set_young_threshold(settings.gc_young_threshold)
    try:
        for path, mtime in zip(files, mtimes, strict=True):
            bar.describe(path.name)
            for lines, keys, parts, newest_per_batch, parsed in keyer.chunks(path, mtime):
                for i, batch_newest in enumerate(newest_per_batch):
                    lo, hi = i * size, (i + 1) * size
                    batch: list[RawRecord] = []
                    append = batch.append
                    for line, key, p in zip(lines[lo:hi], keys[lo:hi], parts[lo:hi], strict=True):
                        append(RawRecord(topic, p, offsets[p], key, line, mtime))
                        offsets[p] += 1
                    if batch_newest > newest:
                        newest = batch_newest
                    if newest != NO_TIME:  # before the first event: the first file's mtime
                        clock.now = newest
                    feeder.source(batch, parsed[lo:hi] if parsed is not None else None)
                    result.events += len(batch)
                    if progress:  # counting the bytes costs as much as a detector
                        bar.advance(sum(len(r.value or b"") + 1 for r in batch), result.events)
        feeder.close()
    finally:
        keyer.close()
        bar.stop(result.events)
        restore_threshold(gc_was)
    result.seconds = time.perf_counter() - started
    return result


NO_TIME = float("-inf")
PARALLEL_MIN_BYTES = 4 << 20
"""Below this many bytes of input, starting a helper process costs more than it saves."""
CHUNK_BATCHES = 8
"""Batches keyed per task handed to a helper process."""
AHEAD = 3
"""Chunks queued for the helper ahead of the engine (bounds the memory held)."""

Keyed = tuple[list[bytes], list[bytes | None], list[int], list[float]]
Parsed = list[LogEvent | DeadLetter]


def key_chunk(
    lines: list[bytes],
    kafka_ts: float,
    formats: tuple[str, ...] | None,
    n: int,
    size: int,
    keep: Parsed | None = None,
) -> Keyed:
    """The replayer's key and the producer's partition of each line, and the newest event
    time of each batch of ``size`` lines (events timed by ``kafka_ts`` left out).

    ``keep``, when given, collects each line's parse result, for the engine."""
    keys: list[bytes | None] = []
    parts: list[int] = []
    newest: list[float] = []
    known: dict[str, tuple[bytes, int]] = {}  # service: its key and partition
    for lo in range(0, len(lines), size):
        top = NO_TIME
        for line in lines[lo : lo + size]:
            parsed = parse(line, kafka_ts=kafka_ts, formats=formats)
            if keep is not None:
                keep.append(parsed)
            if isinstance(parsed, DeadLetter):
                keys.append(None)
                parts.append(0)
                continue
            service = parsed.service
            keyed = known.get(service)
            if keyed is None:
                key = service.encode()
                keyed = known[service] = (key, zlib.crc32(key) % n)
            keys.append(keyed[0])
            parts.append(keyed[1])
            ts = parsed.ts
            if ts > top and ts != kafka_ts:
                top = ts
        newest.append(top)
    return lines, keys, parts, newest


class _Helper:
    """One helper process running :func:`serve`: chunks of lines in, their keys out, in order.

    A plain ``python -c`` child (not multiprocessing, whose spawn would re-run the
    caller's ``__main__``); frames are an 8-byte length and a :mod:`marshal` dump. A
    thread writes the chunks, so the child never waits on a full pipe in both ways.
    """

    def __init__(self, formats: tuple[str, ...] | None, n: int, size: int) -> None:
        import subprocess
        import sys

        root = str(Path(__file__).resolve().parent.parent)
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-c", "from logradar.backtest import serve; serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.todo: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.writer = threading.Thread(target=self._write, daemon=True)
        self.writer.start()
        self.todo.put(_frame((formats, n, size)))
        self.outstanding = 0

    def _write(self) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            while (frame := self.todo.get()) is not None:
                stdin.write(frame)
                stdin.flush()
            stdin.close()
        except OSError:  # the child died; reading its answer reports it
            pass

    def submit(self, lines: list[bytes], kafka_ts: float) -> None:
        self.todo.put(_frame((lines, kafka_ts)))
        self.outstanding += 1

    def result(self) -> tuple[list[bytes | None], list[int], list[float]]:
        stdout = self.proc.stdout
        assert stdout is not None
        head = stdout.read(8)
        if len(head) < 8:
            raise RuntimeError(f"backtest helper process died (exit {self.proc.wait()})")
        self.outstanding -= 1
        data = stdout.read(int.from_bytes(head, "little"))
        keys, parts, newest = marshal.loads(data)  # noqa: S302 - written by our own child
        return keys, parts, newest

    def close(self) -> None:
        """End the child: at once when answers are still owed (the backtest failed)."""
        import subprocess

        self.todo.put(None)
        if self.outstanding:
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.writer.join(5.0)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _frame(obj: Any) -> bytes:
    data = marshal.dumps(obj)
    return len(data).to_bytes(8, "little") + data


def _read_frame(src: BinaryIO) -> Any:
    head = src.read(8)
    if len(head) < 8:
        return None
    return marshal.loads(src.read(int.from_bytes(head, "little")))  # noqa: S302 - from our parent


def serve() -> None:
    """The helper process: read (formats, n, size), then key each chunk of lines sent."""
    import sys

    src, dst = sys.stdin.buffer, sys.stdout.buffer
    setup = _read_frame(src)
    if setup is None:
        return
    formats, n, size = setup
    formats = tuple(formats) if formats is not None else None
    while (task := _read_frame(src)) is not None:
        lines, kafka_ts = task
        _, keys, parts, newest = key_chunk(lines, kafka_ts, formats, n, size)
        dst.write(_frame((keys, parts, newest)))
        dst.flush()


class _Keyer:
    """Keys the lines of a file: here, or a few chunks ahead in a helper process.

    ``keep`` (keying here only) hands out each line's parse result with its key.
    """

    def __init__(
        self, jobs: int, formats: tuple[str, ...] | None, n: int, size: int, keep: bool = False
    ) -> None:
        self.formats, self.n, self.size, self.keep = formats, n, size, keep
        self.chunk = size * CHUNK_BATCHES
        self.helper = _Helper(formats, n, size) if jobs > 0 else None

    def _lines(self, path: Path) -> Iterator[list[bytes]]:
        chunk: list[bytes] = []
        for line in read_records(path):
            chunk.append(line)
            if len(chunk) >= self.chunk:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def chunks(self, path: Path, kafka_ts: float) -> Iterator[tuple[*Keyed, Parsed | None]]:
        """Each chunk's lines with :func:`key_chunk`'s answers (and parse results when
        kept), in file order."""
        helper = self.helper
        if helper is None:
            for lines in self._lines(path):
                kept: Parsed | None = [] if self.keep else None
                yield (*key_chunk(lines, kafka_ts, self.formats, self.n, self.size, kept), kept)
            return
        pending: deque[list[bytes]] = deque()
        for lines in self._lines(path):
            if len(pending) > AHEAD:
                yield (pending.popleft(), *helper.result(), None)
            helper.submit(lines, kafka_ts)
            pending.append(lines)
        while pending:
            yield (pending.popleft(), *helper.result(), None)

    def close(self) -> None:
        if self.helper is not None:
            self.helper.close()
