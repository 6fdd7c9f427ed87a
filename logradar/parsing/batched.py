"""Batched Kafka record values: one value carrying many log records.

``parse_batch`` never raises and never logs. It returns one ``LogEvent`` or ``DeadLetter``
per log record, in order, and never an empty list. A bad record dead-letters alone and
its detail names it, counted from 1 (``line 3: ...``, ``record 17: ...``); a value that
does not decode at all is one dead letter. Encodings (``ENCODINGS``):

* ``line``: the value is one record: ``[parse(value)]``.
* ``ndjson``: records separated by ``\\n`` (``\\r\\n`` too; blank lines are skipped),
  each given to ``parse``, so every JSON alias, timestamp rule and text format applies.
* ``otlp_proto``: one serialized OTLP ``ExportLogsServiceRequest``, as the OpenTelemetry
  Collector's Kafka exporter writes it with ``encoding: otlp_proto``, decoded by the
  ``opentelemetry-proto`` classes (fast when protobuf runs on upb, its default).
* ``otlp_json``: the same request in OTLP/JSON (``encoding: otlp_json``), decoded with
  orjson and walked directly: some 15 times faster than ``google.protobuf.json_format``,
  which also reads the hex ids of OTLP/JSON as base64. Field names are camelCase, or the
  proto names throughout (the top-level key decides); 64-bit integers are strings or
  numbers; ``severityNumber`` is a number or its enum name; ``traceId``/``spanId`` are
  hex (OTLP/JSON) or base64 (proto3 JSON, as ``MessageToJson`` writes them). Unknown
  fields are ignored.

OTLP log records map onto ``LogEvent`` like this:

* ``service``: resource attribute ``service.name`` (a non-empty string); else the
  record key (UTF-8); else ``unknown``. ``host``: resource attribute ``host.name``.
* ``ts``: ``timeUnixNano`` when non-zero, else ``observedTimeUnixNano``, else the Kafka
  record's time. The timestamp policy of ``logradar.parsing`` applies: before 2000, more
  than 1 day after the Kafka time (without one, from 2100 on), or no time at all is
  ``bad_timestamp``; a bad ``timeUnixNano`` is not replaced by the observed time.
* ``level``: ``severityNumber`` 1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20
  ERROR, 21-24 FATAL; otherwise ``severityText`` by ``parse_level``; else UNKNOWN.
* ``message``: the body when it is a string; any other body as compact JSON text
  (``42``, ``true``, ``{"a":[1,2]}``; bytes as their base64 text); no body is ``""``.
* ``attrs``: the resource's other attributes (a dict copy per record: cheap, and rules
  can then match ``k8s.namespace.name`` or ``deployment.environment``), then the
  record's attributes (which win on a name clash), then ``otel.scope.name`` (the
  instrumentation scope's name, when set), ``trace_id`` and ``span_id`` (lowercase hex;
  left out when empty or all zeros). AnyValues become plain values: str, bool, int,
  float, list, dict; bytes become base64 text. Arrays and maps nested more than
  ``MAX_DEPTH`` deep dead-letter their record, so ``attrs`` always serialises.

Dead letters: ``empty`` (no bytes, only blank lines, or a request without log records);
``bad_timestamp`` per record; for ``otlp_json``, ``not_utf8`` and ``invalid_json`` when
orjson rejects the value, ``not_object``, and ``invalid_json`` for JSON that is not an
OTLP logs request (no ``resourceLogs``; a malformed resource, scope or record
dead-letters alone); for ``otlp_proto``, ``unparsed`` (not a protobuf
``ExportLogsServiceRequest``, one without ``resource_logs``, or a record nested too
deep); ``unparsed`` for an unknown encoding.
"""

from __future__ import annotations

import base64
import binascii
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import orjson
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import SeverityNumber

# ``parse`` is looked up on the package at call time, so that ``logradar.parsing`` may
# import this module at its top without an import cycle.
from logradar import parsing as _parsing
from logradar.model import DeadLetter, DeadReason, Level, LogEvent

