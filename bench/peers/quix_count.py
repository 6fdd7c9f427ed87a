"""Quix Streams (its own venv, bench/.venv-quix): a 10 s tumbling count per key.

As the Quix docs write it: a topic, a StreamingDataFrame, ``tumbling_window(...)
.count().final()``, the results to an output topic. Values are read as bytes (the
mixed topic is not all JSON); the key is the service. One ``update`` counts the
inputs for the meter and stops the app once ``--events`` records went through.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from quixstreams import Application

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import Meter, write_result  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--events", type=int, required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as state_dir:
        app = Application(
            broker_address=a.bootstrap,
            consumer_group=f"bench-quix-{time.monotonic_ns()}",
            auto_offset_reset="earliest",
            state_dir=state_dir,
        )
        source = app.topic(a.topic, key_deserializer="str", value_deserializer="bytes")
        output = app.topic(f"{a.topic}-quix-counts", value_serializer="json")
        meter = Meter(a.events)

        def tick(_value: bytes) -> None:
            if meter.add(1):
                write_result(a.out, meter.result())
                app.stop()

        sdf = app.dataframe(source)
        sdf = sdf.update(tick)
        sdf = sdf.tumbling_window(duration_ms=timedelta(seconds=10)).count().final()
        sdf = sdf.to_topic(output)
        app.run()


if __name__ == "__main__":
    main()
