"""Batched values: NDJSON lines and OTLP log export requests (protobuf and JSON).

OTLP messages are built by the OpenTelemetry SDK's own exporter code (``encode_logs``), then
written in each wire form a producer may use: protobuf bytes; OTLP/JSON as the Collector
writes it (hex ids, enum numbers); proto3 JSON as ``MessageToJson`` writes it (base64 ids,
enum names); and the same with the proto field names.
"""

from __future__ import annotations

import base64
import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from logradar.model import DeadLetter, DeadReason, Level, LogEvent
from logradar.parsing import parse
from logradar.parsing.batched import ENCODINGS, MAX_DEPTH, parse_batch, validate_encoding

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z
KAFKA = T0 + 60.0
NS = 1_000_000_000
TRACE = 0x5B8EFFF798038103D269B633813FC60C
SPAN = 0xEEE19B7EC3C1B174
RESOURCE: Mapping[str, Any] = {"service.name": "checkout", "host.name": "node-1"}

Result = list[LogEvent | DeadLetter]


# -- building requests with the SDK ------------------------------------------------------


def log(
    *,
    ts: float | None = T0,
    observed: float | None = 0,
    resource: Mapping[str, Any] = RESOURCE,
    scope: str | None = None,
    **fields: Any,
) -> ReadableLogRecord:
    """One SDK log record; times in epoch seconds (None: not set)."""
    record = LogRecord(
        timestamp=None if ts is None else round(ts * NS),
        observed_timestamp=None if observed is None else round(observed * NS),
        **fields,
    )
    return ReadableLogRecord(
        record,
        resource=Resource(dict(resource)),
        instrumentation_scope=None if scope is None else InstrumentationScope(scope, "1.0"),
    )


def request(*records: ReadableLogRecord) -> ExportLogsServiceRequest:
    return encode_logs(records)


def collector_json(req: ExportLogsServiceRequest) -> bytes:
    """OTLP/JSON as the Collector writes it: camelCase, enum numbers, hex trace/span ids."""
    doc = json_format.MessageToDict(req, use_integers_for_enums=True)
    for resource_logs in doc.get("resourceLogs", []):
        for scope_logs in resource_logs.get("scopeLogs", []):
            for rec in scope_logs.get("logRecords", []):
                for name in ("traceId", "spanId"):
                    if name in rec:
                        rec[name] = base64.b64decode(rec[name]).hex()
    return orjson.dumps(doc)


WIRE: dict[str, tuple[str, Callable[[ExportLogsServiceRequest], bytes]]] = {
    "proto": ("otlp_proto", lambda req: req.SerializeToString()),
    "collector_json": ("otlp_json", collector_json),
    "proto3_json": ("otlp_json", lambda req: json_format.MessageToJson(req).encode()),
    "proto_names_json": (
        "otlp_json",
        lambda req: json_format.MessageToJson(req, preserving_proto_field_name=True).encode(),
    ),
}


@pytest.fixture(params=sorted(WIRE))
def decode(request: pytest.FixtureRequest) -> Callable[..., Result]:
    """Encode a request in one wire form and decode it with ``parse_batch``."""
    encoding, write = WIRE[request.param]

    def run(req: ExportLogsServiceRequest, **kwargs: Any) -> Result:
        kwargs.setdefault("kafka_ts", KAFKA)
        return parse_batch(write(req), encoding=encoding, **kwargs)

    return run


def one_event(decode: Callable[..., Result], *records: ReadableLogRecord, **kw: Any) -> LogEvent:
    results = decode(request(*records), **kw)
    assert len(results) == 1 and isinstance(results[0], LogEvent), results
    return results[0]


# -- OTLP field mapping -------------------------------------------------------------------


def test_a_full_record(decode: Callable[..., Result]) -> None:
    got = one_event(
        decode,
        log(
            resource={**RESOURCE, "k8s.pod.name": "checkout-7d9"},
            scope="app.payments",
            severity_number=SeverityNumber.WARN,
            severity_text="WARNING",
            body="card declined",
            attributes={"user.id": "u1", "http.status_code": 402},
            trace_id=TRACE,
            span_id=SPAN,
        ),
    )
    assert got == LogEvent(
        ts=T0,
        service="checkout",
        level=Level.WARN,
        message="card declined",
        host="node-1",
        attrs={
            "k8s.pod.name": "checkout-7d9",
            "user.id": "u1",
            "http.status_code": 402,
            "otel.scope.name": "app.payments",
            "trace_id": "5b8efff798038103d269b633813fc60c",
            "span_id": "eee19b7ec3c1b174",
        },
    )


