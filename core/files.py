"""Files that hold secrets: created 0600 inside directories 0700, and checked for exposure."""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: Path) -> Path:
    """``path`` as a directory only its owner may enter (made if missing, tightened if not)."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    path.chmod(PRIVATE_DIR)
    return path


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` to a file only its owner may read, in a private directory.

    The file is created with mode 0600 (never briefly world-readable) and an existing
    file is tightened before it is overwritten.
    """
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
    return path


def exposed(path: Path) -> bool:
    """Whether users other than the owner may read or write ``path``."""
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))
