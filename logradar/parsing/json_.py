"""JSON objects: decoded with orjson, then normalised by field aliases."""

from __future__ import annotations

import orjson

from logradar.model import DeadLetter, DeadReason, LogEvent

from .fields import from_record

_KINDS = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


def not_object(value: object) -> DeadLetter:
    """The dead letter for valid JSON that is not an object."""
    kind = "null" if value is None else _KINDS.get(type(value), type(value).__name__)
    return DeadLetter(DeadReason.NOT_OBJECT, f"JSON {kind}, not an object")


def json_error(value: bytes | str, error: orjson.JSONDecodeError) -> DeadLetter:
    """``not_utf8`` when the bytes do not decode, else ``invalid_json`` with orjson's words."""
    if isinstance(value, bytes):
        try:
            value.decode("utf-8")
        except UnicodeDecodeError as exc:
            return DeadLetter(DeadReason.NOT_UTF8, str(exc))
    return DeadLetter(DeadReason.INVALID_JSON, str(error))


def parse_json(value: bytes, key: bytes | None, kafka_ts: float | None) -> LogEvent | DeadLetter:
    """The event for a JSON document that should be an object."""
    try:
        record = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return json_error(value, exc)
    if type(record) is not dict:
        return not_object(record)
    return from_record(record, key, kafka_ts)
