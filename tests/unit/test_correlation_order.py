"""Patterns across partitions do not depend on which partition a consumer read first.

An order's "order created" sits on the checkout service's partition and its
"payment captured" on the payments one. A worker may read either first; CI
once saw the payment forwarded ahead of its order, and the order then fired
``order_without_payment`` although it was paid. Correlation partitions now hold
forwarded events until every source partition has passed them, and feed them
in event-time order.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterable
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from logradar.correlation import decode_tick, encode_event, encode_tick
from logradar.metrics import Metrics
from logradar.model import Level, LogEvent
from logradar.processor import BatchResult, CorrelationProcessor, Processor, RawRecord
from logradar.rules import parse_rules
from logradar.settings import Settings

RULES = parse_rules(
    """
defaults:
  burst: {enabled: false}
  anomaly: {enabled: false}
  rate: {enabled: false}
templates: {enabled: false}
patterns:
  - name: order_without_payment
    key: order_id
    steps:
      - {service: checkout, message: "order created"}
      - {absent: {service: payments, message: "payment captured"}, within: 2m}
"""
)
T0 = 1_700_000_000.0
PARTITIONS = 4  # of the source topic and of the correlation topic


def line(ts: float, service: str, message: str, order: str) -> bytes:
    doc = {"ts": ts, "service": service, "level": "info", "msg": message, "order_id": order}
    return orjson.dumps(doc)


def orders() -> dict[int, list[bytes]]:
    """Source partition -> its lines: checkout on 0, payments on 1 (o7 is never paid)."""
    checkout, payments = [], []
    for i in range(20):
        checkout.append(line(T0 + i * 10, "checkout", "order created", f"o{i}"))
        if i != 7:
            payments.append(line(T0 + i * 10 + 10, "payments", "payment captured", f"o{i}"))
    checkout.append(orjson.dumps({"ts": T0 + 6000, "service": "checkout", "msg": "heartbeat"}))
    return {0: checkout, 1: payments}


class Run:
    """One worker's two processors, wired as the Faust agents wire them."""

    def __init__(self) -> None:
        self.clock = 0.0
        metrics = Metrics.create(CollectorRegistry())
        self.source = Processor(
            Settings(topic_partitions=PARTITIONS), metrics, lambda _p: [], self.now, RULES
        )
        self.corr = CorrelationProcessor(RULES, metrics, lambda _p: [], self.now, inputs=["logs"])
        self.offsets = dict.fromkeys(range(PARTITIONS), 0)
        self.corr_offsets = dict.fromkeys(range(PARTITIONS), 0)
        self.fired: list[str] = []
        self.state: dict[int, dict[str, Any]] = {}

    def now(self) -> float:
        return self.clock

    def read(self, partition: int, values: Iterable[bytes]) -> None:
        batch = []
        for value in values:
            batch.append(RawRecord("logs", partition, self.offsets[partition], None, value, None))
            self.offsets[partition] += 1
        self.route(self.source.process(batch))

    def route(self, result: BatchResult) -> None:
        records = []
        for key, value in result.forward:
            p = zlib.crc32(key) % PARTITIONS
            records.append(RawRecord("corr", p, self.corr_offsets[p], key, value, None))
            self.corr_offsets[p] += 1
        for p, tick in result.ticks:
            records.append(RawRecord("corr", p, self.corr_offsets[p], b"", tick, None))
            self.corr_offsets[p] += 1
        out = self.corr.process(records)
        for alert in out.alerts:
            self.fired.append(str(alert.to_dict(None)["key_value"]))
        for partition, key, value in out.state:  # the correlation changelog, compacted
            self.state.setdefault(partition, {})[key] = value

    def go_idle(self) -> None:
        """Wall time passes with nothing left to read: every source partition says it is idle."""
        self.clock += 60.0
        self.source.adopt(("logs", p) for p in range(PARTITIONS))
        self.clock += 60.0
        self.route(self.source.flush_idle(caught_up=lambda _tp, _offset: True))


def interleaved(seed: int) -> Run:
    """Read the two partitions in random chunks, in a random order between them."""
    rng = random.Random(seed)
    pending = {p: list(values) for p, values in orders().items()}
    run = Run()
    while pending:
        p = rng.choice(sorted(pending))
        n = rng.randint(1, 25)
        chunk, pending[p] = pending[p][:n], pending[p][n:]
        if not pending[p]:
            del pending[p]
        run.read(p, chunk)
    run.go_idle()
    return run


