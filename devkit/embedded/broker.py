"""A private Mosquitto broker on a loopback port, with persistence on disk."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
from pathlib import Path

from core.net import free_port, port_open
from core.programs import require_binary
from devkit.embedded.process import spawn, stop, wait_until


class EmbeddedBroker:
    """Mosquitto in the foreground; ``restart()`` keeps the port and the persisted sessions."""

    def __init__(self, state_dir: Path, port: int | None = None, extra_conf: str = "") -> None:
        self.dir = Path(state_dir).absolute()
        self.port = port or free_port()
        self.conf = self.dir / "mosquitto.conf"
        self.log = self.dir / "mosquitto.log"
        self.extra_conf = extra_conf
        self.proc: subprocess.Popen[bytes] | None = None
        self.binary = require_binary("mosquitto", "mosquitto", ["/usr/sbin/mosquitto"])

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _write_conf(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        user = "root" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self.conf.write_text(
            "\n".join([
                f"user {user}",
                "per_listener_settings false",
                f"listener {self.port} 127.0.0.1",
                "allow_anonymous true" if "allow_anonymous" not in self.extra_conf else "",
                "persistence true",
                f"persistence_location {self.dir}/",
                "autosave_interval 1",
                "max_queued_messages 1000000",
                "max_inflight_messages 1000",
                "max_packet_size 10485760",
                "log_dest stdout",
                "log_type error",
                "log_type warning",
                "log_type notice",
                self.extra_conf,
                "",
            ])
        )

    def start(self) -> EmbeddedBroker:
        self._write_conf()
        self.proc = spawn([self.binary, "-c", str(self.conf)], self.log)
        wait_until(lambda: port_open(self.port), self.proc, "mosquitto", self.log)
        return self

    def stop(self, kill: bool = False) -> None:
        stop(self.proc, signal.SIGKILL if kill else signal.SIGTERM)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
