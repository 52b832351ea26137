"""An edge box installs ``cityhub[edge]`` alone: no FastAPI, no psycopg, no Alembic, and it runs.

A copy of the working tree is installed (not editable) into a new virtual environment that
sees the distribution's PyGObject (``--system-site-packages``, as deploy/setup does), then the
agent from that environment publishes its heartbeat to the test broker.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from devkit.fixtures.edge import EdgeProcess, site_yaml

REPO = Path(__file__).resolve().parents[1]
ABSENT = ["fastapi", "psycopg", "alembic", "sqlalchemy"]


def _copy_tree(dest: Path) -> Path:
    """The working tree's files as git sees them (tracked and new, not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO, check=True, capture_output=True,
    ).stdout.decode().split("\0")
    for name in filter(None, listed):
        src = REPO / name
        if src.is_file() and "node_modules" not in src.parts:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def test_edge_extra_installs_without_the_hub_and_its_agent_reaches_the_broker(
    tmp_path: Path, broker, recorder_factory
) -> None:
    src = _copy_tree(tmp_path / "src")
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)],
                   check=True)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"{src}[edge]"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert pip.returncode == 0, pip.stderr[-4000:]

    for module in ABSENT:
        probe = subprocess.run([str(python), "-c", f"import {module}"], env=env,
                               capture_output=True, cwd=tmp_path)
        assert probe.returncode != 0, f"{module} is importable in an edge-only install"
    where = subprocess.run([str(python), "-c", "import edge; print(edge.__file__)"], env=env,
                           capture_output=True, text=True, cwd=tmp_path, check=True)
    assert where.stdout.startswith(str(venv)), "the agent must come from the new environment"

    recorder = recorder_factory(broker.url)
    # the console script, not ``python -m hub``: the working directory must not shadow the install
    command = [str(venv / "bin" / "cityhub")]
    agent = EdgeProcess(site_yaml(tmp_path / "site.yaml", broker.url), command=command)
    agent.start()
    try:
        recorder.wait(lambda r: any(h.get("device") == "box1" for h in r.health), 30,
                      "a heartbeat from the edge-only agent")
    finally:
        agent.stop()
