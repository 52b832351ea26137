"""cityhub's one configuration model.

A YAML file validated by pydantic: unknown keys are rejected and errors name
the field path. Secrets and URLs may be overridden from the environment with
``CITYHUB_`` and ``__`` between levels, e.g. ``CITYHUB_DATABASE__URL`` or
``CITYHUB_HUB__SECRET_KEY``, or read from a file named by ``CITYHUB_<PATH>_FILE``
(``core.secret_files``). Every field carries a description; ``cityhub
config schema`` prints them as JSON Schema and ``deploy/cityhub.example.yaml``
shows a documented example.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from core.config import (
    BrokerConfig,
    CameraConfig,
    ConfigError,
    DepartmentConfig,
    Section,
    SiteConfig,
    format_errors,
    read_yaml,
)
from core.model import Ident, Location
from core.secret_files import EnvWithFiles
from hub.auth.settings import AccessConfig
from hub.gb28181.config import Gb28181Config
from hub.incidents.settings import IncidentsConfig
from hub.ingest.config import IngestConfig
from hub.ops.config import OpsConfig
from hub.ptz.settings import PtzConfig
from hub.store.settings import StoreConfig
from hub.ui.settings import UiConfig
from streams.cluster.config import ClusterConfig
from streams.config import StreamsConfig


class DatabaseConfig(Section):
    url: SecretStr | None = Field(
        None,
        description="PostgreSQL/TimescaleDB DSN (postgresql://user:pass@host:5432/db). "
        "Unset: an embedded private cluster is started under state_dir (demo, tests).",
    )
    pool_size: int = Field(8, ge=1, le=200, description="Connections in the hub's pool.")
    read_url: SecretStr | None = Field(
        None,
        description="DSN of a streaming read replica for read-only queries (event and reading "
        "search, exports, dashboards), keeping them off the primary. Unset: url.",
    )


class SensorConfig(Section):
    id: Ident = Field(description="Sensor id, unique city-wide.")
    site: Ident = Field(description="Site the sensor belongs to.")
    department: Ident = Field(description="Owning department id.")
    kind: str = Field(description="What it measures, e.g. 'air-quality', 'water-level'.")
    location: Location | None = Field(None, description="Where the sensor is, for the map.")


#: The signing key's shipped default: usable by tests only, refused by every server.
DEFAULT_SECRET = "change-me-demo-only"
MIN_SECRET_CHARS = 32


def weak_secret(secret: str) -> str | None:
    """Why ``secret`` may not sign a real city's tokens, or None when it may."""
    if secret == DEFAULT_SECRET:
        return "hub.secret_key is the shipped default: set CITYHUB_HUB__SECRET_KEY"
    if len(secret) < MIN_SECRET_CHARS:
        return f"hub.secret_key is shorter than {MIN_SECRET_CHARS} characters"
    return None


class HubConfig(Section):
    host: str = Field("127.0.0.1", description="Address the hub's HTTP API and UI listen on.")
    port: int = Field(8080, ge=0, le=65535, description="Port of the API and UI (0: any free).")
    secret_key: SecretStr = Field(
        SecretStr(DEFAULT_SECRET),
        description="Key that signs access and play tokens. Set it from the environment.",
    )
    verify_secret_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Further keys whose access, play and service tokens are still accepted, "
        "never used to sign: the old key after a rotation, or the next key before switching "
        "(deploy/README.md, Security). Set from the environment as a JSON list.",
    )

    @field_validator("verify_secret_keys")
    @classmethod
    def _strong_verify_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        for key in keys:
            if weak := weak_secret(key.get_secret_value()):
                raise ValueError(weak.replace("hub.secret_key", "a verify key"))
        return keys

    def verification_secrets(self) -> tuple[str, ...]:
        """The signing key first, then every key still accepted."""
        keys = [self.secret_key, *self.verify_secret_keys]
        return tuple(dict.fromkeys(k.get_secret_value() for k in keys))


