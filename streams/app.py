"""The Faust app. ``create_app(settings)`` builds it; ``app`` is the one the worker runs.

Every Faust setting comes from :class:`logradar.settings.Settings`, so the
``LOGRADAR_*`` environment is the only configuration a worker reads.
"""

from __future__ import annotations

import ssl
from typing import Any

import faust
from faust.tables import TableManager
from prometheus_client import CollectorRegistry

from logradar.metrics import Metrics, add_process_collectors
from logradar.partitioning import kafka_partition
from logradar.settings import Settings, get_settings
from streams.sensor import setup_sensors
from streams.stream import BatchStream


def credentials(settings: Settings) -> faust.types.auth.CredentialsT | None:
    """Faust's broker credentials from the KAFKA_* settings (None: plaintext)."""
    proto = settings.kafka_security_protocol
    context = None
    if proto in ("SSL", "SASL_SSL"):
        cafile = settings.kafka_ssl_cafile
        context = ssl.create_default_context(cafile=None if cafile is None else str(cafile))
        if settings.kafka_ssl_certfile is not None:
            keyfile = settings.kafka_ssl_keyfile
            context.load_cert_chain(
                str(settings.kafka_ssl_certfile), None if keyfile is None else str(keyfile)
            )
    if proto == "SSL":
        return faust.SSLCredentials(context)
    if proto.startswith("SASL_"):
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.sasl_password(),
            ssl_context=context,
            mechanism=settings.kafka_sasl_mechanism,
        )
    return None


class PromptTableManager(TableManager):
    """Faust's table manager without the second it waits before every start.

    ``TableManager.on_start`` sleeps 1 s before it closes the table registry
    and starts recovery, so that tables defined while agents start still get
    in. logradar defines its one table at import (``tables/state.py``), so the
    wait only delayed each start and restart, and so each recovery, by a
    second. A table added after the start still fails loudly: Faust raises
    "Too late to add tables at this point". The body is faust-streaming 0.15.3's
    ``on_start`` without the sleep.
    """

    async def on_start(self) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()


def create_app(settings: Settings) -> faust.App:
    """A Faust app configured from ``settings``; agents and tables are autodiscovered."""
    session = settings.session_timeout_s
    app = faust.App(
        settings.app_id,
        # Faust would read BROKER_URL, WEB_PORT, ... from the environment and let them win over
        # these arguments; an empty env makes LOGRADAR_* the only configuration.
        env={},
        broker=settings.broker,
        broker_credentials=credentials(settings),
        store="memory://",
        datadir=str(settings.data_dir),
        autodiscover=["tables", "agents"],
        origin="streams",
        web_enabled=True,
        web_port=settings.web_port,
        web_bind=settings.web_bind,
        web_host=settings.web_bind,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=session,
        broker_heartbeat_interval=max(session / 5, 0.5),
        broker_rebalance_timeout=max(session * 2, 10),
        broker_request_timeout=max(session * 3, 30),
        broker_commit_interval=1.0,
        stream_buffer_maxsize=max(settings.batch_size * 2, 4096),
        producer_linger_ms=5,
        # Kafka's default partitioner (the Java client's murmur2, as aiokafka's), faster
        producer_partitioner=kafka_partition,
        table_standby_replicas=0,
        consumer_max_fetch_size=settings.fetch_max_bytes,
        TableManager=PromptTableManager,
        # take_events off the channel's queue in bulk, not through Faust's per-event iterator
        Stream=BatchStream,
    )
    tune_worker_consumer(app, settings.fetch_max_wait_ms)
    return app


def tune_worker_consumer(app: faust.App, ms: int) -> None:
    """Let the worker's consumer wait at most ``ms`` for new records per fetch, and
    leave its group on stop in generation 0 too (``leave_group_at_generation_zero``).

    Faust creates aiokafka's consumer with ``fetch_max_wait_ms=1500`` and no
    setting to change it. Apache Kafka answers a fetch as soon as a record
    arrives, so there it only sets how often an idle consumer asks again; the
    embedded broker holds every fetch that long, records or not
    (tests/integration/test_broker_quirks.py), which made alerts ~1.3 s late.
    The consumer reads the value when it starts, after it is created here.
    """
    thread = app.consumer._thread  # type: ignore[attr-defined]
    create = thread._create_worker_consumer

    def create_worker_consumer(transport: Any) -> Any:
        consumer = create(transport)
        consumer._fetch_max_wait_ms = ms
        leave_group_at_generation_zero(consumer)
        return consumer

    thread._create_worker_consumer = create_worker_consumer


def leave_group_at_generation_zero(consumer: Any) -> None:
    """Make an aiokafka consumer leave its group on stop even in generation 0.

    aiokafka sends LeaveGroup only when the generation is above 0, as Apache
    Kafka's generations start at 1. The embedded broker numbers them from 0
    (tests/integration/test_broker_quirks.py), so a worker that stopped in the
    first generation stayed a member until its session timed out, and the
    worker replacing it waited that long to join: most of a restart's 28 s.
    On Apache Kafka the generation is never 0 once joined, and nothing changes.
    """
    start = consumer.start

    async def start_then_patch() -> None:
        await start()
        coordinator = consumer._coordinator
        leave = getattr(coordinator, "_maybe_leave_group", None)
        if leave is None:  # no group (assign() only)
            return

        async def maybe_leave_group() -> None:
            if coordinator.generation == 0 and coordinator.member_id:
                coordinator.generation = 1  # so aiokafka sends it; its reset_generation() follows
            await leave()

        coordinator._maybe_leave_group = maybe_leave_group

    consumer.start = start_then_patch


settings = get_settings()
app = create_app(settings)
registry = CollectorRegistry()
metrics = Metrics.create(registry, settings.max_service_labels)
add_process_collectors(registry)
setup_sensors(app, registry, name_prefix="faust")
