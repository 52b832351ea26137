"""Programs cityhub runs (mosquitto_passwd, postgres, ...): found, or named for installing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence


class ServiceError(RuntimeError):
    """A program or service could not be found, started or reached."""


def require_binary(name: str, package: str, search: Sequence[str] = ()) -> str:
    """Path of a program, or a ServiceError that names the Debian package to install."""
    for candidate in [*search, shutil.which(name)]:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise ServiceError(
        f"{name} not found: install the Debian package '{package}' "
        f"(make test / make demo install it via deploy/setup/setup.sh)"
    )
