"""Shared fixtures: the embedded broker and the loghub samples from ../shared."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LOGHUB = REPO.parent / "shared" / "data" / "loghub"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def need(condition: bool, why: str) -> None:
    """Skip with ``why`` when ``condition`` is false; under CI=true, fail instead."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required under CI=true: {why}")
    pytest.skip(why)


@pytest.fixture(scope="session")
def loghub() -> Path:
    """The loghub sample directory (../shared/data/loghub)."""
    need(LOGHUB.is_dir(), f"loghub samples not found at {LOGHUB}")
    return LOGHUB


@pytest.fixture(scope="session")
def broker() -> Iterator[object]:
    """One embedded Tansu broker on a free port for the whole session."""
    from logradar.broker import BrokerUnavailable, start_broker

    try:
        b = start_broker(log_path=REPO / ".pytest-broker.log")
    except BrokerUnavailable as exc:
        need(False, f"embedded broker unavailable: {exc}")
        raise
    yield b
    b.stop()


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic and group names."""
    return uuid.uuid4().hex[:8]