@pytest.mark.parametrize(
    ("resource", "key", "service", "attrs"),
    [
        ({"service.name": "api"}, b"from-key", "api", {}),
        ({}, b"from-key", "from-key", {}),
        ({}, None, "unknown", {}),
        ({"service.name": ""}, b"k", "k", {"service.name": ""}),
        ({"service.name": 7}, b"k", "k", {"service.name": 7}),
        (
            {"service.name": "api", "deployment.environment": "prod"},
            None,
            "api",
            {"deployment.environment": "prod"},
        ),
    ],
)
def test_service_from_resource_else_key_else_unknown(
    decode: Callable[..., Result],
    resource: dict[str, Any],
    key: bytes | None,
    service: str,
    attrs: dict[str, Any],
) -> None:
    got = one_event(decode, log(resource=resource), key=key)
    assert (got.service, got.host, got.attrs) == (service, "", attrs)


def test_a_record_attribute_wins_over_a_resource_attribute(decode: Callable[..., Result]) -> None:
    got = one_event(decode, log(resource={**RESOURCE, "zone": "a"}, attributes={"zone": "b"}))
    assert got.attrs == {"zone": "b"}


def test_the_same_resource_again_with_another_key(decode: Callable[..., Result]) -> None:
    """Resources are decoded once and reused: the key fallback still applies per value."""
    bare = request(log(resource={"zone": "a"}))
    assert one_event(decode, log(resource={"zone": "a"}), key=b"first").service == "first"
    assert [e.service for e in events(decode(bare, key=b"second"))] == ["second"]
    assert [e.service for e in events(decode(bare))] == ["unknown"]


def test_events_of_one_resource_do_not_share_attrs(decode: Callable[..., Result]) -> None:
    """Changing one event's attrs changes no other event, now or in a later value."""
    resource = {**RESOURCE, "zone": "a"}
    req = request(log(resource=resource, body="1"), log(resource=resource, body="2"))
    first, second = events(decode(req))
    first.attrs["zone"] = "changed"
    first.attrs["extra"] = 1
    assert second.attrs == {"zone": "a"}
    assert [e.attrs for e in events(decode(req))] == [{"zone": "a"}, {"zone": "a"}]


SEVERITIES = [
    (SeverityNumber(number), None, level)
    for number, level in [
        (1, Level.TRACE),
        (4, Level.TRACE),
        (5, Level.DEBUG),
        (8, Level.DEBUG),
        (9, Level.INFO),
        (10, Level.INFO),
        (12, Level.INFO),
        (13, Level.WARN),
        (16, Level.WARN),
        (17, Level.ERROR),
        (20, Level.ERROR),
        (21, Level.FATAL),
        (24, Level.FATAL),
    ]
] + [
    (SeverityNumber.ERROR, "info", Level.ERROR),  # the number wins
    (SeverityNumber.UNSPECIFIED, "warning", Level.WARN),
    (None, "CRITICAL", Level.FATAL),
    (None, "err", Level.ERROR),
    (None, "bogus", Level.UNKNOWN),
    (None, "", Level.UNKNOWN),
    (None, None, Level.UNKNOWN),
]


@pytest.mark.parametrize(("number", "text", "level"), SEVERITIES)
def test_severity(
    decode: Callable[..., Result], number: SeverityNumber | None, text: str | None, level: Level
) -> None:
    assert one_event(decode, log(severity_number=number, severity_text=text)).level is level


@pytest.mark.parametrize(("number", "level"), [(25, Level.INFO), (99, Level.INFO)])
def test_severity_number_out_of_range_falls_back_to_text(
    decode: Callable[..., Result], number: int, level: Level
) -> None:
    req = request(log(severity_text="info"))
    req.resource_logs[0].scope_logs[0].log_records[0].severity_number = number
    results = decode(req)
    assert isinstance(results[0], LogEvent) and results[0].level is level


@pytest.mark.parametrize(
    ("ts", "observed", "kafka_ts", "expected"),
    [
        (T0, T0 + 5, KAFKA, T0),
        (T0 + 0.123456789, 0, KAFKA, T0 + 0.123456789),
        (None, T0 + 5, KAFKA, T0 + 5),
        (None, 0, KAFKA, KAFKA),
        (None, 0, -1.0, DeadReason.BAD_TIMESTAMP),  # Kafka's "no timestamp"
        (None, 0, None, DeadReason.BAD_TIMESTAMP),
        (946_684_799.0, 0, KAFKA, DeadReason.BAD_TIMESTAMP),  # 1999
        (946_684_800.0, 0, KAFKA, 946_684_800.0),
        (KAFKA + 86_400, 0, KAFKA, KAFKA + 86_400),
        (KAFKA + 86_401, 0, KAFKA, DeadReason.BAD_TIMESTAMP),
        (946_684_799.0, T0, KAFKA, DeadReason.BAD_TIMESTAMP),  # a bad time is not replaced
        (None, KAFKA + 2 * 86_400, KAFKA, DeadReason.BAD_TIMESTAMP),
        (4_102_444_799.0, 0, None, 4_102_444_799.0),  # no Kafka time: before 2100
        (4_102_444_800.0, 0, None, DeadReason.BAD_TIMESTAMP),
        (T0, 0, None, T0),
    ],
)
def test_time_then_observed_time_then_kafka_time(
    decode: Callable[..., Result],
    ts: float | None,
    observed: float,
    kafka_ts: float | None,
    expected: float | DeadReason,
) -> None:
    results = decode(request(log(ts=ts, observed=observed)), kafka_ts=kafka_ts)
    assert len(results) == 1
    got = results[0]
    if isinstance(expected, DeadReason):
        assert isinstance(got, DeadLetter) and got.reason is expected
        assert got.detail.startswith("record 1: ")
    else:
        assert isinstance(got, LogEvent) and got.ts == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("plain text", "plain text"),
        ("", ""),
        (None, ""),
        (42, "42"),
        (-(2**63), str(-(2**63))),
        (1.5, "1.5"),
        (True, "true"),
        (b"\x00\xff", "AP8="),
        (["a", 1, None], '["a",1,null]'),
        (
            {"event": "login", "ok": True, "n": {"x": [1, 2]}},
            '{"event":"login","ok":true,"n":{"x":[1,2]}}',
        ),
    ],
)
def test_body_kinds(decode: Callable[..., Result], body: Any, message: str) -> None:
    assert one_event(decode, log(body=body)).message == message


