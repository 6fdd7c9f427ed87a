"""Graceful stop: the batch in flight finishes, and its offsets are committed before exit.

Faust's own stop commits what is acknowledged when it starts; a batch still
being sent and persisted then is acknowledged only afterwards, and its offsets
would wait for a commit that never comes (a restart would read it again and
skip it as replayed). Faust sends ``on_before_shutdown`` after it has stopped
fetching and while the consumer still runs: this waits for the batch in
flight (the processing lock) and commits once more, and keeps the lock: events
still queued in the stream are then neither processed nor acknowledged, so no
later commit can cover a batch whose state was written after this one.
"""

from __future__ import annotations

import logging
from typing import Any

from streams.app import app
from tables.state import step, stopping

log = logging.getLogger(__name__)


@app.on_before_shutdown.connect
async def _commit_in_flight(app: Any, **_: Any) -> None:
    stopping.set()  # a batch finishing now acknowledges its events inside the lock
    await step.acquire()  # held until the process exits: no batch starts after this
    try:
        await app.consumer.commit()
    except Exception as exc:  # noqa: BLE001 - the consumer may already be gone
        log.warning("final commit failed: %r", exc)
