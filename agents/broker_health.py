"""Watches whether the Kafka cluster answers: the ``logradar_broker_up`` gauge and log lines.

Faust and aiokafka reconnect on their own while the broker is away; this
makes the outage visible (a metric to alert on, one warning when it starts,
one every 30 s while it lasts, and one line when it ends).
"""

from __future__ import annotations

import asyncio
import logging
import time

from logradar.kafka import broker_reachable
from streams.app import app, metrics, settings

log = logging.getLogger("logradar.broker")
CHECK_EVERY_S = 5.0
REPEAT_EVERY_S = 30.0

_down_since: float | None = None
_warned_at = 0.0


@app.timer(interval=CHECK_EVERY_S)
async def check_broker() -> None:
    global _down_since, _warned_at
    loop = asyncio.get_running_loop()
    error = await loop.run_in_executor(
        None, broker_reachable, settings.bootstrap_servers, settings.kafka_config(), 3.0
    )
    now = time.monotonic()
    metrics.broker_up.set(0 if error else 1)
    if error is None:
        if _down_since is not None:
            log.warning("broker %s reachable again after %.0fs", settings.broker, now - _down_since)
            _down_since = None
        return
    if _down_since is None:
        _down_since = _warned_at = now
        log.warning("broker %s unreachable: %s (retrying)", settings.broker, error)
    elif now - _warned_at >= REPEAT_EVERY_S:
        _warned_at = now
        log.warning(
            "broker %s unreachable for %.0fs: %s (retrying)",
            settings.broker,
            now - _down_since,
            error,
        )
