"""The Processor's record handling: size limit, batched encodings, replays of batched records."""

from __future__ import annotations

from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from logradar.correlation import decode_forwarded
from logradar.metrics import Metrics
from logradar.processor import Hole, Processor, RawRecord
from logradar.rules import Rules
from logradar.settings import Settings
from tests.unit.test_correlation_processor import RULES

START = 28_333_333 * 60


def processor(
    state: dict[str, Any] | None = None, rules: Rules | None = None, **settings: Any
) -> Processor:
    store = {} if state is None else state
    return Processor(
        Settings(**settings),
        Metrics.create(CollectorRegistry(), 500),
        state_items=lambda _p: list(store.items()),
        clock=lambda: START + 86400.0,
        rules=rules,
    )


def line(ts: float, service: str = "api", level: str = "INFO") -> bytes:
    return orjson.dumps({"ts": ts, "service": service, "level": level, "msg": "hello"})


def counted(proc: Processor) -> dict[tuple[str, str], int]:
    """Events counted so far per (service, level), from the open windows and those closed."""
    out: dict[tuple[str, str], int] = {}
    for pipe in proc.pipelines.values():
        for key, state in pipe.windows.keys.items():
            out[key] = out.get(key, 0) + sum(state.buckets.values())
    return out


def test_a_record_over_max_record_bytes_is_dead_lettered_with_its_first_kib() -> None:
    proc = processor(max_record_bytes=2048)
    big = line(START, "api") + b" " * 4000
    result = proc.process(
        [
            RawRecord("logs", 0, 0, None, big, None),
            RawRecord("logs", 0, 1, None, line(START + 1), None),
        ]
    )
    (dead,) = result.dead_letters
    assert dead["reason"] == "too_large"
    assert "LOGRADAR_MAX_RECORD_BYTES=2048" in dead["detail"]
    assert dead["truncated"] is True and len(dead["value"]) == 1024
    assert dead["value_bytes"] == len(big)
    assert counted(proc) == {("api", "INFO"): 1}


def test_ndjson_records_count_every_line_and_dead_letter_the_bad_one_alone() -> None:
    proc = processor(input_encoding="logs=ndjson")
    value = b"\n".join([line(START), line(START + 1), b"{oops", line(START + 2, level="ERROR")])
    result = proc.process([RawRecord("logs", 0, 0, None, value, None)])
    (dead,) = result.dead_letters
    assert dead["reason"] == "invalid_json" and dead["index"] == 2
    assert dead["detail"].startswith("line 3")
    assert counted(proc) == {("api", "INFO"): 2, ("api", "ERROR"): 1}


def test_a_batched_record_replayed_after_a_restart_is_not_counted_again() -> None:
    state: dict[str, Any] = {}
    proc = processor(state, input_encoding="ndjson")
    first = RawRecord("logs", 0, 0, None, b"\n".join(line(START + i) for i in range(5)), None)
    result = proc.process([first])
    state.update((key, value) for _p, key, value in result.state)
    again = processor(state, input_encoding="ndjson")
    second = RawRecord("logs", 0, 1, None, b"\n".join(line(START + i) for i in range(3)), None)
    # a crash before the offset commit delivers the first record again
    again.process([first, second])
    assert counted(again) == {("api", "INFO"): 8}


