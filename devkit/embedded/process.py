"""Child-process plumbing shared by the embedded services."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypedDict

from core.programs import ServiceError

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class UserArgs(TypedDict, total=False):
    user: str
    group: str
    extra_groups: list[str]


def as_user(user: str | None) -> UserArgs:
    """Popen arguments that drop to ``user`` with its own group only (not root's)."""
    return {"user": user, "group": user, "extra_groups": []} if user else {}


def spawn(argv: Sequence[str], log: Path, user: str | None = None) -> subprocess.Popen[bytes]:
    """Start a foreground child that logs to ``log`` and dies with this process."""
    log.parent.mkdir(parents=True, exist_ok=True)
    out = open(log, "ab")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
            **as_user(user),
        )
    finally:
        out.close()


def wait_until(
    check: Callable[[], bool],
    proc: subprocess.Popen[bytes],
    what: str,
    log: Path,
    timeout: float = 30.0,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceError(f"{what} exited with {proc.returncode}:\n{tail(log)}")
        if check():
            return
        time.sleep(0.05)
    raise ServiceError(f"{what} did not become ready in {timeout:.0f}s:\n{tail(log)}")


def stop(
    proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, timeout: float = 15.0
) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
