"""A backtest as one self-contained HTML page: charts first, then the alerts explained.

:func:`write_report` draws, per service (most alerts first, then most events),
small multiples of its tumbling-window counts per level over the whole time
range, with every alert of the service marked: a vertical line where it fired
(solid) or resolved (dashed), coloured by severity, its window shaded, and its
summary as the marker's tooltip. Below come the alerts one by one: rule,
severity, state, service, window, summary, evidence lines, and for anomaly and
rate alerts their ``series`` as a sparkline with the ``baseline`` numbers.

The page is static: inline CSS and inline SVG, no script, nothing fetched. Every
piece of text from the data (log messages included) goes through
:func:`html.escape`; numbers are formatted by this module.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from logradar.backtest import BacktestResult

__all__ = ["render_report", "write_report"]

LEVEL_ORDER = ("FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE", "UNKNOWN")
LEVEL_COLOURS = {
    "FATAL": "#7e22ce",
    "ERROR": "#dc2626",
    "WARN": "#d97706",
    "INFO": "#2563eb",
    "DEBUG": "#0d9488",
    "TRACE": "#64748b",
    "UNKNOWN": "#94a3b8",
}
SEVERITY_COLOURS = {
    "critical": "#7f1d1d",
    "high": "#dc2626",
    "medium": "#ea580c",
    "low": "#ca8a04",
    "info": "#0284c7",
}
DEFAULT_COLOUR = "#475569"
MAX_POINTS = 480
"""Most points one chart line gets; longer ranges are folded (keeping each group's max)."""
PANEL_W, PANEL_H, PAD_TOP, PAD_BOTTOM = 300, 64, 14, 14
MAX_EVIDENCE = 5

CSS = """
:root { color-scheme: light; --ink: #0f172a; --muted: #64748b; --line: #e2e8f0; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); background: #f8fafc; }
header { padding: 20px 28px 12px; background: #0f172a; color: #f8fafc; }
header h1 { margin: 0 0 6px; font-size: 22px; font-weight: 650; }
header .stats { display: flex; flex-wrap: wrap; gap: 8px 22px; color: #cbd5e1; }
header .stats b { color: #fff; font-weight: 650; }
main { padding: 16px 28px 40px; }
h2 { font-size: 17px; margin: 26px 0 10px; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; color: var(--muted); font-size: 12px;
          margin: 4px 0 12px; }
.legend i { display: inline-block; width: 14px; height: 3px; vertical-align: middle;
            margin-right: 5px; }
.legend i.dash { background: none !important; border-top: 2px dashed; height: 0; }
table.summary { border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
table.summary th, table.summary td { padding: 5px 12px; border-bottom: 1px solid var(--line);
                                     text-align: left; }
table.summary td.num { text-align: right; font-variant-numeric: tabular-nums; }
section.service { background: #fff; border: 1px solid var(--line); border-radius: 8px;
                  padding: 10px 14px 12px; margin: 0 0 12px; }
section.service h3 { margin: 0 0 6px; font-size: 15px; display: flex; gap: 12px;
                     align-items: baseline; }
section.service h3 small { color: var(--muted); font-weight: 400; font-size: 12px; }
.panels { display: flex; flex-wrap: wrap; gap: 6px 14px; }
.panel { width: 300px; }
.panel .name { font-size: 11px; font-weight: 650; letter-spacing: .04em; }
svg.chart { display: block; width: 300px; height: 92px; overflow: visible; }
svg.chart text { font-size: 9px; fill: var(--muted); }
.badge { display: inline-block; padding: 1px 7px; border-radius: 9px; color: #fff;
         font-size: 11px; font-weight: 650; text-transform: uppercase; letter-spacing: .03em; }
.state-firing { background: #b91c1c; } .state-resolved { background: #15803d; }
.alerts { display: grid; gap: 10px; }
article.alert { background: #fff; border: 1px solid var(--line); border-left: 5px solid;
                border-radius: 6px; padding: 10px 14px; }
article.alert .head { display: flex; flex-wrap: wrap; gap: 6px 10px; align-items: center; }
article.alert .rule { font-weight: 650; }
article.alert .meta { color: var(--muted); font-size: 12px; }
article.alert .summary { margin: 6px 0 4px; font-size: 14px; }
article.alert ol.evidence { margin: 4px 0 0; padding-left: 20px; font: 12px/1.5 ui-monospace,
    SFMono-Regular, Menlo, Consolas, monospace; color: #334155; }
article.alert ol.evidence li { white-space: pre-wrap; word-break: break-word; }
article.alert .extra { display: flex; flex-wrap: wrap; gap: 8px 18px; align-items: center;
                       margin-top: 6px; font-size: 12px; color: #334155; }
svg.spark { width: 220px; height: 44px; overflow: visible; }
svg.spark text { font-size: 9px; fill: var(--muted); }
p.none { color: var(--muted); }
"""


def write_report(result: BacktestResult, path: str | Path, *, title: str) -> Path:
    """Write the report of ``result`` to ``path`` (UTF-8) and return the path."""
    out = Path(path)
    out.write_text(render_report(result, title=title), encoding="utf-8")
    return out


def render_report(result: BacktestResult, *, title: str) -> str:
    """The report page of ``result`` as a string (see the module docstring)."""
    tumbling = [c for c in result.counts if c.get("kind") == "tumbling"]
    width = _window_width(tumbling)
    series: dict[str, dict[str, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
    volume: dict[str, int] = defaultdict(int)
    for c in tumbling:
        per = series[c["service"]][c["level"]]
        per[int(c["start"])] = per.get(int(c["start"]), 0) + int(c["count"])
        volume[c["service"]] += int(c["count"])
    by_service: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for alert in result.alerts:
        by_service[str(alert["service"])].append(alert)
    services = sorted(
        set(series) | set(by_service),
        key=lambda s: (-sum(a["state"] == "firing" for a in by_service.get(s, ())), -volume[s], s),
    )
    starts = [int(c["start"]) for c in tumbling]
    t0: float | None = float(min(starts)) if starts else None
    t1: float | None = float(max(starts) + width) if starts else None
    times = [float(a["event_time"]) for a in result.alerts if a.get("event_time") is not None]
    if times:
        t0 = min(times) if t0 is None else min(t0, min(times))
        t1 = max(times) if t1 is None else max(t1, max(times))
    if t0 is not None and t1 is not None and t1 <= t0:
        t1 = t0 + width

    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        _header(result, title, services, t0, t1),
        "<main>",
        _summary_table(result),
        '<h2 id="charts">Counts per level, per service</h2>',
        _legend(width),
    ]
    if t0 is None or t1 is None or not services:
        parts.append('<p class="none">No events were counted.</p>')
    else:
        for service in services:
            parts.append(
                _service_section(
                    service, series.get(service, {}), by_service.get(service, []), t0, t1, width
                )
            )
    parts.append(f'<h2 id="alerts">Alerts ({len(result.alerts)})</h2>')
    parts.append(_alert_list(result.alerts))
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


# --------------------------------------------------------------------------- pieces


def _window_width(counts: Sequence[dict[str, Any]]) -> int:
    for c in counts:
        w = int(c["end"]) - int(c["start"])
        if w > 0:
            return w
    return 60


def _utc(ts: float, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return time.strftime(fmt, time.gmtime(ts))


def _num(x: float) -> str:
    if isinstance(x, int) or float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.2f}"


def _header(
    result: BacktestResult, title: str, services: list[str], t0: float | None, t1: float | None
) -> str:
    firing = sum(a["state"] == "firing" for a in result.alerts)
    dead = sum(result.dead_letters.values())
    span = (
        f"<span>{escape(_utc(t0))} – {escape(_utc(t1, '%H:%M:%S'))} UTC</span>"
        if t0 is not None and t1 is not None
        else ""
    )
    return (
        f'<header><h1>{escape(title)}</h1><div class="stats">'
        f"<span><b>{result.events:,}</b> records</span>"
        f"<span><b>{len(services)}</b> services</span>"
        f"<span><b>{firing}</b> alerts fired, "
        f"<b>{len(result.alerts) - firing}</b> resolved</span>"
        f"<span><b>{dead:,}</b> dead letters</span>"
        f"{span}"
        f"<span>backtest {result.seconds:.2f} s ({result.events_per_second:,.0f} records/s)</span>"
        "</div></header>"
    )


def _summary_table(result: BacktestResult) -> str:
    rows = result.summary_rows()
    if not rows:
        return '<h2>Rules</h2><p class="none">No rule fired.</p>'
    body = "".join(
        f'<tr><td>{escape(r["rule"])}</td><td class="num">{r["firings"]}</td>'
        f'<td class="num">{r["resolutions"]}</td>'
        f"<td>{escape(', '.join(r['services']))}</td></tr>"
        for r in rows
    )
    dead = ""
    if result.dead_letters:
        items = ", ".join(f"{escape(k)}: {v:,}" for k, v in result.dead_letters.items())
        dead = f'<p class="meta">Dead letters by reason: {items}</p>'
    return (
        '<h2>Rules</h2><table class="summary"><thead><tr><th>Rule</th><th>Firings</th>'
        f"<th>Resolutions</th><th>Services</th></tr></thead><tbody>{body}</tbody></table>{dead}"
    )


def _legend(width: int) -> str:
    levels = "".join(
        f'<span><i style="background:{LEVEL_COLOURS[lv]}"></i>{lv}</span>' for lv in LEVEL_ORDER
    )
    sev = "".join(
        f'<span><i style="background:{c}"></i>{escape(s)}</span>'
        for s, c in SEVERITY_COLOURS.items()
    )
    return (
        f'<div class="legend"><span>Lines: events per {width} s window, by level:</span>{levels}'
        f'</div><div class="legend"><span>Alert markers (solid: fired; '
        f'<i class="dash" style="border-color:#475569"></i>resolved; hover for the summary), by '
        f"severity:</span>{sev}</div>"
    )


def _fold(values: list[int]) -> tuple[list[int], int]:
    """``values`` folded to at most MAX_POINTS (each group's max), and the group size."""
    if len(values) <= MAX_POINTS:
        return values, 1
    k = math.ceil(len(values) / MAX_POINTS)
    return [max(values[i : i + k]) for i in range(0, len(values), k)], k


def _service_section(
    service: str,
    levels: dict[str, dict[int, int]],
    alerts: list[dict[str, Any]],
    t0: float,
    t1: float,
    width: int,
) -> str:
    total = sum(sum(per.values()) for per in levels.values())
    firing = sum(a["state"] == "firing" for a in alerts)
    order = [lv for lv in LEVEL_ORDER if lv in levels] + sorted(
        lv for lv in levels if lv not in LEVEL_ORDER
    )
    panels = [_panel(lv, levels[lv], alerts, t0, t1, width) for lv in order]
    if not panels:  # alerts but no counts (e.g. a session rule on a quiet service)
        panels = [_panel("(no events)", {}, alerts, t0, t1, width)]
    return (
        f'<section class="service"><h3>{escape(service)}'
        f"<small>{total:,} events · {firing} alert{'s' if firing != 1 else ''} fired</small>"
        f'</h3><div class="panels">{"".join(panels)}</div></section>'
    )


def _x(ts: float, t0: float, t1: float) -> float:
    return round((ts - t0) / (t1 - t0) * PANEL_W, 1)


def _panel(
    level: str,
    counts: dict[int, int],
    alerts: list[dict[str, Any]],
    t0: float,
    t1: float,
    width: int,
) -> str:
    colour = LEVEL_COLOURS.get(level, DEFAULT_COLOUR)
    first = math.floor(t0 / width) * width
    n = max(1, math.ceil((t1 - first) / width))
    values = [counts.get(first + i * width, 0) for i in range(n)]
    folded, k = _fold(values)
    top = max(folded) if folded else 0
    plot_h = PANEL_H
    base = PAD_TOP + plot_h
    svg = [
        f'<svg class="chart" viewBox="0 0 {PANEL_W} {PAD_TOP + plot_h + PAD_BOTTOM}" '
        f'role="img" aria-label="{escape(level)} events per window">',
        f'<rect x="0" y="{PAD_TOP}" width="{PANEL_W}" height="{plot_h}" fill="#f8fafc" '
        'stroke="#e2e8f0"/>',
    ]
    # alert windows (shaded) and markers (lines), under the data line
    for a in alerts:
        sev = SEVERITY_COLOURS.get(str(a.get("severity")), DEFAULT_COLOUR)
        tip = escape(f"{a['state']} {a['rule']} [{a.get('severity')}]: {a['summary']}")
        if a["state"] == "firing":
            xa = _x(max(float(a["window_start"]), t0), t0, t1)
            xb = _x(min(float(a["window_end"]), t1), t0, t1)
            if xb > xa:
                svg.append(
                    f'<rect class="alert-window" x="{xa}" y="{PAD_TOP}" width="{xb - xa:.1f}" '
                    f'height="{plot_h}" fill="{sev}" fill-opacity="0.12"/>'
                )
        ts = min(max(float(a["event_time"]), t0), t1)
        x = _x(ts, t0, t1)
        dash = ' stroke-dasharray="3 2"' if a["state"] != "firing" else ""
        svg.append(
            f'<g class="alert-marker {escape(str(a["state"]))}"><title>{tip}</title>'
            f'<line x1="{x}" x2="{x}" y1="{PAD_TOP - 4}" y2="{base}" stroke="{sev}" '
            f'stroke-width="2"{dash}/>'
            f'<rect x="{x - 4}" y="{PAD_TOP - 4}" width="8" height="{plot_h + 4}" '
            'fill="transparent"/></g>'
        )
    if top > 0:
        step = PANEL_W / max(1, len(folded) - 1) if len(folded) > 1 else 0.0
        pts = [
            (round(i * step, 1), round(base - v / top * (plot_h - 2), 1))
            for i, v in enumerate(folded)
        ]
        if len(pts) == 1:
            pts.append((float(PANEL_W), pts[0][1]))
        line = " ".join(f"{x},{y}" for x, y in pts)
        area = f"0,{base} {line} {pts[-1][0]},{base}"
        svg.append(f'<polygon class="area" points="{area}" fill="{colour}" fill-opacity="0.15"/>')
        svg.append(
            f'<polyline class="series" points="{line}" fill="none" stroke="{colour}" '
            'stroke-width="1.4" stroke-linejoin="round"/>'
        )
    per = f" (max of {k} windows)" if k > 1 else ""
    svg.append(f'<text x="2" y="{PAD_TOP - 4}">max {top:,}{per}</text>')
    svg.append(f'<text x="0" y="{base + 11}">{escape(_utc(t0, "%H:%M"))}</text>')
    svg.append(
        f'<text x="{PANEL_W}" y="{base + 11}" text-anchor="end">'
        f"{escape(_utc(t1, '%H:%M'))} UTC</text>"
    )
    svg.append("</svg>")
    return (
        f'<div class="panel"><div class="name" style="color:{colour}">{escape(level)}</div>'
        f"{''.join(svg)}</div>"
    )


def _alert_list(alerts: Iterable[dict[str, Any]]) -> str:
    items = [_alert(a) for a in alerts]
    if not items:
        return '<p class="none">No alerts: nothing would have fired.</p>'
    return f'<div class="alerts">{"".join(items)}</div>'


def _alert(a: dict[str, Any]) -> str:
    sev = str(a.get("severity"))
    colour = SEVERITY_COLOURS.get(sev, DEFAULT_COLOUR)
    state = str(a["state"])
    window = f"{_utc(float(a['window_start']))} – {_utc(float(a['window_end']), '%H:%M:%S')} UTC"
    evidence = "".join(
        f"<li>{escape(_utc(float(e['ts'])))} {escape(str(e['level']))} "
        f"{escape(str(e['message']))}</li>"
        for e in (a.get("evidence") or [])[:MAX_EVIDENCE]
    )
    evidence_html = f'<ol class="evidence">{evidence}</ol>' if evidence else ""
    return (
        f'<article class="alert" style="border-left-color:{colour}"><div class="head">'
        f'<span class="badge state-{escape(state)}">{escape(state)}</span>'
        f'<span class="badge" style="background:{colour}">{escape(sev)}</span>'
        f'<span class="rule">{escape(str(a["rule"]))}</span>'
        f'<span class="service">{escape(str(a["service"]))}</span>'
        f'<span class="meta">{escape(str(a.get("level", "")))} · window {escape(window)} · '
        f"observed {escape(_num(a['observed']))}"
        + (
            f" · expected {escape(_num(float(a['expected'])))}"
            if a.get("expected") is not None
            else ""
        )
        + f" · threshold {escape(_num(a['threshold']))} · score {escape(_num(a['score']))}"
        "</span></div>"
        f'<div class="summary">{escape(str(a["summary"]))}</div>'
        f"{evidence_html}{_extra(a)}</article>"
    )


def _extra(a: dict[str, Any]) -> str:
    parts: list[str] = []
    series = a.get("series")
    if isinstance(series, list) and series:
        parts.append(_sparkline(series))
    baseline = a.get("baseline")
    if isinstance(baseline, dict):
        mean, std = baseline.get("mean"), baseline.get("std")
        text = f"baseline mean {_num(float(mean))}" if mean is not None else "baseline"
        if std is not None:
            text += f" ± {_num(float(std))}"
        if baseline.get("windows") is not None:
            text += f" over {baseline['windows']} windows"
        if baseline.get("frozen"):
            text += " (frozen during the incident)"
        parts.append(f"<span>{escape(text)}</span>")
    for key in ("key", "key_value", "template", "events", "errors"):
        if key in a and a[key] is not None:
            parts.append(f"<span>{escape(key)}: <code>{escape(str(a[key]))}</code></span>")
    return f'<div class="extra">{"".join(parts)}</div>' if parts else ""


def _sparkline(series: list[Any]) -> str:
    values = [int(p.get("count", 0)) if isinstance(p, dict) else 0 for p in series]
    w, h = 220, 34
    top = max(values) or 1
    step = w / max(1, len(values) - 1)
    pts = " ".join(
        f"{round(i * step, 1)},{round(h - v / top * (h - 2), 1)}" for i, v in enumerate(values)
    )
    lx, ly = round((len(values) - 1) * step, 1), round(h - values[-1] / top * (h - 2), 1)
    title = escape("windows: " + ", ".join(str(v) for v in values))
    return (
        f'<svg class="spark" viewBox="0 0 {w} {h + 10}" role="img"><title>{title}</title>'
        f'<polyline points="{pts}" fill="none" stroke="#334155" stroke-width="1.3"/>'
        f'<circle cx="{lx}" cy="{ly}" r="3" fill="#dc2626"/>'
        f'<text x="0" y="{h + 9}">{len(values)} windows, max {top:,}; last {values[-1]:,}'
        "</text></svg>"
    )
