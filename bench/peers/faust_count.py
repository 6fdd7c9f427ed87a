"""Faust, the least an agent can do: count raw values, ``stream.take(1000)``.

Run as ``python bench/peers/faust_count.py worker -l warn`` with BENCH_BOOTSTRAP,
BENCH_TOPIC, BENCH_EVENTS and BENCH_OUT in the environment; it writes its result to
BENCH_OUT once BENCH_EVENTS values went through (the driver then stops it).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import mode.loop

# the event loop logradar's worker runs (bench.py's BENCH_LOOP), chosen as Faust's docs
# say, before anything creates a loop: the rows compare like with like
mode.loop.use(os.environ.get("BENCH_LOOP", "aio"))

import faust  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import Meter, write_result  # noqa: E402

app = faust.App(
    f"bench-faust-count-{time.monotonic_ns()}",
    broker=f"kafka://{os.environ['BENCH_BOOTSTRAP']}",
    store="memory://",
    datadir=tempfile.mkdtemp(prefix="bench-faust-"),
    web_enabled=False,
    topic_partitions=4,
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=10,  # Tansu holds a second JoinGroup for a session timeout
    broker_heartbeat_interval=2,
)
topic = app.topic(os.environ["BENCH_TOPIC"], value_type=bytes, value_serializer="raw")
meter = Meter(int(os.environ["BENCH_EVENTS"]))


@app.agent(topic)
async def count(stream):  # noqa: ANN001, ANN201
    async for values in stream.take(1000, within=1.0):
        if meter.add(len(values)):
            write_result(os.environ["BENCH_OUT"], meter.result())


if __name__ == "__main__":
    app.main()
