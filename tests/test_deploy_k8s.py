"""deploy/k8s: both variants render with kustomize and pass strict Kubernetes schemas.

`kubectl kustomize` (offline) renders each variant; kubernetes-validate checks every
object against the bundled OpenAPI schemas of Kubernetes 1.37 in strict mode (unknown
fields are errors). The rest checks what the schemas cannot: probes, the relay shard
list matching the StatefulSet, broker Service names, no committed Secrets.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from core.programs import require_binary
from hub.config import load_config

K8S = Path(__file__).resolve().parent.parent / "deploy" / "k8s"
KUBE_VERSION = "1.37.0"
VARIANTS = ("mosquitto", "emqx")


def render(variant: str) -> list[dict]:
    kubectl = require_binary("kubectl", "kubectl")
    out = subprocess.run(
        [kubectl, "kustomize", str(K8S / variant)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.fixture(scope="module", params=VARIANTS)
def objects(request) -> list[dict]:
    return render(request.param)


def by_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def test_every_object_passes_strict_schema(objects):
    errors = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message}")
    assert not errors, "\n".join(errors)
    assert all(o["metadata"].get("namespace", "cityhub") == "cityhub" for o in objects)


def test_validator_rejects_a_typo():
    """The strict validator is really checking: a misspelt field fails."""
    bad = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "x"},
        "spec": {"ports": [{"port": 80}], "selectr": {"a": "b"}},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBE_VERSION, strict=True)


def _containers(workload: dict) -> list[dict]:
    return workload["spec"]["template"]["spec"]["containers"]


def test_http_processes_probe_healthz_and_readyz(objects):
    workloads = {**by_kind(objects, "Deployment"), **by_kind(objects, "StatefulSet")}
    for name in ("hub", "ingest", "relay"):
        (container,) = _containers(workloads[name])
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
    for name, workload in workloads.items():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        for c in pod["containers"]:
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert "readinessProbe" in c and "livenessProbe" in c, name
            assert c["resources"]["requests"] and c["resources"]["limits"]["memory"], name


def test_scaling_and_disruption_budgets(objects):
    hpas = {
        h["spec"]["scaleTargetRef"]["name"]: h
        for h in by_kind(objects, "HorizontalPodAutoscaler").values()
    }
    assert set(hpas) == {"hub", "ingest"}  # relays scale with the shard list, not an HPA
    assert by_kind(objects, "Service")["hub"]["spec"]["selector"] == {
        "app.kubernetes.io/component": "hub"
    }
    pdb_targets = {
        p["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
        for p in by_kind(objects, "PodDisruptionBudget").values()
    }
    assert {"hub", "ingest", "relay"} <= pdb_targets
    assert "default-deny-ingress" in by_kind(objects, "NetworkPolicy")


def test_relay_statefulset_matches_the_shard_list(objects, tmp_path):
    (config_map,) = [
        c for n, c in by_kind(objects, "ConfigMap").items() if n.startswith("cityhub-config")
    ]
    (tmp_path / "cityhub.yaml").write_text(config_map["data"]["cityhub.yaml"])
    cfg = load_config(tmp_path / "cityhub.yaml")
    relay = by_kind(objects, "StatefulSet")["relay"]
    replicas = relay["spec"]["replicas"]
    assert [n.id for n in cfg.cluster.nodes] == [f"relay-{i}" for i in range(replicas)]
    env = {e["name"]: e for e in _containers(relay)[0]["env"]}
    assert env["CITYHUB_CLUSTER__NODE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    external = {n for n in by_kind(objects, "Service") if n.endswith("-external")}
    assert external == {f"relay-{i}-external" for i in range(replicas)}


def test_database_primary_replica_and_broker_services(objects):
    services = by_kind(objects, "Service")
    assert {"timescaledb-primary", "timescaledb-replica", "mqtt", "mqtt-tls"} <= set(services)
    assert services["mqtt-tls"]["spec"]["type"] == "LoadBalancer"
    hub_env = {e["name"] for e in _containers(by_kind(objects, "Deployment")["hub"])[0]["env"]}
    assert {
        "CITYHUB_DATABASE__URL",
        "CITYHUB_DATABASE__READ_URL",
        "CITYHUB_HUB__SECRET_KEY",
    } <= hub_env
    assert "Secret" not in {o["kind"] for o in objects}  # created by the operator, never committed
    assert (
        by_kind(objects, "Job")["cityhub-migrate"]["spec"]["template"]["spec"]["containers"][0][
            "args"
        ][-1]
        == "upgrade"
    )


def test_emqx_variant_is_a_cluster():
    emqx = by_kind(render("emqx"), "StatefulSet")["emqx"]
    assert emqx["spec"]["replicas"] >= 3
    assert "mosquitto" not in by_kind(render("emqx"), "StatefulSet")


def test_mosquitto_conf_copy_is_identical():
    assert (K8S / "mosquitto" / "mosquitto.conf").read_text() == (
        K8S.parent / "mosquitto" / "mosquitto.conf"
    ).read_text()
