"""deploy/systemd/cityhub-edge.service: clean `systemd-analyze verify`, low exposure score."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.programs import require_binary

UNIT = Path(__file__).resolve().parent.parent / "deploy" / "systemd" / "cityhub-edge.service"


@pytest.fixture
def unit(tmp_path: Path) -> Path:
    """The unit with ExecStart pointed at this venv's cityhub (verify checks it exists)."""
    cityhub = Path(sys.executable).parent / "cityhub"
    assert cityhub.exists(), "install the project: .venv/bin/pip install -e '.[dev]'"
    path = tmp_path / "cityhub-edge.service"
    path.write_text(UNIT.read_text().replace("/opt/cityhub/bin/cityhub", str(cityhub)))
    return path


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    binary = require_binary("systemd-analyze", "systemd")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60)


def test_unit_verifies_without_warnings(unit):
    out = analyze("verify", str(unit))
    assert out.returncode == 0 and out.stderr.strip() == "", out.stderr


def test_verify_reports_a_misspelt_directive(unit, tmp_path):
    bad = tmp_path / "bad-edge.service"
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
