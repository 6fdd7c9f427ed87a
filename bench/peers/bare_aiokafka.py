"""Bare aiokafka: ``getmany`` and decode, nothing else (the Python ceiling).

``--decode json``: ``orjson.loads`` on every value that starts with ``{`` (the JSON
records of the mixed single-record topic). ``--decode otlp``: each value is an OTLP
``ExportLogsServiceRequest``; ``FromString`` it and walk every log record, reading its
time, severity and body (what any consumer of the records must touch); the count is
log records, not Kafka messages.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import Meter, write_result  # noqa: E402


def json_records(values: list[bytes]) -> int:
    loads = orjson.loads
    for v in values:
        if v[:1] == b"{":
            try:
                loads(v)
            except orjson.JSONDecodeError:
                pass
    return len(values)


def otlp_records(values: list[bytes]) -> int:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    parse = ExportLogsServiceRequest.FromString
    n = 0
    for v in values:
        for rl in parse(v).resource_logs:
            for sl in rl.scope_logs:
                for r in sl.log_records:
                    r.time_unix_nano, r.severity_number, r.body.string_value  # noqa: B018
                    n += 1
    return n


async def run(bootstrap: str, topic: str, events: int, decode: str) -> Meter:
    count = otlp_records if decode == "otlp" else json_records
    # about 10,000 log records a batch either way (an OTLP message holds ~100)
    max_records = 100 if decode == "otlp" else 10000
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bare-aiokafka-{time.monotonic_ns()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=10000,
    )
    await consumer.start()
    meter = Meter(events)
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=1000, max_records=max_records)
            n = 0
            for msgs in batches.values():
                n += count([m.value for m in msgs if m.value is not None])
            if n and meter.add(n):
                return meter
    finally:
        await consumer.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--events", type=int, required=True, help="records to read")
    p.add_argument("--decode", choices=("json", "otlp"), default="json")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    meter = asyncio.run(run(a.bootstrap, a.topic, a.events, a.decode))
    write_result(a.out, meter.result())


if __name__ == "__main__":
    main()
