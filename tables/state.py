"""The state table and the processor that reads and writes it.

One changelog-backed table holds every partition's window buckets, watermark
and detector state, keyed ``<topic>:<partition>\\x1f...``. Writes go to the
changelog partition of the *source* partition, so a partition's state moves
with it when the group rebalances.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import faust

from logradar.processor import BatchResult, CorrelationProcessor, Processor
from logradar.rules import load_rules
from streams.app import app, metrics, settings

state = app.Table(
    "state",
    default=None,
    partitions=settings.topic_partitions,
    key_type=str,
    help="logradar window buckets, watermarks and detector state per source partition.",
)


def _items() -> Iterable[tuple[str, Any]]:
    return list(state.data.items())


processor = Processor(
    settings, metrics, _items, rules=load_rules(settings.rules) if settings.rules else None
)
correlation = CorrelationProcessor(processor.rules, metrics, _items)


def persist(result: BatchResult) -> None:
    """Apply a result's state changes locally and to the changelog, on their partitions."""
    data = state.data
    for partition, key, value in result.state:
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
        state.send_changelog(partition, key, value)


@app.on_partitions_revoked.connect
async def _on_revoked(app: faust.App, revoked: set[Any], **_: Any) -> None:
    processor.forget((tp.topic, tp.partition) for tp in revoked)
    correlation.forget((tp.topic, tp.partition) for tp in revoked)
