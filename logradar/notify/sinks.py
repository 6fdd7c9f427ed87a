"""Where alerts go: a generic signed webhook, Slack, e-mail and Alertmanager.

Each sink turns one alert record (``Alert.to_dict``, as read from the alerts
topic) into one request and raises :class:`DeliveryError` when it was not
accepted; retries, dedupe and dead letters are the :class:`~.engine.Notifier`'s.
Records come from a topic, so every field is read defensively: a missing or
odd field makes a poorer message, never an exception.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import orjson
from pydantic import SecretStr

from logradar.alerts import alert_id
from logradar.notify.settings import SEVERITIES, NotifySettings, StartTLS

Alert = Mapping[str, Any]
Clock = Callable[[], float]

SIGNATURE_HEADER = "X-Logradar-Signature"
TIMESTAMP_HEADER = "X-Logradar-Timestamp"
# Fields that stay the same between an incident's firing and resolved records.
INCIDENT_FIELDS = ("rule", "service", "level", "key", "key_value", "template_id")
INCIDENT_FIELDS_BURST = ("incident_window_start",)


class DeliveryError(Exception):
    """A delivery the receiver did not accept; ``permanent`` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Sink(Protocol):
    """One destination. ``send`` returns once the receiver accepted the alert."""

    name: str
    min_severity: str

    async def send(self, alert: Alert) -> None: ...

    async def close(self) -> None: ...


# --- Formatting --------------------------------------------------------------------


def _text(value: Any, default: str = "?") -> str:
    return default if value is None or value == "" else str(value)


def _num(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g}"
    return "-"


def _utc(value: Any, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC).strftime(fmt)
        except (OverflowError, OSError, ValueError):
            pass
    return "?"


def severity_rank(severity: Any) -> int:
    """Position in info < low < medium < high < critical; unknown ranks highest (never dropped)."""
    try:
        return SEVERITIES.index(str(severity).lower())
    except ValueError:
        return len(SEVERITIES)


def incident_key(alert: Alert) -> str:
    """The id shared by an incident's firing and resolved records.

    Alert ids include the state, so they differ; this uses the record's
    ``incident`` field when there is one, else a hash of the fields that
    identify the incident's series (rule, service, level, subject).
    """
    explicit = alert.get("incident")
    if isinstance(explicit, str) and explicit:
        return explicit
    return alert_id(*(alert.get(f) for f in (*INCIDENT_FIELDS, *INCIDENT_FIELDS_BURST)))


def headline(alert: Alert) -> str:
    """``FIRING [high] burst · checkout · ERROR · 12:00:00-12:01:00Z · 42 / expected 5``."""
    window = f"{_utc(alert.get('window_start'))}-{_utc(alert.get('window_end'), '%H:%M:%S')}Z"
    return (
        f"{_text(alert.get('state')).upper()} [{_text(alert.get('severity'))}] "
        f"{_text(alert.get('rule'))} · {_text(alert.get('service'))} · "
        f"{_text(alert.get('level'))} · {window} · "
        f"{_num(alert.get('observed'))} / expected {_num(alert.get('expected'))}"
    )


def evidence_lines(alert: Alert, width: int = 300) -> list[str]:
    """``HH:MM:SSZ LEVEL message`` for each evidence item (at most five are sent)."""
    items = alert.get("evidence")
    lines = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping):
            message = _text(item.get("message"), "")[:width]
            lines.append(
                f"{_utc(item.get('ts'), '%H:%M:%S')}Z {_text(item.get('level'))} {message}"
            )
    return lines


