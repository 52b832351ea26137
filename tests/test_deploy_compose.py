"""deploy/compose: validated by docker-compose, its configs by cityhub, its broker config live.

The documented steps are followed in a copy of deploy/: make the private CA and the
broker's certificate, generate broker users, then `docker-compose config` (no engine
needed). The broker part of the stack runs for real: Mosquitto with the committed
mosquitto.conf (paths and ports moved to the test's own), TLS from make-ca.sh.
"""

from __future__ import annotations

import os
import queue
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from core.net import free_port, port_open
from core.programs import require_binary
from devkit.embedded.process import spawn, stop, wait_until
from devkit.fixtures.mqtt_probe import ProbeClient
from edge.config import load_edge_config
from hub.config import load_config

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of deploy/ with TLS material, broker users and secrets made as the README says."""
    root = tmp_path_factory.mktemp("deploy") / "deploy"
    shutil.copytree(
        DEPLOY, root, ignore=shutil.ignore_patterns("tls", "broker", "secrets", ".env")
    )
    shutil.copytree(DEPLOY / "tls", root / "tls")  # the script itself
    compose = root / "compose"
    subprocess.run(
        [str(root / "tls" / "make-ca.sh"), str(compose / "tls"), "broker", "mosquitto"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "hub",
            "broker",
            "users",
            "--config",
            str(compose / "cityhub.yaml"),
            "--out",
            str(compose / "broker"),
        ],
        check=True,
        capture_output=True,
    )
    owners = {"CITYHUB_OWNER": f"{os.getuid()}:{os.getgid()}", "PG_OWNER": f"{os.getuid()}"}
    subprocess.run(
        ["./make-secrets.sh", "secrets"],
        cwd=compose,
        check=True,
        capture_output=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **owners},
    )
    (compose / "secrets" / "camera-xinhua-5th-north").write_text("viewer:Cam-Secret-77\n")
    (compose / "secrets" / "camera-xinhua-5th-north").chmod(0o600)
    return root


def _compose_config(site: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    binary = require_binary("docker-compose", "docker-compose")
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env}
    return subprocess.run(
        [binary, "-f", "compose.yaml", "config"],
        cwd=site / "compose",
        capture_output=True,
        text=True,
        env=clean,
        timeout=60,
    )


def test_compose_file_validates_with_every_service_and_volume(site):
    result = _compose_config(site, {})
    assert result.returncode == 0, result.stderr
    spec = yaml.safe_load(result.stdout)
    services = spec["services"]
    assert set(services) == {
        "timescaledb",
        "mosquitto",
        "migrate",
        "hub",
        "ingest",
        "relay",
        "edge",
        "docker-api",
        "autoheal",
    }
    assert services["timescaledb"]["image"].startswith("timescale/timescaledb:")
    assert {"db-data", "recordings", "outbox", "mqtt-data"} <= set(spec["volumes"])
    published = [p for s in services.values() for p in s.get("ports", [])]
    assert not any(str(p.get("target", p)).startswith("1883") for p in published)  # TLS only
    assert any(str(p.get("target")) == "8883" for p in services["mosquitto"]["ports"])
    assert services["migrate"]["command"][-1] == "upgrade"
    assert services["hub"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["ingest"]["command"][0] == "ingest"
    # hung (not only dead) containers come back: liveness healthchecks + autoheal, which
    # reaches Docker through a proxy that allows listing and restarting only
    for name in ("hub", "ingest", "relay"):
        assert "/healthz" in " ".join(services[name]["healthcheck"]["test"]), name
    for name in ("hub", "ingest", "relay", "mosquitto"):
        assert services[name]["labels"]["autoheal"] == "true", name
    heal, proxy = services["autoheal"], services["docker-api"]
    assert heal["environment"]["DOCKER_SOCK"] == "tcp://docker-api:2375"
    assert "volumes" not in heal  # no Docker socket in autoheal itself
    assert proxy["environment"]["ALLOW_RESTARTS"] == "1" and proxy["environment"]["POST"] == "0"
    assert spec["networks"]["docker-api"]["internal"] is True and "ports" not in proxy
    # each service its own broker identity; every secret a file, none in an environment
    hub_env = services["hub"]["environment"]
    assert hub_env["CITYHUB_BROKER__USERNAME"] == "cityhub-hub"
    assert hub_env["CITYHUB_BROKER__PASSWORD_FILE"] == "/run/secrets/broker-hub"
    for name, secret in spec["secrets"].items():
        path = Path(secret["file"])
        assert path.parent == site / "compose" / "secrets" and path.exists(), name
        assert path.read_text().strip() not in result.stdout, name  # only referenced
        assert path.stat().st_mode & 0o077 == 0, name


def test_make_secrets_keeps_existing_files(site):
    secrets = site / "compose" / "secrets"
    before = {f.name: f.read_text() for f in secrets.iterdir()}
    pg = before["postgres-password"].strip()
    assert before["database-url"].strip() == f"postgresql://cityhub:{pg}@timescaledb:5432/cityhub"
    owners = {"CITYHUB_OWNER": f"{os.getuid()}:{os.getgid()}", "PG_OWNER": f"{os.getuid()}"}
    subprocess.run(["./make-secrets.sh", "secrets"], cwd=site / "compose", check=True,
                   capture_output=True, env={"PATH": os.environ["PATH"], **owners})
    assert {f.name: f.read_text() for f in secrets.iterdir()} == before


def test_compose_configs_validate():
    cfg = load_config(DEPLOY / "compose" / "cityhub.yaml")
    edge = load_edge_config(DEPLOY / "compose" / "site.yaml")
    assert edge.site.id in {s.id for s in cfg.sites}
    assert edge.uplink.broker.url and edge.uplink.broker.url.startswith("mqtts://")
    assert edge.uplink.broker.username == f"edge-{edge.site.id}"


def _creds(site: Path, user: str) -> str:
    env = (site / "compose" / "broker" / "credentials" / f"{user}.env").read_text()
    return dict(line.split("=", 1) for line in env.splitlines())["CITYHUB_BROKER__PASSWORD"]


def test_committed_mosquitto_conf_serves_tls_with_per_device_acls(site, tmp_path):
    """The real mosquitto.conf: anonymous refused, TLS verified against the CA, ACL enforced."""
    binary = require_binary("mosquitto", "mosquitto", ["/usr/sbin/mosquitto"])
    plain, tls = free_port(), free_port()
    conf = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text()
    conf = (
        conf.replace("/mosquitto/config/", f"{site}/compose/")
        .replace("/mosquitto/data/", f"{tmp_path}/")
        .replace("listener 1883", f"listener {plain} 127.0.0.1")
        .replace("listener 8883", f"listener {tls} 127.0.0.1")
    )
    if os.geteuid() == 0:
        conf = "user root\n" + conf
    (tmp_path / "m.conf").write_text(conf)
    proc = spawn([binary, "-c", str(tmp_path / "m.conf")], tmp_path / "m.log")
    try:
        wait_until(
            lambda: port_open(plain) and port_open(tls), proc, "mosquitto", tmp_path / "m.log"
        )
        ca = site / "compose" / "tls" / "ca.crt"
        ingest = ProbeClient(plain, "cityhub-ingest", _creds(site, "cityhub-ingest"))
        assert not ingest.connect_rc.is_failure, ingest.connect_rc
        assert not ingest.subscribe("$share/cityhub-ingest/city/#").is_failure
        edge = ProbeClient(tls, "edge-xinhua-5th", _creds(site, "edge-xinhua-5th"), ca=ca)
        assert not edge.connect_rc.is_failure, edge.connect_rc
        assert not edge.publish("city/traffic/xinhua-5th/edge/health", b"ok").is_failure
        assert ingest.received() == ("city/traffic/xinhua-5th/edge/health", b"ok")
        assert edge.publish("city/police/other/edge/health", b"forged").is_failure
        assert ingest.received(timeout=0.5) is None
        for c in (edge, ingest):
            c.close()
        # anonymous and TLS without the city's CA are both refused
        anon = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        rcs: queue.Queue = queue.Queue()
        anon.on_connect = lambda cl, u, f, rc, p: rcs.put(rc)
        anon.connect("127.0.0.1", plain)
        anon.loop_start()
        assert rcs.get(timeout=5).is_failure
        anon.loop_stop()
        untrusted = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        untrusted.tls_set(cert_reqs=ssl.CERT_REQUIRED)  # system CAs only
        with pytest.raises(ssl.SSLCertVerificationError):
            untrusted.connect("127.0.0.1", tls)
    finally:
        stop(proc)


def test_make_ca_issues_a_verifiable_broker_certificate(site):
    tls = site / "compose" / "tls"
    out = subprocess.run(
        ["openssl", "verify", "-CAfile", str(tls / "ca.crt"), str(tls / "broker.crt")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    text = subprocess.run(
        ["openssl", "x509", "-in", str(tls / "broker.crt"), "-noout", "-text"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "DNS:mosquitto" in text and "IP Address:127.0.0.1" in text
    assert (tls / "ca.key").stat().st_mode & 0o077 == 0
