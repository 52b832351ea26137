"""The configuration model rejects what it does not know and names the field path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.config import ConfigError
from devkit.demo.runner import demo_config
from hub.config import load_config


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "city.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


BASE = {
    "departments": [{"id": "police", "name": "Police"}],
    "sites": [{"id": "s1", "name": "Site 1", "department": "police"}],
    "cameras": [
        {
            "id": "c1",
            "name": "Cam",
            "site": "s1",
            "department": "police",
            "system": "safecity",
            "url": "rtsp://user:hunter2@10.0.0.1/ch1",
        }
    ],
}


def test_valid_file_loads(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, BASE))
    assert cfg.cameras[0].id == "c1"
    assert cfg.cameras[0].url.get_secret_value().endswith("/ch1")


def test_unknown_key_is_rejected_with_its_path(tmp_path: Path) -> None:
    bad = {**BASE, "cameras": [{**BASE["cameras"][0], "colour": "red"}]}
    with pytest.raises(ConfigError, match=r"cameras\.0\.colour: Extra inputs are not permitted"):
        load_config(write(tmp_path, bad))


def test_wrong_type_names_the_field(tmp_path: Path) -> None:
    bad = {**BASE, "hub": {"port": "eighty"}}
    with pytest.raises(ConfigError, match=r"hub\.port"):
        load_config(write(tmp_path, bad))


def test_dangling_reference_is_reported(tmp_path: Path) -> None:
    bad = {**BASE, "cameras": [{**BASE["cameras"][0], "site": "nowhere"}]}
    with pytest.raises(ConfigError, match="unknown site 'nowhere'"):
        load_config(write(tmp_path, bad))


def test_environment_overrides_secrets_and_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYHUB_DATABASE__URL", "postgresql://cityhub:s3cret@db:5432/cityhub")
    monkeypatch.setenv("CITYHUB_HUB__SECRET_KEY", "from-env")
    cfg = load_config(write(tmp_path, {**BASE, "hub": {"port": 9000}}))
    assert cfg.database.url is not None and "db:5432" in cfg.database.url.get_secret_value()
    assert cfg.hub.secret_key.get_secret_value() == "from-env"
    assert cfg.hub.port == 9000  # the file's other values stay


def test_secrets_do_not_show_in_dumps(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, BASE))
    for text in (repr(cfg), str(cfg), cfg.model_dump_json()):
        assert "hunter2" not in text


def test_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(path)


def test_demo_city_is_valid(tmp_path: Path) -> None:
    cfg = demo_config(tmp_path, "127.0.0.1:8554")
    systems = {c.system.value for c in cfg.cameras}
    assert {"safecity", "traffic", "citymgmt", "overload", "bus"} <= systems
    assert cfg.sensors and all(c.location for c in cfg.cameras)
