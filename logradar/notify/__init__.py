"""Alert notifications: the alerts topic to webhooks, Slack, e-mail and Alertmanager.

Framework-free (asyncio, aiohttp, smtplib, confluent-kafka): ``settings`` reads
``LOGRADAR_NOTIFY_*``, ``sinks`` formats and sends, ``engine`` dedupes, retries
and decides dead letters, ``runner`` consumes and commits.
"""

from logradar.notify.engine import Notifier, NotifyMetrics, Outcome
from logradar.notify.settings import NotifySettings, NotifySettingsError, load_notify_settings
from logradar.notify.sinks import (
    AlertmanagerSink,
    DeliveryError,
    Sink,
    SlackSink,
    SmtpSink,
    WebhookSink,
    build_sinks,
)

__all__ = [
    "AlertmanagerSink",
    "DeliveryError",
    "Notifier",
    "NotifyMetrics",
    "NotifySettings",
    "NotifySettingsError",
    "Outcome",
    "Sink",
    "SlackSink",
    "SmtpSink",
    "WebhookSink",
    "build_sinks",
    "load_notify_settings",
]
