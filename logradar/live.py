"""What one worker shows about itself: the ``/status`` document and the live page at ``/``.

Everything here is pure: the web view (``agents/web.py``) hands over the
processors, the wall clock and the cumulative ``logradar_events_total``
samples, and gets JSON-ready dicts back. Rates come from a :class:`RateRing`
that diffs those cumulative counts once per ``step_s`` of wall time and keeps
the last ``span_s`` of them, so the processor is not touched per event.

:data:`PAGE` is the live page: one self-contained HTML document (inline CSS
and JavaScript, SVG drawn by the script, nothing fetched but ``/status``) that
refreshes every two seconds. Every piece of text from the data reaches the DOM
through ``textContent``, never as markup.
"""

from __future__ import annotations

import base64
import hashlib
import math
from array import array
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import Counter

    from logradar.pipeline import PartitionPipeline
    from logradar.processor import CorrelationProcessor, Processor

__all__ = [
    "PAGE",
    "PAGE_HEADERS",
    "Gains",
    "RateRing",
    "alert_view",
    "build_status",
    "correlation_status",
    "counter_totals",
    "open_incidents",
    "partition_status",
    "service_totals",
]

Key = tuple[str, str]  # (service, level)

STEP_S = 2.0  # wall seconds between two rate samples
SPAN_S = 300.0  # how far back the rates go
NOW_S = 10.0  # "events/s now" averages over this many seconds
MAX_RATE_SERVICES = 8  # services with their own rate series; the rest fold into "_other"
MAX_SERVICES = 50  # services listed with their totals
RECENT_ALERTS = 20
EVIDENCE_MAX = 5
MESSAGE_MAX = 300
SERIES_MAX = 60  # points of an alert's or incident's window series
ERROR_LEVELS = frozenset({"ERROR", "FATAL"})
OTHER = "_other"


# --------------------------------------------------------------------------- rates


def counter_totals(counter: Counter) -> dict[Key, float]:
    """The cumulative value of every (service, level) sample of ``logradar_events_total``."""
    out: dict[Key, float] = {}
    for family in counter.collect():
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue  # the ``_created`` timestamps
            key = (sample.labels.get("service", ""), sample.labels.get("level", ""))
            out[key] = out.get(key, 0.0) + sample.value
    return out


class Gains:
    """What each (service, level) gained over one interval of a :class:`RateRing`.

    Two flat arrays (key numbers and gains), ~12 bytes a key, where a dict of
    fresh key tuples and floats took ~70: a worker with 500 labelled services
    and six levels kept ~30 MB of rate history that way (the memory soak).
    """

    __slots__ = ("_keys", "_index", "_gain")

    def __init__(self, keys: list[Key], index: array[int], gain: array[float]) -> None:
        self._keys = keys  # the ring's key table, shared; numbers index it
        self._index = index
        self._gain = gain

    def items(self) -> Iterator[tuple[Key, float]]:
        keys = self._keys
        return zip([keys[i] for i in self._index], self._gain, strict=True)

    def values(self) -> array[float]:
        return self._gain

    def __len__(self) -> int:
        return len(self._index)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Gains | Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to a dict, so unhashable like one

    def __repr__(self) -> str:
        return f"Gains({dict(self.items())!r})"


class RateRing:
    """Events per second per (service, level) over the last ``span_s`` of wall time.

    :meth:`observe` is given cumulative counts (a Prometheus counter's samples)
    and keeps, at most once per ``step_s``, what each key gained since the
    previous kept sample, as ``(end time, seconds covered, gains)``. Only keys
    that gained are stored. A count that went down (a counter that restarted)
    counts from zero, as Prometheus' ``rate()`` does. The ring holds at most
    ``span_s / step_s + 1`` intervals.

    A sample up to a tenth of a step early is taken: a timer firing every
    ``step_s`` runs a little early now and then, and refusing those would keep
    one interval in two and make the history twice as long as ``span_s``.
    """

    __slots__ = ("step_s", "span_s", "points", "_last", "_keys", "_numbers")

    def __init__(self, step_s: float = STEP_S, span_s: float = SPAN_S) -> None:
        if step_s <= 0 or span_s < step_s:
            raise ValueError("step_s must be positive and span_s at least one step")
        self.step_s = step_s
        self.span_s = span_s
        self.points: deque[tuple[float, float, Gains]] = deque(
            maxlen=math.ceil(span_s / step_s) + 1
        )
        self._last: tuple[float, dict[Key, float]] | None = None
        # every key seen, numbered; bounded as the counter's label sets are
        self._keys: list[Key] = []
        self._numbers: dict[Key, int] = {}

    def observe(self, now: float, totals: Mapping[Key, float]) -> bool:
        """Take a sample of cumulative ``totals`` at ``now``; False when too soon after the last."""
        last = self._last
        if last is None:
            self._last = (now, dict(totals))
            return True
        t0, before = last
        if now - t0 < self.step_s * 0.9:
            return False
        index: array[int] = array("I")
        gain: array[float] = array("d")
        numbers = self._numbers
        for key, value in totals.items():
            got = value - before.get(key, 0.0)
            if got < 0:
                got = value
            if got > 0:
                number = numbers.get(key)
                if number is None:
                    number = numbers[key] = len(self._keys)
                    self._keys.append(key)
                index.append(number)
                gain.append(got)
        self.points.append((now, now - t0, Gains(self._keys, index, gain)))
        self._last = (now, dict(totals))
        return True

    def recent(self, now: float) -> list[tuple[float, float, Gains]]:
        """The intervals that ended within ``span_s`` of ``now``, oldest first."""
        return [p for p in self.points if now - p[0] <= self.span_s]

    def view(self, now: float, max_services: int = MAX_RATE_SERVICES) -> dict[str, Any]:
        """The rates of the last ``span_s`` as /status carries them.

        ``t`` holds the end time of each interval; ``total``, ``errors`` and
        each series' ``rate`` one events/s value per interval. The
        ``max_services`` busiest services get a series per level; the others
        are summed per level under ``_other``.
        """
        points = self.recent(now)
        span_events: dict[Key, float] = {}
        per_service: dict[str, float] = {}
        for _, _, gains in points:
            for key, n in gains.items():
                span_events[key] = span_events.get(key, 0.0) + n
                per_service[key[0]] = per_service.get(key[0], 0.0) + n
        busiest = set(sorted(per_service, key=lambda s: (-per_service[s], s))[:max_services])
        folded: dict[Key, Key] = {
            k: (k if k[0] in busiest else (OTHER, k[1]))
            for k in sorted(span_events, key=lambda k: (-span_events[k], k))
        }
        names = list(dict.fromkeys(folded.values()))
        index = {k: i for i, k in enumerate(names)}
        values = [[0.0] * len(points) for _ in names]
        total: list[float] = []
        errors: list[float] = []
        for j, (_, dt, gains) in enumerate(points):
            all_n = err_n = 0.0
            for key, n in gains.items():
                values[index[folded[key]]][j] += n / dt
                all_n += n
                if key[1] in ERROR_LEVELS:
                    err_n += n
            total.append(round(all_n / dt, 3))
            errors.append(round(err_n / dt, 3))
        covered = sum(dt for _, dt, _ in points)
        events = sum(span_events.values())
        err_events = sum(n for k, n in span_events.items() if k[1] in ERROR_LEVELS)
        latest = [p for p in points if now - p[0] < NOW_S]
        latest_s = sum(dt for _, dt, _ in latest)
        latest_n = sum(sum(g.values()) for _, _, g in latest)
        latest_err = sum(n for _, _, g in latest for k, n in g.items() if k[1] in ERROR_LEVELS)
        series = []
        for (service, level), row in zip(names, values, strict=True):
            n = sum(v for k, v in span_events.items() if folded[k] == (service, level))
            series.append(
                {
                    "service": service,
                    "level": level,
                    "events": round(n),
                    "rate": [round(v, 3) for v in row],
                }
            )
        return {
            "step_s": self.step_s,
            "span_s": self.span_s,
            "t": [round(t, 3) for t, _, _ in points],
            "total": total,
            "errors": errors,
            "series": series,
            "events": round(events),
            "seconds": round(covered, 3),
            "per_second": round(events / covered, 3) if covered > 0 else 0.0,
            "now": round(latest_n / latest_s, 3) if latest_s > 0 else 0.0,
            "error_ratio": ratio(err_events, events),
            "error_ratio_now": ratio(latest_err, latest_n),
        }


