"""The deploy files (docker-compose.yml, ops/) agree with the code they run.

Docker is not needed: the files are parsed and checked against Settings, the CLI and
the metrics registry, so a renamed setting, command or metric fails here, not at deploy.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from prometheus_client import CollectorRegistry

from logradar.cli import app as cli_app
from logradar.metrics import Metrics
from logradar.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "ops" / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
PROMETHEUS_FILE = REPO / "ops" / "prometheus" / "prometheus.yml"
GRAFANA = REPO / "ops" / "grafana"
DASHBOARD_FILE = GRAFANA / "dashboards" / "logradar.json"

SETTING_ENV_NAMES = {f"LOGRADAR_{name.upper()}" for name in Settings.model_fields}
ENV_NAME = re.compile(r"\bLOGRADAR_[A-Z0-9_]+")
METRIC_NAME = re.compile(r"\blogradar_[a-z_]+")
SAMPLE_SUFFIXES = ("_bucket", "_sum", "_count")
ROOT_USERS = {"root", "0"}


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


COMPOSE = _compose()
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
# The services that run the logradar image: built from ops/Dockerfile.
LOGRADAR_SERVICES = sorted(name for name, svc in SERVICES.items() if "build" in svc)


def _argv(command: str | list[str] | None) -> list[str]:
    if command is None:
        return []
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command]


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _bind_sources(service: dict[str, Any]) -> list[str]:
    """Host paths of a service's bind mounts (named volumes are skipped)."""
    sources = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                sources.append(volume["source"])
        else:
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/", "~")):
                sources.append(source)
    return sources


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, args = line.partition(" ")
        out.append((instruction.upper(), args.strip()))
    return out


def _exported_metric_names() -> set[str]:
    """Every name the worker's own metrics export, from a fresh registry."""
    registry = CollectorRegistry()
    Metrics.create(registry)
    names: set[str] = set()
    for family in registry.collect():
        names.add(family.name)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        names.update(sample.name for sample in family.samples)
    return names


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD_FILE.read_text())
    return [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]


def _topic_init_topics() -> dict[str, int]:
    """Topic name -> partitions, from the topic-init service's kafka-topics.sh lines."""
    script = "\n".join(_argv(SERVICES["topic-init"].get("command")))
    topics = {}
    for line in script.splitlines():
        name = re.search(r"--topic\s+(\S+)", line)
        partitions = re.search(r"--partitions\s+(\d+)", line)
        if name and partitions:
            topics[name.group(1)] = int(partitions.group(1))
    return topics


# --- docker-compose.yml ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_an_image_or_a_buildable_dockerfile(name: str) -> None:
    service = SERVICES[name]
    assert "image" in service or "build" in service, f"{name}: neither image nor build"
    build = service.get("build")
    if build is None:
        assert ":" in service["image"], f"{name}: pin the image tag"
        return
    if isinstance(build, str):
        build = {"context": build}
    context = REPO / build.get("context", ".")
    assert context.is_dir(), f"{name}: build context {context} missing"
    dockerfile = context / build.get("dockerfile", "Dockerfile")
    assert dockerfile.is_file(), f"{name}: {dockerfile} missing"


@pytest.mark.parametrize(
    ("name", "source"),
    [(name, source) for name, svc in sorted(SERVICES.items()) for source in _bind_sources(svc)],
)
def test_bind_mounted_host_paths_exist(name: str, source: str) -> None:
    assert (REPO / source).exists(), f"{name} mounts {source}, which is not in the repo"


def test_logradar_env_names_in_compose_are_settings() -> None:
    used = set(ENV_NAME.findall(COMPOSE_FILE.read_text()))
    for service in SERVICES.values():
        used.update(k for k in _env(service) if k.startswith("LOGRADAR_"))
    assert used, "compose sets no LOGRADAR_* variable"
    assert used <= SETTING_ENV_NAMES, f"not settings: {sorted(used - SETTING_ENV_NAMES)}"


