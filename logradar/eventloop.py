"""The worker's asyncio event loop: uvloop where it is installed.

With one log record per Kafka message, a Faust worker spends most of its time in
per-message event-loop work: tasks, futures and queue wake-ups between the consumer,
the conductor and the agent (BENCHMARKS.md, "Where the time goes"). uvloop runs that
loop in C; Faust supports it (``mode.loop.use("uvloop")`` does what
:func:`install` does). ``LOGRADAR_EVENT_LOOP`` chooses; ``auto`` takes uvloop when
it imports and asyncio's own loop otherwise (uvloop has no Windows build).
"""

from __future__ import annotations

import asyncio
from typing import Literal

EventLoopChoice = Literal["auto", "uvloop", "asyncio"]


class EventLoopError(RuntimeError):
    """The loop asked for cannot be had."""


def resolve(choice: EventLoopChoice) -> str:
    """The loop ``choice`` gives here: ``"uvloop"`` or ``"asyncio"`` (``auto`` resolved)."""
    if choice == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError as exc:
        if choice == "uvloop":
            raise EventLoopError(
                "LOGRADAR_EVENT_LOOP=uvloop, but uvloop is not installed "
                f"({exc}); install it, or set LOGRADAR_EVENT_LOOP=asyncio"
            ) from exc
        return "asyncio"
    return "uvloop"


def install(choice: EventLoopChoice) -> str:
    """Make loops created from now on the chosen kind; return ``"uvloop"`` or ``"asyncio"``.

    Call it before anything creates the worker's loop (before Faust starts).
    """
    name = resolve(choice)
    if name == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return name


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``"uvloop"`` for a uvloop loop, else ``"asyncio"``: what /status reports."""
    return "uvloop" if type(loop).__module__.split(".")[0] == "uvloop" else "asyncio"
