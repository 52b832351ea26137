"""Base backups and point-in-time restore with PostgreSQL's own tools.

A backup repository is a directory (on another disk, a NAS or a mounted bucket):

    <repo>/wal/                  WAL segments copied there by the server's archive_command
    <repo>/base/<UTC stamp>/     base backups (pg_basebackup, plain format, verified with
                                 pg_verifybackup) with cityhub-backup.json beside the manifest

Restoring copies the newest base backup that finished before the target time into an empty
data directory and lets PostgreSQL replay archived WAL up to that time (recovery.signal,
restore_command, recovery_target_time), then promote.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from core.programs import require_binary

MARK = "cityhub-backup.json"
RESTORE_MARK = "# cityhub restore"


class BackupError(RuntimeError):
    """The cluster is not set up for backups, or a backup/restore step failed."""


@dataclass(frozen=True)
class BaseBackup:
    path: str
    started_at: str  #: ISO UTC
    finished_at: str
    bytes: int
    seconds: float


def _pg_tool(name: str) -> str:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return require_binary(name, "postgresql", candidates)


def archive_settings(repo: Path, archive_timeout_s: int = 60) -> dict[str, str]:
    """The server settings that copy every finished WAL segment into ``repo/wal``.

    ``archive_timeout`` bounds the RPO on a quiet system: a segment is switched and archived
    at least that often even when it is not full.
    """
    wal = Path(repo).absolute() / "wal"
    return {
        "wal_level": "replica",
        "archive_mode": "on",
        "archive_command": f"test ! -f {wal}/%f && cp %p {wal}/%f.tmp && mv {wal}/%f.tmp {wal}/%f",
        "archive_timeout": str(archive_timeout_s),
    }


def enable_archiving(dsn: str, repo: Path, archive_timeout_s: int = 60) -> bool:
    """ALTER SYSTEM the archive settings; True when a server restart is still needed."""
    (Path(repo) / "wal").mkdir(parents=True, exist_ok=True)
    with psycopg.connect(dsn, autocommit=True) as conn:
        mode = conn.execute("SHOW archive_mode").fetchone()
        for name, value in archive_settings(repo, archive_timeout_s).items():
            conn.execute(
                psycopg.sql.SQL("ALTER SYSTEM SET {} = {}").format(
                    psycopg.sql.Identifier(name), psycopg.sql.Literal(value)
                )
            )
        conn.execute("SELECT pg_reload_conf()")
    return mode is None or mode[0] != "on"  # archive_mode takes effect on restart only


def _check_archiving(dsn: str, repo: Path) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        mode = conn.execute("SHOW archive_mode").fetchone()
        command = conn.execute("SHOW archive_command").fetchone()
    wal = str(Path(repo).absolute() / "wal")
    if mode is None or mode[0] != "on" or command is None or wal not in command[0]:
        raise BackupError(
            f"the server does not archive WAL into {wal}: run `cityhub db backup --setup` "
            "and restart PostgreSQL (a base backup alone cannot be restored to a point in time)"
        )


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def base_backup(dsn: str, repo: Path) -> BaseBackup:
    """Take and verify a base backup into ``repo/base/<stamp>``."""
    repo = Path(repo).absolute()
    _check_archiving(dsn, repo)
    started = datetime.now(UTC)
    target = repo / "base" / started.strftime("%Y%m%dT%H%M%S%fZ")
    target.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    for argv in (
        [
            _pg_tool("pg_basebackup"),
            "-d",
            dsn,
            "-D",
            str(target),
            "-Fp",
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-password",
        ],
        [_pg_tool("pg_verifybackup"), "-n", str(target)],  # -n: WAL is checked on restore
    ):
        out = subprocess.run(argv, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            shutil.rmtree(target, ignore_errors=True)
            raise BackupError(f"{Path(argv[0]).name} failed: {out.stderr.strip()[-2000:]}")
    info = BaseBackup(
        str(target),
        started.isoformat(),
        datetime.now(UTC).isoformat(),
        _size(target),
        round(time.monotonic() - t0, 3),
    )
    (target / MARK).write_text(json.dumps(asdict(info), indent=2))
    return info


def list_backups(repo: Path) -> list[BaseBackup]:
    """Finished base backups, oldest first."""
    found = []
    for mark in sorted((Path(repo) / "base").glob(f"*/{MARK}")):
        found.append(BaseBackup(**json.loads(mark.read_text())))
    return found


def choose_backup(repo: Path, target_time: datetime | None) -> BaseBackup:
    """The newest base backup that finished before ``target_time`` (or the newest)."""
    candidates = [
        b
        for b in list_backups(repo)
        if target_time is None or datetime.fromisoformat(b.finished_at) < target_time
    ]
    if not candidates:
        raise BackupError(f"no base backup in {repo} finished before {target_time}")
    return candidates[-1]


def prepare_restore(
    repo: Path, data_dir: Path, target_time: datetime | None = None, owner: str | None = None
) -> BaseBackup:
    """Fill an empty ``data_dir`` so that PostgreSQL, when started, recovers to ``target_time``
    (None: to the end of the archive) and promotes. The restored server does not archive
    (two clusters must never write one archive): re-run ``--setup`` once it is checked."""
    repo, data_dir = Path(repo).absolute(), Path(data_dir).absolute()
    if data_dir.exists() and any(data_dir.iterdir()):
        raise BackupError(f"{data_dir} is not empty: restore into a fresh directory")
    backup = choose_backup(repo, target_time)
    shutil.copytree(backup.path, data_dir, dirs_exist_ok=True)
    (data_dir / MARK).unlink()
    settings: dict[str, Any] = {
        "restore_command": f"cp {repo / 'wal'}/%f %p",
        "recovery_target_action": "promote",
        "archive_mode": "off",
    }
    if target_time is not None:
        settings["recovery_target_time"] = target_time.astimezone(UTC).isoformat()
    with open(data_dir / "postgresql.auto.conf", "a") as conf:
        conf.write(f"\n{RESTORE_MARK} from {Path(backup.path).name}\n")
        for name, value in settings.items():
            conf.write(f"{name} = '{value}'\n")
    (data_dir / "recovery.signal").touch()
    os.chmod(data_dir, 0o700)
    if owner:
        pw = pwd.getpwnam(owner)
        for path in [data_dir, *data_dir.rglob("*")]:
            os.lchown(path, pw.pw_uid, pw.pw_gid)
    return backup


def wait_promoted(dsn: str, timeout: float = 600.0) -> float:
    """Seconds until the restored server accepts writes (recovery done, promoted)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            with psycopg.connect(dsn, connect_timeout=2, autocommit=True) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                if row == (False,):
                    return time.monotonic() - t0
        except psycopg.OperationalError:
            pass
        time.sleep(0.1)
    raise BackupError(f"the restored server did not finish recovery in {timeout:.0f}s")
