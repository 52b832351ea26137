"""Which relay node pulls a camera: rendezvous (highest random weight) hashing.

Every node scores every camera with a hash of ``(node id, camera id)``; the
highest score owns the camera. All processes compute the same answer from
the same node list with no coordination, so each camera has exactly one
upstream connection city-wide and any node (or the hub) can send a viewer to
the owner. Adding a node moves only the cameras it now wins (about 1/N);
removing one moves only the cameras it owned. Weights use the logarithmic
method (Schindelhauer & Schomaker) so a node of weight 2 gets twice the share.

The hash is BLAKE2b, not Python's ``hash()``, which is salted per process.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

from streams.cluster.config import RelayNode

_SCALE = float(2**64)


def _unit_hash(node_id: str, camera_id: str) -> float:
    """A value uniform in (0, 1), stable across processes and machines."""
    digest = hashlib.blake2b(
        f"{node_id}\x00{camera_id}".encode(), digest_size=8, person=b"cityhub-hrw"
    ).digest()
    return (int.from_bytes(digest, "big") + 0.5) / _SCALE


def score(node: RelayNode, camera_id: str) -> float:
    """Weighted rendezvous score; the highest wins."""
    return -node.weight / math.log(_unit_hash(node.id, camera_id))


def ranking(camera_id: str, nodes: Sequence[RelayNode]) -> list[RelayNode]:
    """Nodes from owner to last resort (ties broken by node id, never by order)."""
    if not nodes:
        raise ValueError("no relay nodes configured")
    return sorted(nodes, key=lambda n: (-score(n, camera_id), n.id))


def owner(camera_id: str, nodes: Sequence[RelayNode]) -> RelayNode:
    """The one node that pulls ``camera_id`` from upstream."""
    return ranking(camera_id, nodes)[0]


class ShardMap:
    """The cluster as seen by one process: who owns what, and where viewers go."""

    def __init__(self, nodes: Sequence[RelayNode], self_id: str | None = None) -> None:
        if not nodes:
            raise ValueError("no relay nodes configured")
        if self_id is not None and self_id not in {n.id for n in nodes}:
            raise ValueError(f"node {self_id!r} is not among the relay nodes")
        self.nodes = list(nodes)
        self.self_id = self_id

    def owner(self, camera_id: str) -> RelayNode:
        return owner(camera_id, self.nodes)

    def is_mine(self, camera_id: str) -> bool:
        """True if this process must pull ``camera_id`` (always true without ``self_id``)."""
        return self.self_id is None or self.owner(camera_id).id == self.self_id
