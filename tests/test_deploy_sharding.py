"""Relay sharding (streams.cluster.sharding): one owner per camera, minimal movement."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import ConfigError
from hub.config import load_config
from streams.cluster.config import ClusterConfig, RelayNode
from streams.cluster.sharding import ShardMap, owner, ranking


def node(i: int | str, weight: float = 1.0) -> RelayNode:
    return RelayNode(
        id=f"relay-{i}",
        rtsp_url=f"rtsp://relay-{i}.relay:8554",
        http_url=f"http://relay-{i}.relay:8889",
        weight=weight,
    )


CAMERAS = [f"cam-{i:05d}" for i in range(6000)]


def assign(camera_ids: list[str], nodes: list[RelayNode]) -> dict[str, list[str]]:
    """Cameras per node id (every node present, possibly with an empty list)."""
    shards: dict[str, list[str]] = {n.id: [] for n in nodes}
    for camera_id in camera_ids:
        shards[owner(camera_id, nodes).id].append(camera_id)
    return shards

ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=40)


def test_each_camera_has_exactly_one_owner_and_shares_are_even():
    nodes = [node(i) for i in range(4)]
    shards = assign(CAMERAS, nodes)
    owned = [c for cams in shards.values() for c in cams]
    assert sorted(owned) == sorted(CAMERAS)  # each once, none lost
    for cams in shards.values():  # 1500 expected; binomial sd ~34
        assert 1300 < len(cams) < 1700, {k: len(v) for k, v in shards.items()}


def test_owner_independent_of_node_order():
    nodes = [node(i) for i in range(5)]
    for cam in CAMERAS[:500]:
        assert owner(cam, nodes) == owner(cam, list(reversed(nodes)))


def test_adding_a_node_moves_only_cameras_to_it():
    before = {c: owner(c, [node(i) for i in range(4)]).id for c in CAMERAS}
    after = {c: owner(c, [node(i) for i in range(5)]).id for c in CAMERAS}
    moved = [c for c in CAMERAS if before[c] != after[c]]
    assert all(after[c] == "relay-4" for c in moved)
    assert 0.15 < len(moved) / len(CAMERAS) < 0.25  # about 1/5


def test_removing_a_node_moves_only_its_cameras():
    full = [node(i) for i in range(5)]
    less = [n for n in full if n.id != "relay-2"]
    for cam in CAMERAS:
        was = owner(cam, full)
        if was.id != "relay-2":
            assert owner(cam, less) == was
        else:  # the failover target is the next in the camera's ranking
            assert owner(cam, less) == ranking(cam, full)[1]


def test_weights_scale_the_share():
    shards = assign(CAMERAS, [node(0, 1.0), node(1, 1.0), node(2, 2.0)])
    big, small = len(shards["relay-2"]), len(shards["relay-0"])
    assert 1.7 < big / small < 2.3


@settings(max_examples=60, deadline=None)
@given(cam=ids, n=st.integers(min_value=1, max_value=12))
def test_ranking_is_a_permutation_headed_by_owner(cam, n):
    nodes = [node(i) for i in range(n)]
    ranked = ranking(cam, nodes)
    assert sorted(x.id for x in ranked) == sorted(x.id for x in nodes)
    assert ranked[0] == owner(cam, nodes)


def test_stable_across_processes():
    """BLAKE2b, not the per-process salted hash(): another interpreter agrees."""
    code = (
        "from streams.cluster.config import RelayNode as R;"
        "from streams.cluster.sharding import owner;"
        "ns=[R(id=f'relay-{i}',rtsp_url='rtsp://h:1',http_url='http://h:2') for i in range(7)];"
        "print(','.join(owner(f'cam-{i:05d}',ns).id for i in range(200)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123", "PATH": "/usr/bin"},
    ).stdout.strip()
    nodes = [
        RelayNode(id=f"relay-{i}", rtsp_url="rtsp://h:1", http_url="http://h:2") for i in range(7)
    ]
    assert out.split(",") == [owner(f"cam-{i:05d}", nodes).id for i in range(200)]


def test_shard_map_routes_viewers_to_the_owner():
    nodes = [node(i) for i in range(3)]
    maps = [ShardMap(nodes, self_id=n.id) for n in nodes]
    for cam in CAMERAS[:300]:
        assert sum(m.is_mine(cam) for m in maps) == 1
        own = owner(cam, nodes)
        assert all(m.owner(cam) == own for m in maps)
        assert [m.self_id for m in maps if m.is_mine(cam)] == [own.id]
    assert all(ShardMap(nodes).is_mine(c) for c in CAMERAS[:10])  # no self id: pull all


def test_bad_cluster_config_is_rejected_with_field_paths():
    with pytest.raises(ValueError, match="no relay nodes"):
        owner("cam", [])
    with pytest.raises(ValueError, match="not among"):
        ShardMap([node(0)], self_id="relay-9")
    with pytest.raises(ValueError, match="duplicate node ids"):
        ClusterConfig(nodes=[node(0), node(0)])
    with pytest.raises(ValueError, match="not in nodes"):
        ClusterConfig(node_id="relay-7", nodes=[node(0)])
    with pytest.raises(ConfigError, match="cluster.nodes.0.rtsp_url"):
        load_config(
            None, cluster={"nodes": [{"id": "r", "rtsp_url": "http://x", "http_url": "http://x"}]}
        )
    with pytest.raises(ConfigError, match="cluster.nodes.0.weight"):
        load_config(
            None,
            cluster={
                "nodes": [
                    {"id": "r", "rtsp_url": "rtsp://x:1", "http_url": "http://x", "weight": 0}
                ]
            },
        )


def test_node_id_from_environment(monkeypatch):
    monkeypatch.setenv("CITYHUB_CLUSTER__NODE_ID", "relay-1")
    cfg = load_config(None, cluster={"nodes": [node(0).model_dump(), node(1).model_dump()]})
    assert cfg.cluster.node_id == "relay-1"


def _parts(cfg):
    return cfg.cluster, cfg.cameras


def _city(**cluster):
    return load_config(
        None,
        cameras=[
            {
                "id": c,
                "name": c,
                "site": "s",
                "department": "d",
                "system": "traffic",
                "url": f"rtsp://10.0.0.1/{c}",
            }
            for c in CAMERAS[:50]
        ],
        cluster=cluster,
    )


def test_shard_relay_on_one_box_pulls_everything():
    from hub.relays import relay_bases
    from streams.cluster.routing import shard_relay

    cfg = _city()
    cameras, wrap = shard_relay(cfg.cluster, cfg.cameras)
    assert [c.id for c in cameras] == CAMERAS[:50]
    app = object()
    assert wrap(app) is app
    assert relay_bases(cfg, "cam-00001") == (cfg.access.relay_http_url, cfg.access.relay_rtsp_url)


def test_shard_relay_in_a_cluster_needs_its_node_id_and_pulls_its_shard():
    from streams.cluster.routing import OwnerRedirect, shard_relay

    nodes = [node(i).model_dump() for i in range(3)]
    with pytest.raises(ValueError, match="CITYHUB_CLUSTER__NODE_ID"):
        shard_relay(*_parts(_city(nodes=nodes)))
    pulled = []
    for i in range(3):
        cameras, wrap = shard_relay(*_parts(_city(nodes=nodes, node_id=f"relay-{i}")))
        assert isinstance(wrap(object()), OwnerRedirect)
        pulled += [c.id for c in cameras]
    assert sorted(pulled) == CAMERAS[:50]


@pytest.mark.parametrize(
    ("path", "camera"),
    [
        ("/whep/cam-1", "cam-1"),
        ("/snapshot/cam-1.jpg", "cam-1"),
        ("/clips/cam-1", "cam-1"),
        ("/clips/cam-1/abc.mp4", "cam-1"),
        ("/health/cam-1", "cam-1"),
        ("/health", None),
        ("/metrics", None),
        ("/whep/cam-1/session-9", None),  # a session lives on the node that created it
    ],
)
def test_camera_in_path(path, camera):
    from streams.cluster.routing import camera_in_path

    assert camera_in_path(path) == camera
