"""Batched OTLP load: ExportLogsServiceRequest values as the OpenTelemetry Collector's Kafka
exporter writes them with ``encoding: otlp_proto`` (one request per Kafka message).

The log records are the bench's mixed stream (``logradar.generate``), parsed once to get
their time, service, level, message and attributes, then grouped ``per_message`` at a
time: one ResourceLogs per service in the group (``service.name``, ``host.name``), one
ScopeLogs, and the records with ``time_unix_nano``, ``observed_time_unix_nano``,
``severity_number``/``severity_text``, a string body and their attributes. Built with the
official ``opentelemetry-proto`` classes. Records the parser dead-letters are left out
(a collector would have dropped or fixed them upstream).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from logradar.generate import Generated
from logradar.model import DeadLetter, LogEvent
from logradar.parsing import parse

SEVERITY = {
    "TRACE": 1,
    "DEBUG": 5,
    "INFO": 9,
    "WARN": 13,
    "ERROR": 17,
    "FATAL": 21,
}


def _kv(key: str, value: object) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def _record(ev: LogEvent) -> LogRecord:
    ns = int(ev.ts * 1e9)
    level = str(ev.level.value if hasattr(ev.level, "value") else ev.level)
    return LogRecord(
        time_unix_nano=ns,
        observed_time_unix_nano=ns,
        severity_number=SEVERITY.get(level, 0),  # type: ignore[arg-type]
        severity_text=level,
        body=AnyValue(string_value=ev.message),
        attributes=[_kv(k, v) for k, v in ev.attrs.items() if v is not None],
    )


def request(events: list[LogEvent]) -> bytes:
    """One serialized ExportLogsServiceRequest holding ``events``."""
    by_resource: dict[tuple[str, str], list[LogEvent]] = {}
    for ev in events:
        by_resource.setdefault((ev.service, ev.host or "host-1"), []).append(ev)
    req = ExportLogsServiceRequest()
    for (service, host), evs in by_resource.items():
        rl = req.resource_logs.add()
        rl.resource.attributes.append(_kv("service.name", service))
        rl.resource.attributes.append(_kv("host.name", host))
        sl = rl.scope_logs.add()
        sl.scope.name = "bench"
        sl.log_records.extend(_record(ev) for ev in evs)
    return req.SerializeToString()


def otlp_values(
    records: Iterable[Generated], per_message: int = 100
) -> Iterator[tuple[bytes, int]]:
    """(serialized request, its log record count): ``per_message`` records each, the last
    may hold fewer."""
    group: list[LogEvent] = []
    for rec in records:
        ev = parse(rec.value, key=rec.key)
        if isinstance(ev, DeadLetter):
            continue
        group.append(ev)
        if len(group) == per_message:
            yield request(group), len(group)
            group = []
    if group:
        yield request(group), len(group)