from .fields import key_service
from .json_ import json_error, not_object
from .levels import parse_level
from .timestamps import FUTURE_SLACK, MAX_TS, MIN_TS, problem, usable_kafka_ts

__all__ = ["ENCODINGS", "parse_batch", "validate_encoding"]

ENCODINGS: tuple[str, ...] = ("line", "ndjson", "otlp_json", "otlp_proto")

SERVICE_ATTR = "service.name"
HOST_ATTR = "host.name"
SCOPE_ATTR = "otel.scope.name"
MAX_DEPTH = 32  # nested arrays and maps in one AnyValue; deeper dead-letters the record

_EMPTY = DeadLetter(DeadReason.EMPTY, "no bytes")
_BLANK = DeadLetter(DeadReason.EMPTY, "only blank lines")
_NO_RECORDS = DeadLetter(DeadReason.EMPTY, "an OTLP request without log records")
_NO_TIME = "no timeUnixNano, no observedTimeUnixNano and no Kafka time"
_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)
_ZERO_TRACE_HEX = _ZERO_TRACE.hex()
_ZERO_SPAN_HEX = _ZERO_SPAN.hex()
_NO_TEXT = frozenset((None, "string_value"))  # body kinds whose message is string_value
_BEFORE_MAX = math.nextafter(MAX_TS, 0.0)  # ts <= this <=> ts < MAX_TS
# Decoded resources by their serialized bytes (see _proto_resource and _json_resource).
_PROTO_RESOURCES: dict[bytes, tuple[str, str, dict[str, Any]]] = {}
_JSON_RESOURCES: dict[bytes, tuple[str, str, dict[str, Any]]] = {}
_RESOURCES_MAX = 1024

# OTel severity numbers 1-24 in steps of four; index 0 (unspecified) is never used.
_BY_NUMBER: tuple[Level, ...] = (Level.UNKNOWN,) + tuple(
    level
    for level in (Level.TRACE, Level.DEBUG, Level.INFO, Level.WARN, Level.ERROR, Level.FATAL)
    for _ in range(4)
)
_SEVERITY_NAMES: dict[str, int] = dict(SeverityNumber.items())  # SEVERITY_NUMBER_INFO: 9

Decoder = Callable[
    [bytes, bytes | None, float | None, Sequence[str] | None, bool], list[LogEvent | DeadLetter]
]


class Malformed(ValueError):
    """A value of the wrong shape for an OTLP logs request, or an AnyValue nested too deep."""


def validate_encoding(name: str) -> str:
    """``name`` stripped, or ValueError naming the known encodings."""
    chosen = name.strip()
    if chosen not in ENCODINGS:
        raise ValueError(f"unknown input encoding {name!r}; known: {', '.join(ENCODINGS)}")
    return chosen


def parse_batch(
    value: bytes | None,
    *,
    encoding: str,
    key: bytes | None = None,
    kafka_ts: float | None = None,
    formats: Sequence[str] | None = None,
    attrs: bool = True,
) -> list[LogEvent | DeadLetter]:
    """The events and dead letters of one Kafka record value; never raises.

    ``encoding`` is one of ``ENCODINGS``; ``key``, ``kafka_ts`` and ``formats`` mean what
    they mean for ``parse`` (``formats`` only matters to ``line`` and ``ndjson``). The list
    is in record order and never empty.

    ``attrs=False`` leaves the ``attrs`` of OTLP events empty: their resource's other
    attributes, record attributes, scope name and trace and span ids are not read, so a
    record whose attributes alone nest too deep is not dead-lettered either. For callers
    that never read ``attrs`` (no pattern or session rule): reading them is about a
    quarter of decoding.
    """
    try:
        if encoding == "line":
            return [_parsing.parse(value, key=key, kafka_ts=kafka_ts, formats=formats)]
        decode = _DECODERS.get(encoding)
        if decode is None:
            known = ", ".join(ENCODINGS)
            detail = f"unknown input encoding {encoding!r}; known: {known}"
            return [DeadLetter(DeadReason.UNPARSED, detail)]
        if not value:
            return [_EMPTY]
        return decode(value, key, usable_kafka_ts(kafka_ts), formats, attrs)
    except Exception as exc:  # a bug, not an input problem: still no exception escapes
        detail = f"internal error: {type(exc).__name__}: {exc}"
        return [DeadLetter(DeadReason.UNPARSED, detail)]


