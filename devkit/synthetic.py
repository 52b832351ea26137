"""Synthetic RTSP cameras served by GStreamer's RTSP server.

Used by the demo, the tests and the benchmarks as stand-ins for real cameras:
moving content (a bouncing ball), the camera's name and the wall clock burned
in, configurable resolution, fps, GOP and bitrate, optional digest/basic auth.

Run as its own process (so that tests can kill and restart "the camera")::

    python -m devkit.synthetic --port 8554 --cameras cam1,cam2 --width 1280 --height 720

Each camera is served at ``rtsp://127.0.0.1:PORT/<name>``. One encoder per
camera is shared by all of its readers. ``--mode loop`` serves a pre-encoded
clip in a loop instead of encoding live, so that many cameras cost little CPU.
"""

from __future__ import annotations

import argparse
import signal
import sys
from dataclasses import dataclass

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

from devkit.synthetic_clip import LoopFeeder, encode_clip, read_access_units  # noqa: E402
from streams.rtsp.listen import ReusableRTSPServer  # noqa: E402


@dataclass(frozen=True)
class CameraSpec:
    """What one synthetic camera sends."""

    name: str
    width: int = 1280
    height: int = 720
    fps: int = 25
    gop: int = 25  #: frames between keyframes (25 at 25 fps = 1 s)
    bitrate_kbps: int = 2000
    pattern: str = "ball"  #: videotestsrc pattern; 'ball' moves
    codec: str = "h264"  #: h264 or h265
    slices: int = 0  #: H.264 slices per picture (0: x264's default, one per thread)

    def raw_launch(self, live: bool = True, frames: int = -1) -> str:
        """gst-launch description of the raw picture (moving ball, name, clock)."""
        return (
            f"videotestsrc is-live={str(live).lower()} num-buffers={frames} "
            f"pattern={self.pattern} motion=sweep "
            f"! video/x-raw,width={self.width},height={self.height},framerate={self.fps}/1 "
            f'! textoverlay text="{self.name}" valignment=top halignment=left font-desc="Sans 18" '
            f'! clockoverlay valignment=bottom halignment=right font-desc="Sans 18" '
            f'time-format="%Y-%m-%d %H:%M:%S" '
        )

    def encoder_launch(self) -> str:
        """Encoder and parser to a byte-stream with parameter sets before every keyframe."""
        if self.codec == "h265":
            return (
                f"! x265enc tune=zerolatency speed-preset=ultrafast key-int-max={self.gop} "
                f"bitrate={self.bitrate_kbps} ! h265parse config-interval=-1 "
                "! video/x-h265,stream-format=byte-stream,alignment=au "
            )
        return (
            f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={self.gop} "
            f"bitrate={self.bitrate_kbps} byte-stream=true {self._slices_option()}"
            "! video/x-h264,profile=constrained-baseline "
            "! h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au "
        )

    def _slices_option(self) -> str:
        # Like many real cameras: several slices per picture, each with its own header.
        # One thread: with sliced threads x264 makes one slice per thread, whatever is asked.
        return f'threads=1 option-string="slices={self.slices}" ' if self.slices > 0 else ""

    def payloader_launch(self) -> str:
        return f"! rtp{self.codec}pay name=pay0 pt=96 config-interval=-1"

    def launch(self) -> str:
        """Live mode: encode as the camera runs (payloader named pay0)."""
        return f"( {self.raw_launch()}{self.encoder_launch()}{self.payloader_launch()} )"

    def loop_launch(self) -> str:
        """Loop mode: access units pushed into appsrc 'src' by a LoopFeeder."""
        return (
            f"( appsrc name=src is-live=true do-timestamp=true format=time "
            f"caps=video/x-{self.codec},stream-format=byte-stream,alignment=au,"
            f"framerate={self.fps}/1 ! {self.codec}parse {self.payloader_launch()} )"
        )


