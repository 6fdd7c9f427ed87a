"""Faust's Prometheus sensor: the same metrics, paid for once per scrape, not per message.

``faust.sensors.prometheus.PrometheusMonitor`` runs four hooks for every Kafka
message, and each updates Prometheus metrics there and then: eight counter and
gauge updates (a lock each), two ``labels()`` lookups (a lock, a tuple of
``str()``-ed label values, a dict), one histogram observation (two locks and a
scan of 14 buckets), and on every stream event it rebuilds the stream's label
(``stream.shortlabel``, a regex substitution, ``strip``, ``lower``). Measured on
the bench's single-record row with the engine switched off, the worker read
9,242 messages/s with that sensor, 13,253 with none (BENCHMARKS.md, session 6):
with one log record per Kafka message it was most of the gap between logradar
and a Faust agent that only counts.

Faust's consumer also calls ``track_tp_end_offset`` for every record it hands out,
and Faust's sensor sets a labelled gauge there. Faust's plain ``Monitor``, which
every Faust app runs, already keeps the same figures in plain ints and dicts on
each of those hooks. :class:`LeanPrometheusMonitor` keeps every metric, name and
label of Faust's sensor and lets the per-message hooks do only that, plus one dict
increment per event for the per-stream counter and one list append for the event
runtime. :meth:`LeanPrometheusMonitor.flush` carries what changed into the
Prometheus metrics; the ``/metrics`` page calls it before every scrape, and the
monitor calls it when ``FLUSH_EVERY`` event runtimes or send latencies are pending
(so memory stays bounded when nothing scrapes). Anything else that reads the
registry directly must call it first.

Sends are per message too (logradar writes its outputs and state records in
batches, ``streams/produce.py``, but tells the sensors of each message): the
per-topic sent counter, the sent total and the send latency histogram are carried
over the same way. Everything else (commits, rebalances, table operations, web
requests, send errors) is Faust's own code, unchanged.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, cast

import faust
from aiohttp.web import Response
from faust import web
from faust.sensors.monitor import Monitor
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP, EventT, Message, PendingMessage, RecordMetadata, StreamT
from faust.types.transports import ProducerT
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from logradar.metrics import observe_all

__all__ = ["FLUSH_EVERY", "LeanPrometheusMonitor", "setup_sensors"]

FLUSH_EVERY = 10_000  # pending runtimes (or send latencies) that make the monitor flush


class LeanPrometheusMonitor(PrometheusMonitor):
    """:class:`PrometheusMonitor` whose per-message metrics are brought up to date by
    :meth:`flush` (see the module docstring)."""

    def __init__(self, metrics: FaustMetrics, **kwargs: Any) -> None:
        super().__init__(metrics, **kwargs)
        self._stream_events: Counter[StreamT[Any]] = Counter()
        self._runtimes: list[float] = []  # seconds, as Monitor measures them
        self._labels: dict[StreamT[Any], Any] = {}  # stream -> its total_events_per_stream child
        # what flush() has already carried over from the plain Monitor's counters
        self._send_ms: list[float] = []  # send latencies, milliseconds
        self._received = 0
        self._by_topic: Counter[str] = Counter()
        self._sent_by_topic: Counter[str] = Counter()
        self._events = 0

    # -- per message: the plain Monitor's bookkeeping, and a little more -------
    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        Monitor.on_message_in(self, tp, offset, message)

    def on_stream_event_in(
        self, tp: TP, offset: int, stream: StreamT[Any], event: EventT[Any]
    ) -> dict[str, Any] | None:
        self._stream_events[stream] += 1
        return Monitor.on_stream_event_in(self, tp, offset, stream, event)

    def on_stream_event_out(
        self,
        tp: TP,
        offset: int,
        stream: StreamT[Any],
        event: EventT[Any],
        state: dict[str, Any] | None = None,
    ) -> None:
        Monitor.on_stream_event_out(self, tp, offset, stream, event, state)
        if state is not None:
            runtimes = self._runtimes
            runtimes.append(state["time_total"])
            if len(runtimes) >= FLUSH_EVERY:
                self.flush()

    def on_message_out(self, tp: TP, offset: int, message: Message) -> None:
        Monitor.on_message_out(self, tp, offset, message)

    def on_send_initiated(
        self, producer: ProducerT, topic: str, message: PendingMessage, keysize: int, valsize: int
    ) -> Any:
        return Monitor.on_send_initiated(self, producer, topic, message, keysize, valsize)

    def on_send_completed(self, producer: ProducerT, state: Any, metadata: RecordMetadata) -> None:
        Monitor.on_send_completed(self, producer, state, metadata)
        sends = self._send_ms
        sends.append(self.ms_since(state))
        if len(sends) >= FLUSH_EVERY:
            self.flush()

    def track_tp_end_offset(self, tp: TP, offset: int) -> None:
        # Faust's consumer calls this for every record it hands out, not once per fetch
        Monitor.track_tp_end_offset(self, tp, offset)

    # -- carried over -----------------------------------------------------------
    def flush(self) -> None:
        """Bring the per-message Prometheus metrics up to date with the plain Monitor."""
        m = self._metrics
        received = self.messages_received_total
        if received != self._received:
            m.messages_received.inc(received - self._received)
            self._received = received
        _carry(self.messages_received_by_topic, self._by_topic, m.messages_received_per_topics)
        for tp, offset in self.tp_read_offsets.items():
            m.messages_received_per_topics_partition.labels(
                topic=tp.topic, partition=tp.partition
            ).set(offset)
        for tp, offset in self.tp_end_offsets.items():
            m.topic_partition_end_offset.labels(topic=tp.topic, partition=tp.partition).set(offset)
        m.active_messages.set(self.messages_active)
        events = self.events_total
        if events != self._events:
            m.total_events.inc(events - self._events)
            self._events = events
        m.total_active_events.set(self.events_active)
        for stream, n in self._stream_events.items():
            child = self._labels.get(stream)
            if child is None:
                label = f"stream.{self._stream_label(stream)}.events"
                child = self._labels[stream] = m.total_events_per_stream.labels(stream=label)
            child.inc(n)
        self._stream_events.clear()
        if self._runtimes:
            observe_all(m.events_runtime_latency, [self.secs_to_ms(s) for s in self._runtimes])
            self._runtimes = []
        _carry(self.messages_sent_by_topic, self._sent_by_topic, m.topic_messages_sent, "topic.")
        if self._send_ms:
            m.total_sent_messages.inc(len(self._send_ms))
            observe_all(m.producer_send_latency, self._send_ms)
            self._send_ms = []

    def _clear_partition_related_metrics(self) -> None:
        # Faust's sensor drops the per-topic and per-partition series on every rebalance
        # and counts them from zero after: what was pending belongs to the old series.
        self.flush()
        super()._clear_partition_related_metrics()


def _carry(counts: Counter[str], done: Counter[str], metric: Any, prefix: str = "") -> None:
    """Add to ``metric`` (labelled by topic) what ``counts`` gained since ``done``."""
    for topic, n in counts.items():
        if n != done[topic]:
            metric.labels(topic=prefix + topic).inc(n - done[topic])
            done[topic] = n


def setup_sensors(app: faust.App, registry: CollectorRegistry, name_prefix: str) -> None:
    """What Faust's ``setup_prometheus_sensors`` does (its metrics in ``registry``, a
    ``/metrics`` page), with :class:`LeanPrometheusMonitor` as the app's monitor."""
    monitor = LeanPrometheusMonitor(metrics=FaustMetrics.create(registry, name_prefix))
    app.monitor = monitor

    @app.page("/metrics")
    async def metrics_handler(self: web.View, request: web.Request) -> web.Response:
        monitor.flush()
        headers = {"Content-Type": CONTENT_TYPE_LATEST}  # with a charset: not content_type=
        body = generate_latest(registry)
        return cast(web.Response, Response(body=body, headers=headers, status=200))