def ratio(part: float, whole: float) -> float | None:
    """``part / whole`` rounded to 4 places; None when ``whole`` is 0 (no events: no ratio)."""
    return round(part / whole, 4) if whole > 0 else None


def service_totals(
    totals: Mapping[Key, float], limit: int = MAX_SERVICES
) -> tuple[list[dict[str, Any]], int]:
    """Events per service since the worker started (most first), and how many services there are."""
    per: dict[str, dict[str, float]] = {}
    for (service, level), n in totals.items():
        if n > 0:
            levels = per.setdefault(service, {})
            levels[level] = levels.get(level, 0.0) + n
    rows: list[dict[str, Any]] = []
    for service, levels in per.items():
        events = sum(levels.values())
        errors = sum(n for lv, n in levels.items() if lv in ERROR_LEVELS)
        rows.append(
            {
                "service": service,
                "events": round(events),
                "errors": round(errors),
                "error_ratio": ratio(errors, events),
                "levels": {lv: round(n) for lv, n in sorted(levels.items())},
            }
        )
    rows.sort(key=lambda r: (-r["events"], r["service"]))
    return rows[:limit], len(rows)


# --------------------------------------------------------------------------- state


def _tp_order(tp: str) -> tuple[str, int]:
    topic, _, partition = tp.rpartition(":")
    try:
        return topic, int(partition)
    except ValueError:
        return tp, -1


def partition_status(pipe: PartitionPipeline | None, now: float) -> dict[str, Any]:
    """Watermark, lag behind ``now``, open windows and firing bursts of one source partition."""
    if pipe is None:  # assigned, nothing read yet
        return {
            "watermark": None,
            "lag_s": None,
            "closed_until": None,
            "offset": None,
            "open_buckets": 0,
            "keys": 0,
            "oldest_open": None,
            "late": 0,
            "firing": [],
        }
    windows = pipe.windows
    wm = windows.watermark
    oldest = min((min(s.buckets) for s in windows.keys.values() if s.buckets), default=None)
    return {
        "watermark": wm,
        "lag_s": None if wm is None else round(now - wm, 3),
        "closed_until": windows.closed,
        "offset": pipe.offset,
        "open_buckets": pipe.open_windows(),
        "keys": len(windows.keys),
        "oldest_open": oldest,
        "late": windows.late,
        "firing": sorted(s for s, st in pipe.burst.states.items() if st.fired_window is not None),
    }


def open_incidents(processor: Processor) -> list[dict[str, Any]]:
    """Every incident open on this worker's source partitions: bursts, rate and anomaly ones.

    ``since`` is event time: the burst's window start, or when the rate or
    anomaly incident fired. ``series`` (rate, anomaly) is the recent window
    counts the detector judges.
    """
    out: list[dict[str, Any]] = []
    for tp in sorted(processor.pipelines, key=_tp_order):
        pipe = processor.pipelines[tp]
        burst = pipe.burst
        for service in sorted(burst.states):
            state = burst.states[service]
            fired = state.fired_window
            if fired is None:
                continue
            cfg = burst.config_for(service)
            newest = max(state.counts, default=None)
            out.append(
                {
                    "kind": "burst",
                    "rule": "error_burst",
                    "severity": cfg.severity,
                    "service": service,
                    "level": "ERROR",
                    "partition": tp,
                    "since": float(fired),
                    "observed": state.counts.get(newest, 0) if newest is not None else 0,
                    "threshold": cfg.threshold,
                    "window_s": burst.window_s,
                    "series": [],
                }
            )
        rate = pipe.rate
        if rate is not None:
            for service in sorted(rate.states):
                rstate = rate.states[service]
                rcfg = rate.config_for(service)
                recent = list(rstate.recent)[-SERIES_MAX:]
                for rule, incident in (
                    ("rate_drop", rstate.drop),
                    ("rate_spike", rstate.spike),
                    ("rate_silence", rstate.silence),
                ):
                    if incident.since is None:
                        continue
                    out.append(
                        {
                            "kind": "rate",
                            "rule": rule,
                            "severity": rcfg.severity,
                            "service": service,
                            "level": "ALL",
                            "partition": tp,
                            "since": incident.since,
                            "observed": recent[-1] if recent else None,
                            "expected": round(rstate.base.mean(), 3),
                            "window_s": rate.window_s,
                            "series": _counts_series(recent, rstate.last, rate.window_s),
                        }
                    )
        anomaly = pipe.anomaly
        if anomaly is not None:
            for key in sorted(anomaly.states):
                astate = anomaly.states[key]
                if astate.incident.since is None:
                    continue
                service, level = key
                acfg = anomaly.config_for(service)
                ring = list(astate.ring.values)[-SERIES_MAX:]
                out.append(
                    {
                        "kind": "anomaly",
                        "rule": "anomaly",
                        "severity": acfg.severity,
                        "service": service,
                        "level": level,
                        "partition": tp,
                        "since": astate.incident.since,
                        "observed": ring[-1] if ring else None,
                        "expected": round(astate.ring.mean(), 3),
                        "window_s": anomaly.window_s,
                        "series": _counts_series(ring, astate.last, anomaly.window_s),
                    }
                )
    out.sort(key=lambda i: (-(i["since"] or 0.0), i["rule"], i["service"]))
    return out


