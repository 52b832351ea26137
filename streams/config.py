"""The relay's configuration section (``streams:`` in the city YAML).

Cameras themselves come from ``cameras:`` (hub.config.CameraConfig); this
section says how the relay pulls, holds and serves them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from streams.recording.config import RecordingConfig


def relay_dir(state_dir: Path) -> Path:
    """The relay's own directory in the state directory (its resume file, its active lock):
    made private by whoever writes there first. The state directory itself is left as it
    is: a host may share it (the demo's holds PostgreSQL's data, which another user must
    still reach)."""
    return state_dir / "relay"


class StreamsConfig(BaseModel):
    """How the relay pulls cameras and serves RTSP, WebRTC (WHEP), snapshots and clips."""

    model_config = ConfigDict(extra="forbid")

    http_host: str = Field(
        "127.0.0.1",
        description="Address of the relay's HTTP API (WHEP, snapshots, clips, health, /metrics).",
    )
    http_port: int = Field(
        8889, ge=0, le=65535, description="Port of the relay's HTTP API (0: any free)."
    )
    rtsp_host: str = Field("127.0.0.1", description="Address the RTSP re-serve listens on.")
    rtsp_port: int = Field(
        8554, ge=0, le=65535, description="Port of the RTSP re-serve (0: any free)."
    )
    core: Literal["gstreamer", "packet"] = Field(
        "gstreamer",
        description="Media core of the RTSP re-serve. gstreamer (default): depayload, parse "
        "and payload again per camera (gst-rtsp-server) for every path. packet: the camera's RTP "
        "packets forwarded as received over TCP-interleaved, sequence numbers and timestamps "
        "rewritten, readers starting on the cached keyframe; no decoding or payloading per "
        "reader (streams/packet; rtsp:// cameras; other sources, recorded and device playback "
        "and profiles are passed through to the GStreamer re-serve on loopback, same port); "
        "for relays whose cameras are mostly watched over RTSP. WebRTC, fMP4, snapshots, clips "
        "and recording stay on GStreamer with either core (with packet they pull the camera "
        "through it: one camera connection, which costs recorded cameras more CPU: "
        "`python -m bench.record --core packet`).",
    )
    packet_reader_backlog_kb: int = Field(
        1024, ge=16, le=65536,
        description="Packet core: unsent kilobytes an RTSP reader may fall behind before it "
        "skips to the next keyframe (bounds memory per reader; counted as reader_skips).",
    )
    packet_reader_behind_s: float = Field(
        10.0, gt=0, le=600,
        description="Packet core: seconds a reader may stay behind before it is dropped "
        "(counted as reader_drops).",
    )
    transport: Literal["tcp", "udp", "auto"] = Field(
        "tcp",
        description="RTP transport to cameras: tcp (interleaved, survives NAT and loss), "
        "udp (lower latency on clean LANs) or auto (try UDP, fall back to TCP).",
    )
    idle_close_s: float = Field(
        10.0,
        ge=0,
        le=3600,
        description="Seconds a camera stays connected "
        "after its last consumer left (on-demand pull); 0 closes at once.",
    )
    resume_hold_s: float = Field(
        15.0,
        ge=0,
        le=600,
        description="A relay that restarts pulls again the on-demand streams that had "
        "viewers when it stopped, and holds them this long for the viewers to come back "
        "(streams/resume.py); 0: no stream is pulled ahead.",
    )
    connect_timeout_s: float = Field(
        10.0,
        gt=0,
        le=120,
        description="Seconds to wait for the first "
        "frame of a new upstream connection before calling it failed.",
    )
    stall_timeout_s: float = Field(
        5.0,
        gt=0,
        le=120,
        description="Seconds without a frame after which "
        "a live camera counts as dropped and is reconnected.",
    )
    backoff_initial_s: float = Field(
        0.5,
        gt=0,
        le=60,
        description="First reconnect delay; doubles after each failure up to backoff_max_s.",
    )
    backoff_max_s: float = Field(
        30.0, gt=0, le=600, description="Longest delay between reconnects."
    )
    prebuffer_s: float = Field(
        10.0,
        ge=0,
        le=120,
        description="Seconds of encoded video kept per "
        "live camera for event clips (starts on a keyframe).",
    )
    clip_post_s_max: float = Field(
        60.0, gt=0, le=600, description="Longest post-event part of a clip."
    )
    clips_dir: str | None = Field(
        None, description="Where event clips are written; default <state_dir>/clips."
    )
    service_token: SecretStr | None = Field(
        None,
        description="Bearer token for the relay's /health, /health/{camera} and /metrics "
        "(Prometheus, the hub's health page). Unset: derived from the play secret, which the "
        "hub derives the same way. Never logged.",
    )
    play_secret: SecretStr | None = Field(
        None,
        description="Key that signs play tokens; default the "
        "hub's secret_key. Set it from the environment.",
    )
    hub_url: str | None = Field(
        None,
        description="Base URL of the hub (e.g. http://127.0.0.1:8080) the relay asks whether a "
        "view may start and, every access_check_s, go on (streams/auth/guard.py): a revoked "
        "grant, disabled user, deleted key or logout then ends live views. Unset: the play "
        "token alone decides (an isolated relay on a test bench).",
    )
    camera_sync_s: float = Field(
        10.0, ge=0, le=3600,
        description="Seconds between asks for the hub's stored cameras (API, discovery, "
        "GB/T 28181; streams/catalog.py), with hub_url set; 0: the config's cameras only.",
    )
    access_check_s: float = Field(
        1.0, gt=0, le=60,
        description="Seconds between re-checks of live views with the hub (ends revoked views).",
    )
    require_token: bool = Field(
        True,
        description="Refuse play requests without a valid play token "
        "(turn off only on an isolated test bench).",
    )
    ice_hosts: list[str] = Field(
        default_factory=list,
        description="Host addresses or interface names "
        "WebRTC may offer as ICE candidates; empty: all of the machine's.",
    )
    ice_servers: list[str] = Field(
        default_factory=list,
        description="STUN/TURN URLs for WebRTC; empty "
        "by default (no public STUN server is contacted).",
    )
    webrtc_max_viewers: int = Field(64, ge=1, le=10000, description="WebRTC sessions per relay.")
    fmp4_max_viewers: int = Field(
        64,
        ge=0,
        le=10000,
        description="fMP4-over-WebSocket viewers per relay (the fallback where WebRTC cannot "
        "pass; each costs one GStreamer muxer, no re-encoding); 0 turns the fallback off.",
    )
    recording: RecordingConfig = Field(
        default_factory=RecordingConfig,
        description="Recording: storage paths, segments, per-camera policies, retention.",
    )