def _at(where: str, number: int, dead: DeadLetter) -> DeadLetter:
    return DeadLetter(dead.reason, f"{where} {number}: {dead.detail}")


# -- ndjson ----------------------------------------------------------------------------


def _ndjson(
    value: bytes,
    key: bytes | None,
    kafka_ts: float | None,
    formats: Sequence[str] | None,
    want_attrs: bool = True,
) -> list[LogEvent | DeadLetter]:
    parse = _parsing.parse
    out: list[LogEvent | DeadLetter] = []
    for number, line in enumerate(value.split(b"\n"), 1):
        if not line or line.isspace():
            continue
        result = parse(line, key=key, kafka_ts=kafka_ts, formats=formats)
        out.append(_at("line", number, result) if type(result) is DeadLetter else result)
    return out or [_BLANK]


# -- shared by both OTLP encodings -----------------------------------------------------


def _upper(kafka_ts: float | None) -> float:
    """The latest plausible event time (inclusive) for ``kafka_ts``."""
    return _BEFORE_MAX if kafka_ts is None else kafka_ts + FUTURE_SLACK


def _bad_time(number: int, name: str, nanos: object, kafka_ts: float | None) -> DeadLetter:
    """The dead letter for record ``number`` whose ``name`` field holds ``nanos``."""
    why = "unusable"
    if type(nanos) is int:
        why = problem(nanos / 1e9, kafka_ts) or why
    detail = f"record {number}: {why}: {name}={nanos!r:.40}"
    return DeadLetter(DeadReason.BAD_TIMESTAMP, detail)


def _no_time(number: int) -> DeadLetter:
    return DeadLetter(DeadReason.BAD_TIMESTAMP, f"record {number}: {_NO_TIME}")


def _text_level(text: object) -> Level:
    return parse_level(text) if type(text) is str and text else Level.UNKNOWN


def _render(value: Any) -> str:
    """A body as message text: strings as they are, anything else as compact JSON."""
    if value is None:
        return ""
    if type(value) is str:
        return value
    return orjson.dumps(value).decode()


