"""deploy/cityhub.example.yaml validates and shows every section of the config model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from hub.config import CityConfig, load_config
from streams.cluster.sharding import ShardMap

EXAMPLE = Path(__file__).resolve().parent.parent / "deploy" / "cityhub.example.yaml"


def test_example_passes_config_check():
    out = subprocess.run(
        [sys.executable, "-c", "from hub.cli import main; main()", "config", "check", str(EXAMPLE)],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "ok (5 departments, 3 sites, 2 cameras, 1 sensors)" in out.stdout


def test_example_documents_every_section():
    """A new config section must be shown (and explained) in the example too."""
    shown = set(yaml.safe_load(EXAMPLE.read_text()))
    missing = set(CityConfig.model_fields) - shown
    assert not missing, f"add {sorted(missing)} to deploy/cityhub.example.yaml"


def test_example_cluster_shards_its_cameras():
    cfg = load_config(EXAMPLE)
    shards = ShardMap(cfg.cluster.nodes)
    owners = {c.id: shards.owner(c.id).id for c in cfg.cameras}
    assert set(owners) == {c.id for c in cfg.cameras}
    assert set(owners.values()) <= {n.id for n in cfg.cluster.nodes}