def test_attribute_values_become_plain_values(decode: Callable[..., Result]) -> None:
    attributes = {
        "s": "x",
        "empty": "",
        "i": 7,
        "min": -(2**63),
        "max": 2**63 - 1,
        "f": 2.5,
        "b": False,
        "raw": b"hi",
        "list": ["a", 1, 2.5, True],
        "map": {"k": "v", "nested": {"deep": [1, {"x": "y"}]}},
    }
    got = one_event(decode, log(attributes=attributes, resource={}))
    assert got.attrs == {**attributes, "raw": "aGk="}


@pytest.mark.parametrize(
    ("trace_id", "span_id", "expected"),
    [
        (
            TRACE,
            SPAN,
            {"trace_id": "5b8efff798038103d269b633813fc60c", "span_id": "eee19b7ec3c1b174"},
        ),
        (1, 1, {"trace_id": "0" * 31 + "1", "span_id": "0" * 15 + "1"}),
        (TRACE, 0, {"trace_id": "5b8efff798038103d269b633813fc60c"}),
        (0, 0, {}),
    ],
)
def test_trace_and_span_ids_as_lowercase_hex(
    decode: Callable[..., Result], trace_id: int, span_id: int, expected: dict[str, str]
) -> None:
    got = one_event(decode, log(trace_id=trace_id, span_id=span_id, resource={}))
    assert got.attrs == expected


def test_scope_name(decode: Callable[..., Result]) -> None:
    assert one_event(decode, log(scope="lib")).attrs == {"otel.scope.name": "lib"}
    assert one_event(decode, log(scope="")).attrs == {}


def test_resources_and_scopes_keep_their_own_fields(decode: Callable[..., Result]) -> None:
    a = {"service.name": "a", "host.name": "h1"}
    b = {"service.name": "b"}
    results = decode(
        request(
            log(resource=a, scope="s1", body="1"),
            log(resource=b, body="2"),
            log(resource=a, scope="s2", body="3"),
            log(resource=a, scope="s1", body="4"),
        )
    )
    got = [(e.service, e.host, e.attrs.get("otel.scope.name"), e.message) for e in events(results)]
    # encode_logs groups by resource, then scope; the decoders keep the request's order
    assert got == [
        ("a", "h1", "s1", "1"),
        ("a", "h1", "s1", "4"),
        ("a", "h1", "s2", "3"),
        ("b", "", None, "2"),
    ]


def test_a_bad_record_dead_letters_alone(decode: Callable[..., Result]) -> None:
    results = decode(
        request(
            log(body="first"),
            log(ts=946_684_799.0, body="1999"),
            log(ts=KAFKA + 3 * 86_400, body="future"),
            log(body="last"),
        )
    )
    assert [type(r) for r in results] == [LogEvent, DeadLetter, DeadLetter, LogEvent]
    first, old, future, last = results
    assert isinstance(old, DeadLetter) and isinstance(future, DeadLetter)
    assert old.reason is future.reason is DeadReason.BAD_TIMESTAMP
    assert old.detail.startswith("record 2: before 2000-01-01T00:00:00Z: ")
    assert future.detail.startswith("record 3: more than 1 day after the Kafka timestamp: ")
    assert [e.message for e in events(results)] == ["first", "last"]


def test_a_hundred_records() -> None:
    req = request(*(log(ts=T0 + i, body=f"m{i}") for i in range(100)))
    for encoding, write in WIRE.values():
        got = parse_batch(write(req), encoding=encoding, kafka_ts=KAFKA)
        assert [e.message for e in events(got)] == [f"m{i}" for i in range(100)]