@pytest.mark.parametrize("seed", range(40))
def test_any_read_order_gives_the_same_alerts(seed: int) -> None:
    assert interleaved(seed).fired == ["o7"]


def test_payments_read_first_does_not_fire_paid_orders() -> None:
    """The CI failure, as a fixed order: all payments read before any order."""
    run = Run()
    data = orders()
    run.read(1, data[1])
    run.read(0, data[0])
    run.go_idle()
    assert run.fired == ["o7"]


def test_time_waits_for_sources_that_have_not_reported() -> None:
    run = Run()
    data = orders()
    run.read(0, data[0])  # checkout only, heartbeat included: its time is far ahead
    pipes = list(run.corr.pipelines.values())
    assert pipes and all(pipe.now is None for pipe in pipes)
    assert {"logs:1", "logs:2", "logs:3"} <= set(pipes[0].missing())
    assert run.fired == []  # o0..o19 are held: their payments may still come
    run.read(1, data[1])
    run.go_idle()
    assert run.fired == ["o7"]


def test_a_partition_without_records_reports_idle_once_with_its_topic_size() -> None:
    run = Run()
    run.source.adopt([("logs", 3)])
    assert run.source.flush_idle(caught_up=lambda _tp, _offset: False).ticks == []  # unknown end
    # caught up: no need to wait IDLE_FLUSH_S, as nothing of it is open
    result = run.source.flush_idle(caught_up=lambda _tp, _offset: True)
    ticks = {decode_tick(v) for _p, v in result.ticks}
    assert len(result.ticks) == PARTITIONS  # one to each correlation partition
    assert [(t.source, t.ts, t.partitions, t.idle) for t in ticks if t] == [
        ("logs:3", None, PARTITIONS, True)
    ]
    assert run.source.flush_idle(caught_up=lambda _tp, _offset: True).ticks == []


def test_an_idle_partition_is_not_reported_active_by_another_partitions_batch() -> None:
    run = Run()
    data = orders()
    run.read(1, data[1][:5])
    run.clock += 60.0
    run.route(run.source.flush_idle(caught_up=lambda _tp, _offset: True))  # logs:1 idle
    result = run.source.process(
        [RawRecord("logs", 0, 0, None, data[0][0], None)]
    )  # logs:0's first batch ticks every partition with a time
    told = {t.source for t in (decode_tick(v) for _p, v in result.ticks) if t is not None}
    assert told == {"logs:0"}  # not logs:1: it would hold correlation time at its old place
    run.route(result)
    pipe = next(iter(run.corr.pipelines.values()))
    assert "logs:1" in pipe.idle and "logs:1" not in pipe.sources


def test_held_events_survive_a_restart() -> None:
    run = Run()
    data = orders()
    run.read(0, data[0][:10])  # o0..o9 created; nothing passes them yet (logs:1 unheard)
    assert sum(len(pipe.held) for pipe in run.corr.pipelines.values()) == 10
    before = [k for records in run.state.values() for k in records if "\x1fq\x1f" in k]
    assert len(before) == 10

    restarted = Run()
    restarted.offsets = run.offsets
    restarted.corr_offsets = run.corr_offsets
    restarted.source = run.source  # only the correlation side restarts
    restarted.source.clock = restarted.now
    state = run.state
    restarted.corr = CorrelationProcessor(
        RULES,
        Metrics.create(CollectorRegistry()),
        lambda p: list(state.get(p, {}).items()),
        restarted.now,
        inputs=["logs"],
    )
    restarted.read(1, data[1])
    restarted.read(0, data[0][10:])
    restarted.go_idle()
    assert restarted.fired == ["o7"]
    for partition, records in restarted.state.items():
        state.setdefault(partition, {}).update(records)
    held = {k: v for records in state.values() for k, v in records.items() if "\x1fq\x1f" in k}
    # every forwarded event was held, then let go: the 10 held across the restart were
    # written, then deleted; of the 29 after it, only those a batch ended on were written
    assert set(before) <= set(held) and all(v is None for v in held.values())


