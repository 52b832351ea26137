"""Secrets read from files, so that none is written in a config file or an environment.

Docker/compose secrets (``/run/secrets/<name>``), Kubernetes Secret volumes and systemd
credentials (``LoadCredential=``, ``$CREDENTIALS_DIRECTORY``) all hand a process a file.

- ``CITYHUB_<PATH>_FILE=/path``: any setting that ``CITYHUB_<PATH>`` could set is read
  from that file instead (trailing newline dropped), e.g. ``CITYHUB_DATABASE__URL_FILE``.
- A camera's ``credentials_file``: one line ``user:password`` for its RTSP login, read at
  every (re)connect so that a new password needs no restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic_settings import EnvSettingsSource

from core.config import ConfigError

SUFFIX = "_file"


def read_secret(path: Path | str, what: str) -> str:
    """A secret file's text without its trailing newline; ConfigError naming ``what`` if not."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"{what}: cannot read secret file {path}: {reason}") from None
    value = text.rstrip("\r\n")
    if not value:
        raise ConfigError(f"{what}: secret file {path} is empty")
    return value


class EnvWithFiles(EnvSettingsSource):
    """The environment, where ``<prefix><name>_FILE`` stands for ``<prefix><name>``."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        env = dict(super()._load_env_vars())
        prefix = (self.env_prefix or "").lower()
        for name in [n for n in env if n.lower().startswith(prefix)]:
            if name.lower().endswith(SUFFIX):
                path = env.pop(name)
                target = name[: -len(SUFFIX)]
                if path and target not in env:  # a value set directly wins
                    env[target] = read_secret(path, name.upper())
        return env


def read_camera_credentials(path: Path | str) -> tuple[str, str]:
    """(user, password) from a camera's ``credentials_file`` (``user:password``)."""
    user, sep, password = read_secret(path, "camera credentials_file").partition(":")
    if not sep or not user or "\n" in password:
        raise ConfigError(f"camera credentials_file {path}: expected one line user:password")
    return user, password
