"""Notification settings, read from the environment (prefix ``LOGRADAR_NOTIFY_``).

Broker and topic names are not repeated here: they come from
:class:`logradar.settings.Settings` (``LOGRADAR_BROKER``, ``LOGRADAR_ALERTS_TOPIC``,
``LOGRADAR_DEAD_LETTER_TOPIC``). Secrets are ``SecretStr``: they show as
``**********`` in reprs, logs and errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from logradar.rules import Severity

SEVERITIES: tuple[str, ...] = get_args(get_args(Severity)[0])
StartTLS = Literal["auto", "require", "off"]


class NotifySettings(BaseSettings):
    """Sinks and delivery knobs; each is ``LOGRADAR_NOTIFY_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(
        env_prefix="LOGRADAR_NOTIFY_", frozen=True, extra="ignore", hide_input_in_errors=True
    )

    webhook_url: str = Field("", description="Generic webhook: JSON POST of each alert.")
    webhook_secret: SecretStr = Field(SecretStr(""), description="HMAC-SHA256 signing key.")
    webhook_min_severity: Severity = "info"
    slack_url: SecretStr = Field(SecretStr(""), description="Slack-compatible incoming webhook.")
    slack_min_severity: Severity = "info"
    smtp_host: str = Field("", description="SMTP server; e-mail is off when empty.")
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = ""
    smtp_to: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Recipients, comma-separated."
    )
    smtp_starttls: StartTLS = Field("auto", description="auto: when offered; require; off.")
    smtp_ca_file: Path | None = Field(None, description="CA bundle to verify the SMTP server.")
    smtp_min_severity: Severity = "info"
    alertmanager_url: str = Field("", description="Alertmanager base URL (…/api/v2/alerts).")
    alertmanager_ttl_s: float = Field(
        86400, gt=0, description="endsAt of a firing alert, seconds ahead (it is sent once)."
    )
    alertmanager_generator_url: str = ""
    alertmanager_min_severity: Severity = "info"
    attempts: int = Field(5, ge=1, description="Tries per sink before dead-lettering.")
    backoff_s: float = Field(1.0, ge=0, description="First retry delay; doubles each time.")
    backoff_max_s: float = Field(60.0, ge=0, description="Longest retry delay.")
    timeout_s: float = Field(10.0, gt=0, description="Per-request timeout.")
    dedupe_size: int = Field(10000, gt=0, description="Alert ids remembered for dedupe.")
    metrics_port: int = Field(0, ge=0, le=65535, description="Serve /metrics here; 0: off.")

    @field_validator("smtp_to", mode="before")
    @classmethod
    def _recipients(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _smtp_complete(self) -> NotifySettings:
        if self.smtp_host and (not self.smtp_from or not self.smtp_to):
            raise ValueError("LOGRADAR_NOTIFY_SMTP_HOST needs _SMTP_FROM and _SMTP_TO")
        return self

    def configured(self) -> list[str]:
        """Names of the sinks that have a destination."""
        names = []
        if self.webhook_url:
            names.append("webhook")
        if self.slack_url.get_secret_value():
            names.append("slack")
        if self.smtp_host:
            names.append("smtp")
        if self.alertmanager_url:
            names.append("alertmanager")
        return names

    def secrets(self) -> list[str]:
        """Values that must never appear in a log line or error (see ``scrub``)."""
        values = [self.webhook_secret, self.slack_url, self.smtp_password]
        return [v.get_secret_value() for v in values if v.get_secret_value()]


class NotifySettingsError(ValueError):
    """An invalid or missing notify setting, in one line that names the variable."""


def load_notify_settings(**overrides: object) -> NotifySettings:
    """NotifySettings from the environment (and ``overrides``), with one-line errors."""
    try:
        settings = NotifySettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = "_".join(str(p) for p in first["loc"]).upper()
        if not loc:  # a check across fields; its message names them
            raise NotifySettingsError(first["msg"].removeprefix("Value error, ")) from None
        raise NotifySettingsError(f"invalid LOGRADAR_NOTIFY_{loc}: {first['msg']}") from None
    if not settings.configured():
        raise NotifySettingsError(
            "no notification sink configured: set LOGRADAR_NOTIFY_WEBHOOK_URL, "
            "_SLACK_URL, _SMTP_HOST or _ALERTMANAGER_URL"
        )
    return settings