def slack_text(alert: Alert) -> str:
    """The Slack message: headline, the alert's summary, evidence in a code block."""
    text = f"*{headline(alert)}*\n{_text(alert.get('summary'), '')}".rstrip()
    lines = evidence_lines(alert)
    if lines:
        body = "\n".join(lines).replace("```", "'''")
        text += f"\n```\n{body}\n```"
    return text


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with secret>``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def alertmanager_payload(
    alert: Alert, *, now: float, ttl_s: float, generator_url: str = ""
) -> list[dict[str, Any]]:
    """The ``POST /api/v2/alerts`` body for one alert record.

    A firing record is sent once, so its ``endsAt`` is ``ttl_s`` ahead (without
    one Alertmanager would resolve it after its ``resolve_timeout``); a resolved
    record ends now, which resolves the alert of the same labels.
    """
    start = alert.get("window_start")
    start = float(start) if isinstance(start, int | float) and not isinstance(start, bool) else now
    resolved = alert.get("state") == "resolved"
    ends = now if resolved else now + ttl_s
    doc: dict[str, Any] = {
        "labels": {
            "alertname": _text(alert.get("rule")),
            "service": _text(alert.get("service")),
            "severity": _text(alert.get("severity")),
            "level": _text(alert.get("level")),
            "logradar_id": incident_key(alert),
        },
        "annotations": {
            "summary": _text(alert.get("summary"), ""),
            "evidence": "\n".join(evidence_lines(alert)),
            "logradar_alert_id": _text(alert.get("id")),
        },
        "startsAt": _iso(min(start, ends - 1)),
        "endsAt": _iso(ends),
    }
    if generator_url:
        doc["generatorURL"] = generator_url
    return [doc]


def email_message(alert: Alert, *, sender: str, recipients: list[str], now: float) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"[logradar] {headline(alert)}"
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(now)
    msg["Message-ID"] = f"<{_text(alert.get('id'))}@logradar>"  # receivers can dedupe on it
    body = [headline(alert), "", _text(alert.get("summary"), "")]
    lines = evidence_lines(alert)
    if lines:
        body += ["", "Evidence:", *(f"  {line}" for line in lines)]
    body += ["", f"alert id: {_text(alert.get('id'))}  incident: {incident_key(alert)}"]
    msg.set_content("\n".join(body) + "\n")
    return msg


# --- HTTP sinks --------------------------------------------------------------------


class _HttpSink:
    name = "http"

    def __init__(self, *, timeout_s: float, min_severity: str = "info") -> None:
        self.timeout_s = timeout_s
        self.min_severity = min_severity
        self._session: aiohttp.ClientSession | None = None

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s)
            )
        headers = {"Content-Type": "application/json", "User-Agent": "logradar", **headers}
        try:
            async with self._session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as resp:
                if resp.status < 300:
                    return
                status, detail = resp.status, (await resp.text(errors="replace"))[:200]
        except TimeoutError:
            raise DeliveryError(f"timed out after {self.timeout_s:g}s") from None
        except aiohttp.ClientError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
        # 4xx other than timeout/too-early/rate-limit will not get better by retrying.
        permanent = 300 <= status < 500 and status not in (408, 425, 429)
        raise DeliveryError(f"HTTP {status}: {detail.strip()}", permanent=permanent)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class WebhookSink(_HttpSink):
    """JSON POST of the alert record, signed with HMAC-SHA256 when a secret is set."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        *,
        secret: SecretStr | None = None,
        timeout_s: float = 10.0,
        min_severity: str = "info",
        clock: Clock = time.time,
    ) -> None:
        super().__init__(timeout_s=timeout_s, min_severity=min_severity)
        self.url = url
        self._secret = secret or SecretStr("")
        self.clock = clock

    async def send(self, alert: Alert) -> None:
        body = orjson.dumps(dict(alert))
        headers = {
            "X-Logradar-Alert-Id": _text(alert.get("id")),
            "X-Logradar-Incident": incident_key(alert),
        }
        secret = self._secret.get_secret_value()
        if secret:
            ts = str(int(self.clock()))
            headers[TIMESTAMP_HEADER] = ts
            headers[SIGNATURE_HEADER] = sign(secret, ts, body)
        await self._post(self.url, body, headers)


class SlackSink(_HttpSink):
    """A Slack-compatible incoming webhook: ``{"text": ...}``."""

    name = "slack"

    def __init__(
        self, url: SecretStr, *, timeout_s: float = 10.0, min_severity: str = "info"
    ) -> None:
        super().__init__(timeout_s=timeout_s, min_severity=min_severity)
        self._url = url

    async def send(self, alert: Alert) -> None:
        await self._post(
            self._url.get_secret_value(), orjson.dumps({"text": slack_text(alert)}), {}
        )


class AlertmanagerSink(_HttpSink):
    """Alertmanager's v2 API; a resolved record resolves the firing one (same labels)."""

    name = "alertmanager"

    def __init__(
        self,
        url: str,
        *,
        ttl_s: float = 86400,
        generator_url: str = "",
        timeout_s: float = 10.0,
        min_severity: str = "info",
        clock: Clock = time.time,
    ) -> None:
        super().__init__(timeout_s=timeout_s, min_severity=min_severity)
        base = url.rstrip("/")
        self.url = base if base.endswith("/api/v2/alerts") else f"{base}/api/v2/alerts"
        self.ttl_s = ttl_s
        self.generator_url = generator_url
        self.clock = clock

    async def send(self, alert: Alert) -> None:
        doc = alertmanager_payload(
            alert, now=self.clock(), ttl_s=self.ttl_s, generator_url=self.generator_url
        )
        await self._post(self.url, orjson.dumps(doc), {})


