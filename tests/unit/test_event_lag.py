"""The event-lag histogram, observed once per batch: the same buckets, count and sum as
observing each counted event."""

from __future__ import annotations

import math
import random

import orjson
import pytest
from prometheus_client import CollectorRegistry, Histogram

from logradar.metrics import LAG_BUCKETS, Metrics, observe_all
from logradar.processor import Processor, RawRecord
from logradar.settings import Settings

START = 28_333_333 * 60
NOW = START + 86400.0


def line(ts: float) -> bytes:
    return orjson.dumps({"ts": ts, "service": "api", "level": "INFO", "msg": "hello"})


def histogram() -> tuple[Histogram, CollectorRegistry]:
    registry = CollectorRegistry()
    return Histogram("lag_seconds", "lag", buckets=LAG_BUCKETS, registry=registry), registry


def samples(registry: CollectorRegistry, name: str) -> dict[str, float]:
    """Every sample of the histogram ``name`` but its creation time, by name and bound."""
    out = {}
    for metric in registry.collect():
        if metric.name == name:
            for sample in metric.samples:
                if not sample.name.endswith("_created"):
                    out[sample.name + sample.labels.get("le", "")] = sample.value
    return out


def one_by_one(amounts: list[float]) -> dict[str, float]:
    hist, registry = histogram()
    for amount in amounts:
        hist.observe(amount)
    return samples(registry, "lag_seconds")


def all_at_once(amounts: list[float]) -> dict[str, float]:
    hist, registry = histogram()
    observe_all(hist, amounts)
    return samples(registry, "lag_seconds")


EDGES = [0.0, 0.05, 0.0500001, 1.0, 2.5, 3600.0, 86400.0, 86400.5, 1e9, -3.0]


@pytest.mark.parametrize(
    "amounts",
    [
        [],
        [0.25],
        EDGES,  # on, just above and below bounds; beyond the last finite one; negative
        EDGES * 3 + [7.5, 0.125],
        [math.inf, 1.0],
        [-math.inf, 1.0, 86400.0],
    ],
)
def test_the_same_buckets_count_and_sum_as_observe(amounts: list[float]) -> None:
    # a fresh histogram: both add the amounts to 0.0 in the same order, so even the sums
    # are equal to the bit
    assert all_at_once(amounts) == one_by_one(amounts)


def test_nan_stays_out_of_the_buckets_as_with_observe() -> None:
    amounts = [1.0, math.nan, 30.0]
    got, want = all_at_once(amounts), one_by_one(amounts)
    assert math.isnan(got.pop("lag_seconds_sum")) and math.isnan(want.pop("lag_seconds_sum"))
    assert got == want
    assert got["lag_seconds_count"] == 2


def test_random_lags_in_batches_same_buckets_and_sum_to_rounding() -> None:
    rng = random.Random(7)
    batches = [[rng.expovariate(1 / 600) for _ in range(2000)] for _ in range(3)]
    batches[1].append(rng.uniform(-5, 0.1))
    hist, registry = histogram()
    for batch in batches:
        observe_all(hist, batch)
    got = samples(registry, "lag_seconds")
    want = one_by_one([amount for batch in batches for amount in batch])
    # a batch's sum is added to the running sum at once: equal up to rounding
    assert math.isclose(got.pop("lag_seconds_sum"), want.pop("lag_seconds_sum"), rel_tol=1e-12)
    assert got == want
    assert got["lag_seconds_count"] == 6001


def test_a_processed_batch_observes_the_lag_of_each_counted_event() -> None:
    registry = CollectorRegistry()
    proc = Processor(
        Settings(input_encoding="logs=ndjson"),
        Metrics.create(registry, 500),
        state_items=lambda _p: [],
        clock=lambda: NOW,
    )
    times = [START + i * 7.25 for i in range(200)]
    value = b"\n".join([*(line(ts) for ts in times), b"{not json"])
    proc.process([RawRecord("logs", 0, 0, None, value, None)])
    got = samples(registry, "logradar_event_lag_seconds")
    want = one_by_one([NOW - ts for ts in times])
    assert got.pop("logradar_event_lag_seconds_sum") == pytest.approx(
        want.pop("lag_seconds_sum"), rel=1e-12
    )
    assert got == {
        name.replace("lag_seconds", "logradar_event_lag_seconds"): v for name, v in want.items()
    }
    assert got["logradar_event_lag_seconds_count"] == 200


class PublicOnly:
    """A histogram with observe() and none of prometheus_client's internals."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    def observe(self, amount: float) -> None:
        self.seen.append(amount)


def test_a_histogram_without_the_internals_is_observed_one_by_one() -> None:
    hist = PublicOnly()
    observe_all(hist, [0.5, 2.0, 0.5])  # type: ignore[arg-type]
    assert hist.seen == [0.5, 2.0, 0.5]


class Mismatched(PublicOnly):
    """Internals by the same names that do not mean what observe_all expects."""

    _upper_bounds = (1.0, 5.0)  # no +Inf
    _buckets = ()
    _sum = None


def test_a_histogram_whose_internals_do_not_line_up_is_observed_one_by_one() -> None:
    hist = Mismatched()
    observe_all(hist, [0.25, 7.5])  # type: ignore[arg-type]
    assert hist.seen == [0.25, 7.5]
