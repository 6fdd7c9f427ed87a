"""The garbage collector's young-generation threshold for the engine's processes.

CPython collects its young generation every 700 net allocations of container
objects by default. A worker holds a batch (up to ``LOGRADAR_BATCH_SIZE``
records, each several objects) for as long as it takes to process it, so at 700
those objects live through dozens of young collections, are promoted to the
oldest generation, and then die there: the oldest generation fills with the dead
and is walked in full every couple of seconds (21 full collections, ~50 ms each,
over 300,000 single-record events in the bench). At 20,000 a batch's objects
mostly die young, and the full collections all but stop.

Memory: objects freed by reference counting (nearly all) go at once as before;
only garbage in reference cycles waits for up to ``threshold`` allocations.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000
"""The default (CPython: 700); see the module docstring and BENCHMARKS.md, session 8."""


def set_young_threshold(young: int) -> tuple[int, ...]:
    """Collect the young generation every ``young`` allocations (0: leave it); the old setting."""
    before = gc.get_threshold()
    if young > 0:
        gc.set_threshold(young, *before[1:])
    return before


def restore_threshold(before: tuple[int, ...]) -> None:
    """Put back the thresholds :func:`set_young_threshold` returned."""
    gc.set_threshold(*before)
