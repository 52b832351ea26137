"""The MQTT topic scheme (documented in hub/ingest/README.md) and its parsing.

``city/{department}/{site}/{system}/events``          cityhub events pack
``city/{department}/{site}/sensor/readings``          SenML pack or cityhub readings pack
``city/{department}/{site}/{system}/native/{format}`` a source system's native payload
``city/{department}/{site}/edge/{health|status}``     edge-box heartbeat / retained status
``city/{department}/{site}/edge/media/{sha256}``      a picture or clip an event references
``city/{department}/{site}/edge/discovery``           ONVIF devices an edge box found (WS-Discovery)

Department and site in the topic are authoritative: the broker's ACL decides
who may publish where, and payloads claiming otherwise are dead-lettered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.model import SourceSystem

ROOT = "city"
SHARE_GROUP = "cityhub-ingest"
_IDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_FORMAT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class TopicError(ValueError):
    """A topic outside the scheme (the message is dead-lettered with this reason)."""


@dataclass(frozen=True)
class Route:
    department: str
    site: str
    system: SourceSystem
    kind: str  #: "events", "readings", "native", "health", "status", "media" or "discovery"
    format: str | None = None  #: adapter format for native payloads; sha256 for media

    def topic(self) -> str:
        base = f"{ROOT}/{self.department}/{self.site}/{self.system.value}"
        return f"{base}/native/{self.format}" if self.kind == "native" else f"{base}/{self.kind}"


def subscription(root: str = ROOT, group: str | None = SHARE_GROUP) -> str:
    """The ingest subscription: shared so several workers split the load."""
    return f"$share/{group}/{root}/#" if group else f"{root}/#"


def events_topic(department: str, site: str, system: SourceSystem | str) -> str:
    return f"{ROOT}/{department}/{site}/{SourceSystem(system).value}/events"


def readings_topic(department: str, site: str) -> str:
    return f"{ROOT}/{department}/{site}/sensor/readings"


def media_topic(department: str, site: str, sha256: str) -> str:
    return f"{ROOT}/{department}/{site}/edge/media/{sha256}"


def discovery_topic(department: str, site: str) -> str:
    return f"{ROOT}/{department}/{site}/edge/discovery"


def department_of(topic: str, root: str = ROOT) -> str | None:
    """The department a topic names, also one outside the scheme (a dead letter's topic:
    the broker's ACL let only that department's devices publish under it); None if none."""
    parts = topic.split("/", 2)
    if len(parts) == 3 and parts[0] == root and _IDENT.match(parts[1]):
        return parts[1]
    return None


def parse(topic: str, root: str = ROOT) -> Route:
    parts = topic.split("/")
    if len(parts) < 5 or parts[0] != root:
        raise TopicError(f"topic {topic[:200]!r} is not {root}/<department>/<site>/<system>/<kind>")
    _, dept, site, system, kind, *rest = parts
    for name, value in (("department", dept), ("site", site)):
        if not _IDENT.match(value):
            raise TopicError(f"topic {name} {value[:70]!r} is not a valid identifier")
    try:
        sys = SourceSystem(system)
    except ValueError:
        raise TopicError(f"unknown source system {system[:40]!r} in topic") from None
    if kind == "native" and len(rest) == 1 and _FORMAT.match(rest[0]):
        return Route(dept, site, sys, "native", rest[0])
    if kind == "media" and sys == SourceSystem.edge and len(rest) == 1:
        if not _SHA256.match(rest[0]):
            raise TopicError("a media topic ends with the content's sha256 (64 hex digits)")
        return Route(dept, site, sys, "media", rest[0])
    if rest:
        raise TopicError(f"topic {topic[:200]!r} has unexpected levels after {kind!r}")
    if kind == "events":
        return Route(dept, site, sys, "events")
    if kind == "readings" and sys == SourceSystem.sensor:
        return Route(dept, site, sys, "readings")
    if kind in ("health", "status", "config", "discovery") and sys == SourceSystem.edge:
        return Route(dept, site, sys, kind)
    raise TopicError(f"unknown topic kind {kind[:40]!r} for system {sys.value!r}")