@pytest.mark.parametrize("wire", ["proto3_json", "proto_names_json"])
def test_same_result_as_protobufs_own_json_parser(wire: str) -> None:
    """The orjson walk agrees with json_format.Parse followed by the protobuf path."""
    req = request(
        log(body={"a": [1, 2.5, "x", b"\x01"]}, attributes={"k": [True]}, trace_id=TRACE),
        log(ts=None, observed=T0, severity_text="warn", span_id=SPAN, scope="s"),
    )
    text = WIRE[wire][1](req)
    reparsed = json_format.Parse(text, ExportLogsServiceRequest(), ignore_unknown_fields=True)
    assert reparsed == req
    expected = parse_batch(reparsed.SerializeToString(), encoding="otlp_proto", kafka_ts=KAFKA)
    assert parse_batch(text, encoding="otlp_json", kafka_ts=KAFKA) == expected


def test_json_format_misreads_the_collectors_hex_ids() -> None:
    """Why OTLP/JSON is not decoded with json_format: it takes hex ids for base64."""
    req = request(log(trace_id=TRACE, span_id=SPAN))
    text = collector_json(req)
    reparsed = json_format.Parse(text, ExportLogsServiceRequest(), ignore_unknown_fields=True)
    assert reparsed.resource_logs[0].scope_logs[0].log_records[0].trace_id != TRACE.to_bytes(16)
    (got,) = parse_batch(text, encoding="otlp_json", kafka_ts=KAFKA)
    assert isinstance(got, LogEvent) and got.attrs["trace_id"] == f"{TRACE:032x}"


def events(results: Result) -> list[LogEvent]:
    return [r for r in results if isinstance(r, LogEvent)]


# -- OTLP/JSON details --------------------------------------------------------------------


def otlp_json(records: list[Any], resource: list[Any] | None = None) -> bytes:
    attributes = (
        resource
        if resource is not None
        else [{"key": "service.name", "value": {"stringValue": "svc"}}]
    )
    return orjson.dumps(
        {
            "resourceLogs": [
                {"resource": {"attributes": attributes}, "scopeLogs": [{"logRecords": records}]}
            ]
        }
    )


GOOD = {"timeUnixNano": str(int(T0) * NS), "body": {"stringValue": "ok"}}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({**GOOD, "timeUnixNano": int(T0) * NS}, T0),  # a number, not a string
        ({**GOOD, "timeUnixNano": float(int(T0) * NS)}, T0),
        ({**GOOD, "timeUnixNano": "0", "observedTimeUnixNano": str(int(T0) * NS)}, T0),
        ({**GOOD, "timeUnixNano": None}, KAFKA),
        ({**GOOD, "timeUnixNano": "soon"}, DeadReason.BAD_TIMESTAMP),
        ({**GOOD, "timeUnixNano": "-5"}, DeadReason.BAD_TIMESTAMP),
        ({**GOOD, "timeUnixNano": "9" * 30}, DeadReason.BAD_TIMESTAMP),
        ({**GOOD, "timeUnixNano": "9" * 5000}, DeadReason.BAD_TIMESTAMP),
        ({**GOOD, "timeUnixNano": 1e300}, DeadReason.BAD_TIMESTAMP),
        ({**GOOD, "timeUnixNano": True}, DeadReason.BAD_TIMESTAMP),
    ],
)
def test_json_time_forms(record: dict[str, Any], expected: float | DeadReason) -> None:
    (got,) = parse_batch(otlp_json([record]), encoding="otlp_json", kafka_ts=KAFKA)
    if isinstance(expected, DeadReason):
        assert isinstance(got, DeadLetter) and got.reason is expected, got
    else:
        assert isinstance(got, LogEvent) and got.ts == expected


@pytest.mark.parametrize(
    ("number", "level"),
    [
        (17, Level.ERROR),
        ("17", Level.ERROR),
        ("SEVERITY_NUMBER_ERROR", Level.ERROR),
        ("SEVERITY_NUMBER_NOPE", Level.UNKNOWN),
        (True, Level.UNKNOWN),
        (-3, Level.UNKNOWN),
    ],
)
def test_json_severity_number_forms(number: object, level: Level) -> None:
    (got,) = parse_batch(
        otlp_json([{**GOOD, "severityNumber": number}]), encoding="otlp_json", kafka_ts=KAFKA
    )
    assert isinstance(got, LogEvent) and got.level is level


@pytest.mark.parametrize(
    ("trace_id", "expected"),
    [
        ("5B8EFFF798038103D269B633813FC60C", "5b8efff798038103d269b633813fc60c"),
        ("W47/95gDgQPSabYzgT/GDA==", "5b8efff798038103d269b633813fc60c"),
        ("W47/95gDgQPSabYzgT/GDA", "5b8efff798038103d269b633813fc60c"),  # unpadded
        ("0" * 32, None),
        ("AAAAAAAAAAAAAAAAAAAAAA==", None),
        ("", None),
        ("not an id!", None),
        ("5b 8e ff f7 98 03 81 03 d2 69", None),
        (12, None),
    ],
)
def test_json_trace_id_forms(trace_id: object, expected: str | None) -> None:
    (got,) = parse_batch(
        otlp_json([{**GOOD, "traceId": trace_id}]), encoding="otlp_json", kafka_ts=KAFKA
    )
    assert isinstance(got, LogEvent) and got.attrs.get("trace_id") == expected


