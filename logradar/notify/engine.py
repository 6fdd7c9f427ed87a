"""Delivery of alert records to sinks: dedupe, retries with backoff, dead letters.

:meth:`Notifier.handle_record` takes one record of the alerts topic and
returns the dead-letter documents to produce (one per sink that failed after
its last attempt, or one for a record that is not an alert); the Kafka side
(:mod:`.runner`) produces them and only then commits the record's offset.
No Kafka here and no wall clock: ``sleep`` is injected.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from prometheus_client import CollectorRegistry, Counter

from logradar.model import DeadLetter, DeadReason, dead_letter_record
from logradar.notify.sinks import Alert, DeliveryError, Sink, severity_rank

log = logging.getLogger("logradar.notify")

NOTIFY_FAILED = "notify_failed"
Status = Literal["delivered", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one alert at one sink."""

    sink: str
    status: Status
    attempts: int = 0
    error: str = ""


class SeenIds:
    """The last ``size`` alert ids handled, least recently seen dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, key: str) -> bool:
        if key in self._ids:
            self._ids.move_to_end(key)
            return True
        return False

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, key: str) -> None:
        self._ids[key] = None
        self._ids.move_to_end(key)
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)


@dataclass(frozen=True)
class NotifyMetrics:
    deliveries: Counter
    duplicates: Counter
    retries: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> NotifyMetrics:
        return cls(
            deliveries=Counter(
                "logradar_notify_deliveries",
                "Alerts per sink and outcome (delivered, failed = dead-lettered, skipped).",
                ["sink", "outcome"],
                registry=registry,
            ),
            duplicates=Counter(
                "logradar_notify_duplicates",
                "Alert records not sent again because their id was already handled.",
                registry=registry,
            ),
            retries=Counter(
                "logradar_notify_retries",
                "Delivery attempts after a failure.",
                ["sink"],
                registry=registry,
            ),
        )


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class Notifier:
    """Sends each new alert to every sink, retrying with exponential backoff."""

    def __init__(
        self,
        sinks: Sequence[Sink],
        *,
        attempts: int = 5,
        backoff_s: float = 1.0,
        backoff_max_s: float = 60.0,
        dedupe_size: int = 10000,
        secrets: Iterable[str] = (),
        metrics: NotifyMetrics | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.sinks = list(sinks)
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.seen = SeenIds(dedupe_size)
        self.secrets = [s for s in secrets if s]
        self.metrics = metrics
        self.sleep = sleep

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.backoff_max_s, self.backoff_s * 2 ** (attempt - 1)))

    async def notify(self, alert: Alert) -> list[Outcome] | None:
        """Deliver ``alert`` to every sink; None when its id was already handled."""
        key = str(alert.get("id"))
        if key in self.seen:
            if self.metrics is not None:
                self.metrics.duplicates.inc()
            return None
        outcomes = list(await asyncio.gather(*(self._deliver(s, alert) for s in self.sinks)))
        self.seen.add(key)  # delivered or dead-lettered: handled either way
        return outcomes

    async def _deliver(self, sink: Sink, alert: Alert) -> Outcome:
        if severity_rank(alert.get("severity")) < severity_rank(sink.min_severity):
            return self._count(Outcome(sink.name, "skipped"))
        error = ""
        for attempt in range(1, self.attempts + 1):
            permanent = False
            try:
                await sink.send(alert)
                return self._count(Outcome(sink.name, "delivered", attempt))
            except DeliveryError as exc:
                error, permanent = scrub(str(exc), self.secrets), exc.permanent
            except Exception as exc:  # a bug in a sink must not lose the alert either
                error = scrub(f"{type(exc).__name__}: {exc}", self.secrets)
            last = permanent or attempt == self.attempts
            log.warning(
                "%s: alert %s attempt %d/%d failed: %s%s",
                sink.name,
                alert.get("id"),
                attempt,
                self.attempts,
                error,
                "" if last else f"; retrying in {self.delay(attempt):g}s",
            )
            if last:
                return self._count(Outcome(sink.name, "failed", attempt, error))
            if self.metrics is not None:
                self.metrics.retries.labels(sink.name).inc()
            await self.sleep(self.delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _count(self, outcome: Outcome) -> Outcome:
        if self.metrics is not None:
            self.metrics.deliveries.labels(outcome.sink, outcome.status).inc()
        return outcome

    async def handle_record(
        self,
        value: bytes | None,
        *,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None = None,
    ) -> list[dict[str, Any]]:
        """Notify one alerts-topic record; return the dead-letter documents it calls for."""

        def dead(reason: DeadReason, detail: str = "") -> list[dict[str, Any]]:
            doc = dead_letter_record(
                DeadLetter(reason, detail),
                value,
                topic=topic,
                partition=partition,
                offset=offset,
                key=key,
            )
            return [doc]

        try:
            alert = orjson.loads(value or b"")
        except orjson.JSONDecodeError:
            return dead(DeadReason.INVALID_JSON)
        if not isinstance(alert, dict):
            return dead(DeadReason.NOT_OBJECT)
        if not isinstance(alert.get("id"), str) or not alert["id"]:
            return dead(DeadReason.UNPARSED, "alert record without an id")
        outcomes = await self.notify(alert)
        return [
            notify_dead_letter(
                o, alert["id"], value, topic=topic, partition=partition, offset=offset, key=key
            )
            for o in outcomes or ()
            if o.status == "failed"
        ]

    async def close(self) -> None:
        for sink in self.sinks:
            await sink.close()


def notify_dead_letter(
    outcome: Outcome,
    alert_id: str,
    value: bytes | None,
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None = None,
) -> dict[str, Any]:
    """The dead-letter document for an alert a sink did not take after its last attempt.

    The layout of :func:`logradar.model.dead_letter_record` (the original
    record and where it came from) with reason ``notify_failed`` and the sink,
    alert id, attempts and last error added.
    """
    record = dead_letter_record(
        DeadLetter(DeadReason.UNPARSED),
        value,
        topic=topic,
        partition=partition,
        offset=offset,
        key=key,
    )
    record.update(
        reason=NOTIFY_FAILED,
        detail=f"{outcome.sink}: {outcome.error}",
        sink=outcome.sink,
        alert_id=alert_id,
        attempts=outcome.attempts,
        error=outcome.error,
    )
    return record
