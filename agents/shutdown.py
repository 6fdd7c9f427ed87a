"""Graceful stop: one more commit once the batch in flight is done.

Faust's stop stops fetching, lets the agents finish what was delivered
(``stream_wait_empty``) and commits what is acknowledged. This commits once
more after the batch in flight (the processing lock), and waits for a
periodic commit under way instead of skipping (``Consumer.commit`` returns
without committing when another commit runs). The lock is released again:
an agent blocked on it would, when cancelled, acknowledge a batch it never
processed (``take_events`` acknowledges its batch on exit), and Faust's last
commit would then skip those records.
"""

from __future__ import annotations

import logging
from typing import Any

from streams.app import app
from tables.state import step

log = logging.getLogger(__name__)


@app.on_before_shutdown.connect
async def _commit_in_flight(app: Any, **_: Any) -> None:
    consumer = app.consumer
    async with step:
        try:
            await consumer.maybe_wait_for_commit_to_finish()
            await consumer.force_commit()
        except Exception as exc:  # noqa: BLE001 - the consumer may already be gone
            log.warning("final commit failed: %r", exc)
