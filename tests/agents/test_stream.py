"""``streams/stream.py``: BatchStream's ``take_events`` batches, skips, acks and stops as Faust's.

These run on Faust's in-memory channels (no broker). The integration pipeline,
recovery and chaos tests run the same class against the embedded broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import faust
import pytest

from streams.stream import BatchStream


@pytest.fixture
async def app() -> AsyncIterator[faust.App]:
    app = faust.App("batch-stream-test", broker="kafka://127.0.0.1:1", Stream=BatchStream)
    app.flow_control.resume()  # flowing, as once a worker has its partitions
    yield app


async def _put(channel: Any, *values: Any) -> None:
    for value in values:
        await channel.send(value=value)


async def _collect(stream: Any, max_: int, batches: int) -> list[list[Any]]:
    out: list[list[Any]] = []
    async for events in stream.take_events(max_, within=0.05):
        out.append(list(events))
        if len(out) == batches:
            break
    return out


async def test_the_app_makes_its_streams_from_batch_stream(app: faust.App) -> None:
    assert isinstance(app.stream(app.channel()), BatchStream)


async def test_batches_of_at_most_max_in_order_each_acked_once_consumed(app: faust.App) -> None:
    channel = app.channel()
    stream = app.stream(channel)
    await _put(channel, *range(5))
    seen: list[list[int]] = []
    earlier: list[Any] = []
    batches = stream.take_events(2, within=0.05)
    async for events in batches:
        assert all(e.message.acked for e in earlier)  # the previous batch, acked
        assert not any(e.message.acked for e in events)  # this one, not yet
        seen.append([e.value for e in events])
        earlier = list(events)
        if sum(map(len, seen)) == 5:
            break
    assert seen == [[0, 1], [2, 3], [4]]
    await batches.aclose()  # what Stream.on_stop does to a generator left open
    assert all(e.message.acked for e in earlier)
    assert stream.events_total == 5


async def test_stopping_the_stream_closes_the_generator_and_acks(app: faust.App) -> None:
    channel = app.channel()
    stream = app.stream(channel)
    await _put(channel, "a", "b")
    batches = stream.take_events(10, within=0.05)
    events = list(await asyncio.wait_for(batches.__anext__(), 5))
    assert [e.value for e in events] == ["a", "b"] and not events[0].message.acked
    await stream.stop()  # Stream.on_stop closes the take_events generators it tracks
    assert all(e.message.acked for e in events)


async def test_a_short_batch_goes_out_within_the_wait(app: faust.App) -> None:
    channel = app.channel()
    stream = app.stream(channel)
    await _put(channel, "a")
    loop = asyncio.get_running_loop()
    started = loop.time()
    batches = await asyncio.wait_for(_collect(stream, 1000, 1), 5)
    assert [[e.value for e in b] for b in batches] == [["a"]]
    assert loop.time() - started < 2  # not held for a full batch


async def test_a_batch_waits_for_more_events_within_its_wait(app: faust.App) -> None:
    channel = app.channel()
    stream = app.stream(channel)

    async def later() -> None:
        await _put(channel, 1)
        await asyncio.sleep(0.01)
        await _put(channel, 2, 3)

    task = asyncio.create_task(later())
    batches = await asyncio.wait_for(_collect(stream, 3, 1), 5)
    await task
    assert [[e.value for e in b] for b in batches] == [[1, 2, 3]]


async def test_events_from_before_a_rebalance_are_dropped_unacked(app: faust.App) -> None:
    channel = app.channel()
    stream = app.stream(channel)
    await _put(channel, "old")
    old = stream.channel.queue._queue[0]  # type: ignore[attr-defined]
    app.consumer_generation_id += 1  # a rebalance: "old" was fetched by the last generation
    await _put(channel, "new")
    batches = await asyncio.wait_for(_collect(stream, 10, 1), 5)
    assert [[e.value for e in b] for b in batches] == [["new"]]
    assert stream.events_total == 1
    # not acked: an ack would let the commit pass a record never processed
    assert not old.message.acked and old.message not in app.consumer.unacked


async def test_events_taken_while_flow_control_is_suspended_are_skipped(app: faust.App) -> None:
    channel = app.channel()
    stream = app.stream(channel)
    await _put(channel, "during")
    during = stream.channel.queue._queue[0]  # type: ignore[attr-defined]
    app.flow_control.suspend()  # as Faust does while partitions are revoked
    task = asyncio.create_task(_collect(stream, 10, 1))
    await asyncio.sleep(0.2)
    assert not task.done()  # "during" was dropped, nothing else came
    app.flow_control.resume()
    await _put(channel, "after")
    batches = await asyncio.wait_for(task, 5)
    assert [[e.value for e in b] for b in batches] == [["after"]]
    assert not during.message.acked


async def test_stop_iteration_thrown_into_the_channel_ends_it(app: faust.App) -> None:
    # how Faust's Actor.cancel stops an agent's stream
    channel = app.channel()
    stream = app.stream(channel)
    await _put(channel, 1)

    async def run() -> list[list[int]]:
        out = []
        async for events in stream.take_events(10, within=0.05):
            out.append([e.value for e in events])
            stream.channel._throw(StopAsyncIteration())
        return out

    assert await asyncio.wait_for(run(), 5) == [[1]]


async def test_a_stream_with_processors_keeps_fausts_own_take_events(app: faust.App) -> None:
    channel = app.channel()
    stream = app.stream(channel)
    processed: list[int] = []
    stream.add_processor(lambda v: processed.append(v) or v)  # the bulk path calls none
    await _put(channel, 1, 2)
    batches = await asyncio.wait_for(_collect(stream, 2, 1), 5)
    assert [[e.value for e in b] for b in batches] == [[1, 2]]
    assert processed == [1, 2]


def test_the_worker_app_uses_batch_stream(tmp_path: Path) -> None:
    from logradar.settings import Settings
    from streams.app import create_app

    app = create_app(Settings(data_dir=tmp_path))
    assert app.conf.Stream is BatchStream


async def test_no_wait_limit_keeps_fausts_own_take_events(app: faust.App) -> None:
    stream = app.stream(app.channel())
    batches = stream.take_events(10, within=None)
    assert batches.ag_code.co_name == "take_events"  # Faust's generator, not _take_from_queue
    await batches.aclose()
