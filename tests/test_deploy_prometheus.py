"""deploy/prometheus: scrape targets match the ports the manifests expose; promtool checks
the configuration and runs the alert rules' unit tests (rules.test.yml); every alert's metric
is exported by cityhub, and the hub's /metrics really carries the ops gauges the rules need.

Debian's promtool (package ``prometheus``) is built without Kubernetes service discovery, so
prometheus-k8s.yml is checked structurally only.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client.parser import text_string_to_metric_families

from core.programs import require_binary
from devkit.fixtures.hubapi import HubApi, build_hub
from hub.relays import relay_service_headers

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
    source = "\n".join(
        p.read_text() for pkg in ("hub", "streams") for p in (ROOT / pkg).rglob("*.py")
    )
    for rule in rules:
        for metric in re.findall(r"\b(cityhub_[a-z_]+?)(?:_bucket|_total)?\b", rule["expr"]):
            assert metric in source, f"{rule['alert']}: {metric} is exported nowhere"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = require_binary("promtool", "prometheus")
    return subprocess.run(
        [promtool, *args], cwd=PROM, capture_output=True, text=True, timeout=60, check=False
    )


SECRET = "/etc/prometheus/secrets/relay-service-token"


@pytest.mark.parametrize("name", ["prometheus.yml", "prometheus-k8s.yml"])
def test_every_cityhub_job_sends_the_service_token(name):
    """The hub's and the relays' metrics answer the service token only."""
    jobs = yaml.safe_load((PROM / name).read_text())["scrape_configs"]
    assert all(j.get("authorization", {}).get("credentials_file") == SECRET
               for j in jobs if j["job_name"] != "cityhub-ingest"), name


def test_promtool_checks_the_single_site_config_and_its_rules(tmp_path):
    # The service token is a secret mounted at run time: give promtool one to stat. (Debian's
    # promtool lacks Kubernetes discovery, so the k8s file is checked above only.)
    site = tmp_path / "prometheus"
    shutil.copytree(PROM, site)
    (tmp_path / "token").write_text("t" * 64)
    config = site / "prometheus.yml"
    config.write_text(config.read_text().replace(SECRET, str(tmp_path / "token")))
    out = _promtool("check", "config", str(config))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_promtool_alert_rule_unit_tests_pass():
    out = _promtool("test", "rules", "rules.test.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_every_required_alert_is_unit_tested():
    """Camera offline, ingest lag, dead letters, disk, audit, certificates, recordings: each
    has a test."""
    tests = yaml.safe_load((PROM / "rules.test.yml").read_text())
    tested = {
        case["alertname"]
        for group in tests["tests"]
        for case in group["alert_rule_test"]
        if case.get("exp_alerts")
    }
    required = {
        "CityhubCameraOffline",
        "CityhubIngestLagging",
        "CityhubDeadLettersGrowing",
        "CityhubDiskNearlyFull",
        "CityhubAuditVerificationFailed",
        "CityhubCertificateExpiresSoon",
        "CityhubRecordingStopped",
        "CityhubRecordingFailing",
        "CityhubRecordingStorageUnavailable",
        "CityhubRecordingDiskNearlyFull",
        "CityhubRecordingDeletingForSpace",
    }
    assert required <= tested


def _certificate(path: Path, days: int) -> datetime:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "broker.test")])
    now = datetime.now(UTC).replace(microsecond=0)
    not_after = now + timedelta(days=days)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return not_after


def _samples(hub: HubApi) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    assert hub.client.get("/metrics").status_code == 401  # paths of disks and certificates
    service = relay_service_headers(hub.config, hub.runtime.play_secret)
    r = hub.client.get("/metrics", headers=service)
    assert r.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def test_every_alert_has_a_runbook_entry_and_every_entry_an_alert():
    """deploy/RUNBOOK.md: one section per alert, under its name, in Chinese and English."""
    rules = yaml.safe_load((PROM / "rules.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    text = (ROOT / "deploy" / "RUNBOOK.md").read_text()
    sections = re.split(r"^### ", text, flags=re.M)[1:]
    entries = {s.split("\n", 1)[0].strip(): s for s in sections}
    assert set(entries) == alerts
    for name, body in entries.items():
        for part in ("- 含义", "- 先查", "- 处理", "- Meaning:", "- Check", "- Do:"):
            assert part in body, (name, part)


def test_hub_exports_disk_certificate_and_audit_gauges(pg_dsn: str, tmp_path: Path):
    cert = tmp_path / "broker.crt"
    not_after = _certificate(cert, days=10)
    hub = build_hub(pg_dsn, tmp_path / "state", departments=["police"])
    hub.config.ops.watch_certificates = [cert, tmp_path / "missing.crt"]
    hub.config.ops.watch_disks = [tmp_path]
    hub.config.ops.audit_verify_every_s = 0  # run by hand below
    from hub.api.app import create_app
    from hub.ops.metrics import AuditVerifier

    app = create_app(hub.config, hub.runtime)
    hub.client = type(hub.client)(app)
    with hub.client:
        hub.headers("police")  # a login: one audit entry
        samples = _samples(hub)
        assert samples[("cityhub_tls_cert_not_after_seconds", (("path", str(cert)),))] == (
            not_after.timestamp()
        )
        assert (
            samples[("cityhub_tls_cert_readable", (("path", str(tmp_path / "missing.crt")),))] == 0
        )
        assert samples[("cityhub_disk_free_bytes", (("path", str(tmp_path)),))] > 0
        assert ("cityhub_audit_verify_ok", ()) not in samples  # never verified: absent
        verifier: AuditVerifier = app.state.audit_verifier
        verifier.run_once()
        assert _samples(hub)[("cityhub_audit_verify_ok", ())] == 1
        with hub.owner() as conn:
            conn.execute('UPDATE audit_log SET detail = \'{"purpose": "nothing"}\'')
        verifier.run_once()
        samples = _samples(hub)
        assert samples[("cityhub_audit_verify_ok", ())] == 0
        assert samples[("cityhub_audit_entries", ())] >= 1
    hub.runtime.close()
