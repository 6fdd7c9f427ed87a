"""Microbenchmark: OTLP decoding alone, no Kafka, no worker.

Builds the same requests as the bench's OTLP row (``bench/otlp.py``: the mixed stream,
100 log records a message), once as protobuf and once as OTLP/JSON (camelCase, enum
numbers, as the Collector writes it), then times ``parse_batch`` over all of them
``--repeat`` times and prints each pass's records/s, the best and the median. The
machine may be shared: compare best and median, not single passes.

    PYTHONPATH=. python bench/otlp_decode.py [--messages 2000] [--repeat 5] [--no-attrs]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import orjson
from google.protobuf import json_format  # type: ignore[import-untyped]
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from otlp import otlp_values  # noqa: E402

from logradar.generate import generate  # noqa: E402
from logradar.model import DeadLetter  # noqa: E402
from logradar.parsing.batched import parse_batch  # noqa: E402

START_TS = 1_700_000_000.0  # fixed, so every run decodes the same bytes
PER_MESSAGE = 100
SERVICES = 20  # as bench/bench.py


def proto_values(messages: int) -> tuple[list[bytes], int]:
    """``messages`` serialized requests and their total record count."""
    records = generate(
        start_ts=START_TS, rate=200.0, count=messages * PER_MESSAGE, services=SERVICES, seed=3
    )
    values: list[bytes] = []
    total = 0
    for value, n in otlp_values(records, PER_MESSAGE):
        values.append(value)
        total += n
        if len(values) == messages:
            break
    return values, total


def as_json(value: bytes) -> bytes:
    """A protobuf request as OTLP/JSON (the bench's records carry no trace ids)."""
    request = ExportLogsServiceRequest.FromString(value)
    return orjson.dumps(json_format.MessageToDict(request, use_integers_for_enums=True))


def one_pass(values: list[bytes], encoding: str, kafka_ts: float, attrs: bool) -> tuple[float, int]:
    """Seconds to decode every value, and how many events came out."""
    events = 0
    t = time.perf_counter()
    for value in values:
        events += len(parse_batch(value, encoding=encoding, kafka_ts=kafka_ts, attrs=attrs))
    return time.perf_counter() - t, events


def run(
    values: list[bytes], total: int, encoding: str, repeat: int, kafka_ts: float, attrs: bool
) -> None:
    dead = sum(
        type(item) is DeadLetter
        for value in values
        for item in parse_batch(value, encoding=encoding, kafka_ts=kafka_ts)
    )
    if dead:
        raise SystemExit(f"{encoding}: {dead} dead letters in the benchmark's input")
    rates = []
    for _ in range(repeat):
        seconds, events = one_pass(values, encoding, kafka_ts, attrs)
        assert events == total, (events, total)
        rates.append(total / seconds)
    passes = " ".join(f"{r:,.0f}" for r in rates)
    label = encoding if attrs else f"{encoding} (no attrs)"
    print(
        f"{label:22s} best {max(rates):>9,.0f}  median {statistics.median(rates):>9,.0f}"
        f" records/s  (passes: {passes})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--encoding", choices=("otlp_proto", "otlp_json"), action="append")
    parser.add_argument(
        "--no-attrs", action="store_true", help="attrs=False, as a worker without pattern rules"
    )
    args = parser.parse_args()
    values, total = proto_values(args.messages)
    kafka_ts = START_TS + total / 200.0 + 60.0  # just after the last event, as if live
    print(f"{len(values):,} messages, {total:,} records")
    for encoding in args.encoding or ("otlp_proto", "otlp_json"):
        encoded = values if encoding == "otlp_proto" else [as_json(v) for v in values]
        run(encoded, total, encoding, args.repeat, kafka_ts, not args.no_attrs)


if __name__ == "__main__":
    main()