def test_control_characters_a_huge_service_name_and_many_services_stay_bounded() -> None:
    registry = CollectorRegistry()
    proc = Processor(
        Settings(max_service_labels=50),
        Metrics.create(registry, 50),
        state_items=lambda _p: [],
        clock=lambda: START + 86400.0,
    )
    weird = orjson.dumps({"ts": START, "service": "s", "msg": "a\x00b\x1b[31mc\u2028d"})
    long_name = "x" * 10_000
    records = [RawRecord("logs", 0, 0, None, weird, None)]
    records.append(RawRecord("logs", 0, 1, None, line(START, long_name), None))
    records += [
        RawRecord("logs", 0, 2 + i, None, line(START + 1, f"svc-{i}"), None) for i in range(5000)
    ]
    result = proc.process(records)
    assert not result.dead_letters
    assert counted(proc)[("s", "UNKNOWN")] == 1 and counted(proc)[(long_name, "INFO")] == 1
    labels = {
        s.labels["service"]
        for m in registry.collect()
        if m.name == "logradar_events"
        for s in m.samples
    }
    assert len(labels) == 51 and "_other" in labels  # 50 admitted, the rest as _other
    assert max(len(v) for v in labels) <= 128
    # every window closes once the time moves on; nothing of these keys stays behind
    proc.process([RawRecord("logs", 0, 6000, None, line(START + 4000), None)])
    assert sum(p.open_windows() for p in proc.pipelines.values()) <= 5


def test_a_partition_with_records_left_to_read_is_not_flushed_as_idle() -> None:
    clock = [START + 86400.0]
    proc = Processor(
        Settings(idle_flush_s=5),
        Metrics.create(CollectorRegistry(), 500),
        state_items=lambda _p: [],
        clock=lambda: clock[0],
    )
    proc.process([RawRecord("logs", 0, 0, None, line(START), None)])
    clock[0] += 60  # starved for a minute while the backlog is read unevenly
    assert not proc.flush_idle(caught_up=lambda _tp, _offset: False).counts
    flushed = proc.flush_idle(caught_up=lambda tp, offset: (tp, offset) == ("logs:0", 0))
    assert {c.kind for c in flushed.counts} == {"tumbling", "hopping"}


def test_an_adopted_partition_that_sends_nothing_still_closes_its_windows() -> None:
    state: dict[str, Any] = {}
    first = processor(state)
    result = first.process([RawRecord("logs", 0, 0, None, line(START), None)])
    state.update((key, value) for _p, key, value in result.state)
    clock = [START + 86400.0]
    restarted = Processor(
        Settings(idle_flush_s=5),
        Metrics.create(CollectorRegistry(), 500),
        state_items=lambda _p: list(state.items()),
        clock=lambda: clock[0],
    )
    assert not restarted.flush_idle(caught_up=lambda _tp, _o: True).counts  # not known yet
    restarted.adopt([("logs", 0)])
    clock[0] += 6
    closed = restarted.flush_idle(caught_up=lambda _tp, _o: True).counts
    assert {(c.kind, c.count) for c in closed} == {("tumbling", 1), ("hopping", 1)}


def rec(offset: int, partition: int = 0, ts: float = START) -> RawRecord:
    return RawRecord("logs", partition, offset, None, line(ts + offset), None)


def test_holes_are_offsets_missing_after_the_state_or_between_records() -> None:
    proc = processor()
    first = proc.process([rec(0), rec(1), rec(0, partition=1)])  # p0 through 1, p1 through 0
    batch = [rec(2), rec(4), rec(5), rec(1, partition=1), rec(9, partition=1), rec(0, partition=2)]
    assert proc.holes(batch) == [Hole("logs", 0, 3, 4), Hole("logs", 1, 2, 9)]
    # no state yet (p2): its first record is where it starts; replays and repeats are no hole
    assert proc.holes([rec(7, partition=2), rec(1), rec(1), rec(2)]) == []
    restored = processor(state={key: value for _p, key, value in first.state})
    assert restored.holes([rec(5)]) == [Hole("logs", 0, 2, 5)]


def test_records_read_back_into_a_hole_count_exactly_once() -> None:
    whole = [rec(i) for i in range(6)]
    proc = processor()
    proc.process(whole[:2])
    delivered = whole[3:]  # the consumer skipped offset 2
    (hole,) = proc.holes(delivered)
    read_back = whole[hole.start : hole.end]
    proc.process(sorted(delivered + read_back, key=lambda r: r.offset))
    proc.process(whole[4:])  # a replay after that changes nothing
    assert counted(proc) == {("api", "INFO"): 6}
    assert metric(proc, "logradar_offset_gaps_total") == 0


