"""ops/shipping/: the example shipper configs send what logradar reads, where it reads it.

Every file is parsed and checked against docker-compose.yml (broker, topic), against the
LOGRADAR_* settings its header names (built with the real ``load_settings``), and for the
things logradar depends on: records keyed by service, no compression codec aiokafka cannot
read. Where the shipper's own checker installs, it runs too:

* rsyslog (Debian packages ``rsyslog`` and ``rsyslog-kafka``): ``rsyslogd -N1`` validates
  the file, and a real rsyslogd renders messages with the file's template; logradar's
  parser reads the lines. ``need()``: skipped locally without them, failed under CI=true.
  Without rsyslog the template is also rendered by hand and parsed (always runs).
* Vector: no Debian or PyPI package ships it. Its VRL programs are compiled and run by
  pyVRL (a PyPI wheel embedding Vector's VRL; wheels for CPython <= 3.12 only), with
  ``need()`` where a wheel exists; the topology and sink options are checked here.
* Fluent Bit: no Debian (bookworm) or PyPI package ships it: the file is checked
  structurally, its option names against the tail input's and kafka output's.
* OpenTelemetry Collector: no Debian or PyPI package ships a build with the Kafka
  exporter. With ``otelcol-contrib`` on PATH, ``otelcol-contrib validate`` runs on the
  file. With any collector that has filelog, batch and otlphttp (``OTELCOL_BIN`` or
  ``otelcol-contrib``), the file's filelog pipeline runs on sample lines, its exporter
  swapped for otlphttp to a local server, and logradar decodes what it exports. Both are
  plain skips without a binary: none can be installed from this machine's registries.
"""

from __future__ import annotations

import http.server
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from logradar.model import DeadLetter, Level, LogEvent
from logradar.parsing import parse, validate_formats
from logradar.parsing.batched import parse_batch
from logradar.settings import Settings, load_settings
from tests.conftest import need

REPO = Path(__file__).resolve().parents[2]
SHIPPING = REPO / "ops" / "shipping"
OTELCOL = SHIPPING / "otelcol.yaml"
VECTOR = SHIPPING / "vector.yaml"
FLUENT_BIT = SHIPPING / "fluent-bit.yaml"
RSYSLOG = SHIPPING / "rsyslog-omkafka.conf"
FILES = (OTELCOL, VECTOR, FLUENT_BIT, RSYSLOG)

# Codecs logradar's consumer (aiokafka without lz4/snappy/zstd extras) can decompress.
READABLE_COMPRESSION = {"none", "gzip"}
SETTING_NAMES = {f"LOGRADAR_{name.upper()}" for name in Settings.model_fields}
SETTING_LINE = re.compile(r"\b(LOGRADAR_[A-Z0-9_]+)=([^\s`]+)")


# -- docker-compose.yml: where logradar reads ---------------------------------------------


def _compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def _compose_broker() -> str:
    """host:port of the broker the compose workers use (LOGRADAR_BROKER, Faust form)."""
    env = _compose()["services"]["worker-1"]["environment"]
    url = env["LOGRADAR_BROKER"]
    assert ";" not in url
    return url.split("://", 1)[1]


def _compose_topics() -> set[str]:
    """Topics topic-init creates."""
    script = "\n".join(_compose()["services"]["topic-init"]["command"])
    return set(re.findall(r"--topic\s+(\S+)", script))


BROKER = _compose_broker()


def test_compose_broker_is_advertised_under_that_name() -> None:
    env = _compose()["services"]["kafka"]["environment"]
    assert f"PLAINTEXT://{BROKER}" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert "PLAINTEXT_HOST://127.0.0.1:29092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")


# -- every file ------------------------------------------------------------------------------


def _header(path: Path) -> str:
    """The leading comment block, without the comment marks."""
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return "\n".join(lines)


def _header_settings(path: Path) -> dict[str, str]:
    return dict(SETTING_LINE.findall(_header(path)))


