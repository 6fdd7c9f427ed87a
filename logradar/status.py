"""``logradar status``: one worker's ``/status`` as tables.

:func:`fetch_status` reads the document (stdlib HTTP, a few seconds' timeout)
and raises :class:`StatusUnavailable` with a one-line reason when the worker
cannot be reached or does not answer like one; :func:`render` prints it with
rich: the worker and its totals, its partitions (watermark as UTC time, lag
behind the worker's wall clock, open window buckets and keys), correlation
partitions, open incidents and the last alert. Like the live page it shows
one worker: every worker has its own partitions.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from rich.console import Console

    from logradar.settings import Settings

__all__ = ["StatusUnavailable", "default_url", "fetch_status", "render", "status_url"]

TIMEOUT_S = 5.0
SEVERITY_STYLES = {
    "critical": "bold magenta",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "blue",
}


class StatusUnavailable(RuntimeError):
    """The worker's /status could not be read; the message is one line."""


def default_url(settings: Settings) -> str:
    """The worker's web address from LOGRADAR_WEB_BIND and LOGRADAR_WEB_PORT."""
    host = settings.web_bind.strip()
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - a wildcard bind is reached on loopback
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.web_port}"


def status_url(url: str) -> str:
    """``url`` as the /status address (a bare worker address gets the path appended)."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    return url if url.endswith("/status") else url + "/status"


def fetch_status(url: str, timeout: float = TIMEOUT_S) -> dict[str, Any]:
    """The /status document of the worker at ``url``."""
    target = status_url(url)
    if not target.startswith(("http://", "https://")):
        raise StatusUnavailable(f"not an http(s) address: {url}")
    try:
        # the scheme is checked above: no file:// or custom opener reaches urlopen
        with urllib.request.urlopen(target, timeout=timeout) as response:  # noqa: S310
            body = response.read()
    except urllib.error.HTTPError as exc:
        raise StatusUnavailable(f"{target} answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        text = getattr(reason, "strerror", None) or str(reason)
        raise StatusUnavailable(f"worker unreachable at {target}: {text}") from None
    except (TimeoutError, OSError) as exc:
        text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise StatusUnavailable(f"worker unreachable at {target}: {text}") from None
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise StatusUnavailable(f"{target} did not answer JSON: not a logradar worker?") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("partitions"), dict):
        raise StatusUnavailable(f"{target} answered without partitions: not a logradar worker?")
    return doc


# --------------------------------------------------------------------------- formatting


def utc(ts: float | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return "-" if ts is None else time.strftime(fmt, time.gmtime(float(ts)))


def span(seconds: float | None) -> str:
    """A duration for a table cell: ``0.42 s``, ``8.0 s``, ``12 min``, ``3.0 h``, ``2.1 d``."""
    if seconds is None:
        return "-"
    s = float(seconds)
    a = abs(s)
    if a < 1:
        return f"{s:.2f} s"
    if a < 90:
        return f"{s:.1f} s" if a < 10 else f"{s:.0f} s"
    if a < 5400:
        return f"{s / 60:.1f} min" if a < 600 else f"{s / 60:.0f} min"
    if a < 172_800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


def number(x: float | None) -> str:
    if x is None:
        return "-"
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.1f}" if abs(x) >= 10 else f"{x:,.2f}"


def percent(r: float | None) -> str:
    return "-" if r is None else f"{r * 100:.2f} %"


def _lag_style(lag: float | None) -> str:
    if lag is None:
        return "dim"
    return "green" if lag < 60 else "yellow" if lag < 600 else "red"


def render(doc: dict[str, Any], console: Console) -> None:
    """Print a /status document as a header, tables and the last alert."""
    from rich.markup import escape
    from rich.table import Table

    worker = doc.get("worker") or {}
    totals = doc.get("totals") or {}
    rates = doc.get("rates") or {}
    assigned = list(doc.get("assigned") or [])
    where = escape(str(worker.get("host", "?")))
    if worker.get("web"):
        where += f" ({escape(str(worker['web']))})"
    state = " [yellow]rebalancing[/]" if doc.get("rebalancing") else ""
    console.print(
        f"[bold]worker {where}[/] group [bold]{escape(str(doc.get('app_id', '?')))}[/]"
        f"{state}: {len(assigned)} input partition{'s' if len(assigned) != 1 else ''} "
        f"({escape(', '.join(assigned)) or 'none'}); this worker only, Grafana shows the fleet",
        soft_wrap=True,
    )
    if totals:
        console.print(
            f"events {number(totals.get('events'))} since start, "
            f"{number(rates.get('now'))}/s now, "
            f"error ratio {percent(rates.get('error_ratio'))} (last "
            f"{span(rates.get('span_s'))}); worker clock {utc(doc.get('now'))} UTC",
            soft_wrap=True,
        )

    table = Table(title="Partitions", title_justify="left")
    for name, justify in (
        ("partition", "left"),
        ("watermark (UTC)", "left"),
        ("lag", "right"),
        ("closed until (UTC)", "left"),
        ("offset", "right"),
        ("open buckets", "right"),
        ("keys", "right"),
        ("late", "right"),
        ("firing", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for tp, p in doc["partitions"].items():
        lag = p.get("lag_s")
        table.add_row(
            escape(tp),
            utc(p.get("watermark")) if p.get("watermark") is not None else "[dim]not read yet[/]",
            f"[{_lag_style(lag)}]{span(lag)}[/]",
            utc(p.get("closed_until")),
            number(p.get("offset")),
            number(p.get("open_buckets")),
            number(p.get("keys")),
            number(p.get("late")),
            escape(", ".join(p.get("firing") or [])),
        )
    if not doc["partitions"]:
        table.add_row("[dim]none assigned[/]", *[""] * 8)
    console.print(table)

    corr = doc.get("correlation") or {}
    if corr.get("partitions"):
        ctable = Table(title="Correlation", title_justify="left")
        for name, justify in (
            ("partition", "left"),
            ("time (UTC)", "left"),
            ("partial matches", "right"),
            ("sessions", "right"),
        ):
            ctable.add_column(name, justify=justify)  # type: ignore[arg-type]
        for tp, c in corr["partitions"].items():
            ctable.add_row(
                escape(tp), utc(c.get("now")), number(c.get("partials")), number(c.get("sessions"))
            )
        console.print(ctable)

    incidents = doc.get("incidents") or []
    if incidents:
        itable = Table(title=f"Open incidents ({len(incidents)})", title_justify="left")
        for name, justify in (
            ("rule", "left"),
            ("severity", "left"),
            ("service", "left"),
            ("level", "left"),
            ("since (UTC)", "left"),
            ("observed", "right"),
            ("partition", "left"),
        ):
            itable.add_column(name, justify=justify)  # type: ignore[arg-type]
        for i in incidents:
            sev = str(i.get("severity", ""))
            observed = number(i.get("observed"))
            if i.get("threshold") is not None:
                observed += f" / {number(i['threshold'])}"
            elif i.get("expected") is not None:
                observed += f" (baseline {number(i['expected'])})"
            itable.add_row(
                escape(str(i.get("rule"))),
                f"[{SEVERITY_STYLES.get(sev, 'bold')}]{escape(sev)}[/]",
                escape(str(i.get("service"))),
                escape(str(i.get("level", ""))),
                utc(i.get("since")),
                observed,
                escape(str(i.get("partition", ""))),
            )
        console.print(itable)
    else:
        console.print("[green]no open incidents[/]")

    last = doc.get("last_alert")
    if last:
        colour = "bold red" if last.get("state") == "firing" else "green"
        console.print(
            f"last alert: [{colour}]{escape(str(last.get('state')))}[/] "
            f"[bold]{escape(str(last.get('rule')))}[/] {escape(str(last.get('service')))} "
            f"at {utc(last.get('event_time'))} UTC: {escape(str(last.get('summary', '')))}",
            soft_wrap=True,
        )
    else:
        console.print("[dim]no alert since this worker started[/]")
