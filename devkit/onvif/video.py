"""The simulated cameras' RTSP streams: a red marker that follows pan/tilt (size: zoom).

One GStreamer RTSP server (devkit.synthetic's machinery: encoder, auth) serves
``/<camera>/<profile>`` for each profile (main and sub, two sizes). The marker sits at
x = (pan + 1) / 2, y = (1 - tilt) / 2 of the picture; a label top-left prints the position.
"""

from __future__ import annotations

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

from devkit.onvif.services import Profile, SimCamera  # noqa: E402
from devkit.synthetic import CameraSpec, viewer_auth, viewer_permissions  # noqa: E402
from streams.rtsp.listen import ReusableRTSPServer  # noqa: E402

FPS = 15
REFRESH_MS = 66  #: overlay updates (about one per frame)
MARKER_ARGB = 0xFFFF2020


def picture(cam: SimCamera, p: Profile, live: bool = True, frames: int = -1) -> str:
    """The raw picture: black, the marker where the head points, the label top-left."""
    pan, tilt, zoom, _ = cam.ptz.position()
    return (
        f"videotestsrc is-live={str(live).lower()} num-buffers={frames} pattern=black "
        f"! video/x-raw,width={p.width},height={p.height},framerate={FPS}/1 "
        f'! textoverlay name=marker text="●" halignment=position valignment=position '
        f"xpos={(pan + 1) / 2} ypos={(1 - tilt) / 2} color={MARKER_ARGB} "
        f'font-desc="Sans {_size(p, zoom)}" '
        f'! textoverlay name=label valignment=top halignment=left font-desc="Sans {_label(p)}" '
        f'text="{_label_text(cam, p)}" '
    )


def launch(cam: SimCamera, p: Profile) -> str:
    spec = CameraSpec(name=cam.name, width=p.width, height=p.height, fps=FPS, gop=FPS,
                      bitrate_kbps=max(200, p.width * p.height // 300))
    return f"( {picture(cam, p)}{spec.encoder_launch()}{spec.payloader_launch()} )"


def snapshot_jpeg(cam: SimCamera, p: Profile) -> bytes:
    """One JPEG of what the camera sees now (blocking: run in a thread)."""
    pipeline = Gst.parse_launch(f"{picture(cam, p, live=False, frames=1)}! jpegenc "
                                "! appsink name=out sync=false")
    pipeline.set_state(Gst.State.PLAYING)
    try:
        sample = pipeline.get_by_name("out").emit("try-pull-sample", 5 * Gst.SECOND)
        if sample is None:
            raise RuntimeError("snapshot: no picture")
        buf = sample.get_buffer()
        return bytes(buf.extract_dup(0, buf.get_size()))
    finally:
        pipeline.set_state(Gst.State.NULL)


def _label_text(cam: SimCamera, p: Profile) -> str:
    pan, tilt, zoom, _ = cam.ptz.position()
    return f"{cam.name}/{p.token} pan {pan:+.2f} tilt {tilt:+.2f} zoom {zoom:.2f}"


def _size(p: Profile, zoom: float) -> int:
    return max(6, int(p.height * (0.08 + 0.12 * zoom) * 0.75))


def _label(p: Profile) -> int:
    return max(6, p.height // 30)


class PtzVideoServer:
    """RTSP server of all simulated cameras, attached to the default GLib main context."""

    def __init__(self, cameras: list[SimCamera], host: str, port: int,
                 username: str | None, password: str | None) -> None:
        self.server = ReusableRTSPServer()
        self.server.set_address(host)
        self.server.set_service(str(port))
        if username:
            self.server.set_auth(viewer_auth(username, password or ""))
        mounts = self.server.get_mount_points()
        self._live: dict[int, tuple[SimCamera, Profile, Gst.Element, Gst.Element]] = {}
        for cam in cameras:
            for p in cam.profiles:
                factory = GstRtspServer.RTSPMediaFactory()
                factory.set_launch(launch(cam, p))
                factory.set_shared(True)
                factory.set_latency(0)
                if username:
                    factory.set_permissions(viewer_permissions())
                factory.connect("media-configure", self._configure, cam, p)
                mounts.add_factory(f"/{cam.name}/{p.token}", factory)

    def start(self) -> None:
        if not self.server.attach(None):
            raise SystemExit("onvif camera: cannot listen for RTSP (port taken?)")
        GLib.timeout_add(REFRESH_MS, self._refresh)

    def _configure(self, _f: object, media: GstRtspServer.RTSPMedia, cam: SimCamera,
                   p: Profile) -> None:
        element = media.get_element()
        key = id(media)
        self._live[key] = (cam, p, element.get_by_name("marker"), element.get_by_name("label"))
        media.connect("unprepared", lambda _m: self._live.pop(key, None))

    def _refresh(self) -> bool:
        for cam, p, marker, label in list(self._live.values()):
            pan, tilt, zoom, _ = cam.ptz.position()
            marker.set_property("xpos", (pan + 1) / 2)
            marker.set_property("ypos", (1 - tilt) / 2)
            marker.set_property("font-desc", f"Sans {_size(p, zoom)}")
            label.set_property("text", _label_text(cam, p))
        return True
