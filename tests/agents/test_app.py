"""The Faust app takes every setting from logradar's Settings, never from Faust's own env names."""

from __future__ import annotations

from pathlib import Path

import pytest

from logradar.settings import Settings


def test_create_app_ignores_fausts_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from streams.app import create_app

    monkeypatch.setenv("BROKER_URL", "kafka://elsewhere:1")
    monkeypatch.setenv("WEB_PORT", "1234")
    monkeypatch.setenv("APP_DATADIR", "/nonexistent")
    settings = Settings(
        broker="kafka://k1:9092",
        app_id="pinned",
        web_port=7777,
        data_dir=tmp_path,
        session_timeout_s=12,
    )
    app = create_app(settings)
    assert [str(u) for u in app.conf.broker] == ["kafka://k1:9092"]
    assert app.conf.web_port == 7777
    assert app.conf.id == "pinned"
    assert Path(app.conf.datadir).is_relative_to(tmp_path)
    assert app.conf.broker_session_timeout == 12
    assert app.conf.consumer_max_fetch_size == 4 * 1024 * 1024  # LOGRADAR_FETCH_MAX_BYTES


def test_the_fetch_size_per_partition_is_logradars_setting(tmp_path: Path) -> None:
    from streams.app import create_app

    app = create_app(Settings(data_dir=tmp_path, fetch_max_bytes=8 * 1024 * 1024))
    assert app.conf.consumer_max_fetch_size == 8 * 1024 * 1024


def test_sasl_settings_become_fausts_broker_credentials(tmp_path: Path) -> None:
    import faust

    from streams.app import create_app

    settings = Settings(
        data_dir=tmp_path,
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="svc",
        kafka_sasl_password="s3cret",
    )
    creds = create_app(settings).conf.broker_credentials
    assert isinstance(creds, faust.SASLCredentials)
    assert (creds.username, creds.password, creds.mechanism.value) == (
        "svc",
        "s3cret",
        "SCRAM-SHA-256",
    )
    assert "s3cret" not in repr(creds)
    assert create_app(Settings(data_dir=tmp_path)).conf.broker_credentials is None


def test_the_consumer_waits_at_most_fetch_max_wait_ms_per_fetch(tmp_path: Path) -> None:
    import asyncio

    from streams.app import create_app

    app = create_app(Settings(app_id="fetch", data_dir=tmp_path, fetch_max_wait_ms=123))

    async def created() -> int:
        thread = app.consumer._thread  # type: ignore[attr-defined]
        consumer = thread._create_worker_consumer(app.transport)
        # aiokafka hands this to its fetcher when the consumer starts
        return int(consumer._fetch_max_wait_ms)

    assert asyncio.run(created()) == 123  # Faust alone would ask for 1500


def test_tables_start_without_fausts_one_second_wait(tmp_path: Path) -> None:
    """Faust's TableManager sleeps 1 s at start; logradar's closes the registry and
    starts recovery at once, and a table defined too late still fails loudly."""
    import asyncio

    from streams.app import PromptTableManager, create_app

    app = create_app(Settings(app_id="prompt", data_dir=tmp_path))
    manager = app.tables
    assert isinstance(manager, PromptTableManager)
    done: list[str] = []

    async def no_sleep(seconds: float) -> None:
        done.append(f"slept {seconds}")

    async def recovery_started() -> None:
        done.append("recovery")

    async def start() -> None:
        manager.sleep = no_sleep  # type: ignore[method-assign]
        manager.recovery.start = recovery_started  # type: ignore[method-assign]
        app.consumer.assignment = set  # type: ignore[method-assign]  # not started: none yet
        await manager.on_start()

    asyncio.run(start())
    assert done == ["recovery"]
    with pytest.raises(RuntimeError, match="Too late to add tables"):
        app.Table("late", default=int)


def test_the_producer_partitions_keys_as_kafka_does(tmp_path: Path) -> None:
    from logradar.partitioning import kafka_partition
    from streams.app import create_app

    assert create_app(Settings(data_dir=tmp_path)).conf.producer_partitioner is kafka_partition
