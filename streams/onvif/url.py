"""The ``onvif://`` camera URL and the one error of every ONVIF call: light, so that the
relay's pull sources name them without loading the SOAP client (zeep, aiohttp) that only an
ONVIF camera's stream needs (streams/sources/onvif.py loads it when one starts)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit


class OnvifError(Exception):
    """An ONVIF call that did not succeed; the message says why."""


@dataclass(frozen=True)
class OnvifUrl:
    """An ``onvif://`` camera URL, parsed; ``display`` is safe to log."""

    host: str
    port: int
    username: str | None
    password: str | None
    profile: str  #: main (first profile), sub (second) or a profile token

    @classmethod
    def parse(cls, url: str, username: str | None = None,
              password: str | None = None) -> OnvifUrl:
        parts = urlsplit(url)
        if parts.scheme.lower() != "onvif" or not parts.hostname:
            raise OnvifError("an ONVIF camera URL is onvif://[user:pass@]host[:port][/?profile=]")
        try:
            port = parts.port or 80
        except ValueError:
            raise OnvifError("onvif:// URL has an invalid port") from None
        profile = parse_qs(parts.query).get("profile", ["main"])[0]
        return cls(parts.hostname, port,
                   username or (unquote(parts.username) if parts.username else None),
                   password or (unquote(parts.password) if parts.password else None), profile)

    @property
    def display(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"onvif://{host}:{self.port}/?profile={self.profile}"