class SyntheticCameraServer:
    """An RTSP server with one shared media per camera, on a GLib main loop."""

    def __init__(
        self,
        cameras: list[CameraSpec],
        port: int,
        host: str = "127.0.0.1",
        username: str | None = None,
        password: str | None = None,
        auth_method: str = "digest",
        mode: str = "live",
    ) -> None:
        Gst.init(None)
        self.feeders: dict[int, LoopFeeder] = {}
        self.server = ReusableRTSPServer()
        self.server.set_address(host)
        self.server.set_service(str(port))
        mounts = self.server.get_mount_points()
        if username:
            self.server.set_auth(viewer_auth(username, password or "", auth_method))
        for cam in cameras:
            factory = GstRtspServer.RTSPMediaFactory()
            if mode == "loop":
                units = read_access_units(encode_clip(cam), cam.codec)
                factory.set_launch(cam.loop_launch())
                factory.connect("media-configure", self._feed_loop, cam, units)
            else:
                factory.set_launch(cam.launch())
            factory.set_shared(True)
            factory.set_latency(0)
            if username:
                factory.set_permissions(viewer_permissions())
            mounts.add_factory(f"/{cam.name}", factory)
        self.loop = GLib.MainLoop()
        self._source_id: int | None = None

    def _feed_loop(
        self, _factory: object, media: GstRtspServer.RTSPMedia, cam: CameraSpec, units: list[bytes]
    ) -> None:
        appsrc = media.get_element().get_by_name("src")
        feeder = LoopFeeder(appsrc, units, cam.fps)
        self.feeders[id(media)] = feeder

        def unprepared(m: GstRtspServer.RTSPMedia) -> None:
            stopped = self.feeders.pop(id(m), None)
            if stopped:
                stopped.stop()

        media.connect("unprepared", unprepared)

    def run(self) -> None:
        self._source_id = self.server.attach(None)
        if not self._source_id:
            raise SystemExit("synthetic cameras: cannot listen (port taken?)")
        for sig in (signal.SIGINT, signal.SIGTERM):
            GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, self.loop.quit)
        print("synthetic cameras: ready", flush=True)
        self.loop.run()


def viewer_auth(username: str, password: str, method: str = "digest") -> GstRtspServer.RTSPAuth:
    """One account with the viewer role, by digest or basic (one method per server)."""
    auth = GstRtspServer.RTSPAuth()
    token = _token("viewer")
    # PyGObject maps the method flags as a plain enum: one method per server.
    if method == "basic":
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(username, password), token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
    else:
        auth.add_digest(username, password, token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
    return auth


def viewer_permissions() -> GstRtspServer.RTSPPermissions:
    """What a media factory lets the viewer role do: access and construct its media."""
    perms = GstRtspServer.RTSPPermissions()
    perms.add_role("viewer")
    perms.add_permission_for_role("viewer", "media.factory.access", True)
    perms.add_permission_for_role("viewer", "media.factory.construct", True)
    return perms


def _token(role: str) -> GstRtspServer.RTSPToken:
    # writable_structure() hands Python a copy, so setting on it was lost (every
    # request then lacked the role and got 401): set_string writes the token itself.
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, role)
    return token


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m devkit.synthetic", description=__doc__.split("\n")[0]
    )
    p.add_argument("--port", type=int, default=8554)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--cameras", default="cam1", help="comma-separated camera names (mount paths)")
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=720)
    p.add_argument("--fps", type=int, default=25)
    p.add_argument("--gop", type=int, default=25)
    p.add_argument("--bitrate", type=int, default=2000, help="kbit/s")
    p.add_argument("--codec", choices=["h264", "h265"], default="h264")
    p.add_argument("--username")
    p.add_argument("--password")
    p.add_argument("--auth", choices=["digest", "basic"], default="digest")
    p.add_argument(
        "--slices", type=int, default=0, help="H.264 slices per picture (0: encoder default)"
    )
    p.add_argument(
        "--mode",
        choices=["live", "loop"],
        default="live",
        help="live: encode as it runs; loop: replay a clip encoded once (cheap)",
    )
    a = p.parse_args(argv)
    cams = [
        CameraSpec(
            name=n.strip(),
            width=a.width,
            height=a.height,
            fps=a.fps,
            gop=a.gop,
            bitrate_kbps=a.bitrate,
            codec=a.codec,
            slices=a.slices,
        )
        for n in a.cameras.split(",")
        if n.strip()
    ]
    SyntheticCameraServer(cams, a.port, a.host, a.username, a.password, a.auth, a.mode).run()


if __name__ == "__main__":
    main(sys.argv[1:])
