"""Sending many messages through Faust's producer, and waiting until the broker has them.

``Topic.send`` wraps each message in Faust's pending-message and callback
machinery, ~85 us a message; an OTLP batch of 200,000 records closes ~11,000
windows, so that was half the batch's time. ``app.producer.send`` (aiokafka's
``send``: a future, a partitioner call and an accumulator entry per message)
still cost ~20 us a message in a worker, and a single-record batch of ~1,400
events writes ~200 state records. So :class:`Batch` appends each message to an
aiokafka record batch of its partition (``create_batch``, ~1 us a message) and
hands the batches to the same producer (``send_batch``: the same connection,
partitioner, acks and idempotence settings) when they fill up or on
:meth:`Batch.wait`. One partition's messages keep their order.

A keyed message's partition is the producer's partitioner's choice, as in
``send``: Kafka's default (murmur2 of the key), computed by
``logradar.partitioning`` at half the cost of aiokafka's own, over the topic's
partitions listed once per batch rather than once per message.

Faust's send sensors are still told of every message, as ``Topic.send`` would
(``faust_topic_messages_sent_total``, ``faust_total_sent_messages_total``, send
latency, ``faust_total_error_messages_sent_total``); a message's latency is its
batch's.
"""

from __future__ import annotations

import asyncio
from typing import Any

from streams.app import app


class _Open:
    """One partition's record batch being filled, and its messages' sensor states."""

    __slots__ = ("builder", "states")

    def __init__(self, builder: Any) -> None:
        self.builder = builder
        self.states: list[Any] = []


class Batch:
    """Messages sent in order per partition; :meth:`wait` until the broker has all of them."""

    __slots__ = ("aio", "faust", "sensors", "open", "sent", "count", "_layouts", "_partitioner")

    def __init__(self) -> None:
        self.faust, self.sensors = app.producer, app.sensors
        self.aio = self.faust._ensure_producer()  # aiokafka's producer, once Faust started it
        self.open: dict[tuple[str, int], _Open] = {}
        # submitted batches: (delivery future, topic, the sensor state of each message)
        self.sent: list[tuple[asyncio.Future[Any], str, list[Any]]] = []
        self.count = 0
        # per topic, as the producer's metadata had it at the batch's first message to it:
        # (all partitions, those with a leader), what its partitioner is handed
        self._layouts: dict[str, tuple[list[int], list[int]]] = {}
        self._partitioner = self.aio._partitioner  # the one ``send`` uses: app.conf's

    async def put(
        self, topic: str, key: bytes | None, value: bytes | None, partition: int | None = None
    ) -> None:
        """Queue one message; ``partition`` None: the producer's partitioner picks, by key."""
        layout = self._layouts.get(topic)
        if layout is None:
            layout = self._layouts[topic] = await self._layout(topic)
        if partition is None:
            partition = self._partitioner(key, *layout)
        elif partition not in layout[0]:
            raise ValueError(f"topic {topic!r} has no partition {partition}")
        tp = (topic, partition)
        batch = self.open.get(tp)
        if batch is None:
            batch = self.open[tp] = _Open(self.aio.create_batch())
        if batch.builder.append(key=key, value=value, timestamp=None) is None:  # full
            await self._submit(tp, batch)
            batch = self.open[tp] = _Open(self.aio.create_batch())
            if batch.builder.append(key=key, value=value, timestamp=None) is None:
                raise ValueError(f"a message of {len(value or b'')} bytes fits no record batch")
        # no PendingMessage exists on this path; Faust's own sensors never read it
        size = len(key or b""), len(value or b"")
        batch.states.append(self.sensors.on_send_initiated(self.faust, topic, None, *size))  # type: ignore[arg-type]
        self.count += 1

    async def _layout(self, topic: str) -> tuple[list[int], list[int]]:
        """The partitions aiokafka's ``send`` would hand its partitioner (after its metadata
        wait), listed once per batch: building them took ~2 us a message."""
        aio = self.aio
        await aio.client._wait_on_metadata(topic)
        metadata = aio.client.cluster
        return (
            list(metadata.partitions_for_topic(topic)),
            list(metadata.available_partitions_for_topic(topic)),
        )

    async def _submit(self, tp: tuple[str, int], batch: _Open) -> None:
        topic, partition = tp
        future = await self.aio.send_batch(batch.builder, topic, partition=partition)
        self.sent.append((future, topic, batch.states))

    def __len__(self) -> int:
        return self.count

    async def wait(self) -> None:
        """Until the broker acknowledged every message; the first failure is raised."""
        for tp, batch in self.open.items():
            await self._submit(tp, batch)
        self.open = {}
        if not self.sent:
            return
        done = await asyncio.gather(*(f for f, _, _ in self.sent), return_exceptions=True)
        failed: BaseException | None = None
        producer, sensors = self.faust, self.sensors
        for (_, _, states), outcome in zip(self.sent, done, strict=True):
            for state in states:
                if isinstance(outcome, BaseException):
                    sensors.on_send_error(producer, outcome, state)
                else:
                    sensors.on_send_completed(producer, state, outcome)
            if isinstance(outcome, BaseException):
                failed = failed or outcome
        self.sent, self.count = [], 0
        if failed is not None:
            raise failed