def test_json_doubles_as_strings_and_unknown_fields() -> None:
    record = {
        **GOOD,
        "futureField": {"x": 1},
        "attributes": [
            {"key": "nan", "value": {"doubleValue": "NaN"}},
            {"key": "inf", "value": {"doubleValue": "-Infinity"}},
            {"key": "int", "value": {"intValue": 5}},
            {"key": "none", "value": {}},
            {"key": "absent"},
        ],
    }
    (got,) = parse_batch(otlp_json([record]), encoding="otlp_json", kafka_ts=KAFKA)
    assert isinstance(got, LogEvent)
    assert math.isnan(got.attrs.pop("nan"))
    assert got.attrs == {"inf": -math.inf, "int": 5, "none": None, "absent": None}


@pytest.mark.parametrize(
    "bad",
    [
        "a string",
        [GOOD],
        {**GOOD, "body": "not an AnyValue"},
        {**GOOD, "body": {"intValue": "twelve"}},
        {**GOOD, "body": {"intValue": str(2**63)}},
        {**GOOD, "body": {"boolValue": "yes"}},
        {**GOOD, "body": {"arrayValue": {"values": "nope"}}},
        {**GOOD, "attributes": {"key": "k"}},
        {**GOOD, "attributes": ["k"]},
        {**GOOD, "attributes": [{"key": 5, "value": {"stringValue": "v"}}]},
        {**GOOD, "attributes": [{"key": "k", "value": {"doubleValue": [1]}}]},
        {**GOOD, "attributes": [{"key": "k", "value": {"stringValue": 5}}]},
        {**GOOD, "attributes": [{"key": "k", "value": {"bytesValue": 5}}]},
        {**GOOD, "attributes": [{"key": "k", "value": {"kvlistValue": []}}]},
    ],
)
def test_a_malformed_json_record_dead_letters_alone(bad: object) -> None:
    results = parse_batch(otlp_json([GOOD, bad, GOOD]), encoding="otlp_json", kafka_ts=KAFKA)
    assert [type(r) for r in results] == [LogEvent, DeadLetter, LogEvent]
    dead = results[1]
    assert isinstance(dead, DeadLetter) and dead.reason is DeadReason.INVALID_JSON
    assert dead.detail.startswith("record 2: "), dead.detail


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("where", ["body", "attributes"])
def test_nesting_deeper_than_max_depth_dead_letters_the_record(
    decode: Callable[..., Result], where: str
) -> None:
    def field(depth: int) -> dict[str, Any]:
        return {"body": nested(depth)} if where == "body" else {"attributes": {"k": nested(depth)}}

    results = decode(request(log(**field(MAX_DEPTH)), log(**field(MAX_DEPTH + 1))))
    assert isinstance(results[0], LogEvent)
    assert isinstance(results[1], DeadLetter)
    assert results[1].reason in {DeadReason.INVALID_JSON, DeadReason.UNPARSED}
    assert results[1].detail == f"record 2: an AnyValue nested more than {MAX_DEPTH} deep"


def test_json_resources_nested_deeper_than_orjson_writes() -> None:
    """Resources are cached by orjson's rendering, which stops at 255 levels: deeper
    ones still decode (an unknown field) or dead-letter (an attribute) as before."""
    junk = b"[" * 300 + b"]" * 300
    array = b'{"arrayValue": {"values": ['  # an AnyValue array: 3 JSON levels
    any_value = array * 100 + b"]}}" * 100
    unknown = {"stringValue": "a", "junk": "JUNK"}
    too_deep = "ANY"
    good = {"scopeLogs": [{"logRecords": [GOOD]}]}
    for value in (unknown, too_deep):
        resource = {"attributes": [{"key": "zone", "value": value}]}
        doc = {"resourceLogs": [{"resource": resource, **good}, good]}
        wire = orjson.dumps(doc).replace(b'"JUNK"', junk).replace(b'"ANY"', any_value)
        results = parse_batch(wire, encoding="otlp_json", kafka_ts=KAFKA)
        if value is unknown:
            assert [type(r) for r in results] == [LogEvent, LogEvent]
            assert [r.attrs for r in events(results)] == [{"zone": "a"}, {}]
        else:
            assert [type(r) for r in results] == [DeadLetter, LogEvent]
            assert results[0] == DeadLetter(
                DeadReason.INVALID_JSON,
                f"resourceLogs[0]: an AnyValue nested more than {MAX_DEPTH} deep",
            )