def test_logradar_env_values_are_valid_settings() -> None:
    for name in LOGRADAR_SERVICES:
        env = {k[len("LOGRADAR_") :].lower(): v for k, v in _env(SERVICES[name]).items()}
        Settings(**env)  # raises on a value the worker would reject


@pytest.mark.parametrize("name", LOGRADAR_SERVICES)
def test_logradar_service_commands_are_cli_commands(name: str) -> None:
    commands = typer.main.get_command(cli_app).commands
    argv = _argv(SERVICES[name].get("command")) or ["worker"]  # the image's CMD
    assert argv[0] in commands, f"{name}: {argv[0]!r} is not a logradar command"
    # Parse the options too (without running the command): a renamed flag fails here.
    commands[argv[0]].make_context(argv[0], argv[1:])


def test_two_workers_of_one_app_reach_kafka_and_listen_on_all_interfaces() -> None:
    workers = [n for n in LOGRADAR_SERVICES if _argv(SERVICES[n].get("command"))[:1] == ["worker"]]
    assert len(workers) == 2, workers
    envs = [_env(SERVICES[n]) for n in workers]
    for name, env in zip(workers, envs, strict=True):
        assert env["LOGRADAR_BROKER"] == "kafka://kafka:9092", name
        assert env["LOGRADAR_WEB_BIND"] == "0.0.0.0", name
        depends = SERVICES[name]["depends_on"]
        assert depends["kafka"]["condition"] == "service_healthy", name
        assert depends["topic-init"]["condition"] == "service_completed_successfully", name
    app_ids = {env.get("LOGRADAR_APP_ID", Settings.model_fields["app_id"].default) for env in envs}
    assert len(app_ids) == 1, "the replicas must share one app id (one consumer group)"


def test_generator_is_off_by_default() -> None:
    generator = SERVICES["generator"]
    assert generator.get("profiles") == ["demo"]
    assert _argv(generator["command"])[:1] == ["generate"]


