"""A private PostgreSQL cluster: initdb in a state directory, loopback only."""

from __future__ import annotations

import getpass
import glob
import os
import pwd
import signal
import subprocess
from pathlib import Path

import psycopg

from core.net import free_port
from core.programs import ServiceError, require_binary
from devkit.embedded.process import as_user, spawn, stop, wait_until


def _pg_bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), reverse=True)
    postgres = require_binary("postgres", "postgresql", candidates)
    return Path(postgres).parent


def timescaledb_installed(bindir: Path) -> bool:
    """Whether this PostgreSQL has timescaledb installed (control file and library).

    Looks in Debian's per-version directories (``/usr/share/postgresql/15``,
    ``/usr/lib/postgresql/15/lib``), which is what ``pg_config --sharedir`` and
    ``--pkglibdir`` report there.
    """
    version = bindir.parent.name  # /usr/lib/postgresql/15/bin -> 15
    control = Path(f"/usr/share/postgresql/{version}/extension/timescaledb.control")
    library = bindir.parent / "lib" / "timescaledb.so"
    return control.exists() and library.exists()


def preload_libraries(bindir: Path) -> str:
    """``shared_preload_libraries`` for a private cluster.

    CITYHUB_PG_PRELOAD overrides (set it to an empty string for none); otherwise
    timescaledb is preloaded whenever it is installed, unless CITYHUB_PG_NO_TIMESCALE=1,
    so that the whole test suite exercises the TimescaleDB path where it exists.
    """
    override = os.environ.get("CITYHUB_PG_PRELOAD")
    if override is not None:
        return override
    if os.environ.get("CITYHUB_PG_NO_TIMESCALE", "") not in ("", "0"):
        return ""
    return "timescaledb" if timescaledb_installed(bindir) else ""


class EmbeddedPostgres:
    """One private cluster; as root it runs as the ``postgres`` user (initdb refuses root)."""

    def __init__(
        self,
        state_dir: Path,
        port: int | None = None,
        database: str = "cityhub",
        preload: str | None = None,
    ) -> None:
        """``preload``: shared_preload_libraries; None chooses (see preload_libraries)."""
        self.preload = preload
        self.dir = Path(state_dir).absolute()
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = port or free_port()
        self.database = database
        self.user = "postgres" if os.geteuid() == 0 else getpass.getuser()
        self._run_as = "postgres" if os.geteuid() == 0 else None
        self.proc: subprocess.Popen[bytes] | None = None
        self.bindir = _pg_bindir()

    @property
    def dsn(self) -> str:
        return self.dsn_for(self.database)

    def dsn_for(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def _own(self, path: Path) -> None:
        if self._run_as:
            pw = pwd.getpwnam(self._run_as)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def keep_reachable(self) -> None:
        """Let the postgres user walk (not list) to its data directory again: a parent
        tightened to 0700 afterwards (core.files.private_dir) makes PostgreSQL PANIC at its
        next checkpoint ("could not open pg_control: Permission denied")."""
        if self._run_as:
            for parent in self.dir.parents:
                if parent == Path("/"):
                    break
                os.chmod(parent, os.stat(parent).st_mode | 0o001)

    def _initdb(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._own(self.dir)
        self.keep_reachable()
        if (self.data / "PG_VERSION").exists():
            return
        result = subprocess.run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                self.user,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            check=False,
            **as_user(self._run_as),
        )
        if result.returncode != 0:
            raise ServiceError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")

    def start(self) -> EmbeddedPostgres:
        self._initdb()
        argv = [
            str(self.bindir / "postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.dir}",
            "-c",
            "fsync=on",
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=256MB",
            "-c",
            "max_wal_size=2GB",
            "-c",
            "log_min_messages=warning",
        ]
        preload = preload_libraries(self.bindir) if self.preload is None else self.preload
        if preload:
            argv += ["-c", f"shared_preload_libraries={preload}"]
        self.log.touch()
        self._own(self.log)
        self.proc = spawn(argv, self.log, user=self._run_as)
        wait_until(self._ready, self.proc, "postgres", self.log)
        self._ensure_database()
        return self

    def _ready(self) -> bool:
        try:
            with psycopg.connect(self.dsn_for("postgres"), connect_timeout=1):
                return True
        except psycopg.OperationalError:
            return False

    def _ensure_database(self) -> None:
        self.create_database(self.database, exist_ok=True)

    def create_database(self, name: str, exist_ok: bool = False) -> str:
        with psycopg.connect(self.dsn_for("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists and not exist_ok:
                raise ServiceError(f"database {name} exists")
            if not exists:
                conn.execute(
                    psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name))
                )
        return self.dsn_for(name)

    def stop(self, immediate: bool = False) -> None:
        """Fast shutdown (SIGINT), or SIGQUIT to simulate a crash."""
        stop(self.proc, signal.SIGQUIT if immediate else signal.SIGINT)
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
