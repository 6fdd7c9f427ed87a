"""Read-only web pages of a worker: / (the live page), /healthz, /readyz and /status (JSON).

They show this worker's partitions only; Grafana, over every worker's /metrics,
shows the fleet. The events/s of the live page come from this worker's
``logradar_events_total`` counter, sampled by a timer into a small ring.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from typing import Any

from faust.web import Request, Response, View

from agents.idle import settled
from logradar.eventloop import loop_name
from logradar.live import PAGE, PAGE_HEADERS, RateRing, build_status, counter_totals
from streams.app import app, metrics, settings
from streams.topics import correlate
from tables.state import correlation, processor

rates = RateRing()
WORKER = {
    "host": socket.gethostname(),
    "pid": os.getpid(),
    "web": f"{settings.web_bind}:{settings.web_port}",
}


def _assigned(topics: set[str]) -> list[str]:
    return sorted(
        f"{tp.topic}:{tp.partition}" for tp in app.assignor.assigned_actives() if tp.topic in topics
    )


@app.timer(interval=rates.step_s)
async def sample_event_rates() -> None:
    rates.observe(time.time(), counter_totals(metrics.events))


@app.page("/")
class Live(View):
    async def get(self, request: Request) -> Response:
        return self.html(PAGE, headers=dict(PAGE_HEADERS))


@app.page("/healthz")
class Health(View):
    async def get(self, request: Request) -> Response:
        return self.json({"status": "ok"})


@app.page("/readyz")
class Ready(View):
    async def get(self, request: Request) -> Response:
        assigned = _assigned(set(settings.input_topics))
        ready = bool(assigned) and settled()  # every assigned partition's state restored
        return self.json({"ready": ready, "assigned": assigned}, status=200 if ready else 503)


@app.page("/status")
class Status(View):
    async def get(self, request: Request) -> Response:
        now = time.time()
        totals = counter_totals(metrics.events)
        rates.observe(now, totals)
        doc: dict[str, Any] = build_status(
            processor,
            correlation,
            rates,
            totals,
            now=now,
            app_id=settings.app_id,
            assigned=_assigned(set(settings.input_topics)),
            correlation_assigned=_assigned({correlate.get_topic_name()}),
            rebalancing=bool(app.rebalancing),
            worker={**WORKER, "event_loop": loop_name(asyncio.get_running_loop())},
            recent=processor.recent_alerts,
        )
        return self.json(doc, headers={"Cache-Control": "no-store"})