@pytest.mark.parametrize(
    ("doc", "detail"),
    [
        ({"resourceLogs": [5]}, "resourceLogs[0]: a resourceLogs item must be an object"),
        ({"resourceLogs": [{"resource": []}]}, "resourceLogs[0]: resource must be an object"),
        ({"resourceLogs": [{"scopeLogs": {}}]}, "resourceLogs[0]: scopeLogs must be an array"),
        (
            {"resourceLogs": [{"scopeLogs": [{"scope": {"name": 1}}]}]},
            "resourceLogs[0].scopeLogs[0]: scope name must be a string",
        ),
        (
            {"resourceLogs": [{"scopeLogs": [{"logRecords": 1}]}]},
            "resourceLogs[0].scopeLogs[0]: logRecords must be an array",
        ),
    ],
)
def test_a_malformed_resource_or_scope_dead_letters_once(doc: Any, detail: str) -> None:
    good = {"scopeLogs": [{"logRecords": [GOOD]}]}
    doc["resourceLogs"].append(good)
    results = parse_batch(orjson.dumps(doc), encoding="otlp_json", kafka_ts=KAFKA)
    assert [type(r) for r in results] == [DeadLetter, LogEvent]
    dead = results[0]
    assert isinstance(dead, DeadLetter) and dead.reason is DeadReason.INVALID_JSON
    assert dead.detail.startswith(detail), dead


# -- whole values that do not decode ------------------------------------------------------

PROTO = request(log()).SerializeToString()


@pytest.mark.parametrize(
    ("encoding", "value", "reason", "detail"),
    [
        ("otlp_proto", b"\xff\xff\xff\xff", DeadReason.UNPARSED, "not an OTLP"),
        ("otlp_proto", b'{"resourceLogs": []}', DeadReason.UNPARSED, "looks like JSON"),
        ("otlp_proto", b"hello world", DeadReason.UNPARSED, "not an OTLP"),
        ("otlp_proto", b"\x08\x01", DeadReason.UNPARSED, "without resource_logs"),
        ("otlp_proto", b"\x0a\x00", DeadReason.EMPTY, "without log records"),
        ("otlp_json", b"\xff\xfe{", DeadReason.NOT_UTF8, ""),
        ("otlp_json", b"{nope", DeadReason.INVALID_JSON, ""),
        ("otlp_json", PROTO, DeadReason.NOT_UTF8, "looks like protobuf"),
        ("otlp_json", b"\n\x00", DeadReason.INVALID_JSON, "looks like protobuf"),
        ("otlp_json", b"[1, 2]", DeadReason.NOT_OBJECT, "JSON array"),
        ("otlp_json", b'"text"', DeadReason.NOT_OBJECT, "JSON string"),
        ("otlp_json", b'{"msg": "a plain JSON log"}', DeadReason.INVALID_JSON, "without"),
        ("otlp_json", b'{"resourceLogs": 5}', DeadReason.INVALID_JSON, "must be an array"),
        ("otlp_json", b'{"resourceLogs": []}', DeadReason.EMPTY, "without log records"),
        ("otlp_json", b'{"resourceLogs": [{}]}', DeadReason.EMPTY, "without log records"),
        ("ndjson", b"\n \r\n\t\n", DeadReason.EMPTY, "only blank lines"),
        ("bogus", b"x", DeadReason.UNPARSED, "unknown input encoding 'bogus'"),
    ],
)
def test_values_that_do_not_decode(
    encoding: str, value: bytes, reason: DeadReason, detail: str
) -> None:
    (got,) = parse_batch(value, encoding=encoding, kafka_ts=KAFKA)
    assert isinstance(got, DeadLetter) and got.reason is reason
    assert detail in got.detail, got.detail


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("value", [None, b""])
def test_empty_values(encoding: str, value: bytes | None) -> None:
    assert parse_batch(value, encoding=encoding) == [DeadLetter(DeadReason.EMPTY, "no bytes")]


def test_validate_encoding() -> None:
    assert validate_encoding(" otlp_json ") == "otlp_json"
    with pytest.raises(ValueError, match="unknown input encoding 'json'; known: line, ndjson"):
        validate_encoding("json")


# -- line and ndjson ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [b'{"msg": "x", "level": "warn"}', b"plain text", b"{bad", b"a\nb", b"  "]
)
def test_line_is_parse(value: bytes) -> None:
    kwargs: dict[str, Any] = {"key": b"svc", "kafka_ts": KAFKA, "formats": ["logfmt"]}
    assert parse_batch(value, encoding="line", **kwargs) == [parse(value, **kwargs)]


