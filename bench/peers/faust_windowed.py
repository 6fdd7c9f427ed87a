"""Faust, straightforward: windowed tables updated per event, as Faust's docs do it.

A ``.tumbling(60)`` and a ``.hopping(300, 60)`` table of ints, each ``+= 1`` for every
event's key (``stream.items()``); the memory store, so every update is one changelog
write per window it touches. Run like ``faust_count.py`` (BENCH_* environment).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import mode.loop

# the event loop logradar's worker runs (bench.py's BENCH_LOOP), chosen as Faust's docs
# say, before anything creates a loop: the rows compare like with like
mode.loop.use(os.environ.get("BENCH_LOOP", "aio"))

import faust  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import Meter, write_result  # noqa: E402

app = faust.App(
    f"bench-faust-windowed-{time.monotonic_ns()}",
    broker=f"kafka://{os.environ['BENCH_BOOTSTRAP']}",
    store="memory://",
    datadir=tempfile.mkdtemp(prefix="bench-faust-"),
    web_enabled=False,
    topic_partitions=4,
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=10,  # Tansu holds a second JoinGroup for a session timeout
    broker_heartbeat_interval=2,
)
topic = app.topic(
    os.environ["BENCH_TOPIC"],
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
)
tumbling = app.Table("tumbling", default=int).tumbling(60, expires=timedelta(hours=2))
hopping = app.Table("hopping", default=int).hopping(300, 60, expires=timedelta(hours=2))
meter = Meter(int(os.environ["BENCH_EVENTS"]))


@app.agent(topic)
async def windows(stream):  # noqa: ANN001, ANN201
    async for key, _value in stream.items():
        service = key.decode() if key else "unknown"
        tumbling[service] += 1
        hopping[service] += 1
        if meter.add(1):
            write_result(os.environ["BENCH_OUT"], meter.result())


if __name__ == "__main__":
    app.main()
