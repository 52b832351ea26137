"""site.yaml: the example validates, mistakes are named by field path, pushes are bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import ConfigError
from edge.config import EdgeConfig, load_edge_config, parse_push

EXAMPLE = Path(__file__).parents[1] / "deploy" / "edge" / "site.example.yaml"


def test_example_validates_and_cameras_inherit_the_site() -> None:
    cfg = load_edge_config(EXAMPLE)
    assert cfg.cameras[0].site == cfg.site.id and cfg.cameras[0].department == "police"
    assert cfg.topic("edge", "status") == "city/police/xinhua-5th/edge/status"


def test_every_field_is_documented() -> None:
    schema = EdgeConfig.model_json_schema()
    models = {"root": schema, **schema.get("$defs", {})}
    models.pop("Location")  # the shared event model's WGS-84 pair (adapters/model.py)
    missing = [f"{model}.{field}" for model, s in models.items()
               for field, prop in s.get("properties", {}).items() if "description" not in prop]
    assert missing == []


def test_errors_name_the_field_path(tmp_path: Path) -> None:
    bad = tmp_path / "site.yaml"
    bad.write_text(EXAMPLE.read_text().replace("fps: 5 ", "fps: -1 ").replace(
        "heartbeat_s: 10", "heartbeat_s: 10\n  hearbeat: 3"))
    with pytest.raises(ConfigError) as err:
        load_edge_config(bad)
    text = str(err.value)
    assert "cameras.0.analytics.fps" in text and "health.hearbeat" in text
    assert "change-me" not in text  # secrets are not echoed


def test_env_gives_the_broker_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYHUB_BROKER__USERNAME", "edge-xinhua-5th")
    monkeypatch.setenv("CITYHUB_BROKER__PASSWORD", "s3cret")
    cfg = load_edge_config(EXAMPLE)
    assert cfg.uplink.broker.password is not None
    assert cfg.uplink.broker.password.get_secret_value() == "s3cret"
    assert "s3cret" not in cfg.model_dump_json()


def test_broker_password_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "broker-password"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("CITYHUB_BROKER__PASSWORD_FILE", str(secret))
    cfg = load_edge_config(EXAMPLE)
    assert cfg.uplink.broker.password is not None
    assert cfg.uplink.broker.password.get_secret_value() == "from-a-file"
    monkeypatch.setenv("CITYHUB_BROKER__PASSWORD_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="PASSWORD_FILE: cannot read"):
        load_edge_config(EXAMPLE)


@pytest.mark.parametrize("payload, reason", [
    (b"\xff\xfe", "not JSON/YAML"),
    (b"[1, 2]", "mapping"),
    (b'{"version": "1", "device": "other-box"}', "device"),
    (b'{"version": "1", "uplink": {"broker": {"url": "mqtt://evil"}}}', "uplink"),
    (b'{"drain_rate": 5}', "version"),
    (b"{" + b" " * (1024 * 1024 + 1) + b"}", "1 MiB"),
])
def test_bad_pushes_are_rejected_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        parse_push(payload)


def test_push_changes_only_what_it_names() -> None:
    cfg = load_edge_config(EXAMPLE)
    new = cfg.with_push(parse_push(b"version: v7\ndrain_rate: 50\ncameras: []\n"))
    assert new.uplink.drain_rate == 50 and new.cameras == []
    assert new.uplink.broker == cfg.uplink.broker and new.site == cfg.site
