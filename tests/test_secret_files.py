"""Secrets stay with their owner: the demo's files are 0600 in a 0700 directory, `config
check` warns about a secret file others can read, and no server signs with a known key."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import yaml

from core.files import exposed, write_private
from devkit.demo.runner import demo_config


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_demo_keeps_its_secrets_private(tmp_path: Path) -> None:
    state = tmp_path / "demo"
    state.mkdir(mode=0o755)
    cfg = demo_config(state, "rtsp://127.0.0.1:1")
    assert _mode(state) == 0o700
    for name in ("city.yaml", "secret_key"):
        assert _mode(state / name) == 0o600, name
    secret = cfg.hub.secret_key.get_secret_value()
    assert len(secret) >= 32 and secret == (state / "secret_key").read_text().strip()
    # A second start keeps the key and the modes, even if someone loosened them.
    (state / "city.yaml").chmod(0o644)
    assert demo_config(state, "rtsp://127.0.0.1:1").hub.secret_key.get_secret_value() == secret
    assert _mode(state / "city.yaml") == 0o600


def test_write_private_never_leaves_a_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "new" / "key"
    write_private(path, "x")
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700 and not exposed(path)


def _cityhub(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hub", *args], capture_output=True, text=True,
                          timeout=60, env=env)


def test_config_check_warns_about_an_exposed_secret_file(tmp_path: Path) -> None:
    path = tmp_path / "city.yaml"
    path.write_text(yaml.safe_dump({"hub": {"secret_key": "k" * 40}}))
    path.chmod(0o644)
    loose = _cityhub("config", "check", str(path))
    assert loose.returncode == 0 and "readable by other users" in loose.stderr
    assert "k" * 40 not in loose.stdout + loose.stderr
    path.chmod(0o600)
    tight = _cityhub("config", "check", str(path))
    assert tight.returncode == 0 and "readable" not in tight.stderr


def test_no_server_starts_with_the_default_or_a_short_key(tmp_path: Path) -> None:
    for key in (None, "short-key"):
        path = tmp_path / f"{key}.yaml"
        write_private(path, yaml.safe_dump({"hub": {"secret_key": key}} if key else {}))
        for command in (["hub", "--config", str(path), "--dsn", "postgresql://127.0.0.1:1/none",
                         "serve", "--port", "0"],
                        ["relay", "--config", str(path)]):
            run = _cityhub(*command)
            assert run.returncode == 2, (command, run.stderr)
            assert "refusing to start" in run.stderr


def test_config_check_warns_when_the_relay_cannot_ask_the_hub(tmp_path: Path) -> None:
    """Without streams.hub_url a revocation would not end live views: say so."""
    path = tmp_path / "city.yaml"
    base = {"hub": {"secret_key": "k" * 40}}
    write_private(path, yaml.safe_dump(base))
    assert "streams.hub_url is not set" in _cityhub("config", "check", str(path)).stderr
    write_private(path, yaml.safe_dump({**base, "streams": {"hub_url": "http://127.0.0.1:8080"}}))
    assert "hub_url" not in _cityhub("config", "check", str(path)).stderr
