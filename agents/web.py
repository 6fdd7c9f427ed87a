"""Read-only web pages of a worker: /healthz, /readyz and /status (JSON)."""

from __future__ import annotations

from typing import Any

from faust.web import Request, Response, View

from streams.app import app, settings
from tables.state import processor


def _assigned() -> list[str]:
    inputs = set(settings.input_topics)
    return sorted(
        f"{tp.topic}:{tp.partition}" for tp in app.assignor.assigned_actives() if tp.topic in inputs
    )


@app.page("/healthz")
class Health(View):
    async def get(self, request: Request) -> Response:
        return self.json({"status": "ok"})


@app.page("/readyz")
class Ready(View):
    async def get(self, request: Request) -> Response:
        assigned = _assigned()
        ready = bool(assigned) and not app.rebalancing and app.tables.recovery.completed.is_set()
        return self.json({"ready": ready, "assigned": assigned}, status=200 if ready else 503)


@app.page("/status")
class Status(View):
    async def get(self, request: Request) -> Response:
        partitions: dict[str, Any] = {}
        for tp, pipe in sorted(processor.pipelines.items()):
            partitions[tp] = {
                "watermark": pipe.windows.watermark,
                "closed_until": pipe.windows.closed,
                "offset": pipe.offset,
                "open_buckets": pipe.open_windows(),
                "keys": len(pipe.windows.keys),
                "late": pipe.windows.late,
                "firing": sorted(
                    s for s, st in pipe.burst.states.items() if st.fired_window is not None
                ),
            }
        return self.json(
            {
                "app_id": settings.app_id,
                "assigned": _assigned(),
                "rebalancing": bool(app.rebalancing),
                "partitions": partitions,
                "last_alert": processor.last_alert,
            }
        )