def _counts_series(counts: Sequence[int], last: int | None, window_s: int) -> list[dict[str, int]]:
    """Window counts, newest last, as ``{"start", "count"}`` (starts known when ``last`` is)."""
    if last is None:
        return [{"start": 0, "count": int(c)} for c in counts]
    first = last - (len(counts) - 1) * window_s
    return [{"start": first + i * window_s, "count": int(c)} for i, c in enumerate(counts)]


def correlation_status(correlation: CorrelationProcessor) -> dict[str, Any]:
    """Open pattern matches and sessions per correlation partition, and their sums."""
    partitions: dict[str, Any] = {}
    partials_total = sessions_total = cooldown_total = 0
    for tp in sorted(correlation.pipelines, key=_tp_order):
        pipe = correlation.pipelines[tp]
        patterns: dict[str, int] = {}
        cooling = 0
        for engine in pipe.engines.values():
            for (index, _), state in engine.states.items():
                if state.partial is not None:
                    name = engine.patterns[index].name
                    patterns[name] = patterns.get(name, 0) + 1
                elif state.incident is not None:
                    cooling += 1
        sessions = {key: len(tracker) for key, tracker in sorted(pipe.trackers.items())}
        partials = sum(patterns.values())
        partials_total += partials
        sessions_total += sum(sessions.values())
        cooldown_total += cooling
        partitions[tp] = {
            "watermark": pipe.watermark,
            "now": pipe.now,
            "offset": pipe.offset,
            "held": len(pipe.held),  # forwarded events waiting for every source to pass them
            "waiting_for": pipe.missing()[:8],  # sources that have not reported yet
            "partials": partials,
            "patterns": dict(sorted(patterns.items())),
            "cooldown": cooling,
            "sessions": sum(sessions.values()),
            "session_keys": sessions,
        }
    return {
        "partitions": partitions,
        "partials": partials_total,
        "sessions": sessions_total,
        "cooldown": cooldown_total,
    }


def alert_view(alert: Mapping[str, Any]) -> dict[str, Any]:
    """An alert dict cut to what a page needs: short evidence, a bounded series."""
    doc = dict(alert)
    doc["evidence"] = [
        {
            "ts": e.get("ts"),
            "level": e.get("level"),
            "message": str(e.get("message", ""))[:MESSAGE_MAX],
        }
        for e in list(alert.get("evidence") or [])[:EVIDENCE_MAX]
        if isinstance(e, Mapping)
    ]
    series = alert.get("series")
    if isinstance(series, list):
        doc["series"] = series[-SERIES_MAX:]
    for key in ("examples",):
        if isinstance(doc.get(key), list):
            doc[key] = [str(x)[:MESSAGE_MAX] for x in doc[key][:EVIDENCE_MAX]]
    return doc


