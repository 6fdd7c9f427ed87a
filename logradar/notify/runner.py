"""The Kafka side of ``logradar notify``: consume alerts, deliver, dead-letter, commit.

At-least-once: a record's offset is committed (synchronously, group
``<app_id>-notify``) only after every sink took it or its dead letter was
acknowledged by the broker. A crash in between delivers the record again on
restart; the in-memory dedupe catches repeats within one run, and receivers
can dedupe on the alert id (header ``X-Logradar-Alert-Id``, the e-mail
Message-ID, Alertmanager's labels).

The consumer takes every partition of the alerts topic by assignment
(committed offsets, else the earliest), so it starts at once and never
rebalances: run one notifier per group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from prometheus_client import CollectorRegistry

from logradar.notify.engine import Notifier, NotifyMetrics
from logradar.notify.sinks import Sink, build_sinks

if TYPE_CHECKING:
    from logradar.notify.settings import NotifySettings
    from logradar.settings import Settings

log = logging.getLogger("logradar.notify")


@dataclass
class RunStats:
    records: int = 0
    dead_letters: int = 0


def make_notifier(
    notify: NotifySettings,
    *,
    sinks: Sequence[Sink] | None = None,
    registry: CollectorRegistry | None = None,
) -> Notifier:
    """A Notifier for ``notify``'s sinks, counting into ``registry`` when given."""
    return Notifier(
        build_sinks(notify) if sinks is None else sinks,
        attempts=notify.attempts,
        backoff_s=notify.backoff_s,
        backoff_max_s=notify.backoff_max_s,
        dedupe_size=notify.dedupe_size,
        secrets=notify.secrets(),
        metrics=None if registry is None else NotifyMetrics.create(registry),
    )


async def run(
    settings: Settings,
    notifier: Notifier,
    *,
    once: bool = False,
    idle_s: float = 3.0,
    stop: asyncio.Event | None = None,
) -> RunStats:
    """Consume the alerts topic until ``stop`` is set (or, with ``once``, ``idle_s`` quiet)."""
    from confluent_kafka import OFFSET_STORED, KafkaError, KafkaException, TopicPartition

    from logradar.kafka import make_consumer, make_producer

    topic = settings.alerts_topic
    security = settings.kafka_config()  # TLS and SASL, as for every other client
    consumer = make_consumer(settings.bootstrap_servers, f"{settings.app_id}-notify", **security)
    producer = make_producer(settings.bootstrap_servers, **{"linger.ms": 5, **security})
    stop = stop or asyncio.Event()
    stats = RunStats()
    last = time.monotonic()

    def done() -> bool:
        return stop.is_set() or (once and time.monotonic() - last >= idle_s)

    try:
        warned = False
        while True:
            try:
                meta = await asyncio.to_thread(consumer.list_topics, topic, timeout=2)
                parts = meta.topics.get(topic)
            except KafkaException:  # broker not answering yet
                parts = None
            if parts is not None and parts.error is None and parts.partitions:
                break
            if not warned:
                log.info("waiting for topic %s to exist", topic)
                warned = True
            if done():
                return stats
            await asyncio.sleep(0.5)
        consumer.assign([TopicPartition(topic, p, OFFSET_STORED) for p in sorted(parts.partitions)])
        last = time.monotonic()
        while not done():
            msg = await asyncio.to_thread(consumer.poll, 0.25)
            if msg is None:
                continue
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                if error.fatal():
                    raise KafkaException(error)
                log.warning("kafka: %s", error.str())
                continue
            last = time.monotonic()
            partition, offset = msg.partition(), msg.offset()
            if partition is None or offset is None:  # not a record
                continue
            delivery = asyncio.ensure_future(
                notifier.handle_record(
                    msg.value(), topic=topic, partition=partition, offset=offset, key=msg.key()
                )
            )
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({delivery, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not delivery.done():
                # stopping mid-delivery (a retry backoff can last a minute): give it up
                # uncommitted, so the alert is delivered again after a restart
                delivery.cancel()
                log.info(
                    "stopping: alert at %s[%d]@%d left for the next run", topic, partition, offset
                )
                break
            dead = delivery.result()
            if dead:
                await asyncio.to_thread(
                    _produce, producer, settings.dead_letter_topic, dead, msg.key()
                )
                stats.dead_letters += len(dead)
            await asyncio.to_thread(_commit, consumer, msg)
            stats.records += 1
            last = time.monotonic()
    finally:
        await notifier.close()
        consumer.close()
    return stats


def _commit(consumer: Any, msg: Any) -> None:
    consumer.commit(message=msg, asynchronous=False)


def _produce(producer: Any, topic: str, records: list[dict[str, Any]], key: bytes | None) -> None:
    """Produce ``records`` and wait for the broker's acks; raise when any is not stored."""
    errors: list[str] = []

    def report(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    for record in records:
        producer.produce(topic, orjson.dumps(record), key=key, on_delivery=report)
    remaining = producer.flush(30)
    if errors or remaining:
        raise RuntimeError(
            f"dead letters not stored in {topic} ({remaining} pending): {'; '.join(errors)}"
        )


def serve(
    settings: Settings, notify: NotifySettings, *, once: bool = False, idle_s: float = 3.0
) -> RunStats:
    """Run the notifier in this thread until SIGINT/SIGTERM (or idle, with ``once``)."""
    registry = CollectorRegistry()
    notifier = make_notifier(notify, registry=registry)
    if notify.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(notify.metrics_port, addr=settings.web_bind, registry=registry)

    async def main() -> RunStats:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        return await run(settings, notifier, once=once, idle_s=idle_s, stop=stop)

    return asyncio.run(main())
