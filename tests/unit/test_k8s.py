"""ops/k8s: the manifests are valid Kubernetes objects and agree with the code they run.

Built-in kinds (Deployment, Service, ConfigMap, ...) are validated against the Kubernetes
OpenAPI schemas shipped with kubernetes-validate, strictly (an unknown field is an error).
Its schema set has no Prometheus Operator CRDs, and the Kustomization is not an API object:
PodMonitor, PrometheusRule and kustomization.yaml are checked structurally below, and the
PrometheusRule's groups must equal ops/prometheus/rules.yml (which promtool checks).
Where kubectl is installed, `kubectl kustomize` renders the whole set offline and every
rendered built-in object is validated again (kubectl is Debian's kubernetes-client,
installed by .ci/run).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from logradar.rules import load_rules
from logradar.settings import Settings
from tests.conftest import need

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "ops" / "k8s"
KUSTOMIZATION = yaml.safe_load((K8S / "kustomization.yaml").read_text())
KUBERNETES_VERSION = "1.30"  # the oldest minor version still supported upstream
CRD_KINDS = {
    ("monitoring.coreos.com/v1", "PodMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}
IMAGE_USER = 10001  # USER in ops/Dockerfile


def _load(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]


RESOURCES = {name: _load(name) for name in KUSTOMIZATION["resources"]}
OBJECTS = [obj for docs in RESOURCES.values() for obj in docs]


def _one(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [o for o in OBJECTS if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    assert len(found) == 1, f"{kind} {name or ''}: {len(found)} objects"
    return found[0]


DEPLOYMENT = _one("Deployment")
POD = DEPLOYMENT["spec"]["template"]["spec"]
(CONTAINER,) = POD["containers"]
POD_LABELS = DEPLOYMENT["spec"]["template"]["metadata"]["labels"]


def _env_configmap() -> dict[str, str]:
    (ref,) = [e["configMapRef"]["name"] for e in CONTAINER["envFrom"] if "configMapRef" in e]
    return _one("ConfigMap", ref)["data"]


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


# --- the files ---------------------------------------------------------------------------


def test_kustomization_lists_every_manifest() -> None:
    assert KUSTOMIZATION["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert KUSTOMIZATION["kind"] == "Kustomization"
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(KUSTOMIZATION["resources"]) == on_disk
    images = {image["name"] for image in KUSTOMIZATION.get("images", [])}
    assert CONTAINER["image"].split(":")[0] in images


@pytest.mark.parametrize(
    "obj",
    [o for o in OBJECTS if (o["apiVersion"], o["kind"]) not in CRD_KINDS],
    ids=lambda o: f"{o['kind']}/{o['metadata']['name']}",
)
def test_builtin_objects_validate_strictly(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_strict_validation_rejects_an_unknown_field() -> None:
    # The check above would be worthless if the schemas accepted anything.
    broken = yaml.safe_load(yaml.safe_dump(DEPLOYMENT))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_kustomize_renders_valid_objects() -> None:
    kubectl = shutil.which("kubectl")
    need(kubectl is not None, "kubectl not installed (renders ops/k8s with kustomize, offline)")
    assert kubectl is not None
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert len(rendered) == len(OBJECTS)
    namespace = KUSTOMIZATION["namespace"]
    for obj in rendered:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == namespace, obj["metadata"]["name"]
        if (obj["apiVersion"], obj["kind"]) not in CRD_KINDS:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    assert _one("Namespace")["metadata"]["name"] == namespace


# --- settings and rules ------------------------------------------------------------------


def test_configmap_keys_are_valid_settings() -> None:
    data = _env_configmap()
    names = {f"LOGRADAR_{name.upper()}" for name in Settings.model_fields}
    assert set(data) <= names, f"not settings: {sorted(set(data) - names)}"
    Settings(**{k.removeprefix("LOGRADAR_").lower(): v for k, v in data.items()})
    assert data["LOGRADAR_WEB_BIND"] == "0.0.0.0"


def test_rules_configmap_is_mounted_where_logradar_rules_points() -> None:
    path = Path(_env_configmap()["LOGRADAR_RULES"])
    (mount,) = [m for m in CONTAINER["volumeMounts"] if Path(m["mountPath"]) == path.parent]
    (volume,) = [v for v in POD["volumes"] if v["name"] == mount["name"]]
    rules = _one("ConfigMap", volume["configMap"]["name"])["data"]
    assert path.name in rules


def test_rules_configmap_is_the_example_rules_file(tmp_path: Path) -> None:
    (text,) = _one("ConfigMap", "logradar-rules")["data"].values()
    assert text == (REPO / "ops" / "rules.example.yaml").read_text(), (
        "ops/k8s/rules-configmap.yaml differs from ops/rules.example.yaml"
    )
    (tmp_path / "rules.yaml").write_text(text)
    load_rules(str(tmp_path / "rules.yaml"))  # what the worker does at start


def test_data_dir_is_a_writable_volume() -> None:
    data_dir = Path(_env_configmap()["LOGRADAR_DATA_DIR"])
    mounts = {Path(m["mountPath"]): m for m in CONTAINER["volumeMounts"]}
    assert data_dir in mounts and not mounts[data_dir].get("readOnly")
    assert Path("/tmp") in mounts  # the root filesystem is read-only


# --- the workers -------------------------------------------------------------------------


def test_probes_and_port() -> None:
    (port,) = CONTAINER["ports"]
    assert port["containerPort"] == int(_env_configmap()["LOGRADAR_WEB_PORT"])
    assert CONTAINER["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    assert CONTAINER["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert CONTAINER["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert CONTAINER["args"] == ["worker"]


def test_resources_are_bounded() -> None:
    resources = CONTAINER["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert "memory" in resources["limits"]


def test_runs_as_the_image_user_under_the_restricted_pod_security_standard() -> None:
    pod, container = POD["securityContext"], CONTAINER["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == IMAGE_USER and pod["runAsUser"] != 0
    assert pod["seccompProfile"]["type"] == "RuntimeDefault"
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"]["drop"] == ["ALL"]
    assert container["readOnlyRootFilesystem"] is True
    labels = _one("Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_replicas_fit_the_input_partitions() -> None:
    partitions = int(_env_configmap()["LOGRADAR_TOPIC_PARTITIONS"])
    assert 2 <= DEPLOYMENT["spec"]["replicas"] <= partitions
    # Never more pods than replicas during a rollout: a surplus pod would get no partition.
    assert DEPLOYMENT["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 0


def test_selectors_match_the_pods() -> None:
    assert _selects(DEPLOYMENT["spec"]["selector"]["matchLabels"], POD_LABELS)
    service = _one("Service")
    assert _selects(service["spec"]["selector"], POD_LABELS)
    port_names = {p["name"] for p in CONTAINER["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
    assert _selects(_one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"], POD_LABELS)


# --- Prometheus Operator CRDs (structural: not in kubernetes-validate's schemas) ---------


def test_podmonitor_scrapes_the_worker_port_as_job_logradar() -> None:
    monitor = _one("PodMonitor")
    assert set(monitor) == {"apiVersion", "kind", "metadata", "spec"}
    spec = monitor["spec"]
    assert set(spec) <= {"jobLabel", "selector", "podMetricsEndpoints", "namespaceSelector"}
    assert _selects(spec["selector"]["matchLabels"], POD_LABELS)
    # rules.yml selects job="logradar": the job comes from this pod label's value.
    assert POD_LABELS[spec["jobLabel"]] == "logradar"
    port_names = {p["name"] for p in CONTAINER["ports"]}
    (endpoint,) = spec["podMetricsEndpoints"]
    assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout", "honorLabels"}
    assert endpoint["port"] in port_names and endpoint["path"] == "/metrics"


def test_prometheusrule_carries_the_rules_file(tmp_path: Path) -> None:
    rule = _one("PrometheusRule")
    assert set(rule) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(rule["spec"]) == {"groups"}
    rules_file = REPO / "ops" / "prometheus" / "rules.yml"
    assert rule["spec"] == yaml.safe_load(rules_file.read_text()), (
        "ops/k8s/prometheusrule.yaml: copy the `groups` of ops/prometheus/rules.yml"
    )
    promtool = shutil.which("promtool")
    need(promtool is not None, "promtool not installed (Debian package prometheus)")
    assert promtool is not None
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rule["spec"]))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
