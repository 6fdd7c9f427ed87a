"""Minimal reproductions of the Faust behaviour that can hand a stream a partition with a hole.

Together they lose one record: a record queued for a stream when the app's flow
control resumes is cleared from the queue (never processed, never acknowledged),
and when the record after it is acknowledged, Faust's commit steps over the
one-record hole. ``Processor.holes`` and ``tables.state.complete`` read such
records back from the broker. The SIGTERM fault test (tests/chaos/test_faults.py)
caught it: after a restart Faust starts fetching while it seeks the partitions to
their committed offsets, and resumes flow control (clearing the queues) after.

If faust-streaming changes either behaviour, these tests fail and say so; the
read-back stays, as it costs nothing when no record is missing.
"""

from __future__ import annotations

import asyncio

import faust
from faust.types import TP


def consumer() -> faust.types.ConsumerT:
    # Nothing connects: the consumer's offset bookkeeping is plain Python.
    return faust.App("quirks", broker="kafka://127.0.0.1:1").consumer


def test_a_commit_steps_over_a_one_record_hole() -> None:
    c = consumer()
    tp = TP("logs", 0)
    # committed 5022 means "5022 is the next record to read"; 5022 was never acknowledged
    c._committed_offset[tp] = 5022  # type: ignore[attr-defined]
    c._acked[tp] = [5023, 5024]  # type: ignore[attr-defined]
    c._acked_index[tp] = {5023, 5024}  # type: ignore[attr-defined]
    assert c._new_offset(tp) == 5025, "Faust no longer commits over a one-record hole?"  # type: ignore[attr-defined]


def test_a_hole_of_two_records_holds_the_commit_back() -> None:
    c = consumer()
    tp = TP("logs", 0)
    c._committed_offset[tp] = 5022  # type: ignore[attr-defined]
    c._acked[tp] = [5024, 5025]  # type: ignore[attr-defined]
    c._acked_index[tp] = {5024, 5025}  # type: ignore[attr-defined]
    assert c._new_offset(tp) is None  # type: ignore[attr-defined]


def test_resuming_flow_control_clears_what_streams_have_queued() -> None:
    app = faust.App("quirks", broker="kafka://127.0.0.1:1")

    async def scenario() -> int:
        app.flow_control.resume()  # flowing, as at a worker's first start
        queue = app.channel().queue  # the queue a topic's stream reads from
        queue.put_nowait("a record fetched before the resume")
        assert queue.qsize() == 1
        app.flow_control.resume()  # what Faust's recovery does once partitions are sought
        return queue.qsize()

    left = asyncio.run(asyncio.wait_for(scenario(), 10))
    assert left == 0, "Faust no longer clears stream queues on resume?"
