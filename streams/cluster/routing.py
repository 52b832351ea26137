"""Routing in a relay cluster: which cameras a relay pulls, where viewers go.

``shard_relay`` gives a relay process its cameras and an HTTP wrapper
(the hub's ``hub.relays.relay_bases`` finds a camera's owner for viewers).


``OwnerRedirect`` is an ASGI middleware in front of the relay's HTTP app: a request naming a camera
that another node owns (WHEP offer, snapshot, clip, per-camera health) gets
``307 Temporary Redirect`` to the same path and query on the owner, so a POST
keeps its method and body (WHEP players follow it). This node never opens the
camera itself, which keeps one upstream connection per camera city-wide.
Cameras unknown to the city pass through (the app answers 404).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from core.config import CameraConfig
from streams.cluster.config import ClusterConfig
from streams.cluster.sharding import ShardMap

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Relay paths that name a camera (group 1), as served by streams/http/app.py.
CAMERA_PATHS = (
    re.compile(r"^/whep/([^/]+)$"),
    re.compile(r"^/([^/]+)/whep$"),
    re.compile(r"^/snapshot/([^/]+)\.jpg$"),
    re.compile(r"^/clips/([^/]+)(?:/[^/]+)?$"),
    re.compile(r"^/health/([^/]+)$"),
)


def camera_in_path(path: str) -> str | None:
    for pattern in CAMERA_PATHS:
        match = pattern.match(path)
        if match:
            return match.group(1)
    return None


class OwnerRedirect:
    """Redirects requests for cameras this node does not own (``shards.self_id``)."""

    def __init__(self, app: ASGIApp, shards: ShardMap, city_cameras: set[str]) -> None:
        self.app = app
        self.shards = shards
        self.city_cameras = city_cameras

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            camera = camera_in_path(scope["path"])
            if camera in self.city_cameras and not self.shards.is_mine(camera):
                owner = self.shards.owner(camera)
                query = scope.get("query_string", b"").decode("latin-1")
                location = owner.http_url.rstrip("/") + scope["path"]
                location += f"?{query}" if query else ""
                await send(
                    {
                        "type": "http.response.start",
                        "status": 307,
                        "headers": [
                            (b"location", location.encode("latin-1")),
                            (b"x-cityhub-relay-owner", owner.id.encode()),
                            (b"content-length", b"0"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
        await self.app(scope, receive, send)


def shard_relay(
    cluster: ClusterConfig, cameras: Sequence[CameraConfig]
) -> tuple[list[CameraConfig], Callable[[ASGIApp], ASGIApp]]:
    """The cameras this relay process pulls, and the wrapper for its HTTP app.

    Without ``cluster.nodes`` (one box): every camera, app unchanged. With them,
    ``cluster.node_id`` must name this process; it pulls only the cameras it owns
    and redirects requests for the others to their owners.
    """
    if not cluster.nodes:
        return list(cameras), lambda app: app
    if cluster.node_id is None:
        raise ValueError(
            "cluster.nodes is set: give this relay its node id "
            "(cluster.node_id or CITYHUB_CLUSTER__NODE_ID)"
        )
    shards = ShardMap(cluster.nodes, cluster.node_id)
    city = {c.id for c in cameras}
    mine = [c for c in cameras if shards.is_mine(c.id)]
    return mine, lambda app: OwnerRedirect(app, shards, city)
