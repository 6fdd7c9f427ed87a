"""The correlation side of the engine: routing, ticks and the eviction metric."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from logradar.correlation import Router, Tick, decode_tick, encode_event, encode_tick
from logradar.metrics import Metrics
from logradar.model import Level, LogEvent
from logradar.processor import CorrelationProcessor, RawRecord
from logradar.rules import parse_rules

RULES = parse_rules(
    """
patterns:
  - name: brute
    key: user
    steps:
      - {service: auth, message: "login failed", count: 2}
      - {service: auth, message: "login succeeded"}
sessions:
  - {key: user, timeout: 1m, max_sessions: 2}
"""
)


def event(ts: float, user: str, message: str = "hello", service: str = "auth") -> LogEvent:
    return LogEvent(ts, service, Level.INFO, message, attrs={"user": user})


def test_router_forwards_only_events_a_rule_needs_keyed_by_value() -> None:
    router = Router(RULES)
    assert router.routes(LogEvent(1.0, "auth", Level.INFO, "x")) == []  # no user attr
    [(key, value)] = router.routes(event(1.0, "u1"))
    assert key == b"user=u1"
    assert value == b"user\n" + encode_event(event(1.0, "u1"))


def test_ticks_round_trip_and_idle_markers() -> None:
    assert decode_tick(encode_tick("logs:3", 12.5)) == Tick("logs:3", 12.5, None, False)
    assert decode_tick(encode_tick("logs:3", 12.5, 8)) == Tick("logs:3", 12.5, 8, False)
    assert decode_tick(encode_tick("logs:3", 30.0, 8, idle=True)) == Tick("logs:3", 30.0, 8, True)
    assert decode_tick(encode_tick("logs:3", None, 8, idle=True)) == Tick("logs:3", None, 8, True)
    # a tick of the previous version: "source\nts", idle when it has no time
    assert decode_tick(b"\x00tick\nlogs:3\n12.5") == Tick("logs:3", 12.5, None, False)
    assert decode_tick(b"\x00tick\nlogs:3\n") == Tick("logs:3", None, None, True)
    assert decode_tick(b"user\n{}") is None


def test_time_is_the_slowest_active_source_and_evictions_are_counted() -> None:
    registry = CollectorRegistry()
    proc = CorrelationProcessor(RULES, Metrics.create(registry), lambda _p: [], clock=lambda: 0.0)

    def rec(offset: int, value: bytes) -> RawRecord:
        return RawRecord("corr", 0, offset, b"k", value, None)

    records = [rec(i, b"user\n" + encode_event(event(10.0 + i, f"u{i}"))) for i in range(3)]
    records += [rec(3, encode_tick("a:0", 500.0)), rec(4, encode_tick("a:1", 20.0))]
    result = proc.process(records)
    pipe = proc.pipelines["corr:0"]
    assert pipe.now == 20.0  # a:1 is behind: sessions (1 min timeout) are not over yet
    evicted = registry.get_sample_value("logradar_evictions_total", {"kind": "session"})
    assert evicted == 1  # three users, room for two
    assert [r["key_value"] for r in result.sessions] == ["u0"]
    result = proc.process([rec(5, encode_tick("a:1", None))])  # a:1 went idle
    assert pipe.now == 500.0
    assert sorted(r["key_value"] for r in result.sessions) == ["u1", "u2"]