def test_an_event_held_and_let_go_in_one_batch_writes_no_held_record() -> None:
    from logradar.correlation import CorrelationPipeline, CorrelationResult

    pipe = CorrelationPipeline("logs.correlate:0", RULES)
    event = LogEvent(100.0, "checkout", Level.INFO, "order created", attrs={"order_id": "o1"})
    route = next(iter(pipe.engines))
    pipe.hold(route, event, 0, b"o1")
    pipe.advance(200.0, CorrelationResult())  # time passed it in the same batch
    written = [k for k, _v in pipe.take_dirty() if "\x1fq\x1f" in k]
    assert written == []
    later = LogEvent(300.0, "checkout", Level.INFO, "order created", attrs={"order_id": "o2"})
    pipe.hold(route, later, 1, b"o2")
    assert [(k, v) for k, v in pipe.take_dirty() if "\x1fq\x1f" in k] == [
        ("logs.correlate:0\x1fq\x1f1", {"r": "o2"})
    ]
    pipe.advance(400.0, CorrelationResult())  # a batch later: the written record is deleted
    assert [(k, v) for k, v in pipe.take_dirty() if "\x1fq\x1f" in k] == [
        ("logs.correlate:0\x1fq\x1f1", None)
    ]


def test_events_are_fed_in_time_order_whatever_order_they_arrive_in() -> None:
    corr = CorrelationProcessor(RULES, Metrics.create(CollectorRegistry()), lambda _p: [])

    def forwarded(offset: int, ts: float, service: str, message: str) -> RawRecord:
        event = LogEvent(ts, service, Level.INFO, message, attrs={"order_id": "o1"})
        return RawRecord(
            "corr", 0, offset, b"order_id=o1", b"order_id\n" + encode_event(event), None
        )

    result = corr.process(
        [
            forwarded(0, T0 + 10, "payments", "payment captured"),  # read first, happened later
            forwarded(1, T0, "checkout", "order created"),
            RawRecord("corr", 0, 2, b"", encode_tick("logs:0", T0 + 500, 1), None),
        ]
    )
    assert result.alerts == []
    assert corr.pipelines["corr:0"].held == []


def test_past_the_cap_the_oldest_held_events_are_fed_on_and_counted() -> None:
    registry = CollectorRegistry()
    corr = CorrelationProcessor(RULES, Metrics.create(registry), lambda _p: [], inputs=["logs"])
    pipe = corr.pipeline("corr", 0)
    pipe.held_max = 3

    def order(offset: int) -> RawRecord:
        event = LogEvent(
            T0 + offset, "checkout", Level.INFO, "order created", attrs={"order_id": f"o{offset}"}
        )
        return RawRecord("corr", 0, offset, b"k", b"order_id\n" + encode_event(event), None)

    result = corr.process([order(i) for i in range(5)])  # no source reported: time stands still
    assert pipe.now is None
    assert sorted(e.attrs["order_id"] for _ts, _raw, _o, _r, e in pipe.held) == ["o2", "o3", "o4"]
    assert registry.get_sample_value("logradar_evictions_total", {"kind": "held"}) == 2
    engine = pipe.engines["order_id"]
    assert sorted(v for _i, v in engine.states) == ["o0", "o1"]  # fed on: waiting for payment
    # o0 and o1 were held and fed on within this batch: never written, so nothing to delete
    written = {k: v for _p, k, v in result.state if "\x1fq\x1f" in k}
    assert sorted(written) == [f"corr:0\x1fq\x1f{i}" for i in (2, 3, 4)]
    assert all(v is not None for v in written.values())


def test_an_event_older_than_the_reported_time_counts_but_is_not_correlated() -> None:
    run = Run()
    registry = CollectorRegistry()
    run.source.metrics = Metrics.create(registry)
    run.read(0, [line(T0 + 100, "checkout", "order created", "o1")])
    # 30 s older than the watermark (grace 10 s), but its window is still open
    result = run.source.process(
        [RawRecord("logs", 0, 1, None, line(T0 + 70, "checkout", "order created", "o2"), None)]
    )
    assert result.forward == []
    assert (
        registry.get_sample_value("logradar_events_total", {"service": "checkout", "level": "INFO"})
        == 2  # both count in their windows
    )
    assert registry.get_sample_value("logradar_correlation_late_events_total") == 1
