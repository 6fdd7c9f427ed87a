"""A Faust stream whose ``take_events`` takes events off the channel's queue in bulk.

Faust's own ``take_events`` runs every event through the stream's iterator in a
background task before it reaches the buffer: an event-loop pass
(``await asyncio.sleep(0)``), a processor coroutine that appends the event, and a
tracing context, for each event. With one log record per Kafka message that is a
large part of a worker's time (BENCHMARKS.md, session 12).

:class:`BatchStream` does per event only what Faust's iterator does for its
guarantees, in the agent's own task:

- an event from before the latest rebalance (its ``generation_id`` is not the
  consumer's), or one taken while flow control is suspended, is dropped unprocessed
  and *not* acked, as Faust's own queue clearing drops such events. (Faust's iterator
  acks it; an ack lets the commit pass a record never processed, which a SIGTERM
  chaos test caught: the partition is re-read from its committed offset instead, and
  ``tables.state.complete`` reads back any record a later commit steps over);
- every other event is tracked as unacked by the consumer (so a rebalance waits for
  it and its offset is committed only once acked), with Faust's sensors told as
  Faust tells them;
- the batch goes to the agent when ``max_`` events are in, or ``within`` seconds after
  its first event arrived; its events are acked after the agent is done with it, in
  order, exactly as Faust's ``take_events`` acks them.

A stream with processors (``filter``, ``through`` ...), over something that is not a
Faust channel, or asked to wait without a limit (``within`` of ``None``) is left to
Faust's own ``take_events``. The ``Stream`` setting of ``streams/app.py`` makes Faust
create its streams from this class.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import faust
from faust.types import ChannelT, EventT
from mode.utils.times import Seconds, want_seconds

Batch = Sequence[EventT[Any]]


class BatchStream(faust.Stream[Any]):
    def take_events(self, max_: int, within: Seconds) -> AsyncGenerator[Batch, None]:
        if self._processors or not isinstance(self.channel, ChannelT) or not within:
            return super().take_events(max_, within)
        agen = self._take_from_queue(max_, want_seconds(within))
        active = getattr(self, "_active_agens", None)
        if active is not None:  # Stream.on_stop closes it, as it closes Faust's own
            active.add(agen)
        return agen

    async def _take_from_queue(self, max_: int, within: float) -> AsyncGenerator[Batch, None]:
        self._finalized = True
        started_here = await self.maybe_start()
        app = self.app
        loop = asyncio.get_running_loop()
        queue = self.channel.queue  # type: ignore[attr-defined]
        empty, get_nowait = queue.empty, queue.get_nowait
        unacked = app.consumer.unacked
        acking_topics = app.topics.acking_topics
        flow_control = app.flow_control
        on_message_in = self._on_message_in
        on_event_in = self._on_stream_event_in
        events: list[EventT[Any]] = []

        def take(event: EventT[Any]) -> None:
            message = event.message
            if not flow_control.is_active() or message.generation_id != app.consumer_generation_id:
                return  # dropped, not acked (module docstring)
            tp, offset = message.tp, message.offset
            if message.topic in acking_topics and not message.tracked:
                message.tracked = True
                unacked.add(message)
                on_message_in(tp, offset, message)
            on_event_in(tp, offset, self, event)
            events.append(event)

        try:
            while not self.should_stop:
                if empty():
                    try:  # the first event of a batch; wake up to look at should_stop
                        take(await asyncio.wait_for(queue.get(), within))
                    except TimeoutError:
                        continue
                deadline = loop.time() + within
                while len(events) < max_:
                    if not empty():
                        take(get_nowait())
                        continue
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        take(await asyncio.wait_for(queue.get(), remaining))
                    except TimeoutError:
                        break
                if events:
                    try:
                        yield events
                    finally:
                        self.events_total += len(events)
                        self._ack_all(events)
                        events = []
        except StopAsyncIteration:
            # how Faust stops an actor (``Actor.cancel`` throws it into the channel): end
            # the iteration; events taken but not yet yielded stay unacked, as in Faust
            return
        finally:
            self._channel_stop_iteration(self.channel)
            if started_here:
                await self.stop()

    def _ack_all(self, events: Sequence[EventT[Any]]) -> None:
        """Faust's ``Stream.ack`` for each event, without a coroutine each."""
        event_out, message_out = self._on_stream_event_out, self._on_message_out
        for event in events:
            last_stream_to_ack = event.ack()
            message = event.message
            event_out(message.tp, message.offset, self, event)
            if last_stream_to_ack:
                message_out(message.tp, message.offset, message)
