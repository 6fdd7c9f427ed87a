"""Settings: defaults, one-line errors naming the variable, derived values."""

from __future__ import annotations

from pathlib import Path

import pytest

from logradar.settings import Settings, SettingsError, load_settings


def test_defaults_match_the_documented_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings()
    assert (s.broker, s.app_id, s.input_topics) == (
        "kafka://127.0.0.1:9092",
        "logradar",
        ["logs.raw"],
    )
    assert (s.alerts_topic, s.counts_topic, s.dead_letter_topic) == (
        "alerts",
        "logs.window-counts",
        "logs.dead-letter",
    )
    assert (s.web_port, s.tumbling_s, s.hopping_size_s, s.hopping_step_s) == (6066, 60, 300, 60)
    assert (s.grace_s, s.idle_flush_s, s.rules) == (10, 30, "")


def test_environment_is_read_with_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGRADAR_INPUT_TOPICS", "a, b ,c")
    monkeypatch.setenv("LOGRADAR_TUMBLING_S", "30")
    monkeypatch.setenv("LOGRADAR_BROKER", "kafka://k1:9092;kafka://k2:9093")
    s = load_settings()
    assert s.input_topics == ["a", "b", "c"]
    assert s.tumbling_s == 30 and s.bucket_s == 30
    assert s.bootstrap_servers == "k1:9092,k2:9093"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("LOGRADAR_TUMBLING_S", "soon", "LOGRADAR_TUMBLING_S"),
        ("LOGRADAR_WEB_PORT", "70000", "LOGRADAR_WEB_PORT"),
        ("LOGRADAR_GRACE_S", "-1", "LOGRADAR_GRACE_S"),
        ("LOGRADAR_BROKER", "localhost", "LOGRADAR_BROKER"),
        ("LOGRADAR_INPUT_TOPICS", " , ", "LOGRADAR_INPUT_TOPICS"),
        ("LOGRADAR_HOPPING_SIZE_S", "90", "HOPPING_SIZE_S must be a multiple"),
    ],
)
def test_invalid_values_give_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert fragment in message and "\n" not in message


@pytest.mark.parametrize(
    ("spec", "topic", "formats"),
    [
        ("", "logs.raw", None),
        ("json,logfmt", "anything", ("json", "logfmt")),
        ("web=apache;auth=openssh,syslog3164", "auth", ("openssh", "syslog3164")),
        ("web=apache", "other", None),
    ],
)
def test_text_formats_per_topic(spec: str, topic: str, formats: tuple[str, ...] | None) -> None:
    assert Settings(text_formats=spec).formats_for(topic) == formats


@pytest.mark.parametrize(
    ("spec", "topic", "encoding"),
    [
        ("", "logs", "line"),
        ("otlp_proto", "anything", "otlp_proto"),
        ("otel=otlp_json;app=ndjson", "app", "ndjson"),
        ("otel=otlp_json;app=ndjson", "other", "line"),
    ],
)
def test_input_encoding_per_topic(spec: str, topic: str, encoding: str) -> None:
    assert Settings(input_encoding=spec).encoding_for(topic) == encoding


def test_the_settings_know_every_encoding_the_parser_does() -> None:
    from logradar.parsing.batched import ENCODINGS
    from logradar.settings import ENCODINGS as SETTINGS_ENCODINGS

    assert set(ENCODINGS) == set(SETTINGS_ENCODINGS)
    with pytest.raises(SettingsError, match="LOGRADAR_INPUT_ENCODING: unknown encoding 'csv'"):
        load_settings(input_encoding="logs=csv")


def test_sasl_needs_a_user_and_a_password_and_never_shows_it(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="LOGRADAR_KAFKA_SASL_USERNAME is required"):
        load_settings(kafka_security_protocol="SASL_SSL")
    with pytest.raises(SettingsError, match="LOGRADAR_KAFKA_SASL_PASSWORD"):
        load_settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="u")
    s = load_settings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="u",
        kafka_sasl_password="hunter2",
    )
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.model_dump())
    assert s.kafka_config() == {
        "security.protocol": "sasl_plaintext",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "u",
        "sasl.password": "hunter2",
    }
    secret = tmp_path / "password"
    secret.write_text("from-a-file\n")
    ca = tmp_path / "ca.pem"
    ca.write_text("not checked here")
    s = load_settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="u",
        kafka_sasl_password_file=str(secret),
        kafka_ssl_cafile=str(ca),
    )
    conf = s.kafka_config()
    assert conf["sasl.password"] == "from-a-file"
    assert conf["ssl.ca.location"] == str(ca)
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(kafka_security_protocol="SSL", kafka_ssl_cafile=str(tmp_path / "nope"))