# --- E-mail ------------------------------------------------------------------------


class SmtpSink:
    """E-mail through smtplib (in a thread); STARTTLS when offered, or required."""

    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        recipients: list[str],
        user: str = "",
        password: SecretStr | None = None,
        starttls: StartTLS = "auto",
        ca_file: Path | None = None,
        timeout_s: float = 10.0,
        min_severity: str = "info",
        clock: Clock = time.time,
    ) -> None:
        self.host, self.port = host, port
        self.sender, self.recipients = sender, list(recipients)
        self.user = user
        self._password = password or SecretStr("")
        self.starttls = starttls
        self.ca_file = ca_file
        self.timeout_s = timeout_s
        self.min_severity = min_severity
        self.clock = clock

    async def send(self, alert: Alert) -> None:
        msg = email_message(alert, sender=self.sender, recipients=self.recipients, now=self.clock())
        await asyncio.to_thread(self._send, msg)

    def _send(self, msg: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                smtp.ehlo()
                tls = False
                if self.starttls != "off" and smtp.has_extn("starttls"):
                    context = ssl.create_default_context(
                        cafile=str(self.ca_file) if self.ca_file else None
                    )
                    smtp.starttls(context=context)
                    smtp.ehlo()
                    tls = True
                elif self.starttls == "require":
                    raise DeliveryError(
                        "server does not offer STARTTLS (LOGRADAR_NOTIFY_SMTP_STARTTLS=require)",
                        permanent=True,
                    )
                if self.user:
                    if not tls:
                        raise DeliveryError(
                            "refusing to send SMTP credentials without TLS", permanent=True
                        )
                    smtp.login(self.user, self._password.get_secret_value())
                smtp.send_message(msg)
        except smtplib.SMTPResponseException as exc:
            raw = exc.smtp_error
            text = (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw))[:200]
            raise DeliveryError(
                f"SMTP {exc.smtp_code}: {text}", permanent=500 <= exc.smtp_code < 600
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(
                f"recipients refused: {sorted(exc.recipients)}", permanent=True
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None

    async def close(self) -> None:
        return None


def build_sinks(settings: NotifySettings, *, clock: Clock = time.time) -> list[Sink]:
    """The sinks ``settings`` configures, in a fixed order."""
    timeout = settings.timeout_s
    sinks: list[Sink] = []
    if settings.webhook_url:
        sinks.append(
            WebhookSink(
                settings.webhook_url,
                secret=settings.webhook_secret,
                timeout_s=timeout,
                min_severity=settings.webhook_min_severity,
                clock=clock,
            )
        )
    if settings.slack_url.get_secret_value():
        sinks.append(
            SlackSink(
                settings.slack_url, timeout_s=timeout, min_severity=settings.slack_min_severity
            )
        )
    if settings.smtp_host:
        sinks.append(
            SmtpSink(
                settings.smtp_host,
                settings.smtp_port,
                sender=settings.smtp_from,
                recipients=settings.smtp_to,
                user=settings.smtp_user,
                password=settings.smtp_password,
                starttls=settings.smtp_starttls,
                ca_file=settings.smtp_ca_file,
                timeout_s=timeout,
                min_severity=settings.smtp_min_severity,
                clock=clock,
            )
        )
    if settings.alertmanager_url:
        sinks.append(
            AlertmanagerSink(
                settings.alertmanager_url,
                ttl_s=settings.alertmanager_ttl_s,
                generator_url=settings.alertmanager_generator_url,
                timeout_s=timeout,
                min_severity=settings.alertmanager_min_severity,
                clock=clock,
            )
        )
    return sinks
