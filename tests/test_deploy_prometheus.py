"""deploy/prometheus: scrape targets match the ports the manifests expose; rules parse.

promtool is not packaged for this machine (Debian's prometheus package would start a
server); the checks here are structural, plus every alert's metric must exist in code.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PROM = ROOT / "deploy" / "prometheus"


def test_single_site_targets_match_compose_ports():
    config = yaml.safe_load((PROM / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"][0] for job in config["scrape_configs"]
    }
    assert targets["cityhub-hub"].endswith(":8080")
    assert targets["cityhub-ingest"].endswith(":9108")
    assert targets["cityhub-relay"].endswith(":8889")
    assert config["rule_files"] == ["rules.yml"]


def test_k8s_scrape_keeps_annotated_pods_of_every_component():
    config = yaml.safe_load((PROM / "prometheus-k8s.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["kubernetes_sd_configs"][0]["role"] == "pod"
    keep = job["relabel_configs"][0]
    assert keep["action"] == "keep" and keep["regex"] == "true"
    annotated = set()
    for path in (ROOT / "deploy" / "k8s").rglob("*.yaml"):
        text = path.read_text()
        annotated |= set(re.findall(r'prometheus\.io/port: "(\d+)"', text))
    assert {"8080", "9108", "8889"} <= annotated


def test_alert_rules_use_metrics_that_exist():
    rules = yaml.safe_load((PROM / "rules.yml").read_text())["groups"][0]["rules"]
    assert all({"alert", "expr", "labels", "annotations"} <= set(r) for r in rules)
    source = "\n".join(p.read_text() for p in (ROOT / "hub").rglob("*.py"))
    for rule in rules:
        for metric in re.findall(r"\b(cityhub_[a-z_]+?)(?:_bucket|_total)?\b", rule["expr"]):
            assert metric in source, f"{rule['alert']}: {metric} is exported nowhere"
