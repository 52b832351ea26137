"""Bring up the demo city on this machine and keep it running until Ctrl-C."""

from __future__ import annotations

import logging
import os
import secrets
import signal
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import yaml

from core.files import private_dir, write_private
from core.net import free_port
from devkit.demo import gb28181  # a GB/T 28181 NVR and a province platform, simulated
from devkit.demo.edge import start_edge  # an edge box analysing one synthetic camera
from devkit.demo.ingest import start_ingest  # ingest worker + simulated traffic
from devkit.demo.relay import start_relay  # media relay for the web UI's wall
from devkit.demo.stack import Stack
from devkit.demo.supervisor import Part, mqtt_live, postgres_live
from devkit.embedded import EmbeddedBroker, EmbeddedPostgres
from devkit.embedded.process import stop
from hub.api.seed import seed
from hub.config import CityConfig, load_config

log = logging.getLogger(__name__)


def demo_config(state_dir: Path, cameras_at: str, onvif_at: str = "127.0.0.1:1",
                basemap_at: str | None = None) -> CityConfig:
    """The embedded demo city with camera URLs pointing at the synthetic server (RTSP) and
    the simulated ONVIF dome; the map's base layer from the district's tile server
    (devkit.basemap) at ``basemap_at``, fetched and cached by the hub like a city's GIS."""
    text = resources.files("devkit.demo").joinpath("city.yaml").read_text(encoding="utf-8")
    text = text.replace("{onvif_password}", onvif_password(state_dir))
    raw = yaml.safe_load(text.replace("{cameras}", cameras_at).replace("{onvif}", onvif_at))
    raw["state_dir"] = str(state_dir)
    raw.setdefault("hub", {})["secret_key"] = _demo_secret(state_dir)
    if basemap_at:
        raw.setdefault("ui", {})["basemap"] = {
            "kind": "xyz", "url": f"http://{basemap_at}/{{z}}/{{x}}/{{y}}.png", "max_zoom": 19,
            "attribution": "cityhub demo district (made by the project)"}
    path = write_private(state_dir / "city.yaml", yaml.safe_dump(raw, sort_keys=False))
    return load_config(path)


def onvif_password(state_dir: Path) -> str:
    """The simulated ONVIF dome's password, random per demo state directory (kept 0600)."""
    path = state_dir / "onvif-password"
    if not path.exists():
        write_private(path, secrets.token_urlsafe(18))
    return path.read_text().strip()


def _demo_secret(state_dir: Path) -> str:
    """A random signing key made on the demo's first start and kept in its state directory."""
    path = state_dir / "secret_key"
    if not path.exists():
        write_private(path, secrets.token_urlsafe(48))
    return path.read_text().strip()


def restarter(service: EmbeddedPostgres | EmbeddedBroker) -> Callable[[], None]:
    """SIGKILL what is left of an embedded service, then start it on its port again."""

    def restart() -> None:
        stop(service.proc, signal.SIGKILL)
        service.proc = None
        service.start()

    return restart