class CityConfig(BaseSettings):
    """Root of cityhub's configuration."""

    model_config = SettingsConfigDict(
        extra="forbid",
        env_prefix="CITYHUB_",
        env_nested_delimiter="__",
        nested_model_default_partial_update=True,
    )

    state_dir: Path = Field(
        Path(".cityhub"), description="Where embedded services and caches keep their files."
    )
    database: DatabaseConfig = Field(default_factory=DatabaseConfig, description="The store.")
    broker: BrokerConfig = Field(default_factory=BrokerConfig, description="The MQTT broker.")
    store: StoreConfig = Field(
        default_factory=StoreConfig, description="Store retention and windows."
    )
    ingest: IngestConfig = Field(default_factory=IngestConfig, description="MQTT ingest workers.")
    hub: HubConfig = Field(default_factory=HubConfig, description="The hub's API and UI.")
    streams: StreamsConfig = Field(
        default_factory=StreamsConfig,
        description="The stream relay (RTSP, WHEP, snapshots, clips).",
    )
    cluster: ClusterConfig = Field(
        default_factory=ClusterConfig, description="Relay nodes and which cameras each owns."
    )
    access: AccessConfig = Field(
        default_factory=AccessConfig, description="API authentication, authorisation and audit."
    )
    ui: UiConfig = Field(default_factory=UiConfig, description="The control-room web UI.")
    incidents: IncidentsConfig = Field(
        default_factory=IncidentsConfig,
        description="Incidents: time limits, escalation steps, the rule and escalation worker.",
    )
    ops: OpsConfig = Field(
        default_factory=OpsConfig, description="What the hub watches for on call (disks, certs)."
    )
    gb28181: Gb28181Config = Field(
        default_factory=Gb28181Config, description="GB/T 28181 SIP service and devices."
    )
    ptz: PtzConfig = Field(
        default_factory=PtzConfig,
        description="PTZ control: controller leases and department priorities.",
    )
    departments: list[DepartmentConfig] = Field(default_factory=list, description="Departments.")
    sites: list[SiteConfig] = Field(default_factory=list, description="Sites (intersections...).")
    cameras: list[CameraConfig] = Field(default_factory=list, description="Cameras.")
    sensors: list[SensorConfig] = Field(default_factory=list, description="Sensors.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over the file so that secrets need not be written in it;
        # CITYHUB_<PATH>_FILE reads a setting from a file (docker secrets, LoadCredential=).
        return (EnvWithFiles(settings_cls), init_settings)

    @model_validator(mode="after")
    def _references_resolve(self) -> CityConfig:
        depts = {d.id for d in self.departments}
        sites = {s.id for s in self.sites}
        problems: list[str] = []
        entries: list[tuple[str, Sequence[CameraConfig | SensorConfig]]] = [
            ("cameras", self.cameras),
            ("sensors", self.sensors),
        ]
        for kind, items in entries:
            seen: set[str] = set()
            for i, item in enumerate(items):
                if item.id in seen:
                    problems.append(f"{kind}.{i}.id: duplicate id {item.id!r}")
                seen.add(item.id)
                if depts and item.department not in depts:
                    problems.append(
                        f"{kind}.{i}.department: unknown department {item.department!r}"
                    )
                if sites and item.site not in sites:
                    problems.append(f"{kind}.{i}.site: unknown site {item.site!r}")
        for i, site in enumerate(self.sites):
            if depts and site.department not in depts:
                problems.append(f"sites.{i}.department: unknown department {site.department!r}")
        for dept in self.ptz.priorities:
            if depts and dept not in depts:
                problems.append(f"ptz.priorities.{dept}: unknown department {dept!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def load_config(path: Path | str | None = None, **overrides: Any) -> CityConfig:
    """Load a YAML file (or only defaults and environment when ``path`` is None)."""
    data = read_yaml(path) if path is not None else {}
    data.update(overrides)
    try:
        return CityConfig(**data)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc)) from exc
