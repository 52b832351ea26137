"""Which relay serves a camera's viewers: the owner in a relay cluster, else the one relay."""

from __future__ import annotations

from fastapi import HTTPException

from hub.config import CityConfig
from streams.auth.service import bearer_matches, derive_service_token
from streams.cluster.sharding import ShardMap


def relay_bases(config: CityConfig, camera_id: str) -> tuple[str, str]:
    """(HTTP base, RTSP base) of the relay a viewer of ``camera_id`` must use.

    The owner in a cluster, else ``access.relay_http_url``/``relay_rtsp_url``.
    """
    if config.cluster.nodes:
        owner = ShardMap(config.cluster.nodes).owner(camera_id)
        return owner.http_url.rstrip("/"), owner.rtsp_url.rstrip("/")
    return config.access.relay_http_url.rstrip("/"), config.access.relay_rtsp_url.rstrip("/")


def relay_service_headers(config: CityConfig, play_secret: str) -> dict[str, str]:
    """The header that lets the hub read a relay's health and metrics (streams.auth.service)."""
    token = config.streams.service_token
    value = token.get_secret_value() if token else derive_service_token(play_secret)
    return {"Authorization": f"Bearer {value}"}


def service_tokens(config: CityConfig, play_secrets: tuple[str, ...]) -> tuple[str, ...]:
    """Every service token the hub accepts from a relay or Prometheus: the configured one, or
    those derived from the signing key and the keys still accepted in a rotation."""
    token = config.streams.service_token
    if token:
        return (token.get_secret_value(),)
    return tuple(derive_service_token(s) for s in play_secrets)


def require_service_token(config: CityConfig, play_secrets: tuple[str, ...],
                          authorization: str | None) -> None:
    """401 unless ``authorization`` carries a service token (relays, Prometheus)."""
    if not bearer_matches(authorization, service_tokens(config, play_secrets)):
        raise HTTPException(401, "service token required", headers={"WWW-Authenticate": "Bearer"})
