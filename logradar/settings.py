"""Settings, read from the environment (prefix ``LOGRADAR_``).

One frozen object, built on first use by :func:`get_settings` and passed
explicitly to everything that needs it (the Faust app included), so the
environment is read in one place.
"""

from __future__ import annotations

from functools import lru_cache
from math import gcd
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from logradar.eventloop import EventLoopChoice
from logradar.gctune import YOUNG_THRESHOLD

ENCODINGS = ("line", "ndjson", "otlp_json", "otlp_proto")


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every knob of a logradar worker; each is ``LOGRADAR_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="LOGRADAR_", frozen=True, extra="ignore")

    broker: str = Field("kafka://127.0.0.1:9092", description="Kafka bootstrap URL(s), Faust form.")
    app_id: str = Field("logradar", min_length=1, description="Consumer group and table prefix.")
    input_topics: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["logs.raw"], description="Raw log topics, comma-separated."
    )
    alerts_topic: str = Field("alerts", min_length=1)
    counts_topic: str = Field("logs.window-counts", min_length=1)
    dead_letter_topic: str = Field("logs.dead-letter", min_length=1)
    sessions_topic: str = Field("logs.sessions", min_length=1, description="Ended sessions.")
    web_port: int = Field(6066, ge=1, le=65535, description="Port of /metrics and the web pages.")
    web_bind: str = Field("127.0.0.1", description="Address the web port binds to.")
    tumbling_s: int = Field(60, gt=0, description="Tumbling window size, seconds.")
    hopping_size_s: int = Field(300, gt=0, description="Hopping window size, seconds.")
    hopping_step_s: int = Field(60, gt=0, description="Hopping window step, seconds.")
    grace_s: float = Field(10, ge=0, description="How far behind the watermark an event may be.")
    idle_flush_s: float = Field(
        30, gt=0, description="Wall seconds without input before windows close."
    )
    data_dir: Path = Field(Path("./.logradar"), description="Faust's data directory.")
    rules: str = Field("", description="Path of a YAML rules file; empty = built-in defaults.")
    text_formats: str = Field(
        "",
        description=(
            "Text formats tried in order: 'fmt,fmt' for all topics, or "
            "'topic=fmt,fmt;topic2=fmt'; empty = every built-in format."
        ),
    )
    max_service_labels: int = Field(
        500, gt=0, description="Distinct service label values in metrics."
    )
    session_timeout_s: float = Field(10, gt=0, description="Kafka consumer session timeout.")
    batch_size: int = Field(2000, gt=0, description="Records per processing batch.")
    batch_within_s: float = Field(0.1, gt=0, description="Longest wait to fill a batch, seconds.")
    fetch_max_wait_ms: int = Field(
        200,
        gt=0,
        le=60_000,
        description="Longest a fetch may wait for new records at the broker, milliseconds.",
    )
    fetch_max_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1024,
        description="Most bytes one fetch returns per partition (Faust's default: 1 MiB).",
    )
    gc_young_threshold: int = Field(
        YOUNG_THRESHOLD,
        ge=0,
        description=(
            "Allocations between the garbage collector's young-generation passes in a "
            "worker or backtest (CPython's default: 700; 0 leaves the interpreter's)."
        ),
    )
    event_loop: EventLoopChoice = Field(
        "auto",
        description=(
            "The worker's asyncio event loop: uvloop, asyncio, or auto (uvloop when "
            "installed, else asyncio)."
        ),
    )
    topic_partitions: int = Field(4, gt=0, description="Partitions of topics logradar creates.")
    max_record_bytes: int = Field(
        1_048_576, gt=0, description="Larger record values are dead-lettered (too_large)."
    )
    input_encoding: str = Field(
        "",
        description=(
            "What one record holds: line (default), ndjson, otlp_json, otlp_proto; "
            "'enc' for all topics or 'topic=enc;topic2=enc'."
        ),
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How to talk to Kafka."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism (SASL_* protocols)."
    )
    kafka_sasl_username: str = Field("", description="SASL user name.")
    kafka_sasl_password: SecretStr = Field(
        SecretStr(""), description="SASL password (or KAFKA_SASL_PASSWORD_FILE); never logged."
    )
    kafka_sasl_password_file: Path | None = Field(
        None, description="File holding the SASL password (a mounted secret)."
    )
    kafka_ssl_cafile: Path | None = Field(None, description="CA bundle for TLS (SSL, SASL_SSL).")
    kafka_ssl_certfile: Path | None = Field(None, description="Client certificate for mutual TLS.")
    kafka_ssl_keyfile: Path | None = Field(None, description="Client key for mutual TLS.")

    @field_validator("input_topics", mode="before")
    @classmethod
    def _topics(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("input_topics")
    @classmethod
    def _topics_not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one input topic is required")
        return value

    @field_validator("broker")
    @classmethod
    def _broker(cls, value: str) -> str:
        for url in value.split(";"):
            if "://" not in url or not url.split("://", 1)[1]:
                raise ValueError(f"expected kafka://host:port, got {url!r}")
        return value

    @field_validator("input_encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        for part in value.split(";"):
            enc = part.rpartition("=")[2].strip()
            if enc and enc not in ENCODINGS:
                known = ", ".join(ENCODINGS)
                raise ValueError(f"unknown encoding {enc!r}; expected one of {known}")
        return value

    @model_validator(mode="after")
    def _windows(self) -> Settings:
        if self.hopping_size_s % self.hopping_step_s:
            raise ValueError("HOPPING_SIZE_S must be a multiple of HOPPING_STEP_S")
        return self

    @model_validator(mode="after")
    def _security(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_"):
            if not self.kafka_sasl_username:
                raise ValueError("LOGRADAR_KAFKA_SASL_USERNAME is required with a SASL_* protocol")
            if not self.sasl_password():
                raise ValueError("LOGRADAR_KAFKA_SASL_PASSWORD (or _FILE) is required with SASL")
        for path in (self.kafka_ssl_cafile, self.kafka_ssl_certfile, self.kafka_ssl_keyfile):
            if path is not None and not path.is_file():
                raise ValueError(f"TLS file {path} does not exist")
        return self

    def sasl_password(self) -> str:
        """The SASL password, from its file when one is named (read each time, never cached)."""
        path = self.kafka_sasl_password_file
        if path is not None:
            try:
                return path.read_text().strip()
            except OSError as exc:
                raise ValueError(f"cannot read KAFKA_SASL_PASSWORD_FILE: {exc.strerror}") from None
        return self.kafka_sasl_password.get_secret_value()

    def kafka_config(self) -> dict[str, Any]:
        """Security options for librdkafka clients (confluent-kafka), without the bootstrap."""
        proto = self.kafka_security_protocol
        conf: dict[str, Any] = {"security.protocol": proto.lower()}
        if proto.startswith("SASL_"):
            conf["sasl.mechanism"] = self.kafka_sasl_mechanism
            conf["sasl.username"] = self.kafka_sasl_username
            conf["sasl.password"] = self.sasl_password()
        if proto in ("SSL", "SASL_SSL"):
            for key, path in (
                ("ssl.ca.location", self.kafka_ssl_cafile),
                ("ssl.certificate.location", self.kafka_ssl_certfile),
                ("ssl.key.location", self.kafka_ssl_keyfile),
            ):
                if path is not None:
                    conf[key] = str(path)
        return conf

    def encoding_for(self, topic: str) -> str:
        """What one record of ``topic`` holds (see ``INPUT_ENCODING``)."""
        spec = self.input_encoding.strip()
        if not spec:
            return "line"
        if "=" not in spec:
            return spec
        for part in spec.split(";"):
            name, _, enc = part.partition("=")
            if name.strip() == topic:
                return enc.strip() or "line"
        return "line"

    @property
    def bucket_s(self) -> int:
        """Width of the step buckets every window is a sum of."""
        return gcd(self.tumbling_s, self.hopping_step_s)

    @property
    def bootstrap_servers(self) -> str:
        """The broker URL in the ``host:port,host:port`` form librdkafka wants."""
        return ",".join(url.split("://", 1)[1] for url in self.broker.split(";"))

    def formats_for(self, topic: str) -> tuple[str, ...] | None:
        """The text formats to try for ``topic``; None means every built-in format."""
        spec = self.text_formats.strip()
        if not spec:
            return None
        if "=" not in spec:
            return tuple(f.strip() for f in spec.split(",") if f.strip())
        for part in spec.split(";"):
            name, _, fmts = part.partition("=")
            if name.strip() == topic:
                return tuple(f.strip() for f in fmts.split(",") if f.strip())
        return None


class SettingsError(ValueError):
    """An invalid setting, described in one line that names the variable."""


def load_settings(**overrides: object) -> Settings:
    """Build Settings from the environment (and ``overrides``), with one-line errors."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = "_".join(str(p) for p in first["loc"]).upper()
        name = f"LOGRADAR_{loc}" if loc else "LOGRADAR_* settings"
        msg = first["msg"].removeprefix("Value error, ")
        raise SettingsError(f"invalid {name}: {msg}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide Settings, read from the environment once."""
    return load_settings()
