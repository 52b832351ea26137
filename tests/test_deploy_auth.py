"""Production set-ups authenticate every service: static checks of the shipped configs and a
real PostgreSQL that asks SCRAM. (The broker's ACLs run on a real Mosquitto in
test_deploy_broker_acl.py and test_deploy_compose.py; the systemd units in
test_deploy_systemd.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg.conninfo import make_conninfo

from devkit.embedded.postgres import EmbeddedPostgres
from hub.store.scalar import scalar

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
SECRET_WORDS = ("PASSWORD", "SECRET", "_KEY", "DATABASE__URL", "READ_URL", "COOKIE")


def _directives(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.strip().partition(" ")
            out.setdefault(key, []).append(value.strip())
    return out


@pytest.mark.parametrize("conf", ["mosquitto/mosquitto.conf", "k8s/mosquitto/mosquitto.conf"])
def test_broker_refuses_anonymous_and_applies_acls(conf):
    d = _directives(DEPLOY / conf)
    assert d["allow_anonymous"] == ["false"] and d["per_listener_settings"] == ["false"]
    assert d["password_file"] and d["acl_file"]
    assert "8883" in d["listener"] and d["certfile"] and d["keyfile"] and d["cafile"]


def _k8s_docs() -> list[dict]:
    docs = []
    for path in (DEPLOY / "k8s").rglob("*.yaml"):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    return docs


def _containers(doc: dict) -> list[dict]:
    spec = doc.get("spec", {})
    pod = spec.get("template", {}).get("spec") or spec.get("jobTemplate", {}).get(
        "spec", {}).get("template", {}).get("spec") or {}
    return list(pod.get("containers", [])) + list(pod.get("initContainers", []))


def test_postgres_asks_scram_everywhere():
    compose = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    db = compose["services"]["timescaledb"]
    assert db["environment"]["POSTGRES_HOST_AUTH_METHOD"] == "scram-sha-256"
    assert "password_encryption=scram-sha-256" in db["command"]
    assert db["environment"]["POSTGRES_PASSWORD_FILE"].startswith("/run/secrets/")
    primaries = [c for d in _k8s_docs() if d.get("metadata", {}).get("name") ==
                 "timescaledb-primary" and d["kind"] == "StatefulSet" for c in _containers(d)]
    assert primaries
    for c in primaries:
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert env["POSTGRES_HOST_AUTH_METHOD"] == "scram-sha-256"
        assert "password_encryption=scram-sha-256" in c["args"]
    init = (DEPLOY / "k8s" / "base" / "timescaledb-init.sh").read_text()
    assert "trust" not in init and " md5" not in init


def test_compose_holds_no_secret_only_references():
    compose = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    for name, svc in compose["services"].items():
        env = svc.get("environment", {})
        assert "env_file" not in svc, name  # environments leak (docker inspect)
        for key, value in env.items():
            if any(w in key for w in SECRET_WORDS):
                assert key.endswith("_FILE") and str(value).startswith("/run/secrets/"), (
                    name, key)
                assert Path(value).name in svc["secrets"], (name, key)
    assert all(set(s) == {"file"} and s["file"].startswith("./secrets/")
               for s in compose["secrets"].values())
    assert "secrets/" in (DEPLOY / ".gitignore").read_text()
    assert "=" not in "".join(line for line in (DEPLOY / "compose" / ".env.example")
                              .read_text().splitlines() if any(w in line for w in SECRET_WORDS)
                              and not line.startswith("#"))


def test_kubernetes_holds_no_secret_only_references():
    docs = _k8s_docs()
    assert not [d for d in docs if d.get("kind") == "Secret"], "Secrets are created, not committed"
    checked = 0
    for doc in docs:
        for c in _containers(doc):
            for e in c.get("env", []):
                if any(w in e["name"] for w in SECRET_WORDS) and not e["name"].startswith(
                        "POSTGRES_HOST_AUTH"):
                    assert "value" not in e and "secretKeyRef" in e["valueFrom"], e
                    checked += 1
    assert checked >= 10


def test_production_configs_name_no_camera_password():
    for path in [DEPLOY / "compose" / "cityhub.yaml", DEPLOY / "k8s" / "base" / "cityhub.yaml"]:
        cameras = yaml.safe_load(path.read_text()).get("cameras") or []
        for cam in cameras:
            assert "password" not in cam and "@" not in cam["url"], (path, cam["id"])
            assert cam["credentials_file"].startswith("/run/secrets/"), (path, cam["id"])


@pytest.fixture
def scram_pg(tmp_path: Path):
    """A cluster whose network logins need SCRAM, as in production (the superuser keeps
    its loopback trust only so that the test can set it up)."""
    pg = EmbeddedPostgres(tmp_path / "pg")
    pg.start()
    try:
        (pg.data / "pg_hba.conf").write_text(
            "local all all trust\n"
            f"host all {pg.user} 127.0.0.1/32 trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET password_encryption = 'scram-sha-256'")
            conn.execute("SELECT pg_reload_conf()")
        yield pg
    finally:
        pg.stop()


def test_db_upgrade_gives_the_api_role_its_scram_password(scram_pg, tmp_path: Path):
    owner = scram_pg.dsn
    api = psycopg.conninfo.make_conninfo(owner, user="cityhub_api")
    secret = tmp_path / "api-role-password"
    secret.write_text("Api-Role-Pass-0123456789\n")
    env = {**os.environ, "CITYHUB_DATABASE__URL": owner,
           "CITYHUB_ACCESS__API_ROLE_PASSWORD_FILE": str(secret)}
    env.pop("CITYHUB_ACCESS__API_ROLE_PASSWORD", None)
    done = subprocess.run([sys.executable, "-m", "hub", "db", "upgrade"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with psycopg.connect(owner) as conn:
        stored = scalar(
            conn,
            "SELECT rolpassword FROM pg_authid WHERE rolname = 'cityhub_api'")
    assert stored.startswith("SCRAM-SHA-256$") and "Api-Role-Pass" not in stored
    assert "Api-Role-Pass" not in scram_pg.log.read_text()
    with psycopg.connect(api, password="Api-Role-Pass-0123456789") as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("cityhub_api",)
    for wrong in ({}, {"password": "not-it"}):
        with pytest.raises(psycopg.OperationalError, match="password authentication failed|no "
                           "password supplied"):
            psycopg.connect(make_conninfo(api, **wrong))
