"""logradar.notify: every sink against a real local server (aiohttp, aiosmtpd)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from typer.testing import CliRunner

from logradar.alerts import Alert, Evidence
from logradar.broker import free_port
from logradar.notify import (
    AlertmanagerSink,
    Notifier,
    NotifyMetrics,
    NotifySettings,
    NotifySettingsError,
    SlackSink,
    SmtpSink,
    WebhookSink,
    build_sinks,
    load_notify_settings,
)
from logradar.notify.engine import SeenIds
from logradar.notify.sinks import alertmanager_payload, incident_key, severity_rank, sign
from tests.conftest import need

T0 = 1_795_000_020
SECRET = "s3cr3t-signing-key"
PASSWORD = "hunter2-smtp-password"
SLACK_TOKEN = "T000/B000/XXXXsecrettoken"


def alert(state: str = "firing", severity: str = "high", **extra: Any) -> dict[str, Any]:
    doc = Alert(
        id=f"id-{state}-{severity}",
        rule="error_burst",
        kind="burst",
        severity=severity,
        state=state,  # type: ignore[arg-type]
        service="checkout",
        level="ERROR",
        window_start=T0,
        window_end=T0 + 60,
        event_time=T0 + 30,
        observed=42,
        expected=5,
        threshold=20,
        score=2.1,
        summary="checkout: 42 ERROR in the 60 s window",
        evidence=(Evidence(T0 + 1, "ERROR", "payment gateway timeout"),),
        extra={"incident_window_start": T0},
    ).to_dict(detected_at=T0 + 61)
    doc.update(extra)
    return doc


def raw(doc: dict[str, Any]) -> bytes:
    return orjson.dumps(doc)


class Sleeps:
    """An injected sleep: records the delays, waits for none of them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


# --- A real HTTP receiver ---------------------------------------------------------------


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    url: str
    requests: list[Request] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in order, then 200
    delay: float = 0.0
    error_body: str = "boom"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    port = free_port()
    rec = Receiver(f"http://127.0.0.1:{port}")

    async def handle(request: web.Request) -> web.Response:
        rec.requests.append(Request(request.path, dict(request.headers), await request.read()))
        if rec.delay:
            await asyncio.sleep(rec.delay)
        status = rec.statuses.pop(0) if rec.statuses else 200
        return web.Response(status=status, text="ok" if status < 300 else rec.error_body)

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield rec
    await runner.cleanup()


def webhook(rec: Receiver, **kw: Any) -> WebhookSink:
    return WebhookSink(f"{rec.url}/hook", secret=SecretStr(SECRET), clock=lambda: T0 + 100, **kw)


# --- Webhook ----------------------------------------------------------------------------