def test_ndjson_a_bad_line_in_the_middle() -> None:
    value = b"\n".join(
        [
            b'{"ts": 1700000000, "level": "info", "service": "api", "msg": "one"}',
            b'{"ts": 1700000001, "level": "warn"',
            b"",
            b'{"level": "error", "msg": "three"}',
            b'{"ts": "1990-01-01T00:00:00Z", "msg": "old"}',
            b"[1, 2]",
            b'{"ts": 1700000002, "msg": "four"}',
            b"",
        ]
    )
    results = parse_batch(value, encoding="ndjson", key=b"from-key", kafka_ts=KAFKA)
    assert [type(r) for r in results] == [
        LogEvent,
        DeadLetter,
        LogEvent,
        DeadLetter,
        DeadLetter,
        LogEvent,
    ]
    one, bad, three, old, array, four = results
    assert isinstance(one, LogEvent) and (one.service, one.level, one.ts) == ("api", "INFO", T0)
    assert isinstance(three, LogEvent) and (three.service, three.ts) == ("from-key", KAFKA)
    assert isinstance(four, LogEvent) and four.message == "four"
    assert isinstance(bad, DeadLetter) and bad.reason is DeadReason.INVALID_JSON
    assert bad.detail.startswith("line 2: ")
    assert isinstance(old, DeadLetter) and old.reason is DeadReason.BAD_TIMESTAMP
    assert old.detail.startswith("line 5: ")
    assert isinstance(array, DeadLetter) and array.reason is DeadReason.NOT_OBJECT
    assert array.detail.startswith("line 6: ")


def test_ndjson_crlf_and_text_lines() -> None:
    value = (
        b'{"ts": 1700000000, "msg": "json"}\r\n'
        b"\r\n"
        b"ts=2023-11-14T22:13:21Z level=error msg=logfmt\r\n"
        b"   \r\n"
        b"\xff\xfe not utf-8\r\n"
    )
    results = parse_batch(value, encoding="ndjson", kafka_ts=KAFKA, formats=["logfmt"])
    assert len(results) == 3
    json_event, logfmt_event, dead = results
    assert isinstance(json_event, LogEvent) and json_event.message == "json"
    assert isinstance(logfmt_event, LogEvent)
    assert (logfmt_event.message, logfmt_event.level, logfmt_event.ts) == (
        "logfmt",
        Level.ERROR,
        T0 + 1,
    )
    assert isinstance(dead, DeadLetter) and dead.reason is DeadReason.NOT_UTF8
    assert dead.detail.startswith("line 5: ")


def test_ndjson_equals_parse_line_by_line() -> None:
    lines = [b'{"msg": "a"}', b"<13>1 2023-11-14T22:13:20Z host app - - - hi", b'{"level": 3}']
    got = parse_batch(b"\n".join(lines), encoding="ndjson", kafka_ts=KAFKA)
    assert got == [parse(line, kafka_ts=KAFKA) for line in lines]


# -- properties -----------------------------------------------------------------------------

KAFKA_TS = st.none() | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([KAFKA])


def check(results: object) -> None:
    assert isinstance(results, list) and results
    for result in results:
        assert isinstance(result, LogEvent | DeadLetter)
        if isinstance(result, DeadLetter):
            assert isinstance(result.reason, DeadReason)
            assert "internal error" not in result.detail, result.detail
            continue
        assert isinstance(result.ts, float) and math.isfinite(result.ts)
        assert result.ts >= 946_684_800.0
        assert isinstance(result.level, Level)
        assert isinstance(result.service, str) and result.service
        assert isinstance(result.message, str) and isinstance(result.host, str)
        assert isinstance(result.attrs, dict)
        orjson.dumps(result.attrs)  # what the correlation topic does with it


@settings(max_examples=300)
@given(
    encoding=st.sampled_from(ENCODINGS),
    value=st.binary(max_size=300) | st.sampled_from([PROTO, PROTO[:-3], PROTO + b"\x00"]),
    key=st.none() | st.binary(max_size=8),
    kafka_ts=KAFKA_TS,
)
def test_arbitrary_bytes_never_raise(
    encoding: str, value: bytes, key: bytes | None, kafka_ts: float | None
) -> None:
    check(parse_batch(value, encoding=encoding, key=key, kafka_ts=kafka_ts))


LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(["NaN", "1700000000000000000", "SEVERITY_NUMBER_WARN", "0" * 32]),
)
JSON_VALUE = st.recursive(
    LEAF,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)