def _settings_from(path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings as a worker started with the header's LOGRADAR_* values would have them."""
    for name in list(os.environ):
        if name.startswith("LOGRADAR_"):
            monkeypatch.delenv(name)
    for name, value in _header_settings(path).items():
        monkeypatch.setenv(name, value)
    return load_settings()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_file_starts_with_what_it_ships_and_the_settings_it_needs(path: Path) -> None:
    header = _header(path)
    assert header, f"{path.name} must start with a comment block"
    assert "logradar settings" in header
    assert "What logradar does with each record" in header
    assert BROKER in header and "127.0.0.1:29092" in header
    named = _header_settings(path)
    assert "LOGRADAR_INPUT_TOPICS" in named and "LOGRADAR_INPUT_ENCODING" in named
    assert set(named) <= SETTING_NAMES, set(named) - SETTING_NAMES


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_header_settings_are_valid_and_read_the_shipped_topic(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings_from(path, monkeypatch)
    topic, encoding = SHIPS[path.name]()
    assert topic in settings.input_topics
    assert settings.encoding_for(topic) == encoding
    formats = settings.formats_for(topic)
    if formats is not None:
        validate_formats(formats)
    # The topic exists: created by docker-compose's topic-init, or the header says how.
    header = _header(path)
    assert topic in _compose_topics() or f"--create --topic {topic}" in header


# -- OpenTelemetry Collector -----------------------------------------------------------------


def _otel() -> dict[str, Any]:
    return yaml.safe_load(OTELCOL.read_text())


def _otel_ships() -> tuple[str, str]:
    logs = _otel()["exporters"]["kafka"]["logs"]
    return logs["topic"], logs["encoding"]


def test_otelcol_pipeline_names_only_defined_components() -> None:
    config = _otel()
    for kind in ("receivers", "processors", "exporters"):
        for pipeline in config["service"]["pipelines"].values():
            for name in pipeline.get(kind, []):
                assert name in config[kind], f"{kind} {name!r} is used but not defined"
    assert config["service"]["pipelines"]["logs"]["processors"] == ["batch"]


def test_otelcol_kafka_exporter_writes_otlp_proto_keyed_by_resource() -> None:
    kafka = _otel()["exporters"]["kafka"]
    assert kafka["brokers"] == [BROKER]
    assert kafka["logs"] == {"topic": "logs.otlp", "encoding": "otlp_proto"}
    # The top-level topic/encoding are the deprecated form; the per-signal one is current.
    assert "topic" not in kafka and "encoding" not in kafka
    assert kafka["partition_logs_by_resource_attributes"] is True
    assert kafka["producer"]["compression"] in READABLE_COMPRESSION
    # A request stays under both the producer's and logradar's size limits.
    assert kafka["producer"]["max_message_bytes"] <= Settings().max_record_bytes
    batch = _otel()["processors"]["batch"]
    assert batch["send_batch_size"] <= batch["send_batch_max_size"] <= 1000


def test_otelcol_header_names_the_worker_settings() -> None:
    header = _header(OTELCOL)
    assert "LOGRADAR_INPUT_ENCODING=logs.otlp=otlp_proto" in header
    assert "LOGRADAR_INPUT_TOPICS=logs.raw,logs.otlp" in header


def _otelcol_contrib() -> str | None:
    return shutil.which("otelcol-contrib")


def test_otelcol_validates_with_the_collector() -> None:
    binary = _otelcol_contrib()
    if binary is None:
        pytest.skip(
            "otelcol-contrib is not on PATH; no Debian or PyPI package ships a collector "
            "with the Kafka exporter (checked structurally above)"
        )
    run = subprocess.run(
        [binary, "validate", "--config", str(OTELCOL)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


class _OtlpSink(http.server.BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers["Content-Length"])
        type(self).bodies.append(self.rfile.read(length))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


@pytest.fixture
def otlp_sink() -> Iterator[tuple[int, list[bytes]]]:
    bodies: list[bytes] = []
    handler = type("Sink", (_OtlpSink,), {"bodies": bodies})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port, bodies
    server.shutdown()
    server.server_close()


def test_otelcol_filelog_pipeline_exports_what_logradar_reads(
    tmp_path: Path, otlp_sink: tuple[int, list[bytes]]
) -> None:
    binary = os.environ.get("OTELCOL_BIN") or _otelcol_contrib()
    if binary is None:
        pytest.skip(
            "no collector binary (OTELCOL_BIN or otelcol-contrib on PATH); none installs "
            "from Debian or PyPI here"
        )
    port, bodies = otlp_sink
    logs = tmp_path / "log"
    logs.mkdir()
    (logs / "checkout.log").write_text(
        '{"ts": "2026-11-24T08:00:01.250Z", "level": "ERROR", "service": "payments",'
        ' "msg": "payment declined", "order_id": "o17"}\n'
        '{"ts": 1795507202.5, "level": "warn", "msg": "slow query", "host": "db-1"}\n'
        "plain text line\n"
    )
    config = _otel()
    # The file's receivers and processors as they are; only the Kafka exporter is swapped
    # for otlphttp to a local server (and the otlp receiver left out: it opens ports).
    config["receivers"] = {"filelog": config["receivers"]["filelog"]}
    config["receivers"]["filelog"]["include"] = [str(logs / "*.log")]
    config["receivers"]["filelog"]["start_at"] = "beginning"
    config["exporters"] = {
        "otlphttp": {
            "endpoint": f"http://127.0.0.1:{port}",
            "encoding": "proto",
            "compression": "none",
        }
    }
    pipeline = config["service"]["pipelines"]["logs"]
    pipeline["receivers"], pipeline["exporters"] = ["filelog"], ["otlphttp"]
    config["service"]["telemetry"] = {"metrics": {"level": "none"}}
    cfg = tmp_path / "otelcol.yaml"
    cfg.write_text(yaml.safe_dump(config))
    out = (tmp_path / "otelcol.log").open("w")
    proc = subprocess.Popen([binary, "--config", str(cfg)], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while sum(len(parse_batch(b, encoding="otlp_proto")) for b in bodies) < 3:
            assert proc.poll() is None, (tmp_path / "otelcol.log").read_text()
            assert time.monotonic() < deadline, "the collector exported nothing in 30 s"
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        out.close()
    now = time.time()
    events = [e for body in bodies for e in parse_batch(body, encoding="otlp_proto", kafka_ts=now)]
    assert all(isinstance(e, LogEvent) for e in events), events
    by_message = {e.message: e for e in events if isinstance(e, LogEvent)}
    declined = by_message["payment declined"]
    assert (declined.service, declined.level) == ("payments", Level.ERROR)
    assert declined.ts == pytest.approx(1795507201.25, abs=1e-3)
    assert declined.attrs["order_id"] == "o17" and "ts" not in declined.attrs
    slow = by_message["slow query"]
    assert (slow.service, slow.level, slow.host) == ("checkout", Level.WARN, "db-1")
    assert slow.ts == pytest.approx(1795507202.5, abs=1e-3)
    plain = by_message["plain text line"]
    assert (plain.service, plain.level) == ("checkout", Level.UNKNOWN)
    assert abs(plain.ts - now) < 60  # the time the collector read it


# -- Vector ------------------------------------------------------------------------------------

VECTOR_KAFKA_KEYS = {
    "type", "inputs", "bootstrap_servers", "topic", "key_field", "encoding", "compression",
    "acknowledgements", "librdkafka_options", "message_timeout_ms", "socket_timeout_ms",
    "headers_key", "healthcheck", "batch", "sasl", "tls", "buffer",
}  # fmt: skip


def _vector() -> dict[str, Any]:
    return yaml.safe_load(VECTOR.read_text())


def _vector_ships() -> tuple[str, str]:
    topics = {sink["topic"] for sink in _vector()["sinks"].values()}
    assert len(topics) == 1
    return topics.pop(), "line"


def _vector_outputs(config: dict[str, Any]) -> set[str]:
    """Every name an `inputs` list may use: sources, transforms, and their named outputs."""
    names = set(config["sources"])
    for name, transform in config["transforms"].items():
        names.add(name)
        if transform["type"] == "route":
            names.update(f"{name}.{route}" for route in transform["route"])
        if transform.get("reroute_dropped"):
            names.add(f"{name}.dropped")
    return names


def test_vector_topology_is_connected() -> None:
    config = _vector()
    outputs = _vector_outputs(config)
    used: set[str] = set()
    for section in ("transforms", "sinks"):
        for name, component in config[section].items():
            missing = set(component["inputs"]) - outputs
            assert not missing, f"{section}.{name} reads unknown {missing}"
            used.update(component["inputs"])
    # Nothing is left unread: every route, the dropped output and the source go somewhere.
    assert outputs - set(config["transforms"]) <= used, outputs - used


def test_vector_kafka_sinks_write_logs_raw_keyed_by_service() -> None:
    sinks = _vector()["sinks"]
    codecs = set()
    for name, sink in sinks.items():
        assert sink["type"] == "kafka", name
        assert set(sink) <= VECTOR_KAFKA_KEYS, set(sink) - VECTOR_KAFKA_KEYS
        assert sink["bootstrap_servers"] == BROKER
        assert sink["topic"] == Settings().input_topics[0]
        assert sink["key_field"] == "service"
        assert sink.get("compression", "none") in READABLE_COMPRESSION
        codecs.add(sink["encoding"]["codec"])
    assert codecs == {"json", "text"}


def _vrl() -> Any:
    if sys.version_info >= (3, 13):
        pytest.skip("pyVRL has wheels for CPython <= 3.12 only")
    need(importlib.util.find_spec("pyvrl") is not None, "pyVRL (PyPI) is not installed")
    import pyvrl

    return pyvrl


def _vector_line(message: str, file: str = "/var/log/app/orders.log") -> dict[str, Any]:
    """An event as Vector's file source makes it."""
    return {
        "message": message,
        "file": file,
        "host": "node-1",
        "source_type": "file",
        "timestamp": "2026-11-24T08:00:09Z",
    }


def _vector_pipeline(line: dict[str, Any]) -> tuple[str, str, bytes]:
    """(sink, key, Kafka value) for one file line, run through the file's VRL programs."""
    import orjson

    pyvrl = _vrl()
    transforms = _vector()["transforms"]
    routes = transforms["app_lines"]["route"]
    taken = [name for name, cond in routes.items() if pyvrl.Transform(cond).remap(dict(line))]
    assert len(taken) == 1, taken
    event = dict(line)
    if taken == ["json"]:
        try:
            # pyVRL returns the program's last value: end with "." to get the event.
            event = pyvrl.Transform(transforms["app_json"]["source"] + "\n.").remap(event)
        except ValueError:  # a runtime error: Vector reroutes the event to app_json.dropped
            event = dict(line)
        else:
            return "logradar_json", event["service"], orjson.dumps(event)
    event = pyvrl.Transform(transforms["app_text"]["source"] + "\n.").remap(event)
    return "logradar_text", event["service"], event["message"].encode()


@pytest.mark.parametrize(
    ("line", "sink", "key", "service", "level", "message"),
    [
        (
            '{"ts": "2026-11-24T08:00:01.250Z", "level": "ERROR", "app": "checkout",'
            ' "msg": "payment declined", "host": "web-4"}',
            "logradar_json", "checkout", "checkout", Level.ERROR, "payment declined",
        ),
        ('{"level": "warn", "msg": "no service field"}',
         "logradar_json", "orders", "orders", Level.WARN, "no service field"),
        ('{"service": {"name": "payments"}, "ts": 1795507201, "msg": "nested"}',
         "logradar_json", "payments", "payments", Level.UNKNOWN, "nested"),
        # Text goes out as it is: a format that names a service wins over the key.
        ("2026-11-24T08:00:01.250Z ERROR [billing] invoice 42 failed",
         "logradar_text", "orders", "billing", Level.ERROR, "invoice 42 failed"),
        ("ts=2026-11-24T08:00:01Z level=info msg=hello",
         "logradar_text", "orders", "orders", Level.INFO, "hello"),
    ],
)  # fmt: skip
def test_vector_remaps_lines_into_what_logradar_reads(
    line: str, sink: str, key: str, service: str, level: Level, message: str
) -> None:
    got_sink, got_key, value = _vector_pipeline(_vector_line(line))
    assert (got_sink, got_key) == (sink, key)
    event = parse(value, key=got_key.encode(), kafka_ts=1795507210.0)
    assert isinstance(event, LogEvent), event
    assert (event.service, event.level, event.message) == (service, level, message)


@pytest.mark.parametrize("line", ["{not json", "[1, 2]"])
def test_vector_sends_broken_json_as_text_for_logradar_to_dead_letter(line: str) -> None:
    sink, key, value = _vector_pipeline(_vector_line(line))
    assert (sink, key, value) == ("logradar_text", "orders", line.encode())
    assert isinstance(parse(value, key=key.encode(), kafka_ts=1795507210.0), DeadLetter)


def test_vector_json_lines_keep_the_host_and_file() -> None:
    _, _, value = _vector_pipeline(_vector_line('{"msg": "hi"}'))
    event = parse(value, kafka_ts=1795507210.0)
    assert isinstance(event, LogEvent)
    assert (event.host, event.attrs["file"]) == ("node-1", "/var/log/app/orders.log")


# -- Fluent Bit --------------------------------------------------------------------------------

# Option names (lowercase) from Fluent Bit's sources: the generic input/output properties
# (flb_input.c, flb_output.c) and the config maps of in_tail, filter_modify and out_kafka.
FLB_INPUT_KEYS = {
    "name", "tag", "alias", "mem_buf_limit", "storage.type", "log_level", "threaded",
    "path", "exclude_path", "parser", "db", "db.sync", "db.locking", "read_from_head",
    "refresh_interval", "rotate_wait", "skip_long_lines", "skip_empty_lines",
    "buffer_chunk_size", "buffer_max_size", "path_key", "offset_key", "ignore_older",
    "multiline.parser", "key", "tag_regex", "inotify_watcher",
}  # fmt: skip
FLB_FILTER_KEYS = {"name", "match", "match_regex", "alias", "add", "set", "remove", "rename",
                   "hard_rename", "copy", "hard_copy", "condition"}  # fmt: skip
FLB_KAFKA_KEYS = {
    "name", "match", "match_regex", "alias", "retry_limit", "workers", "log_level",
    "brokers", "topics", "topic_key", "dynamic_topic", "format", "message_key",
    "message_key_field", "timestamp_key", "timestamp_format", "queue_full_retries",
    "raw_log_key", "client_id", "group_id",
}  # fmt: skip
FLB_FORMATS = {"json", "msgpack", "gelf", "raw"}


def _fluent_bit() -> dict[str, Any]:
    return yaml.safe_load(FLUENT_BIT.read_text())


def _fluent_bit_ships() -> tuple[str, str]:
    topics = {out["topics"] for out in _fluent_bit()["pipeline"]["outputs"]}
    assert len(topics) == 1
    return topics.pop(), "line"


def _tag_matches(pattern: str, tag: str) -> bool:
    return re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), tag) is not None


def test_fluent_bit_options_are_known() -> None:
    pipeline = _fluent_bit()["pipeline"]
    for section, known in (
        ("inputs", FLB_INPUT_KEYS),
        ("filters", FLB_FILTER_KEYS),
        ("outputs", FLB_KAFKA_KEYS),
    ):
        for plugin in pipeline[section]:
            keys = {key.lower() for key in plugin} - {
                k for k in plugin if k.lower().startswith("rdkafka.")
            }
            assert keys <= known, f"{section}: {plugin['name']}: unknown {keys - known}"


def test_fluent_bit_inputs_parse_json_and_reach_a_kafka_output() -> None:
    config = _fluent_bit()
    parsers = {p["name"]: p for p in config["parsers"]}
    pipeline = config["pipeline"]
    outputs = pipeline["outputs"]
    for tail in pipeline["inputs"]:
        assert tail["name"] == "tail"
        if "parser" in tail:
            assert parsers[tail["parser"]]["format"] == "json"
        matched = [out for out in outputs if _tag_matches(out["match"], tail["tag"])]
        assert len(matched) == 1, (tail["tag"], matched)
        # Every record gets a service for the key: a modify filter adds one when missing.
        adds = [f["add"] for f in pipeline["filters"] if _tag_matches(f["match"], tail["tag"])]
        assert any(add.split()[0] == "service" for add in adds), tail["tag"]
        out = matched[0]
        assert out["format"] == ("json" if "parser" in tail else "raw")


def test_fluent_bit_kafka_outputs_write_logs_raw_keyed_by_service() -> None:
    for out in _fluent_bit()["pipeline"]["outputs"]:
        assert out["name"] == "kafka"
        assert out["brokers"] == BROKER
        assert out["topics"] == Settings().input_topics[0]
        assert out["message_key_field"] == "service"
        assert out["format"] in FLB_FORMATS
        if out["format"] == "raw":
            assert out["raw_log_key"] == "log"  # the key in_tail stores an unparsed line in
        else:
            assert out["timestamp_key"] == "@timestamp"  # one of logradar's time aliases
            assert out["timestamp_format"] in {"iso8601", "iso8601_ns", "double"}
        codec = out.get("rdkafka.compression.codec", "none")
        assert codec in READABLE_COMPRESSION


def test_fluent_bit_json_record_is_read_by_logradar() -> None:
    # What out_kafka (format json, timestamp_format iso8601) writes for a parsed line: the
    # timestamp key first, then the record's fields, "service" added by the modify filter.
    value = (
        b'{"@timestamp":"2026-11-24T08:00:09.000000Z","ts":"2026-11-24T08:00:01.250Z",'
        b'"level":"ERROR","msg":"payment declined","service":"checkout"}'
    )
    event = parse(value, key=b"checkout", kafka_ts=1795507210.0)
    assert isinstance(event, LogEvent)
    assert (event.service, event.level, event.message) == ("checkout", Level.ERROR,
                                                           "payment declined")  # fmt: skip
    assert event.ts == pytest.approx(1795507201.25)  # the line's own ts wins
    unparsed = parse(b'{"@timestamp":"2026-11-24T08:00:09.000000Z","log":"plain text",'
                     b'"service":"checkout"}', kafka_ts=1795507210.0)  # fmt: skip
    assert isinstance(unparsed, LogEvent)
    assert (unparsed.message, unparsed.ts) == ("plain text", pytest.approx(1795507209.0))


# -- rsyslog -----------------------------------------------------------------------------------

_QUOTED = r'"(?:[^"\\]|\\.)*"'
_RS_PARAM = re.compile(rf"([\w.\-]+)\s*=\s*({_QUOTED}|\[[^\]]*\])")
_RS_CALL = re.compile(rf"\b(\w+)\s*\(((?:[^()\"]|{_QUOTED})*)\)")


def _rs_text() -> str:
    """The rsyslog file without its comments (a # outside quotes runs to the line's end)."""
    out = []
    for line in RSYSLOG.read_text().splitlines():
        kept, quoted = [], False
        for i, char in enumerate(line):
            if char == '"' and (i == 0 or line[i - 1] != "\\"):
                quoted = not quoted
            if char == "#" and not quoted:
                break
            kept.append(char)
        out.append("".join(kept))
    return "\n".join(out)


def _rs_value(raw: str) -> str | list[str]:
    if raw.startswith("["):
        return [v[1:-1] for v in re.findall(_QUOTED, raw)]
    return raw[1:-1]


def _rs_calls(text: str, name: str) -> list[dict[str, str | list[str]]]:
    """The parameters of every `name(...)` statement, keys lowercased."""
    return [
        {k.lower(): _rs_value(v) for k, v in _RS_PARAM.findall(body)}
        for call, body in _RS_CALL.findall(text)
        if call == name
    ]


def _rsyslog_action() -> dict[str, str | list[str]]:
    (action,) = [a for a in _rs_calls(_rs_text(), "action") if a["type"] == "omkafka"]
    return action


def _rsyslog_ships() -> tuple[str, str]:
    topic = _rsyslog_action()["topic"]
    assert isinstance(topic, str)
    return topic, "line"


def test_rsyslog_loads_omkafka_and_writes_logs_raw_keyed_by_service() -> None:
    text = _rs_text()
    assert {"load": "omkafka"} in _rs_calls(text, "module")
    action = _rsyslog_action()
    assert action["broker"] == [BROKER]
    assert action["topic"] == Settings().input_topics[0]
    templates = {t["name"]: t for t in _rs_calls(text, "template")}
    assert action["template"] in templates
    # The key is a template (dynaKey) naming the service, and librdkafka partitions by it.
    assert (action["dynakey"], action["partitions.auto"]) == ("on", "on")
    assert templates[str(action["key"])]["string"] == "%app-name%"
    conf = dict(p.split("=", 1) for p in action["confparam"])
    assert conf.get("compression.codec", "none") in READABLE_COMPRESSION


def _rs_template(name: str) -> list[tuple[str, dict[str, str | list[str]]]]:
    """The statements of list template `name`: ("constant" | "property", parameters)."""
    text = _rs_text()
    head = re.search(rf'template\(\s*name="{re.escape(name)}"\s+type="list"\s*\)\s*\{{', text)
    assert head is not None, name
    body = text[head.end() : text.index("}", head.end())]
    return [
        (call, {k.lower(): _rs_value(v) for k, v in _RS_PARAM.findall(params)})
        for call, params in _RS_CALL.findall(body)
    ]


def _render_by_hand(values: dict[str, str]) -> bytes:
    out = []
    for call, params in _rs_template("logradar_5424"):
        if call == "constant":
            out.append(str(params["value"]))
        else:
            assert call == "property"
            out.append(values[str(params["name"])])
    return "".join(out).encode()


@pytest.mark.parametrize(
    ("pri", "level"),
    [(8, Level.FATAL), (11, Level.ERROR), (12, Level.WARN), (13, Level.INFO), (15, Level.DEBUG)],
)
def test_rsyslog_template_renders_a_line_logradar_parses(pri: int, level: Level) -> None:
    line = _render_by_hand(
        {
            "pri": str(pri),
            "timestamp": "2026-11-24T09:00:01.250000+01:00",  # dateFormat="rfc3339"
            "hostname": "web-1",
            "app-name": "checkout",
            "procid": "4242",
            "msgid": "-",
            "structured-data": '[order@32473 id="o17"]',
            "$.msg": "payment declined",
        }
    )
    event = parse(line, key=b"checkout", kafka_ts=1795507210.0, formats=["syslog5424"])
    assert isinstance(event, LogEvent), (line, event)
    assert (event.service, event.level, event.host) == ("checkout", level, "web-1")
    assert (event.message, event.ts) == ("payment declined", pytest.approx(1795507201.25))
    assert event.attrs == {"procid": "4242", "order@32473": {"id": "o17"}}


def _rsyslogd() -> str:
    binary = shutil.which("rsyslogd") or shutil.which("rsyslogd", path="/usr/sbin:/sbin")
    need(binary is not None, "rsyslogd not installed (Debian package rsyslog)")
    omkafka = list(Path("/usr/lib").glob("**/rsyslog/omkafka.so"))
    need(bool(omkafka), "omkafka not installed (Debian package rsyslog-kafka)")
    assert binary is not None
    return binary


def test_rsyslog_config_validates_with_rsyslogd(tmp_path: Path) -> None:
    binary = _rsyslogd()
    run = subprocess.run(
        [binary, "-N1", "-f", str(RSYSLOG)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "End of config validation run" in run.stdout + run.stderr


def test_rsyslogd_renders_lines_logradar_parses(tmp_path: Path) -> None:
    """A real rsyslogd runs the file (omkafka to a closed port); an omfile action beside it
    writes what omkafka sends, with the same template, and logradar parses that."""
    binary = _rsyslogd()
    ship = tmp_path / "ship.conf"
    ship.write_text(
        RSYSLOG.read_text()
        .replace(f'"{BROKER}"', '"127.0.0.1:1"')  # nothing listens: delivery just fails
        .replace("/var/lib/rsyslog/", f"{tmp_path}/")
    )
    sock, out, keys = tmp_path / "log.sock", tmp_path / "out.log", tmp_path / "keys.log"
    conf = tmp_path / "test.conf"
    conf.write_text(
        f'global(workDirectory="{tmp_path}")\n'
        'module(load="imuxsock" SysSock.Use="off")\n'
        f'input(type="imuxsock" Socket="{sock}")\n'
        f'include(file="{ship}")\n'
        f'action(type="omfile" file="{out}" template="logradar_5424")\n'
        f'action(type="omfile" file="{keys}" template="logradar_key")\n'
    )
    proc = subprocess.Popen(
        [binary, "-n", "-f", str(conf), "-i", str(tmp_path / "rsyslogd.pid")],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "rsyslogd.err").open("w"),
    )
    try:
        deadline = time.monotonic() + 20
        while not sock.exists():
            assert proc.poll() is None, (tmp_path / "rsyslogd.err").read_text()
            assert time.monotonic() < deadline, "rsyslogd did not open its socket"
            time.sleep(0.05)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as client:
            # What logger(1) sends: RFC 3164 without a host name, as local programs do.
            client.sendto(b"<11>Nov 24 08:00:01 checkout[4242]: payment declined", str(sock))
            client.sendto(b"<36>Nov 24 08:00:02 sshd: Failed password for root", str(sock))
        while not (out.exists() and b"sshd" in out.read_bytes()):
            assert time.monotonic() < deadline, "rsyslogd wrote nothing"
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # The template has no newline (one Kafka record is one line): split before each PRI.
    lines = [ln for ln in re.split(rb"(?=<\d{1,3}>1 \d{4}-)", out.read_bytes()) if ln]
    events = [parse(ln, kafka_ts=time.time(), formats=["syslog5424"]) for ln in lines]
    assert all(isinstance(e, LogEvent) for e in events), list(zip(lines, events, strict=True))
    by_service = {e.service: e for e in events if isinstance(e, LogEvent)}
    checkout, sshd = by_service["checkout"], by_service["sshd"]
    assert (checkout.level, checkout.message) == (Level.ERROR, "payment declined")
    assert checkout.attrs["procid"] == "4242" and checkout.host == socket.gethostname()
    assert (sshd.level, sshd.message) == (Level.WARN, "Failed password for root")
    assert abs(checkout.ts - time.time()) < 60  # imuxsock stamps local messages on arrival
    assert keys.read_text().endswith("checkoutsshd")  # the Kafka keys, back to back


# (topic, LOGRADAR_INPUT_ENCODING it needs) per file, read from the file itself.
SHIPS = {
    OTELCOL.name: _otel_ships,
    VECTOR.name: _vector_ships,
    FLUENT_BIT.name: _fluent_bit_ships,
    RSYSLOG.name: _rsyslog_ships,
}
