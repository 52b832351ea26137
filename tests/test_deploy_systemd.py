"""deploy/systemd/*.service (edge, hub, ingest, relay): clean `systemd-analyze verify`,
low exposure score, secrets only as systemd credentials."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.programs import require_binary

SYSTEMD = Path(__file__).resolve().parent.parent / "deploy" / "systemd"
UNIT = SYSTEMD / "cityhub-edge.service"
UNITS = sorted(p.name for p in SYSTEMD.glob("*.service"))


@pytest.fixture(params=UNITS)
def unit(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """Each unit with ExecStart pointed at this venv's cityhub (verify checks it exists); a
    template (the relay's) as its first instance."""
    cityhub = Path(sys.executable).parent / "cityhub"
    assert cityhub.exists(), "install the project: .venv/bin/pip install -e '.[dev]'"
    path = tmp_path / request.param.replace("@.", "@1.")
    path.write_text((SYSTEMD / request.param).read_text().replace(
        "/opt/cityhub/bin/cityhub", str(cityhub)))
    return path


def test_every_process_has_a_unit():
    assert UNITS == [f"cityhub-{p}.service" for p in ("edge", "hub", "ingest", "relay@")]


def test_the_relay_runs_as_two_instances_one_standing_by():
    text = (SYSTEMD / "cityhub-relay@.service").read_text()
    assert "relay --config /etc/cityhub/cityhub.yaml --standby" in text
    assert "enable --now cityhub-hub cityhub-ingest cityhub-relay@1 cityhub-relay@2" in (
        SYSTEMD / "README.md").read_text()


@pytest.mark.parametrize("name", UNITS)
def test_secrets_come_only_as_credentials(name):
    """No secret in an Environment= line: each setting holding one is read from a file in
    $CREDENTIALS_DIRECTORY (%d), or the box's site file is itself a credential."""
    lines = (SYSTEMD / name).read_text().splitlines()
    env = [x.split("=", 1)[1] for x in lines if x.startswith("Environment=")]
    for assignment in env:
        key, _, value = assignment.partition("=")
        if any(w in key for w in ("PASSWORD", "SECRET", "_KEY", "DATABASE__URL")):
            assert key.endswith("_FILE") and value.startswith("%d/"), assignment
    loaded = {x.split("=", 1)[1].split(":", 1)[0] for x in lines if x.startswith("LoadCredential=")}
    for assignment in env:
        if assignment.partition("=")[2].startswith("%d/"):
            assert assignment.partition("=")[2][3:] in loaded, assignment
    assert "NoNewPrivileges=yes" in lines and "ProtectSystem=strict" in lines
    assert "DynamicUser=yes" in lines or "User=cityhub-relay" in lines


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    binary = require_binary("systemd-analyze", "systemd")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60)


def test_unit_verifies_without_warnings(unit):
    out = analyze("verify", str(unit))
    assert out.returncode == 0 and out.stderr.strip() == "", out.stderr


def test_verify_reports_a_misspelt_directive(unit, tmp_path):
    bad = tmp_path / f"bad-{unit.name}"
    bad.write_text(unit.read_text().replace("NoNewPrivileges=", "NoNewPrivilegs="))
    assert "Unknown key" in analyze("verify", str(bad)).stderr


def test_hardening_exposure_is_low(unit, tmp_path):
    ok = analyze("security", "--offline=true", "--threshold=25", str(unit))
    assert ok.returncode == 0, ok.stdout[-2000:]
    assert "Overall exposure level" in ok.stdout
    bare = tmp_path / "bare.service"
    bare.write_text(f"[Service]\nExecStart={Path(sys.executable).parent / 'cityhub'} edge\n")
    assert analyze("security", "--offline=true", "--threshold=25", str(bare)).returncode != 0


def test_unit_keeps_what_an_edge_box_needs():
    text = UNIT.read_text()
    for line in (
        "Restart=always",
        "DynamicUser=yes",
        "StateDirectory=cityhub-edge",
        "LoadCredential=site.yaml:/etc/cityhub/site.yaml",
        "WantedBy=multi-user.target",
    ):
        assert line in text.splitlines(), line