ANY_KIND = st.sampled_from(
    ["stringValue", "boolValue", "intValue", "doubleValue", "arrayValue", "kvlistValue"]
    + ["bytesValue", "string_value", "values", "x"]
)
ANY_VALUE = st.recursive(
    st.dictionaries(ANY_KIND, LEAF, max_size=2),
    lambda children: (
        st.dictionaries(
            ANY_KIND, st.fixed_dictionaries({"values": st.lists(children, max_size=3)}) | children
        )
        | st.fixed_dictionaries({"values": st.lists(children, max_size=3)})
    ),
    max_leaves=8,
)
KEY_VALUES = st.lists(
    st.fixed_dictionaries({"key": st.text(max_size=5) | LEAF, "value": ANY_VALUE | LEAF}),
    max_size=3,
)
RECORD_FIELDS = st.sampled_from(
    ["timeUnixNano", "observedTimeUnixNano", "severityNumber", "severityText", "body"]
    + ["attributes", "traceId", "spanId", "flags"]
)
RECORD = (
    st.dictionaries(RECORD_FIELDS, LEAF | ANY_VALUE | KEY_VALUES | JSON_VALUE, max_size=6)
    | JSON_VALUE
)
REQUEST = st.fixed_dictionaries(
    {
        "resourceLogs": st.lists(
            st.fixed_dictionaries(
                {
                    "resource": st.fixed_dictionaries({"attributes": KEY_VALUES}) | JSON_VALUE,
                    "scopeLogs": st.lists(
                        st.fixed_dictionaries(
                            {
                                "scope": st.fixed_dictionaries({"name": LEAF}),
                                "logRecords": st.lists(RECORD, max_size=4),
                            }
                        )
                        | JSON_VALUE,
                        max_size=2,
                    ),
                }
            )
            | JSON_VALUE,
            max_size=2,
        )
    }
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(doc=REQUEST, key=st.none() | st.binary(max_size=8), kafka_ts=KAFKA_TS)
def test_json_of_roughly_the_right_shape_never_raises(
    doc: Any, key: bytes | None, kafka_ts: float | None
) -> None:
    check(parse_batch(orjson.dumps(doc), encoding="otlp_json", key=key, kafka_ts=kafka_ts))


ANY = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=10)
    | st.binary(max_size=6),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=8,
)
NANOS_S = (
    st.none()
    | st.sampled_from([0, 946_684_799.0, T0, KAFKA + 2 * 86_400])
    | st.floats(946_684_800.0, KAFKA + 86_400)
)
SDK_RECORD = st.builds(
    log,
    ts=NANOS_S,
    observed=NANOS_S,
    resource=st.dictionaries(
        st.sampled_from(["service.name", "host.name", "zone"]), st.text(max_size=5), max_size=3
    ),
    scope=st.none() | st.text(max_size=5),
    severity_number=st.none() | st.sampled_from(SeverityNumber),
    severity_text=st.none() | st.text(max_size=8) | st.sampled_from(["warn", "ERROR"]),
    body=ANY,
    attributes=st.dictionaries(st.text(max_size=5), ANY, max_size=4),
    trace_id=st.sampled_from([0, TRACE]) | st.integers(0, 2**128 - 1),
    span_id=st.sampled_from([0, SPAN]) | st.integers(0, 2**64 - 1),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(SDK_RECORD, min_size=1, max_size=5), key=st.none() | st.just(b"k"))
def test_every_wire_form_decodes_alike(
    records: Sequence[ReadableLogRecord], key: bytes | None
) -> None:
    req = request(*records)
    results = {
        name: parse_batch(write(req), encoding=encoding, key=key, kafka_ts=KAFKA)
        for name, (encoding, write) in WIRE.items()
    }
    expected = results.pop("proto")
    check(expected)
    assert len(expected) == len(records)
    for got in results.values():
        assert [summary(r) for r in got] == [summary(r) for r in expected]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(SDK_RECORD, min_size=1, max_size=5), key=st.none() | st.just(b"k"))
def test_without_attrs_the_same_events_with_empty_attrs(
    records: Sequence[ReadableLogRecord], key: bytes | None
) -> None:
    """``attrs=False``: every event as with attrs, its ``attrs`` empty; every dead letter
    the same, except one whose only fault was in attributes no longer read."""
    req = request(*records)
    for encoding, write in WIRE.values():
        value = write(req)
        full = parse_batch(value, encoding=encoding, key=key, kafka_ts=KAFKA)
        bare = parse_batch(value, encoding=encoding, key=key, kafka_ts=KAFKA, attrs=False)
        check(bare)
        assert len(bare) == len(full)
        for with_attrs, without in zip(full, bare, strict=True):
            if isinstance(with_attrs, LogEvent):
                assert without == dataclasses.replace(with_attrs, attrs={})
            elif isinstance(without, LogEvent):
                assert "nested more than" in with_attrs.detail, with_attrs
                assert without.attrs == {}
            else:
                assert without == with_attrs


def test_without_attrs_deep_attributes_do_not_dead_letter(
    decode: Callable[..., Result],
) -> None:
    deep = log(body="ok", attributes={"k": nested(MAX_DEPTH + 1)})
    assert isinstance(decode(request(deep))[0], DeadLetter)
    got = decode(request(deep), attrs=False)
    assert got == [LogEvent(T0, "checkout", Level.UNKNOWN, "ok", "node-1", {})]
    too_deep_body = log(body=nested(MAX_DEPTH + 1))
    assert isinstance(decode(request(too_deep_body), attrs=False)[0], DeadLetter)


def summary(result: LogEvent | DeadLetter) -> object:
    """Events whole; dead letters by reason (details name fields in each form's spelling)."""
    return result.reason if isinstance(result, DeadLetter) else result


def test_a_full_resource_cache_forgets_its_oldest_entry_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from logradar.parsing import batched

    cache: dict[bytes, tuple[str, str, dict[str, Any]]] = {}
    monkeypatch.setattr(batched, "_RESOURCES_MAX", 3)
    for i in range(5):
        batched._remember(cache, b"r%d" % i, (f"svc{i}", "", {}))
    assert list(cache) == [b"r2", b"r3", b"r4"]
