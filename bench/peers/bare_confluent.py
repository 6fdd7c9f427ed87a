"""Bare confluent-kafka: ``consume(10000)`` and ``orjson.loads`` on the JSON values."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import orjson
from confluent_kafka import Consumer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import Meter, write_result  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--events", type=int, required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    consumer = Consumer(
        {
            "bootstrap.servers": a.bootstrap,
            "group.id": f"bare-confluent-{time.monotonic_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 10000,
        }
    )
    consumer.subscribe([a.topic])
    loads = orjson.loads
    meter = Meter(a.events)
    try:
        while True:
            msgs = consumer.consume(10000, 1.0)
            for m in msgs:
                v = m.value()
                if v and v[:1] == b"{":
                    try:
                        loads(v)
                    except orjson.JSONDecodeError:
                        pass
            if msgs and meter.add(len(msgs)):
                break
    finally:
        consumer.close()
    write_result(a.out, meter.result())


if __name__ == "__main__":
    main()