def test_offsets_without_a_record_are_counted_as_gaps() -> None:
    proc = processor()
    proc.process([rec(0), rec(1), rec(4)])  # 2 and 3 held transaction markers, say
    assert counted(proc) == {("api", "INFO"): 3}
    assert metric(proc, "logradar_offset_gaps_total") == 2


def metric(proc: Processor, name: str) -> float:
    value = proc.metrics.offset_gaps._value.get()  # type: ignore[attr-defined]
    assert name == "logradar_offset_gaps_total"
    return float(value)


def test_quiet_partitions_are_those_without_a_record_for_a_while() -> None:
    wall = [START + 86400.0]
    proc = Processor(
        Settings(),
        Metrics.create(CollectorRegistry(), 500),
        state_items=lambda _p: [],
        clock=lambda: wall[0],
    )
    proc.process([rec(0), rec(1), rec(5, partition=1)])
    wall[0] += 20
    proc.process([rec(6, partition=1)])
    wall[0] += 15
    assert proc.quiet(30) == [("logs", 0, 1)]
    assert sorted(proc.quiet(10)) == [("logs", 0, 1), ("logs", 1, 6)]


def otlp_request(user: str) -> bytes:
    """One OTLP protobuf request: a login failure by ``user`` at START."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    req = ExportLogsServiceRequest()
    resource_logs = req.resource_logs.add()
    resource_logs.resource.attributes.append(
        KeyValue(key="service.name", value=AnyValue(string_value="auth"))
    )
    rec = resource_logs.scope_logs.add().log_records.add()
    rec.time_unix_nano = START * 10**9
    rec.severity_number = 13  # WARN
    rec.body.string_value = "login failed"
    rec.attributes.append(KeyValue(key="user", value=AnyValue(string_value=user)))
    return bytes(req.SerializeToString())


def test_otlp_attributes_are_read_only_when_a_pattern_or_session_rule_can_use_them() -> None:
    plain = processor(input_encoding="otlp_proto")
    assert plain.reads_attrs is False
    result = plain.process([RawRecord("logs", 0, 0, None, otlp_request("u1"), None)])
    assert counted(plain) == {("auth", "WARN"): 1}
    assert not result.dead_letters and not result.forward

    with_rules = processor(rules=RULES, input_encoding="otlp_proto")  # patterns on user
    assert with_rules.reads_attrs is True
    result = with_rules.process([RawRecord("logs", 0, 0, None, otlp_request("u1"), None)])
    [(key, value)] = result.forward
    route, event = decode_forwarded(value)
    assert (key, route) == (b"user=u1", "user")
    assert event.attrs == {"user": "u1"}


def test_a_service_spread_over_partitions_gets_a_count_per_source_with_its_own_id_and_key() -> None:
    """Each source partition counts its share of a window. Consumers deduplicate counts by
    ``id`` and the counts topic is compacted by key, so the shares must differ in both."""
    proc = processor()
    records = [
        RawRecord("logs", p, i, None, line(START + i, "api"), None)
        for p, n in ((0, 3), (1, 2))
        for i in range(n)
    ]
    # an event two minutes on, in each partition, closes the first minute's window
    records += [RawRecord("logs", p, 9, None, line(START + 200, "api"), None) for p in (0, 1)]
    result = proc.process(records)
    first = [c for c in result.counts if c.kind == "tumbling" and c.start == START]
    assert sorted((c.source, c.count) for c in first) == [("logs:0", 3), ("logs:1", 2)]
    assert len({c.id for c in first}) == len({c.key for c in first}) == 2
    assert all(c.key.endswith(f"|{c.source}") for c in first)
    assert {c.to_dict()["source"] for c in first} == {"logs:0", "logs:1"}