def test_kafka_has_a_healthcheck_and_a_pinned_tag() -> None:
    kafka = SERVICES["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["image"].split(":", 1)[1] not in {"", "latest"}
    assert kafka["healthcheck"]["test"]
    assert SERVICES["topic-init"]["image"] == kafka["image"]


def test_topic_init_creates_every_topic_the_worker_uses() -> None:
    topics = _topic_init_topics()
    defaults = Settings()
    wanted = {
        *defaults.input_topics,
        defaults.alerts_topic,
        defaults.counts_topic,
        defaults.dead_letter_topic,
        "logs.sessions",
    }
    assert wanted <= set(topics), f"topic-init misses {sorted(wanted - set(topics))}"
    assert "--if-not-exists" in "\n".join(_argv(SERVICES["topic-init"]["command"]))


@pytest.mark.parametrize("name", LOGRADAR_SERVICES)
def test_table_partitions_match_the_input_topic(name: str) -> None:
    # The state table writes each source partition's state to the same changelog partition.
    input_partitions = {_topic_init_topics()[t] for t in Settings().input_topics}
    env = _env(SERVICES[name])
    partitions = int(env.get("LOGRADAR_TOPIC_PARTITIONS", Settings().topic_partitions))
    assert input_partitions == {partitions}, f"{name}: {partitions} vs {input_partitions}"


# --- ops/Dockerfile and .dockerignore ---------------------------------------------------


def test_dockerfile_env_names_are_settings() -> None:
    used = set(ENV_NAME.findall(DOCKERFILE.read_text()))
    assert "LOGRADAR_WEB_BIND" in used
    assert used <= SETTING_ENV_NAMES, f"not settings: {sorted(used - SETTING_ENV_NAMES)}"


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = [args for instr, args in _dockerfile_instructions() if instr == "USER"]
    assert users, "no USER: the worker would run as root"
    user = users[-1].split(":", 1)[0]
    assert user not in ROOT_USERS


def test_dockerfile_healthcheck_probes_healthz() -> None:
    checks = [args for instr, args in _dockerfile_instructions() if instr == "HEALTHCHECK"]
    assert len(checks) == 1
    assert "/healthz" in checks[0] and "urllib" in checks[0]


def test_dockerfile_exposes_the_web_port_and_runs_the_cli() -> None:
    instructions = dict(_dockerfile_instructions())  # last of each kind
    assert instructions["EXPOSE"] == str(Settings.model_fields["web_port"].default)
    assert json.loads(instructions["ENTRYPOINT"]) == ["logradar"]
    assert json.loads(instructions["CMD"]) == ["worker"]
    assert instructions["FROM"].startswith("python:3.11-slim")


def test_dockerfile_installs_dependencies_before_the_source() -> None:
    copies = [args for instr, args in _dockerfile_instructions() if instr == "COPY"]
    first_source = next(i for i, args in enumerate(copies) if args.startswith("logradar"))
    assert copies[0].startswith("pyproject.toml") and first_source > 0
    runs = " ".join(args for instr, args in _dockerfile_instructions() if instr == "RUN")
    assert "--no-deps" in runs


def test_dockerfile_copies_only_what_exists_and_is_not_ignored() -> None:
    ignored = {
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".git", ".logradar"} <= ignored
    for instr, args in _dockerfile_instructions():
        if instr != "COPY" or args.startswith("--from"):
            continue
        *sources, _dest = args.split()
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: not in the build context"
            assert source not in ignored, f"COPY {source}: excluded by .dockerignore"


def test_ops_is_not_a_python_package() -> None:
    assert not list((REPO / "ops").rglob("__init__.py"))


# --- Prometheus ---------------------------------------------------------------------------


def _scrape_targets() -> list[tuple[str, str]]:
    config = yaml.safe_load(PROMETHEUS_FILE.read_text())
    return [
        (job["job_name"], target)
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    ]


@pytest.mark.parametrize(("job", "target"), _scrape_targets())
def test_prometheus_targets_are_compose_services(job: str, target: str) -> None:
    host, _, port = target.rpartition(":")
    assert port.isdigit()
    if job == "prometheus":
        assert host == "localhost"
        return
    assert host in SERVICES, f"{target}: no compose service {host!r}"
    web_port = _env(SERVICES[host]).get(
        "LOGRADAR_WEB_PORT", str(Settings.model_fields["web_port"].default)
    )
    assert port == web_port


def test_prometheus_scrapes_every_worker() -> None:
    hosts = {target.rpartition(":")[0] for _, target in _scrape_targets()}
    workers = {n for n in LOGRADAR_SERVICES if _argv(SERVICES[n].get("command"))[:1] == ["worker"]}
    assert workers <= hosts


# --- Grafana ----------------------------------------------------------------------------


def test_grafana_provisions_the_prometheus_datasource_and_dashboards() -> None:
    (datasources_file,) = (GRAFANA / "provisioning" / "datasources").glob("*.y*ml")
    (datasource,) = yaml.safe_load(datasources_file.read_text())["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    (providers_file,) = (GRAFANA / "provisioning" / "dashboards").glob("*.y*ml")
    (provider,) = yaml.safe_load(providers_file.read_text())["providers"]
    mounts = {
        volume.split(":")[1]: volume.split(":")[0] for volume in SERVICES["grafana"]["volumes"]
    }
    assert (REPO / mounts[provider["options"]["path"]]).resolve() == DASHBOARD_FILE.parent

    dashboard = json.loads(DASHBOARD_FILE.read_text())
    uids = {
        panel["datasource"]["uid"] for panel in dashboard["panels"] if "datasource" in panel
    } | {t["datasource"]["uid"] for p in dashboard["panels"] for t in p.get("targets", [])}
    assert uids == {datasource["uid"]}
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("expr", _dashboard_exprs())
def test_dashboard_queries_only_exported_metrics(expr: str) -> None:
    exported = _exported_metric_names()
    names = set(METRIC_NAME.findall(expr))
    assert names, f"no logradar metric in {expr!r}"
    for name in names:
        base = next((name.removesuffix(s) for s in SAMPLE_SUFFIXES if name.endswith(s)), name)
        assert base in exported, f"{name} is not exported (known: {sorted(exported)})"