def _check_depth(depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise Malformed(f"an AnyValue nested more than {MAX_DEPTH} deep")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# -- otlp_proto ------------------------------------------------------------------------


def _proto_any(value: Any, depth: int = 0) -> Any:
    """A protobuf AnyValue as a plain value."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        _check_depth(depth)
        return [_proto_any(item, depth + 1) for item in value.array_value.values]
    if kind == "kvlist_value":
        _check_depth(depth)
        return {kv.key: _proto_any(kv.value, depth + 1) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return _b64(value.bytes_value)
    return getattr(value, kind)  # string_value, bool_value, int_value, double_value


def _split_service(attrs: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """Service and host out of a resource's attributes (consumed), and the rest.

    Without ``service.name`` the service is ``""``, for the caller to take from the
    record key: the result does not depend on the key, so it can be cached.
    """
    service = attrs.get(SERVICE_ATTR)
    if type(service) is str and service:
        del attrs[SERVICE_ATTR]
        service = sys.intern(service)
    else:
        service = ""
    host = attrs.get(HOST_ATTR)
    if type(host) is str and host:
        del attrs[HOST_ATTR]
        host = sys.intern(host)
    else:
        host = ""
    return service, host, attrs


def _proto_resource(resource: Any) -> tuple[str, str, dict[str, Any]]:
    """``_split_service`` of a protobuf Resource, decoded once per distinct resource.

    A request holds few distinct resources, and a stream's requests hold the same ones
    again and again; its serialized bytes (cheap to get, and they decide its attributes)
    find the earlier result. The attribute dict is shared: callers copy it, never change
    it.
    """
    wire = resource.SerializeToString()
    found = _PROTO_RESOURCES.get(wire)
    if found is None:
        found = _split_service({kv.key: _proto_any(kv.value) for kv in resource.attributes})
        _remember(_PROTO_RESOURCES, wire, found)
    return found


def _remember(
    cache: dict[bytes, tuple[str, str, dict[str, Any]]],
    wire: bytes,
    found: tuple[str, str, dict[str, Any]],
) -> None:
    """Cache a decoded resource; a full cache forgets its oldest entry.

    A stream usually has few resources, but a fleet of many pods can have more than the
    cache holds; dropping one entry at a time keeps the rest, where starting over
    would decode every resource again after each overflow.
    """
    if len(cache) >= _RESOURCES_MAX:
        del cache[next(iter(cache))]
    cache[wire] = found


def _otlp_proto(
    value: bytes,
    key: bytes | None,
    kafka_ts: float | None,
    formats: Sequence[str] | None,
    want_attrs: bool = True,
) -> list[LogEvent | DeadLetter]:
    request = ExportLogsServiceRequest()
    try:
        request.ParseFromString(value)
    except DecodeError as exc:
        hint = " (it looks like JSON: otlp_json?)" if value.lstrip()[:1] == b"{" else ""
        detail = f"not an OTLP ExportLogsServiceRequest protobuf{hint}: {exc}"
        return [DeadLetter(DeadReason.UNPARSED, detail)]
    if not request.resource_logs:
        detail = "protobuf without resource_logs: not an OTLP ExportLogsServiceRequest"
        return [DeadLetter(DeadReason.UNPARSED, detail)]
    out: list[LogEvent | DeadLetter] = []
    upper = _upper(kafka_ts)
    by_number = _BY_NUMBER
    number = 0
    for r_index, resource_logs in enumerate(request.resource_logs):
        try:
            service, host, extra = _proto_resource(resource_logs.resource)
        except Malformed as exc:
            out.append(DeadLetter(DeadReason.UNPARSED, f"resource_logs[{r_index}]: {exc}"))
            continue
        service = service or key_service(key)
        for scope_logs in resource_logs.scope_logs:
            scope = scope_logs.scope.name
            for rec in scope_logs.log_records:
                number += 1
                try:
                    nanos, name = rec.time_unix_nano, "timeUnixNano"
                    if not nanos:
                        nanos, name = rec.observed_time_unix_nano, "observedTimeUnixNano"
                    if nanos:
                        ts = nanos / 1e9
                        if not MIN_TS <= ts <= upper:
                            out.append(_bad_time(number, name, nanos, kafka_ts))
                            continue
                    elif kafka_ts is None:
                        out.append(_no_time(number))
                        continue
                    else:
                        ts = kafka_ts
                    severity = rec.severity_number
                    level = (
                        by_number[severity] if 0 < severity < 25 else _text_level(rec.severity_text)
                    )
                    body = rec.body
                    message = body.string_value  # non-empty only for a string body: no WhichOneof
                    if not message and body.WhichOneof("value") not in _NO_TEXT:
                        message = _render(_proto_any(body))
                    if not want_attrs:
                        out.append(LogEvent(ts, service, level, message, host, {}))
                        continue
                    attrs = extra.copy() if extra else {}
                    attributes = rec.attributes
                    if attributes:  # cheaper than iterating an empty one
                        for kv in attributes:
                            any_value = kv.value
                            text = any_value.string_value
                            attrs[kv.key] = text if text else _proto_any(any_value)
                    if scope:
                        attrs[SCOPE_ATTR] = scope
                    trace_id = rec.trace_id
                    if trace_id and trace_id != _ZERO_TRACE:
                        attrs["trace_id"] = trace_id.hex()
                    span_id = rec.span_id
                    if span_id and span_id != _ZERO_SPAN:
                        attrs["span_id"] = span_id.hex()
                    out.append(LogEvent(ts, service, level, message, host, attrs))
                except Malformed as exc:  # an AnyValue nested too deep
                    out.append(DeadLetter(DeadReason.UNPARSED, f"record {number}: {exc}"))
    return out or [_NO_RECORDS]


# -- otlp_json -------------------------------------------------------------------------


class Names(NamedTuple):
    """The field names of one OTLP/JSON spelling (AnyValue keys take either)."""

    resource_logs: str
    scope_logs: str
    log_records: str
    time: str
    observed_time: str
    severity_number: str
    severity_text: str
    trace_id: str
    span_id: str


_CAMEL = Names(
    "resourceLogs",
    "scopeLogs",
    "logRecords",
    "timeUnixNano",
    "observedTimeUnixNano",
    "severityNumber",
    "severityText",
    "traceId",
    "spanId",
)
_SNAKE = Names(
    "resource_logs",
    "scope_logs",
    "log_records",
    "time_unix_nano",
    "observed_time_unix_nano",
    "severity_number",
    "severity_text",
    "trace_id",
    "span_id",
)
_INT64 = 1 << 63
_NANOS_MAX = 10**20  # above uint64: never a usable time (and far from float overflow)


_KINDS = {dict: "object", list: "array", str: "string", int: "number", float: "number"}


def _kind(value: object) -> str:
    """The JSON name of a decoded value's type."""
    if value is None:
        return "null"
    return "boolean" if type(value) is bool else _KINDS.get(type(value), type(value).__name__)


def _object(value: object, what: str) -> dict[str, Any]:
    if type(value) is dict:
        return value
    if value is None:
        return {}
    raise Malformed(f"{what} must be an object, not {_kind(value)}")


def _array(value: object, what: str) -> list[Any]:
    if type(value) is list:
        return value
    if value is None:
        return []
    raise Malformed(f"{what} must be an array, not {_kind(value)}")


def _json_string(raw: object, depth: int) -> str:
    if type(raw) is str:
        return raw
    raise Malformed(f"stringValue must be a string, not {_kind(raw)}")


def _json_bool(raw: object, depth: int) -> bool:
    if type(raw) is bool:
        return raw
    raise Malformed(f"boolValue must be a boolean, not {_kind(raw)}")


def _json_int(raw: object, depth: int) -> int:
    if type(raw) is str or type(raw) is int:
        number = int(raw)
    elif type(raw) is float and raw.is_integer():
        number = int(raw)
    else:
        raise Malformed(f"intValue must be an integer, not {raw!r:.40}")
    if not -_INT64 <= number < _INT64:
        raise Malformed(f"intValue out of the int64 range: {raw!r:.40}")
    return number


def _json_double(raw: object, depth: int) -> float:
    if type(raw) is float or type(raw) is int or type(raw) is str:
        return float(raw)  # strings: "NaN", "Infinity", "-Infinity" or a number
    raise Malformed(f"doubleValue must be a number, not {_kind(raw)}")


def _json_array(raw: object, depth: int) -> list[Any]:
    _check_depth(depth)
    items = _array(_object(raw, "arrayValue").get("values"), "values")
    return [_json_any(item, depth + 1) for item in items]


def _json_kvlist(raw: object, depth: int) -> dict[str, Any]:
    _check_depth(depth)
    values: dict[str, Any] = {}
    _json_attrs(_object(raw, "kvlistValue").get("values"), values, depth + 1)
    return values


def _json_bytes(raw: object, depth: int) -> str:
    if type(raw) is str:
        return raw  # already base64 text, as the protobuf path renders bytes
    raise Malformed(f"bytesValue must be a base64 string, not {_kind(raw)}")


_JSON_ANY: dict[str, Callable[[object, int], Any]] = {
    "stringValue": _json_string,
    "boolValue": _json_bool,
    "intValue": _json_int,
    "doubleValue": _json_double,
    "arrayValue": _json_array,
    "kvlistValue": _json_kvlist,
    "bytesValue": _json_bytes,
    "string_value": _json_string,
    "bool_value": _json_bool,
    "int_value": _json_int,
    "double_value": _json_double,
    "array_value": _json_array,
    "kvlist_value": _json_kvlist,
    "bytes_value": _json_bytes,
}


def _json_any(value: object, depth: int = 0) -> Any:
    """An OTLP/JSON AnyValue as a plain value (None when empty)."""
    for kind, raw in _object(value, "an AnyValue").items():
        convert = _JSON_ANY.get(kind)
        if convert is not None and raw is not None:
            return convert(raw, depth)
    return None


def _json_attrs(items: object, into: dict[str, Any], depth: int = 0) -> None:
    """Add a list of OTLP/JSON KeyValues to ``into``."""
    for kv in _array(items, "attributes"):
        if type(kv) is not dict:
            raise Malformed(f"an attribute must be an object, not {_kind(kv)}")
        name = kv.get("key", "")
        if type(name) is not str:
            raise Malformed(f"an attribute key must be a string, not {_kind(name)}")
        value = kv.get("value")
        if type(value) is dict:
            text = value.get("stringValue")
            if type(text) is str:
                into[name] = text
                continue
        into[name] = _json_any(value, depth)


def _nanos(raw: object) -> int | None:
    """A nanosecond time from OTLP/JSON (a string or a number; 0 when absent); None when
    unusable."""
    if raw is None:
        return 0
    if type(raw) is str:
        try:
            nanos = int(raw)
        except ValueError:
            return None
    elif type(raw) is int:
        nanos = raw
    elif type(raw) is float and raw.is_integer():
        nanos = int(raw)
    else:
        return None
    return nanos if 0 <= nanos < _NANOS_MAX else None


def _severity(raw: object) -> int:
    """A severityNumber given as an enum name or a numeric string; 0 when neither."""
    if type(raw) is str:
        number = _SEVERITY_NAMES.get(raw)
        if number is not None:
            return number
        return int(raw) if raw.isdigit() and len(raw) < 4 else 0
    return 0


def _json_id(raw: object, zero: str) -> str | None:
    """A trace or span id (``zero`` is the all-zero one of its size, in hex) from hex
    (OTLP/JSON) or base64 (proto3 JSON) text, as lowercase hex; None when invalid or zero."""
    if type(raw) is not str:
        return None
    if len(raw) == len(zero):
        try:
            text = bytes.fromhex(raw).hex()
        except ValueError:
            text = ""
        if len(text) == len(zero):  # fromhex skips spaces, so check the length
            return None if text == zero else text
    try:
        decoded = binascii.a2b_base64(raw + "=" * (-len(raw) % 4), strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    return decoded.hex() if decoded and decoded.count(0) != len(decoded) else None


def _json_resource(
    item: object, key: bytes | None
) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    """Service, host, other attributes, and the item itself, of a resourceLogs item.

    Like ``_proto_resource``, each distinct resource is decoded once: orjson writes its
    attributes back (~0.1 us) to find the earlier result (walking them takes ~0.7 us).
    Equal text means equal values: orjson reads no NaN or infinity, which it would
    write as ``null``.
    """
    resource_logs = _object(item, "a resourceLogs item")
    attributes = _object(resource_logs.get("resource"), "resource").get("attributes")
    try:
        wire = orjson.dumps(attributes)
    except orjson.JSONEncodeError:  # nested deeper than orjson writes: decode, uncached
        wire = None
    found = None if wire is None else _JSON_RESOURCES.get(wire)
    if found is None:
        attrs: dict[str, Any] = {}
        _json_attrs(attributes, attrs)
        found = _split_service(attrs)
        if wire is not None:
            _remember(_JSON_RESOURCES, wire, found)
    service, host, extra = found
    return service or key_service(key), host, extra, resource_logs


def _json_scope(item: object, names: Names) -> tuple[str, list[Any]]:
    """The scope name and the log records of a scopeLogs item."""
    scope_logs = _object(item, "a scopeLogs item")
    scope = _object(scope_logs.get("scope"), "scope").get("name") or ""
    if type(scope) is not str:
        raise Malformed(f"scope name must be a string, not {_kind(scope)}")
    return scope, _array(scope_logs.get(names.log_records), names.log_records)


def _otlp_json(
    value: bytes,
    key: bytes | None,
    kafka_ts: float | None,
    formats: Sequence[str] | None,
    want_attrs: bool = True,
) -> list[LogEvent | DeadLetter]:
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        dead = json_error(value, exc)
        if value[:1] == b"\n":  # protobuf field 1 (resource_logs), length-delimited
            dead = DeadLetter(dead.reason, f"{dead.detail} (it looks like protobuf: otlp_proto?)")
        return [dead]
    if type(doc) is not dict:
        return [not_object(doc)]
    names = _CAMEL if _CAMEL.resource_logs in doc else _SNAKE
    if names.resource_logs not in doc:
        detail = "a JSON object without resourceLogs: not an OTLP logs export request"
        return [DeadLetter(DeadReason.INVALID_JSON, detail)]
    out: list[LogEvent | DeadLetter] = []
    upper = _upper(kafka_ts)
    by_number = _BY_NUMBER
    t_name, o_name, n_name, s_name = names.time, names.observed_time, *names[5:7]
    i_name, p_name = names.trace_id, names.span_id
    number = 0
    try:
        resource_items = _array(doc[names.resource_logs], names.resource_logs)
    except Malformed as exc:
        return [DeadLetter(DeadReason.INVALID_JSON, str(exc))]
    for r_index, r_item in enumerate(resource_items):
        try:
            service, host, extra, resource_logs = _json_resource(r_item, key)
            scope_items = _array(resource_logs.get(names.scope_logs), names.scope_logs)
        except ValueError as exc:
            detail = f"{names.resource_logs}[{r_index}]: {exc}"
            out.append(DeadLetter(DeadReason.INVALID_JSON, detail))
            continue
        for s_index, s_item in enumerate(scope_items):
            try:
                scope, records = _json_scope(s_item, names)
            except ValueError as exc:
                where = f"{names.resource_logs}[{r_index}].{names.scope_logs}[{s_index}]"
                out.append(DeadLetter(DeadReason.INVALID_JSON, f"{where}: {exc}"))
                continue
            for rec in records:
                number += 1
                try:
                    if type(rec) is not dict:
                        raise Malformed(f"a log record must be an object, not {_kind(rec)}")
                    raw, name = rec.get(t_name), t_name
                    nanos: int | None
                    if type(raw) is str and len(raw) < 20 and raw.isdigit():
                        nanos = int(raw)
                    else:
                        nanos = _nanos(raw)
                    if nanos == 0:
                        raw, name = rec.get(o_name), o_name
                        nanos = _nanos(raw)
                    if nanos:
                        ts = nanos / 1e9
                        if not MIN_TS <= ts <= upper:
                            out.append(_bad_time(number, name, nanos, kafka_ts))
                            continue
                    elif nanos is None:
                        out.append(_bad_time(number, name, raw, kafka_ts))
                        continue
                    elif kafka_ts is None:
                        out.append(_no_time(number))
                        continue
                    else:
                        ts = kafka_ts
                    severity = rec.get(n_name)
                    if type(severity) is not int:
                        severity = _severity(severity)
                    if 0 < severity < 25:
                        level = by_number[severity]
                    else:
                        level = _text_level(rec.get(s_name))
                    body = rec.get("body")
                    if body is None:
                        message = ""
                    else:
                        text = body.get("stringValue") if type(body) is dict else None
                        message = text if type(text) is str else _render(_json_any(body))
                    if not want_attrs:
                        out.append(LogEvent(ts, service, level, message, host, {}))
                        continue
                    attrs = extra.copy() if extra else {}
                    items = rec.get("attributes")
                    if items:
                        _json_attrs(items, attrs)
                    if scope:
                        attrs[SCOPE_ATTR] = scope
                    trace_id = rec.get(i_name)
                    if trace_id and (trace_id := _json_id(trace_id, _ZERO_TRACE_HEX)) is not None:
                        attrs["trace_id"] = trace_id
                    span_id = rec.get(p_name)
                    if span_id and (span_id := _json_id(span_id, _ZERO_SPAN_HEX)) is not None:
                        attrs["span_id"] = span_id
                    out.append(LogEvent(ts, service, level, message, host, attrs))
                except ValueError as exc:
                    detail = f"record {number}: {exc}"
                    out.append(DeadLetter(DeadReason.INVALID_JSON, detail))
    return out or [_NO_RECORDS]


_DECODERS: dict[str, Decoder] = {
    "ndjson": _ndjson,
    "otlp_proto": _otlp_proto,
    "otlp_json": _otlp_json,
}