async def test_webhook_posts_the_alert_signed_over_timestamp_and_body(receiver: Receiver) -> None:
    notifier = Notifier([webhook(receiver)])
    doc = alert()
    [outcome] = await notifier.notify(doc) or []
    await notifier.close()
    assert outcome.status == "delivered" and outcome.attempts == 1
    [req] = receiver.requests
    assert req.path == "/hook" and req.json() == doc
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["X-Logradar-Alert-Id"] == doc["id"]
    ts = req.headers["X-Logradar-Timestamp"]
    assert ts == str(T0 + 100)
    # What a receiver does: HMAC over "<timestamp>.<raw body>", compared in constant time.
    expected = hmac.new(SECRET.encode(), f"{ts}.".encode() + req.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(req.headers["X-Logradar-Signature"], f"sha256={expected}")
    assert sign(SECRET, ts, req.body) == f"sha256={expected}"
    assert sign("other", ts, req.body) != f"sha256={expected}"


async def test_webhook_without_a_secret_is_unsigned(receiver: Receiver) -> None:
    notifier = Notifier([WebhookSink(receiver.url)])
    await notifier.notify(alert())
    await notifier.close()
    [req] = receiver.requests
    assert "X-Logradar-Signature" not in req.headers
    assert "X-Logradar-Timestamp" not in req.headers


async def test_retries_with_exponential_backoff_then_succeeds(receiver: Receiver) -> None:
    receiver.statuses = [500, 503, 429]
    sleeps = Sleeps()
    registry = CollectorRegistry()
    notifier = Notifier(
        [webhook(receiver)],
        attempts=5,
        backoff_s=0.5,
        backoff_max_s=1.5,
        sleep=sleeps,
        metrics=NotifyMetrics.create(registry),
    )
    [outcome] = await notifier.notify(alert()) or []
    await notifier.close()
    assert (outcome.status, outcome.attempts) == ("delivered", 4)
    assert sleeps.delays == [0.5, 1.0, 1.5]  # doubling, capped
    assert len(receiver.requests) == 4
    assert len({r.body for r in receiver.requests}) == 1
    sample = registry.get_sample_value
    assert sample("logradar_notify_retries_total", {"sink": "webhook"}) == 3
    labels = {"sink": "webhook", "outcome": "delivered"}
    assert sample("logradar_notify_deliveries_total", labels) == 1


async def test_dead_letter_after_the_last_failure(receiver: Receiver) -> None:
    receiver.statuses = [500] * 10
    registry = CollectorRegistry()
    notifier = Notifier(
        [webhook(receiver)], attempts=3, sleep=Sleeps(), metrics=NotifyMetrics.create(registry)
    )
    doc = alert()
    dead = await notifier.handle_record(raw(doc), topic="alerts", partition=2, offset=7, key=b"k")
    await notifier.close()
    assert len(receiver.requests) == 3
    [record] = dead
    assert record["reason"] == "notify_failed"
    assert record["sink"] == "webhook" and record["alert_id"] == doc["id"]
    assert record["attempts"] == 3 and record["error"] == "HTTP 500: boom"
    assert (record["topic"], record["partition"], record["offset"]) == ("alerts", 2, 7)
    assert orjson.loads(record["value"]) == doc and record["key"] == "k"
    labels = {"sink": "webhook", "outcome": "failed"}
    assert registry.get_sample_value("logradar_notify_deliveries_total", labels) == 1


@pytest.mark.parametrize(("status", "attempts"), [(400, 1), (404, 1), (408, 3), (502, 3)])
async def test_client_errors_are_not_retried(
    receiver: Receiver, status: int, attempts: int
) -> None:
    receiver.statuses = [status] * 5
    notifier = Notifier([webhook(receiver)], attempts=3, sleep=Sleeps())
    [outcome] = await notifier.notify(alert()) or []
    await notifier.close()
    assert (outcome.status, outcome.attempts) == ("failed", attempts)
    assert outcome.error.startswith(f"HTTP {status}")


async def test_timeout(receiver: Receiver) -> None:
    receiver.delay = 2.0
    notifier = Notifier([webhook(receiver, timeout_s=0.2)], attempts=2, sleep=Sleeps())
    [outcome] = await notifier.notify(alert()) or []
    await notifier.close()
    assert (outcome.status, outcome.attempts) == ("failed", 2)
    assert outcome.error == "timed out after 0.2s"


async def test_unreachable_receiver() -> None:
    sink = WebhookSink(f"http://127.0.0.1:{free_port()}/hook", timeout_s=2)
    notifier = Notifier([sink], attempts=2, sleep=Sleeps())
    [outcome] = await notifier.notify(alert()) or []
    await notifier.close()
    assert outcome.status == "failed" and "Connect" in outcome.error


async def test_invalid_records_are_dead_lettered_not_sent(receiver: Receiver) -> None:
    notifier = Notifier([webhook(receiver)])
    where = {"topic": "alerts", "partition": 0, "offset": 1}
    assert (await notifier.handle_record(b"{nope", **where))[0]["reason"] == "invalid_json"
    assert (await notifier.handle_record(b"[1]", **where))[0]["reason"] == "not_object"
    assert (await notifier.handle_record(b'{"rule": "x"}', **where))[0]["reason"] == "unparsed"
    await notifier.close()
    assert receiver.requests == []


# --- Dedupe, resolved, severity ----------------------------------------------------------


async def test_the_same_record_twice_is_sent_once_and_resolved_closes_it(
    receiver: Receiver,
) -> None:
    registry = CollectorRegistry()
    notifier = Notifier([webhook(receiver)], metrics=NotifyMetrics.create(registry))
    firing, resolved = alert("firing"), alert("resolved")
    where = {"topic": "alerts", "partition": 0}
    for offset, doc in enumerate([firing, firing, resolved, resolved]):
        assert await notifier.handle_record(raw(doc), offset=offset, **where) == []
    await notifier.close()
    assert [r.json()["state"] for r in receiver.requests] == ["firing", "resolved"]
    assert registry.get_sample_value("logradar_notify_duplicates_total") == 2
    incidents = {r.headers["X-Logradar-Incident"] for r in receiver.requests}
    assert len(incidents) == 1  # firing and resolved name the same incident


def test_seen_ids_are_bounded_least_recent_first() -> None:
    seen = SeenIds(2)
    seen.add("a")
    seen.add("b")
    assert "a" in seen  # a is now the most recent
    seen.add("c")
    assert len(seen) == 2 and "a" in seen and "b" not in seen and "c" in seen


async def test_min_severity_per_sink(receiver: Receiver) -> None:
    loud = webhook(receiver, min_severity="high")
    notifier = Notifier([loud])
    [skipped] = await notifier.notify(alert(severity="medium")) or []
    [sent] = await notifier.notify(alert(severity="critical")) or []
    [unknown] = await notifier.notify(alert(severity="weird")) or []
    await notifier.close()
    assert (skipped.status, sent.status, unknown.status) == ("skipped", "delivered", "delivered")
    assert [r.json()["severity"] for r in receiver.requests] == ["critical", "weird"]
    assert severity_rank("info") < severity_rank("LOW") < severity_rank("critical")


def test_incident_key_prefers_an_explicit_incident_field() -> None:
    assert incident_key(alert("firing")) == incident_key(alert("resolved"))
    assert incident_key(alert("firing")) != incident_key(alert("firing", service="billing"))
    assert incident_key(alert(incident="abc")) == "abc"


# --- Slack ------------------------------------------------------------------------------


async def test_slack_text_has_a_summary_line_and_evidence_block(receiver: Receiver) -> None:
    notifier = Notifier([SlackSink(SecretStr(f"{receiver.url}/services/{SLACK_TOKEN}"))])
    await notifier.notify(alert())
    await notifier.notify(alert("resolved"))
    await notifier.close()
    firing, resolved = (r.json() for r in receiver.requests)
    assert set(firing) == {"text"}
    lines = firing["text"].splitlines()
    assert lines[0] == (
        "*FIRING [high] error_burst · checkout · ERROR · "
        "2026-11-18 11:07:00-11:08:00Z · 42 / expected 5*"
    )
    assert lines[1] == "checkout: 42 ERROR in the 60 s window"
    assert lines[2:] == ["```", "11:07:01Z ERROR payment gateway timeout", "```"]
    assert resolved["text"].startswith("*RESOLVED [high] error_burst")
    assert "X-Logradar-Signature" not in receiver.requests[0].headers


# --- Alertmanager payload (the real server is in tests/integration) ----------------------


def test_alertmanager_payload_firing_and_resolved() -> None:
    now = T0 + 500
    [fire] = alertmanager_payload(alert(), now=now, ttl_s=3600, generator_url="http://x/")
    [done] = alertmanager_payload(alert("resolved"), now=now, ttl_s=3600)
    assert fire["labels"] == done["labels"]
    assert fire["labels"] == {
        "alertname": "error_burst",
        "service": "checkout",
        "severity": "high",
        "level": "ERROR",
        "logradar_id": incident_key(alert()),
    }
    assert fire["annotations"]["evidence"] == "11:07:01Z ERROR payment gateway timeout"
    assert fire["startsAt"] == "2026-11-18T11:07:00.000Z"
    assert fire["endsAt"] == "2026-11-18T12:15:20.000Z"  # now + ttl
    assert done["endsAt"] == "2026-11-18T11:15:20.000Z"  # now: resolved
    assert fire["generatorURL"] == "http://x/" and "generatorURL" not in done


async def test_alertmanager_sink_posts_to_the_v2_api(receiver: Receiver) -> None:
    sink = AlertmanagerSink(receiver.url + "/", clock=lambda: T0 + 500.0)
    await sink.send(alert())
    await sink.close()
    [req] = receiver.requests
    assert req.path == "/api/v2/alerts" and req.json()[0]["labels"]["alertname"] == "error_burst"


# --- SMTP -------------------------------------------------------------------------------


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[Any, Any]] = []  # (session, envelope)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((session, envelope))
        return "250 OK"


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl CLI."""
    need(shutil.which("openssl") is not None, "the openssl CLI is needed for the STARTTLS test")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True,
        capture_output=True,
    )
    return cert, key


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        b"notifier",
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def plain_smtp() -> Iterator[tuple[Controller, Mailbox]]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, box
    controller.stop()


@pytest.fixture
def tls_smtp(tls_cert: tuple[Path, Path]) -> Iterator[tuple[Controller, Mailbox]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls_cert)
    box = Mailbox()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=context,
        authenticator=_authenticator,
        auth_require_tls=True,
    )
    controller.start()
    yield controller, box
    controller.stop()


def smtp_sink(controller: Controller, **kw: Any) -> SmtpSink:
    return SmtpSink(
        "127.0.0.1",
        controller.port,
        sender="logradar@example.org",
        recipients=["oncall@example.org", "ops@example.org"],
        timeout_s=5,
        clock=lambda: T0 + 100.0,
        **kw,
    )


async def test_smtp_plain_server_with_starttls_auto(plain_smtp: tuple[Controller, Mailbox]) -> None:
    controller, box = plain_smtp
    notifier = Notifier([smtp_sink(controller)])
    [outcome] = await notifier.notify(alert()) or []
    assert outcome.status == "delivered", outcome.error
    [(session, envelope)] = box.messages
    assert session.ssl is None
    assert envelope.rcpt_tos == ["oncall@example.org", "ops@example.org"]
    msg = message_from_bytes(envelope.original_content, policy=policy.default)
    assert msg["Subject"].startswith("[logradar] FIRING [high] error_burst · checkout")
    assert msg["Message-ID"] == "<id-firing-high@logradar>"
    body = msg.get_content()
    assert "checkout: 42 ERROR in the 60 s window" in body
    assert "11:07:01Z ERROR payment gateway timeout" in body


async def test_smtp_starttls_and_login_with_a_self_signed_cert(
    tls_smtp: tuple[Controller, Mailbox], tls_cert: tuple[Path, Path]
) -> None:
    controller, box = tls_smtp
    sink = smtp_sink(
        controller,
        user="notifier",
        password=SecretStr(PASSWORD),
        starttls="require",
        ca_file=tls_cert[0],
    )
    [outcome] = await Notifier([sink]).notify(alert("resolved")) or []
    assert outcome.status == "delivered", outcome.error
    [(session, envelope)] = box.messages
    assert session.ssl is not None and session.authenticated
    assert message_from_bytes(envelope.original_content, policy=policy.default)[
        "Subject"
    ].startswith("[logradar] RESOLVED")


async def test_smtp_starttls_verifies_the_certificate(
    tls_smtp: tuple[Controller, Mailbox],
) -> None:
    controller, box = tls_smtp
    [outcome] = await Notifier([smtp_sink(controller)], attempts=1).notify(alert()) or []
    assert outcome.status == "failed" and "CERTIFICATE_VERIFY_FAILED" in outcome.error
    assert box.messages == []


async def test_smtp_require_fails_without_starttls(plain_smtp: tuple[Controller, Mailbox]) -> None:
    controller, box = plain_smtp
    sink = smtp_sink(controller, starttls="require")
    [outcome] = await Notifier([sink], attempts=3, sleep=Sleeps()).notify(alert()) or []
    assert (outcome.status, outcome.attempts) == ("failed", 1)  # permanent: not retried
    assert "STARTTLS" in outcome.error and box.messages == []


async def test_smtp_wrong_password_never_shows_the_password(
    tls_smtp: tuple[Controller, Mailbox],
    tls_cert: tuple[Path, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    controller, _ = tls_smtp
    wrong = "not-" + PASSWORD
    sink = smtp_sink(controller, user="notifier", password=SecretStr(wrong), ca_file=tls_cert[0])
    notifier = Notifier([sink], attempts=2, sleep=Sleeps(), secrets=[wrong])
    with caplog.at_level(logging.DEBUG):
        dead = await notifier.handle_record(raw(alert()), topic="a", partition=0, offset=0)
    assert dead[0]["error"].startswith("SMTP 535")
    assert wrong not in caplog.text and wrong not in orjson.dumps(dead).decode()
    assert "notifier" in repr(sink.__dict__) and wrong not in repr(sink.__dict__)


async def test_smtp_credentials_are_not_sent_in_clear(
    plain_smtp: tuple[Controller, Mailbox],
) -> None:
    controller, box = plain_smtp
    sink = smtp_sink(controller, user="notifier", password=SecretStr(PASSWORD), starttls="off")
    [outcome] = await Notifier([sink], attempts=2, sleep=Sleeps()).notify(alert()) or []
    assert outcome.status == "failed" and "without TLS" in outcome.error
    assert box.messages == []


# --- Secrets and settings ---------------------------------------------------------------


async def test_secrets_never_reach_logs_errors_or_reprs(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    conf = NotifySettings(
        slack_url=SecretStr(f"http://127.0.0.1:{free_port()}/services/{SLACK_TOKEN}"),
        webhook_url=f"{receiver.url}/hook",
        webhook_secret=SecretStr(SECRET),
        smtp_password=SecretStr(PASSWORD),
    )
    for text in (repr(conf), str(conf), conf.model_dump_json()):
        assert SECRET not in text and SLACK_TOKEN not in text and PASSWORD not in text
    receiver.statuses = [500] * 5
    receiver.error_body = f"bad signature, expected key {SECRET}"  # a receiver that echoes it
    notifier = Notifier(build_sinks(conf), attempts=2, sleep=Sleeps(), secrets=conf.secrets())
    with caplog.at_level(logging.DEBUG):
        dead = await notifier.handle_record(raw(alert()), topic="a", partition=0, offset=0)
    await notifier.close()
    assert sorted(d["sink"] for d in dead) == ["slack", "webhook"]
    shown = caplog.text + orjson.dumps(dead).decode()
    assert "attempt 1/2 failed" in caplog.text
    for secret in (SECRET, SLACK_TOKEN, PASSWORD):
        assert secret not in shown


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGRADAR_NOTIFY_SMTP_HOST", "mail.example.org")
    monkeypatch.setenv("LOGRADAR_NOTIFY_SMTP_FROM", "logradar@example.org")
    monkeypatch.setenv("LOGRADAR_NOTIFY_SMTP_TO", "a@example.org, b@example.org")
    monkeypatch.setenv("LOGRADAR_NOTIFY_SMTP_PASSWORD", PASSWORD)
    monkeypatch.setenv("LOGRADAR_NOTIFY_SMTP_STARTTLS", "require")
    monkeypatch.setenv("LOGRADAR_NOTIFY_SLACK_MIN_SEVERITY", "HIGH")
    conf = load_notify_settings()
    assert conf.smtp_to == ["a@example.org", "b@example.org"]
    assert conf.smtp_starttls == "require" and conf.slack_min_severity == "high"
    assert conf.configured() == ["smtp"] and conf.secrets() == [PASSWORD]
    assert [s.name for s in build_sinks(conf)] == ["smtp"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "no notification sink configured"),
        ({"WEBHOOK_URL": "http://x", "ATTEMPTS": "0"}, "invalid LOGRADAR_NOTIFY_ATTEMPTS"),
        ({"SMTP_HOST": "mail"}, "LOGRADAR_NOTIFY_SMTP_HOST needs _SMTP_FROM and _SMTP_TO"),
        ({"WEBHOOK_URL": "http://x", "SMTP_STARTTLS": "maybe"}, "SMTP_STARTTLS"),
    ],
)
def test_settings_errors_are_one_line(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(f"LOGRADAR_NOTIFY_{name}", value)
    with pytest.raises(NotifySettingsError, match=message) as info:
        load_notify_settings()
    assert "\n" not in str(info.value)


def test_cli_without_a_sink_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    from logradar.cli import app

    for name in [n for n in os.environ if n.startswith("LOGRADAR_NOTIFY_")]:
        monkeypatch.delenv(name)
    result = CliRunner().invoke(app, ["notify", "--once"])
    assert result.exit_code == 2
    assert "no notification sink configured" in result.output