class DemoCity:
    """Embedded database, broker, synthetic cameras and every cityhub part that exists."""

    def __init__(self, state_dir: Path, camera_size: tuple[int, int] = (640, 360),
                 load_cameras: int = 0, streams: dict[str, object] | None = None) -> None:
        """``load_cameras``: that many extra 720p25 cameras replaying pre-encoded clips
        (``load-00``...; bench.soak's scale); ``streams``: settings merged into the relay's."""
        self.state_dir = state_dir.absolute()
        private_dir(self.state_dir)  # holds the signing key, logins and the database
        self.stack = Stack(self.state_dir)
        self.camera_size = camera_size
        self.load_cameras = load_cameras
        self.streams = dict(streams or {})
        self.urls: dict[str, str] = {}

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stack.close()
            raise
        # Files written since PostgreSQL started (city.yaml, logins, passwords) tightened the
        # state directory to 0700: its next checkpoint would PANIC, locked out.
        self.pg.keep_reachable()

    def _start(self) -> None:
        pg = EmbeddedPostgres(self.state_dir / "postgres")
        pg.start()
        self.pg = pg
        self.stack.add("postgres", pg.stop, service=True)
        self.stack.supervisor.add(Part("postgres", lambda: pg.running, restarter(pg),
                                       probe=lambda: postgres_live(pg.dsn)))
        self.urls["database"] = pg.dsn

        broker = EmbeddedBroker(self.state_dir / "mosquitto")
        broker.start()
        self.broker = broker
        self.stack.add("mosquitto", broker.stop, service=True)
        self.stack.supervisor.add(Part(
            "mosquitto", lambda: broker.proc is not None and broker.proc.poll() is None,
            restarter(broker), probe=lambda: mqtt_live(broker.port),
        ))
        self.urls["broker"] = broker.url

        cam_port, onvif_port, onvif_rtsp = free_port(), free_port(), free_port()
        map_port = free_port()
        self.stack.python("basemap", ["-m", "devkit.basemap", "--port", str(map_port)])
        self.stack.wait_port("basemap", map_port)
        self.urls["base map"] = f"http://127.0.0.1:{map_port}/{{z}}/{{x}}/{{y}}.png (the district)"
        self.config = demo_config(self.state_dir, f"127.0.0.1:{cam_port}",
                                  f"127.0.0.1:{onvif_port}", f"127.0.0.1:{map_port}")
        names = ",".join(c.id for c in self.config.cameras
                         if c.url.get_secret_value().startswith("rtsp://"))
        w, h = self.camera_size
        self.stack.python("cameras", [
            "-m", "devkit.synthetic", "--port", str(cam_port), "--cameras", names,
            "--width", str(w), "--height", str(h), "--fps", "15", "--gop", "15", "--bitrate", "600",
        ])
        self.stack.wait_port("cameras", cam_port)
        if self.load_cameras or self.streams:
            self._add_load(self.load_cameras)
        for cam in self.config.cameras:
            self.urls[f"camera {cam.id}"] = f"rtsp://127.0.0.1:{cam_port}/{cam.id}"
        self._start_onvif(onvif_port, onvif_rtsp)

        gb_ports = gb28181.configure(self.state_dir)
        hub_port = free_port()
        self.urls.update(start_relay(self.stack, self.state_dir, hub_port))
        self._start_hub(pg.dsn, hub_port)
        self.urls.update(gb28181.start(self.stack, self.state_dir, pg.dsn, gb_ports))
        # Store upkeep every minute: partitions ahead, retention, rollups (hub.store.maintain).
        self.stack.cityhub("store-maintain", ["db", "--config", str(self.state_dir / "city.yaml"),
                                              "--dsn", pg.dsn, "maintain", "--every", "60"])
        self.urls.update(start_ingest(self.stack, self.state_dir, pg.dsn, broker.url))
        self.urls.update(start_edge(self.stack, self.state_dir, self.config, broker.url))

    def _add_load(self, n: int) -> None:
        """Cameras ``load-NN`` (loop-mode 720p25 clips, 2 Mb/s, 1 s GOP: devkit.synthetic_clip)
        at Xinhua Rd / 5th Ave, and the relay settings asked for, written into city.yaml."""
        path = self.state_dir / "city.yaml"
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        raw["streams"] = {**raw.get("streams", {}), **self.streams}
        if n:
            port, names = free_port(), [f"load-{i:02d}" for i in range(n)]
            self.stack.python("load-cameras", [
                "-m", "devkit.synthetic", "--port", str(port), "--cameras", ",".join(names),
                "--width", "1280", "--height", "720", "--fps", "25", "--gop", "25",
                "--bitrate", "2000", "--mode", "loop"])
            self.stack.wait_log("load-cameras", "ready", 600)  # first run encodes the clips
            site = next(s for s in raw["sites"] if s["id"] == "xinhua-5th")
            raw["cameras"] += [{"id": c, "name": f"Load {c}", "site": site["id"],
                                "department": site["department"], "system": "safecity",
                                "url": f"rtsp://127.0.0.1:{port}/{c}",
                                "location": site["location"]} for c in names]
        write_private(path, yaml.safe_dump(raw, sort_keys=False))
        self.config = load_config(path)

    def _start_onvif(self, http_port: int, rtsp_port: int) -> None:
        """The ONVIF PTZ dome (devkit.onvif), its password handed over in the environment."""
        os.environ["CITYHUB_ONVIF_PASSWORD"] = onvif_password(self.state_dir)
        self.stack.python("onvif-dome", [
            "-m", "devkit.onvif", "--cameras", "1", "--http-port", str(http_port),
            "--rtsp-port", str(rtsp_port), "--username", "admin", "--no-discovery"])
        self.stack.wait_log("onvif-dome", "onvif camera: ready", 30)
        self.urls["camera sc-dome-1"] = f"onvif://admin@127.0.0.1:{http_port} (PTZ)"

    def _start_hub(self, dsn: str, port: int) -> None:
        """The hub API on a free port, with demo logins per department (hub.api.seed)."""
        self.logins = seed(load_config(self.state_dir / "city.yaml", database={"url": dsn}),
                           demo_users=True)
        self.stack.cityhub("hub", ["hub", "--config",
                                  str(self.state_dir / "city.yaml"), "--dsn", dsn, "serve",
                                  "--port", str(port)])
        self.stack.wait_port("hub", port)
        self.stack.set_liveness("hub", f"http://127.0.0.1:{port}/healthz")
        self.hub_url = f"http://127.0.0.1:{port}"
        self.urls["web UI"] = f"http://127.0.0.1:{port}/ui/  (video wall, events, map)"
        self.urls["hub API"] = f"http://127.0.0.1:{port}/docs"
        for name, password, _dept, roles in self.logins:
            self.urls[f"login {name}"] = f"{password}  ({', '.join(roles)})"

    def watch(self) -> None:
        """Block until Ctrl-C/SIGTERM, restarting parts that die or hang meanwhile."""
        stopping = False

        def _stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        # SIGINT too: a shell without job control starts background commands with SIGINT
        # ignored, and Python then never raises KeyboardInterrupt (`make demo &` in a script).
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _stop)
        self.stack.supervisor.run(lambda: stopping)

    def close(self) -> None:
        self.stack.close()