def build_status(
    processor: Processor,
    correlation: CorrelationProcessor | None,
    rates: RateRing,
    totals: Mapping[Key, float],
    *,
    now: float,
    app_id: str,
    assigned: Iterable[str],
    correlation_assigned: Iterable[str] = (),
    rebalancing: bool = False,
    worker: Mapping[str, Any] | None = None,
    recent: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The /status document of one worker (everything is about *its* partitions only).

    ``assigned`` names the source partitions the group gave this worker; a
    partition assigned but not read yet is listed with empty state. ``recent``
    is the worker's latest alerts, oldest first.
    """
    assigned = sorted(set(assigned), key=_tp_order)
    tps = sorted(set(assigned) | set(processor.pipelines), key=_tp_order)
    partitions = {tp: partition_status(processor.pipelines.get(tp), now) for tp in tps}
    incidents = open_incidents(processor)
    corr = (
        correlation_status(correlation)
        if correlation is not None
        else {"partitions": {}, "partials": 0, "sessions": 0, "cooldown": 0}
    )
    corr["assigned"] = sorted(set(correlation_assigned), key=_tp_order)
    services, n_services = service_totals(totals)
    events = sum(totals.values())
    errors = sum(n for k, n in totals.items() if k[1] in ERROR_LEVELS)
    view = rates.view(now)
    lags = [p["lag_s"] for p in partitions.values() if p["lag_s"] is not None]
    marks = [p["watermark"] for p in partitions.values() if p["watermark"] is not None]
    alerts = [alert_view(a) for a in list(recent)[-RECENT_ALERTS:]][::-1]
    return {
        "app_id": app_id,
        "worker": dict(worker or {}),
        "now": now,
        "assigned": assigned,
        "rebalancing": rebalancing,
        "partitions": partitions,
        "correlation": corr,
        "totals": {
            "events": round(events),
            "errors": round(errors),
            "error_ratio": ratio(errors, events),
            "open_buckets": sum(p["open_buckets"] for p in partitions.values()),
            "keys": sum(p["keys"] for p in partitions.values()),
            "late": sum(p["late"] for p in partitions.values()),
            "incidents": len(incidents),
            "partials": corr["partials"],
            "sessions": corr["sessions"],
            "watermark": max(marks) if marks else None,
            "max_lag_s": max(lags) if lags else None,
        },
        "rates": view,
        "services": services,
        "services_total": n_services,
        "incidents": incidents,
        "last_alert": processor.last_alert,
        "recent_alerts": alerts,
    }


# --------------------------------------------------------------------------- the page

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>logradar live: this worker</title>
<style>
:root { color-scheme: dark; --bg: #0b1020; --panel: #111a2e; --panel2: #0e1627;
  --line: #22304d; --ink: #e5ecf6; --muted: #8a9bb8; --faint: #5b6b88; --ok: #22c55e;
  --warn: #f59e0b; --bad: #ef4444; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 13px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.num, td.num, .kpi .v { font-variant-numeric: tabular-nums; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 18px;
  padding: 10px 18px; background: #070b16; border-bottom: 1px solid var(--line); }
header .brand { font-weight: 700; font-size: 16px; letter-spacing: .02em; }
header .brand span { color: var(--muted); font-weight: 500; }
header .scope { flex: 1 1 520px; color: var(--muted); }
header .scope b { color: var(--ink); font-weight: 600; }
header .scope .tp { display: inline-block; padding: 0 6px; margin: 1px 2px; border-radius: 4px;
  background: #16223b; color: #c7d4ea; font: 12px ui-monospace, Menlo, Consolas, monospace; }
#conn { font-size: 12px; color: var(--muted); white-space: nowrap; }
#conn i { display: inline-block; width: 8px; height: 8px; border-radius: 50%;
  margin-right: 6px; background: var(--faint); vertical-align: 0; }
#conn[data-state=live] i { background: var(--ok); box-shadow: 0 0 6px var(--ok); }
#conn[data-state=stale] i { background: var(--warn); }
#conn[data-state=down] i { background: var(--bad); }
#conn[data-state=down] { color: #fca5a5; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(165px, 1fr)); gap: 10px;
  padding: 12px 18px 0; }
.kpi { background: var(--panel); border: 1px solid var(--line); border-radius: 8px;
  padding: 8px 12px 6px; display: flex; flex-direction: column; }
.kpi .k { color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .06em; }
.kpi .v { font-size: 26px; font-weight: 650; line-height: 1.15; margin-top: 2px; }
.kpi .s { color: var(--muted); font-size: 11px; }
.kpi svg { display: block; width: 100%; height: 24px; margin-top: auto; padding-top: 4px; }
.kpi.alarm { border-color: #7f1d1d; background: #1d1020; }
.kpi.alarm .v { color: #fca5a5; }
main { display: grid; grid-template-columns: minmax(0, 1.75fr) minmax(340px, 1fr); gap: 12px;
  padding: 12px 18px 24px; }
@media (max-width: 1000px) { main { grid-template-columns: 1fr; } }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px;
  padding: 10px 12px 12px; margin-bottom: 12px; }
h2 { font-size: 13px; margin: 0 0 8px; font-weight: 650; display: flex; gap: 10px;
  align-items: baseline; flex-wrap: wrap; }
h2 small { color: var(--muted); font-weight: 400; font-size: 12px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 12px; font-size: 11px; color: var(--muted);
  margin: -2px 0 8px; }
.legend i { display: inline-block; width: 12px; height: 3px; margin-right: 4px;
  vertical-align: middle; border-radius: 2px; }
.svcs { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 8px; }
.svc { background: var(--panel2); border: 1px solid var(--line); border-radius: 6px;
  padding: 6px 8px 4px; }
.svc.hot { border-color: #7f1d1d; }
.svc .hd { display: flex; justify-content: space-between; gap: 8px; align-items: baseline; }
.svc .name { font-weight: 650; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.svc .rate { font-size: 15px; font-weight: 650; }
.svc .rate small { color: var(--muted); font-size: 11px; font-weight: 400; }
.svc .sub { color: var(--muted); font-size: 11px; display: flex; justify-content: space-between; }
.svc .sub .err { color: #fca5a5; }
svg.chart { display: block; width: 100%; height: 74px; }
svg text { fill: var(--faint); font-size: 9px; }
table { width: 100%; border-collapse: collapse; font-size: 12px; }
th { text-align: left; color: var(--muted); font-weight: 500; font-size: 11px;
  border-bottom: 1px solid var(--line); padding: 3px 6px; }
td { padding: 4px 6px; border-bottom: 1px solid #18233b; vertical-align: top; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.mono, .mono { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 11.5px; }
td.mono { white-space: nowrap; }
.lag-ok { color: #86efac; } .lag-warn { color: #fcd34d; } .lag-bad { color: #fca5a5; }
.none { color: var(--faint); font-style: italic; padding: 6px 2px; }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 10.5px;
  font-weight: 700; text-transform: uppercase; letter-spacing: .04em; color: #fff; }
.st-firing { background: #b91c1c; } .st-resolved { background: #15803d; }
.incident { display: grid; grid-template-columns: 4px 1fr auto; gap: 4px 10px;
  padding: 6px 0; border-bottom: 1px solid #18233b; }
.incident:last-child { border-bottom: 0; }
.incident .bar { border-radius: 2px; grid-row: span 2; }
.incident .what { font-weight: 600; }
.incident .what span { color: var(--muted); font-weight: 400; }
.incident .when { color: var(--muted); font-size: 11px; text-align: right; }
.incident .detail { color: var(--muted); font-size: 11.5px; grid-column: 2 / 4;
  display: flex; gap: 10px; align-items: center; flex-wrap: wrap; }
.meter { display: inline-block; width: 120px; height: 6px; border-radius: 3px;
  background: #1e293b; position: relative; vertical-align: middle; overflow: hidden; }
.meter b { position: absolute; left: 0; top: 0; bottom: 0; border-radius: 3px; }
.alerts { display: grid; gap: 8px; }
article.alert { background: var(--panel2); border: 1px solid var(--line);
  border-left: 4px solid; border-radius: 6px; padding: 7px 10px; }
article.alert.new { animation: flash 2.5s ease-out; }
@keyframes flash { from { background: #3b1d2a; } to { background: var(--panel2); } }
article.alert .head { display: flex; flex-wrap: wrap; gap: 4px 8px; align-items: center; }
article.alert .rule { font-weight: 650; }
article.alert .svcname { font-weight: 600; color: #c7d4ea; }
article.alert .meta { color: var(--muted); font-size: 11.5px; }
article.alert .summary { margin: 4px 0 2px; }
article.alert .body { display: flex; gap: 12px; align-items: flex-start; flex-wrap: wrap; }
article.alert ol { margin: 2px 0 0; padding-left: 18px; flex: 1 1 360px; min-width: 0;
  font: 11.5px/1.5 ui-monospace, Menlo, Consolas, monospace; color: #b6c3d9; }
article.alert ol li { white-space: pre-wrap; word-break: break-word; }
article.alert ol li .lv { font-weight: 700; }
svg.spark { width: 230px; height: 52px; flex: 0 0 230px; }
footer { color: var(--faint); font-size: 11.5px; padding: 0 18px 18px; }
footer a { color: var(--muted); }
</style></head>
<body data-rendered="0">
<header>
  <div class="brand">logradar <span>live</span></div>
  <div class="scope" id="scope">Shows <b>this worker only</b>
    (<span id="worker-name">&hellip;</span>): input partitions
    <span id="assigned" data-count="0">&hellip;</span>.
    Grafana shows the whole fleet.</div>
  <div id="conn" data-state="wait"><i></i><span id="conn-text">connecting&hellip;</span></div>
</header>
<div class="kpis">
  <div class="kpi" id="kpi-rate"><div class="k">Events/s &middot; last 10 s</div>
    <div class="v" id="events-rate" data-value="">&ndash;</div>
    <div class="s" id="events-span">&nbsp;</div><svg id="spark-total"></svg></div>
  <div class="kpi"><div class="k">Events since start</div>
    <div class="v" id="events-total" data-value="">&ndash;</div>
    <div class="s" id="services-count">&nbsp;</div></div>
  <div class="kpi" id="kpi-err"><div class="k">Error ratio &middot; last 5 min</div>
    <div class="v" id="error-ratio" data-value="">&ndash;</div>
    <div class="s" id="error-ratio-now">&nbsp;</div><svg id="spark-err"></svg></div>
  <div class="kpi" id="kpi-inc"><div class="k">Open incidents</div>
    <div class="v" id="incident-count" data-value="">&ndash;</div>
    <div class="s" id="incident-rules">&nbsp;</div></div>
  <div class="kpi"><div class="k">Open windows</div>
    <div class="v" id="open-buckets" data-value="">&ndash;</div>
    <div class="s" id="open-keys">&nbsp;</div></div>
  <div class="kpi" id="kpi-lag"><div class="k">Watermark lag &middot; max</div>
    <div class="v" id="max-lag" data-value="">&ndash;</div>
    <div class="s" id="watermark">&nbsp;</div></div>
  <div class="kpi"><div class="k">Pattern matches &middot; sessions</div>
    <div class="v" id="partials" data-value="">&ndash;</div>
    <div class="s" id="sessions" data-value="">&nbsp;</div></div>
</div>
<main>
  <div>
    <section id="rates"><h2>Events/s by service and level
      <small id="rates-note">last 5 min of wall time, this worker</small></h2>
      <div class="legend" id="legend"></div>
      <div class="svcs" id="services"></div></section>
    <section><h2>Recent alerts <small id="alerts-note">newest first; burst, anomaly,
      rate and template alerts of this worker's input partitions</small></h2>
      <div class="alerts" id="recent-alerts"></div></section>
  </div>
  <div>
    <section><h2>Open incidents <small>event time, UTC</small></h2>
      <div id="incidents"></div></section>
    <section><h2>Partitions <small>watermark = newest event time read</small></h2>
      <table id="partitions"><thead><tr><th>partition</th><th>watermark (UTC)</th>
        <th class="num">lag</th><th class="num">buckets</th><th class="num">keys</th>
        <th class="num">late</th><th>firing</th></tr></thead><tbody></tbody></table></section>
    <section id="corr-section"><h2>Correlation <small>pattern matches and sessions in
      progress</small></h2>
      <table id="correlation"><thead><tr><th>partition</th><th>time (UTC)</th>
        <th class="num">held</th><th class="num">partial matches</th>
        <th class="num">sessions</th></tr></thead>
        <tbody></tbody></table></section>
    <section><h2>Last alert</h2><div id="last-alert" data-id=""></div></section>
  </div>
</main>
<footer>Refreshes from <a href="/status">/status</a> every 2 s. Numbers cover this worker's
partitions only; its Prometheus metrics are at <a href="/metrics">/metrics</a>, and Grafana
sums every worker for the fleet view. <span id="footer-now"></span></footer>
<script>
"use strict";
const LEVELS = ["FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE", "UNKNOWN"];
const LEVEL_COLOURS = {FATAL: "#c084fc", ERROR: "#f87171", WARN: "#fbbf24", INFO: "#60a5fa",
  DEBUG: "#2dd4bf", TRACE: "#94a3b8", UNKNOWN: "#64748b", ALL: "#e2e8f0"};
const SEVERITY_COLOURS = {critical: "#f43f5e", high: "#ef4444", medium: "#f97316",
  low: "#eab308", info: "#38bdf8"};
const SVG = "http://www.w3.org/2000/svg";
const MAX_PANELS = 9;
const OTHER = "_other";
const seenAlerts = new Set();
let firstRender = true;
let lastOk = 0;
let lastDoc = null;

function el(tag, attrs, ...kids) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "class") node.className = v; else node.setAttribute(k, String(v));
  }
  for (const kid of kids) {
    if (kid === null || kid === undefined) continue;
    node.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return node;
}
function svgEl(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  return node;
}
function setText(id, text, value) {
  const node = document.getElementById(id);
  node.textContent = text;
  if (value !== undefined) node.dataset.value = value === null ? "" : String(value);
  return node;
}
function pad(n) { return String(n).padStart(2, "0"); }
function utc(ts, withDate) {
  if (ts === null || ts === undefined) return "\\u2013";
  const d = new Date(ts * 1000);
  const t = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
  if (!withDate) return t;
  return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " + t;
}
// A time of day, with the date in front when it is not the day of ``now``.
function day(ts, now) {
  const full = utc(ts, true);
  return full.slice(0, 10) === utc(now, true).slice(0, 10) ? full.slice(11) : full;
}
function span(s) {
  if (s === null || s === undefined) return "\\u2013";
  const a = Math.abs(s);
  if (a < 1) return s.toFixed(2) + " s";
  if (a < 90) return s.toFixed(a < 10 ? 1 : 0) + " s";
  if (a < 5400) return (s / 60).toFixed(a < 600 ? 1 : 0) + " min";
  if (a < 172800) return (s / 3600).toFixed(1) + " h";
  return (s / 86400).toFixed(1) + " d";
}
function fmt(x) {
  if (x === null || x === undefined) return "\\u2013";
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString("en-US");
  if (Math.abs(x) >= 100 || Number.isInteger(x)) return String(Math.round(x));
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(2);
}
function pct(r) { return r === null || r === undefined ? "\\u2013" : (r * 100).toFixed(2) + "%"; }
function levelRank(lv) { const i = LEVELS.indexOf(lv); return i < 0 ? 99 : i; }
// The charts' time range: the rate span, or less while the worker is younger than that.
function domain(doc) {
  const r = doc.rates, t1 = doc.now;
  if (!r.t.length) return [t1 - r.span_s, t1];
  return [Math.max(t1 - r.span_s, Math.min(r.t[0] - r.step_s, t1 - 60)), t1];
}
function lagClass(s) {
  return s === null ? "" : s < 60 ? "lag-ok" : s < 600 ? "lag-warn" : "lag-bad";
}

// A line chart: series [{values, colour, width}] over times ts within [t0, t1].
function lineChart(svg, ts, series, t0, t1, opts) {
  const W = 300, H = opts.height || 60, top = opts.top === undefined ? 10 : opts.top;
  const bottom = opts.axis ? 11 : 2;
  svg.setAttribute("viewBox", "0 0 " + W + " " + (H + top + bottom));
  svg.setAttribute("preserveAspectRatio", "none");
  svg.replaceChildren();
  let max = 0;
  for (const s of series) for (const v of s.values) if (v !== null && v > max) max = v;
  const yMax = max > 0 ? max * 1.1 : 1;
  const x = (t) => ((t - t0) / Math.max(t1 - t0, 1e-9)) * W;
  const y = (v) => top + H - (v / yMax) * H;
  svg.append(svgEl("rect", {x: 0, y: top, width: W, height: H, fill: "none",
    stroke: "#1c2944"}));
  for (const s of series) {
    const pts = [];
    s.values.forEach((v, i) => {
      if (v !== null) pts.push(x(ts[i]).toFixed(1) + "," + y(v).toFixed(1));
    });
    if (!pts.length) continue;
    if (pts.length === 1) pts.push((W).toFixed(1) + "," + pts[0].split(",")[1]);
    if (s.fill) {
      const first = pts[0].split(",")[0], last = pts[pts.length - 1].split(",")[0];
      svg.append(svgEl("polygon", {points: first + "," + (top + H) + " " + pts.join(" ") + " " +
        last + "," + (top + H), fill: s.colour, "fill-opacity": 0.12}));
    }
    svg.append(svgEl("polyline", {points: pts.join(" "), fill: "none", stroke: s.colour,
      "stroke-width": s.width || 1.3, "stroke-linejoin": "round",
      "vector-effect": "non-scaling-stroke", "class": "series", "data-level": s.level || ""}));
  }
  if (opts.axis) {
    const lab = svgEl("text", {x: 2, y: top - 2}); lab.textContent = "max " + fmt(max) + "/s";
    svg.append(lab);
    const l = svgEl("text", {x: 0, y: top + H + 10}); l.textContent = "\\u2212" + span(t1 - t0);
    const r = svgEl("text", {x: W, y: top + H + 10, "text-anchor": "end"}); r.textContent = "now";
    svg.append(l, r);
  }
  return max;
}

function spark(values, highlight) {
  const svg = svgEl("svg", {class: "spark", viewBox: "0 0 230 52", role: "img"});
  const W = 230, H = 38, top = 4;
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? W / (values.length - 1) : 0;
  const pt = (v, i) => (i * step).toFixed(1) + "," + (top + H - (v / max) * H).toFixed(1);
  const title = svgEl("title", {}); title.textContent = "window counts: " + values.join(", ");
  svg.append(title);
  svg.append(svgEl("polyline", {points: values.map(pt).join(" "), fill: "none",
    stroke: "#93a8cc", "stroke-width": 1.4, "stroke-linejoin": "round", class: "series"}));
  const hi = highlight === undefined || highlight < 0 ? values.length - 1 : highlight;
  if (values.length) {
    const [cx, cy] = pt(values[hi], hi).split(",");
    svg.append(svgEl("circle", {cx: cx, cy: cy, r: 3.2, fill: "#ef4444"}));
  }
  const t = svgEl("text", {x: 0, y: 51});
  t.textContent = values.length + " windows, max " + fmt(Math.max(0, ...values)) +
    ", last " + fmt(values.length ? values[values.length - 1] : 0);
  svg.append(t);
  return svg;
}

function meter(value, limit, colour) {
  const m = el("span", {class: "meter", title: fmt(value) + " of " + fmt(limit)});
  const b = el("b");
  b.style.width = Math.min(100, limit > 0 ? (value / limit) * 100 : 0).toFixed(1) + "%";
  b.style.background = colour;
  m.append(b);
  return m;
}

function renderHeader(doc) {
  const w = doc.worker || {};
  document.getElementById("worker-name").textContent =
    (w.host || "?") + (w.web ? " \\u00b7 " + w.web : "") + " \\u00b7 group " + doc.app_id;
  const box = document.getElementById("assigned");
  box.replaceChildren();
  box.dataset.count = String(doc.assigned.length);
  box.dataset.list = doc.assigned.join(",");
  if (!doc.assigned.length) {
    box.append(el("b", {}, doc.rebalancing ? "rebalancing\\u2026" : "none"));
  }
  for (const tp of doc.assigned) box.append(el("span", {class: "tp"}, tp));
  const corr = (doc.correlation && doc.correlation.assigned) || [];
  if (corr.length) box.append(" + " + corr.length + " correlation partition" +
    (corr.length === 1 ? "" : "s"));
  document.title = "logradar live \\u00b7 " + (w.host || doc.app_id);
}

function renderKpis(doc) {
  const r = doc.rates, t = doc.totals;
  setText("events-rate", fmt(r.now), r.now);
  setText("events-span", fmt(r.events) + " events in " + span(r.seconds) +
    " (" + fmt(r.per_second) + "/s)").dataset.value = String(r.events);
  setText("events-total", fmt(t.events), t.events);
  setText("services-count", doc.services_total + " service" +
    (doc.services_total === 1 ? "" : "s") + ", " + fmt(t.errors) + " ERROR+FATAL");
  setText("error-ratio", pct(r.error_ratio), r.error_ratio);
  setText("error-ratio-now", "last 10 s: " + pct(r.error_ratio_now) + " \\u00b7 since start: " +
    pct(t.error_ratio));
  document.getElementById("kpi-err").classList.toggle("alarm", (r.error_ratio || 0) >= 0.05);
  setText("incident-count", String(t.incidents), t.incidents);
  const rules = {};
  for (const i of doc.incidents) rules[i.rule] = (rules[i.rule] || 0) + 1;
  setText("incident-rules", Object.keys(rules).length ?
    Object.entries(rules).map(([k, v]) => v + " " + k).join(", ") : "all clear");
  document.getElementById("kpi-inc").classList.toggle("alarm", t.incidents > 0);
  setText("open-buckets", fmt(t.open_buckets), t.open_buckets);
  setText("open-keys", fmt(t.keys) + " keys \\u00b7 " + fmt(t.late) + " late events dropped");
  setText("max-lag", span(t.max_lag_s), t.max_lag_s);
  setText("watermark", "newest event " + utc(t.watermark, true) + " UTC");
  const lagKpi = document.getElementById("kpi-lag");
  lagKpi.classList.toggle("alarm", t.max_lag_s !== null && t.max_lag_s >= 600);
  setText("partials", fmt(t.partials) + " \\u00b7 " + fmt(t.sessions), t.partials);
  setText("sessions", "partial matches \\u00b7 open sessions", t.sessions);
  const [t0, t1] = domain(doc);
  lineChart(document.getElementById("spark-total"), r.t,
    [{values: r.total, colour: "#93c5fd", fill: true}], t0, t1, {height: 30, top: 2});
  lineChart(document.getElementById("spark-err"), r.t,
    [{values: r.total.map((v, i) => v > 0 ? r.errors[i] / v : null), colour: "#f87171",
      fill: true}], t0, t1, {height: 30, top: 2});
}

function renderServices(doc) {
  const r = doc.rates, box = document.getElementById("services");
  const [t0, t1] = domain(doc);
  const bySvc = {};
  for (const s of r.series) (bySvc[s.service] = bySvc[s.service] || []).push(s);
  const totals = {};
  for (const s of doc.services) totals[s.service] = s;
  const names = Object.keys(bySvc).sort((a, b) => {
    const ea = bySvc[a].reduce((n, s) => n + s.events, 0);
    const eb = bySvc[b].reduce((n, s) => n + s.events, 0);
    return eb - ea || (a < b ? -1 : 1);
  });
  for (const s of doc.services) if (!(s.service in bySvc)) names.push(s.service);
  const used = new Set();
  const legend = document.getElementById("legend");
  box.replaceChildren();
  if (!names.length) {
    box.append(el("div", {class: "none"}, "No events counted yet on this worker."));
  }
  for (const name of names.slice(0, MAX_PANELS)) {
    const series = (bySvc[name] || []).slice()
      .sort((a, b) => levelRank(a.level) - levelRank(b.level));
    const nowIdx = r.t.map((t, i) => [t, i]).filter(([t]) => t1 - t < 10).map(([, i]) => i);
    let nowRate = 0, errRate = 0, secs = 0;
    for (const i of nowIdx) secs += 1;
    for (const s of series) for (const i of nowIdx) {
      nowRate += s.rate[i]; if (s.level === "ERROR" || s.level === "FATAL") errRate += s.rate[i];
    }
    const rate = secs ? nowRate / secs : 0;
    const tot = totals[name];
    const card = el("div", {class: "svc", "data-service": name,
      "data-events": tot ? tot.events : 0, "data-errors": tot ? tot.errors : 0});
    if (tot && tot.error_ratio !== null && tot.error_ratio >= 0.05) card.classList.add("hot");
    const label = name === OTHER ? "other services" : name;
    card.append(el("div", {class: "hd"}, el("span", {class: "name", title: label}, label),
      el("span", {class: "rate"}, fmt(rate), el("small", {}, " ev/s"))));
    const svg = svgEl("svg", {class: "chart"});
    card.append(svg);
    lineChart(svg, r.t, series.map((s) => {
      used.add(s.level);
      const hot = s.level === "ERROR" || s.level === "FATAL";
      return {values: s.rate, colour: LEVEL_COLOURS[s.level] || "#94a3b8", width: hot ? 2 : 1.2,
        level: s.level, fill: hot};
    }), t0, t1, {height: 46, top: 10, axis: true});
    card.append(el("div", {class: "sub"},
      el("span", {class: "events"}, tot ? fmt(tot.events) + " events since start" : ""),
      el("span", {class: tot && tot.errors ? "err" : ""},
        tot ? fmt(tot.errors) + " errors (" + pct(tot.error_ratio) + ")" : "")));
    box.append(card);
  }
  if (names.length > MAX_PANELS) {
    box.append(el("div", {class: "none"}, "+ " + (names.length - MAX_PANELS) +
      " more services (see /status)"));
  }
  legend.replaceChildren();
  for (const lv of LEVELS.concat(["ALL"])) {
    if (!used.has(lv)) continue;
    const i = el("i"); i.style.background = LEVEL_COLOURS[lv];
    legend.append(el("span", {}, i, lv));
  }
  setText("rates-note", "last " + span(t1 - t0) + " of wall time, sampled every " +
    r.step_s + " s, this worker");
}

function renderIncidents(doc) {
  const box = document.getElementById("incidents");
  box.replaceChildren();
  box.dataset.count = String(doc.incidents.length);
  if (!doc.incidents.length) box.append(el("div", {class: "none"}, "No open incidents."));
  for (const inc of doc.incidents) {
    const colour = SEVERITY_COLOURS[inc.severity] || "#64748b";
    const row = el("div", {class: "incident", "data-rule": inc.rule, "data-service": inc.service});
    const bar = el("div", {class: "bar"}); bar.style.background = colour;
    row.append(bar, el("div", {class: "what"}, inc.rule + " ",
      el("span", {}, inc.service +
        (inc.level && inc.level !== "ALL" ? " \\u00b7 " + inc.level : ""))),
      el("div", {class: "when"}, "since " + utc(inc.since) + "Z"));
    const detail = el("div", {class: "detail"});
    detail.append(el("span", {class: "badge", style: "background:" + colour}, inc.severity));
    if (inc.kind === "burst") {
      detail.append(meter(inc.observed, inc.threshold, colour),
        el("span", {}, fmt(inc.observed) + " / " + fmt(inc.threshold) + " in the newest " +
          inc.window_s + " s window"));
    } else if (inc.series && inc.series.length) {
      detail.append(spark(inc.series.map((p) => p.count)),
        el("span", {}, "baseline " + fmt(inc.expected) + " per " + inc.window_s + " s"));
    }
    detail.append(el("span", {class: "mono"}, inc.partition));
    row.append(detail);
    box.append(row);
  }
}

function renderPartitions(doc) {
  const body = document.querySelector("#partitions tbody");
  body.replaceChildren();
  const tps = Object.keys(doc.partitions);
  if (!tps.length) {
    body.append(el("tr", {}, el("td", {colspan: 7, class: "none"}, "No partition assigned.")));
  }
  for (const tp of tps) {
    const p = doc.partitions[tp];
    body.append(el("tr", {"data-tp": tp, "data-watermark": p.watermark === null ? "" : p.watermark,
      "data-buckets": p.open_buckets, "data-keys": p.keys},
      el("td", {class: "mono"}, tp),
      el("td", {class: "mono", title: p.watermark === null ? "" : utc(p.watermark, true) + " UTC"},
        p.watermark === null ? "not read yet" : day(p.watermark, doc.now)),
      el("td", {class: "num " + lagClass(p.lag_s)}, span(p.lag_s)),
      el("td", {class: "num"}, fmt(p.open_buckets)),
      el("td", {class: "num"}, fmt(p.keys)),
      el("td", {class: "num"}, fmt(p.late)),
      el("td", {}, p.firing.length ? p.firing.join(", ") : "")));
  }
}

function renderCorrelation(doc) {
  const c = doc.correlation, body = document.querySelector("#correlation tbody");
  body.replaceChildren();
  const tps = Object.keys(c.partitions);
  if (!tps.length) {
    body.append(el("tr", {}, el("td", {colspan: 5, class: "none"},
      c.assigned.length ? "Nothing routed here yet." :
        "No pattern or session rules on this worker.")));
  }
  for (const tp of tps) {
    const p = c.partitions[tp];
    const names = Object.entries(p.patterns).map(([k, v]) => k + " " + v).join(", ");
    body.append(el("tr", {"data-tp": tp},
      el("td", {class: "mono"}, tp),
      el("td", {class: "mono"}, p.now == null && p.waiting_for.length ?
        "waiting for " + p.waiting_for.join(", ") : utc(p.now)),
      el("td", {class: "num", title: "forwarded events held until every source passes them"},
        fmt(p.held)),
      el("td", {class: "num", title: names}, fmt(p.partials)),
      el("td", {class: "num"}, fmt(p.sessions))));
  }
}

function alertCard(a, isNew) {
  const colour = SEVERITY_COLOURS[a.severity] || "#64748b";
  const card = el("article", {class: "alert" + (isNew ? " new" : ""), "data-id": a.id,
    "data-rule": a.rule, "data-service": a.service, "data-state": a.state});
  card.style.borderLeftColor = colour;
  const win = utc(a.window_start, true) + " \\u2013 " + utc(a.window_end) + " UTC";
  card.append(el("div", {class: "head"},
    el("span", {class: "badge st-" + (a.state === "firing" ? "firing" : "resolved")}, a.state),
    el("span", {class: "badge", style: "background:" + colour}, a.severity),
    el("span", {class: "rule"}, a.rule),
    el("span", {class: "svcname"}, a.service),
    el("span", {class: "meta"}, (a.level || "") + " \\u00b7 " + win)));
  card.append(el("div", {class: "summary"}, a.summary));
  const body = el("div", {class: "body"});
  if (Array.isArray(a.series) && a.series.length) {
    const values = a.series.map((p) => (p && typeof p.count === "number") ? p.count : 0);
    const hi = a.series.findIndex((p) => p && p.start === a.window_start);
    body.append(spark(values, hi));
  } else if (typeof a.observed === "number" && typeof a.threshold === "number" && a.threshold > 0) {
    body.append(el("div", {class: "meta"}, meter(a.observed, a.threshold, colour),
      " observed " + fmt(a.observed) + " \\u00b7 threshold " + fmt(a.threshold)));
  }
  const ev = a.evidence || [];
  if (ev.length) {
    const ol = el("ol", {class: "evidence"});
    for (const e of ev) {
      const lv = el("span", {class: "lv"}, e.level);
      lv.style.color = LEVEL_COLOURS[e.level] || "#cbd5e1";
      ol.append(el("li", {}, utc(e.ts) + " ", lv, " " + e.message));
    }
    body.append(ol);
  }
  if (body.childNodes.length) card.append(body);
  return card;
}

function renderAlerts(doc) {
  const box = document.getElementById("recent-alerts");
  box.replaceChildren();
  box.dataset.count = String(doc.recent_alerts.length);
  if (!doc.recent_alerts.length) {
    box.append(el("div", {class: "none"}, "No alert since this worker started."));
  }
  for (const a of doc.recent_alerts) {
    const isNew = !firstRender && !seenAlerts.has(a.id + a.state);
    seenAlerts.add(a.id + a.state);
    box.append(alertCard(a, isNew));
  }
  const last = document.getElementById("last-alert");
  last.replaceChildren();
  const a = doc.last_alert;
  last.dataset.id = a ? a.id : "";
  last.dataset.rule = a ? a.rule : "";
  last.dataset.service = a ? a.service : "";
  if (!a) last.append(el("div", {class: "none"}, "None yet."));
  else last.append(el("div", {class: "mono"}, utc(a.event_time, true) + "Z"),
    el("div", {}, el("b", {}, a.rule), " \\u00b7 " + a.service + " \\u00b7 " + a.state),
    el("div", {class: "meta"}, a.summary));
}

function render(doc) {
  renderHeader(doc);
  renderKpis(doc);
  renderServices(doc);
  renderIncidents(doc);
  renderPartitions(doc);
  renderCorrelation(doc);
  renderAlerts(doc);
  firstRender = false;
  document.body.dataset.rendered = String(Number(document.body.dataset.rendered) + 1);
  document.body.dataset.statusNow = String(doc.now);
  document.getElementById("footer-now").textContent =
    "Worker clock " + utc(doc.now, true) + " UTC.";
}

function setConn(state, text) {
  const c = document.getElementById("conn");
  c.dataset.state = state;
  document.getElementById("conn-text").textContent = text;
}

async function refresh() {
  try {
    const res = await fetch("/status", {cache: "no-store"});
    if (!res.ok) throw new Error("HTTP " + res.status);
    const doc = await res.json();
    lastDoc = doc;
    lastOk = Date.now();
    render(doc);
    const state = doc.rebalancing ? "rebalancing" : "live";
    setConn(doc.rebalancing ? "stale" : "live", state + " \\u00b7 updated " + utc(doc.now) + "Z");
  } catch (err) {
    const age = lastOk ? Math.round((Date.now() - lastOk) / 1000) : null;
    setConn("down", "worker unreachable" + (age === null ? "" : " \\u00b7 data " + age + " s old"));
  }
}

refresh();
setInterval(refresh, 2000);
</script>
</body></html>
"""


def _script_hash(page: str) -> str:
    script = page.split("<script>", 1)[1].split("</script>", 1)[0]
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()


PAGE_HEADERS: Mapping[str, str] = {
    # Only this page's own script runs, and it may only talk to this worker.
    "Content-Security-Policy": (
        "default-src 'none'; "
        f"script-src '{_script_hash(PAGE)}'; "
        "style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'"
    ),
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
}
