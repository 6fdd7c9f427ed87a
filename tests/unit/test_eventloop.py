"""``LOGRADAR_EVENT_LOOP``: uvloop by default where it is installed, asyncio on request."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Iterator
from typing import Any

import pytest
import uvloop

from logradar.eventloop import EventLoopError, install, loop_name
from logradar.settings import Settings


@pytest.fixture(autouse=True)
def policy() -> Iterator[None]:
    before = asyncio.get_event_loop_policy()
    yield
    asyncio.set_event_loop_policy(before)


@pytest.fixture
def no_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    real = builtins.__import__

    def refuse(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "uvloop":
            raise ImportError("No module named 'uvloop'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)


def _new_loop_name() -> str:
    loop = asyncio.new_event_loop()
    try:
        return loop_name(loop)
    finally:
        loop.close()


@pytest.mark.parametrize("choice", ["auto", "uvloop"])
def test_auto_and_uvloop_give_loops_from_uvloop(choice: Any) -> None:
    assert install(choice) == "uvloop"
    assert isinstance(asyncio.new_event_loop(), uvloop.Loop)
    assert _new_loop_name() == "uvloop"


def test_asyncio_leaves_the_standard_loop() -> None:
    asyncio.set_event_loop_policy(None)
    assert install("asyncio") == "asyncio"
    assert _new_loop_name() == "asyncio"


def test_auto_falls_back_to_asyncio_without_uvloop(no_uvloop: None) -> None:
    asyncio.set_event_loop_policy(None)
    assert install("auto") == "asyncio"
    assert _new_loop_name() == "asyncio"


def test_uvloop_asked_for_but_missing_is_a_clear_error(no_uvloop: None) -> None:
    with pytest.raises(EventLoopError, match="LOGRADAR_EVENT_LOOP=asyncio"):
        install("uvloop")


def test_the_setting_defaults_to_auto_and_rejects_other_loops() -> None:
    assert Settings().event_loop == "auto"
    assert Settings(event_loop="asyncio").event_loop == "asyncio"
    with pytest.raises(ValueError, match="event_loop"):
        Settings(event_loop="gevent")  # type: ignore[arg-type]
