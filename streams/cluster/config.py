"""The ``cluster`` config section: the relay nodes that share the city's cameras."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.model import Ident


class RelayNode(BaseModel):
    """One relay process (a StatefulSet pod, or a relay on a single box)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Ident = Field(description="Stable node id, e.g. the pod name 'relay-0'. Hashed for shards.")
    rtsp_url: str = Field(
        description="Base RTSP URL viewers and recorders use, e.g. rtsp://relay-0.relay:8554.",
        pattern=r"^rtsps?://[^/\s]+/?$",
    )
    http_url: str = Field(
        description="Base HTTP URL for WHEP and snapshots, e.g. http://relay-0.relay:8889.",
        pattern=r"^https?://[^/\s]+/?$",
    )
    weight: float = Field(
        1.0, gt=0, le=100, description="Relative share of cameras (2.0: twice the cameras)."
    )


class ClusterConfig(BaseModel):
    """Relay nodes. Empty: one relay owns every camera (single box)."""

    model_config = ConfigDict(extra="forbid")

    node_id: Ident | None = Field(
        None,
        description="Which node this relay process is (CITYHUB_CLUSTER__NODE_ID; in Kubernetes "
        "the pod name). Unset on a single box.",
    )
    nodes: list[RelayNode] = Field(
        default_factory=list,
        description="Every relay node city-wide. Each camera is owned by exactly one of them "
        "(rendezvous hashing): adding or removing a node moves only that node's share.",
    )

    @model_validator(mode="after")
    def _ids_unique_and_self_listed(self) -> ClusterConfig:
        ids = [n.id for n in self.nodes]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"nodes: duplicate node ids {dupes}")
        if self.node_id is not None and self.nodes and self.node_id not in ids:
            raise ValueError(f"node_id {self.node_id!r} is not in nodes {ids}")
        return self
