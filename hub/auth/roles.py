"""Roles and the principal (who is calling) that every access rule is checked against."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Role(enum.StrEnum):
    """What a user or service may do; visibility (what it may see) comes from its department."""

    admin = "admin"  #: manages the department's users, keys, registry and outgoing grants
    operator = "operator"  #: watches live video and plays back recordings
    analyst = "analyst"  #: queries events, counts and readings; exports evidence
    auditor = "auditor"  #: reads the audit log and verifies it
    relay = "relay"  #: service role of the media relay: reports view start/stop
    supervisor = "supervisor"  #: duty supervisor: verifies and closes incidents, gets escalations


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a user (by token) or a service (by API key)."""

    kind: str  #: "user" or "api_key"
    id: str  #: user id or API key id
    name: str  #: username or key name, as written in the audit log
    department: str
    roles: frozenset[Role] = field(default_factory=frozenset)
    #: The login session (refresh-token family) a user's access token belongs to.
    session: str | None = None

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"
