"""Whether a live view may go on: asked by the relay, answered from the database.

A play token is signed for two minutes, but access can be taken away at any moment:
a grant revoked, a user disabled, an API key deleted, a logout, an incident closed.
The relay therefore asks before it serves a new view and then every second while the
view lasts (``streams/auth/guard.py``). Each answer re-derives the viewer's rights
from scratch (the same rules as ``POST /cameras/{id}/play``), so no revoking write
needs to know which views it affects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from hub.auth import accounts
from hub.auth.grant_store import visibility
from hub.auth.grants import Visibility
from hub.auth.roles import Principal, Role

#: Who may watch a camera at all (the role ``POST /cameras/{id}/play`` requires).
VIEW_ROLES = (Role.operator,)


@dataclass(frozen=True)
class Ended:
    """Why a view may not go on: a stable code for the UI and a sentence for people."""

    code: str
    reason: str


UNKNOWN = Ended("unknown_session", "no such view session")
LEGACY = Ended("unknown_session", "view session without a recorded viewer: ask for a new token")


def _principal(conn: psycopg.Connection[Any], row: dict[str, Any]) -> Principal | Ended:
    kind, pid = row["principal_kind"], row["principal_id"]
    if kind == "user":
        principal = accounts.user_principal(conn, pid)
        if principal is None:
            return Ended("user_disabled", "the viewer's account was disabled")
        session = row["login_session"]
        if session and accounts.session_ended(conn, session):
            return Ended("logged_out", "the viewer logged out")
        return principal
    if kind == "api_key":
        key = accounts.api_key_by_id(conn, pid)
        return key or Ended("key_revoked", "the API key was deleted or has expired")
    return LEGACY


def _camera(conn: psycopg.Connection[Any], department: str, camera_id: str) -> Any:
    """The camera as the viewer's department reads it (row-level security applies)."""
    conn.execute("SELECT set_config('cityhub.department', %s, true)", (department,))
    return conn.execute(
        "SELECT department_id, site_id, id, source_system FROM cameras WHERE id = %s",
        (camera_id,),
    ).fetchone()


def rights_key(row: dict[str, Any] | None) -> tuple[Any, ...]:
    """What a verdict depends on: views alike in it share one check (many tiles, one viewer)."""
    if row is None or row["ended_code"]:
        return ("session", row["id"] if row else None)
    return (row["principal_kind"], row["principal_id"], row["login_session"], row["camera_id"],
            "playback" in row["protocols"])


class Verdicts:
    """Whether views may go on, for many views in one request: each viewer's account and
    each department's grants are read once (a wall is one viewer on many cameras), each
    distinct view (``rights_key``) judged once; all fresh from the database per request."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self._views: dict[tuple[Any, ...], Ended | None] = {}
        self._principals: dict[tuple[Any, ...], Principal | Ended] = {}
        self._rights: dict[str, Visibility] = {}

    def ended(self, row: dict[str, Any] | None) -> Ended | None:
        """None while the view may go on, else why it must end."""
        key = rights_key(row)
        if key not in self._views:
            self._views[key] = self._judge(row)
        return self._views[key]

    def _judge(self, row: dict[str, Any] | None) -> Ended | None:
        if row is None:
            return UNKNOWN
        if row["ended_code"]:
            return Ended(row["ended_code"], row["ended_reason"] or "")
        who = (row["principal_kind"], row["principal_id"], row["login_session"])
        if who not in self._principals:
            self._principals[who] = _principal(self.conn, row)
        principal = self._principals[who]
        if isinstance(principal, Ended):
            return principal
        if not principal.has(*VIEW_ROLES):
            return Ended("role_removed", "the viewer no longer holds the operator role")
        camera = _camera(self.conn, principal.department, row["camera_id"])
        if principal.department not in self._rights:
            self._rights[principal.department] = visibility(self.conn, principal.department)
        rights = self._rights[principal.department]
        if camera is None or not rights.sees_camera(*camera):
            return Ended("access_revoked", "access to this camera was taken away")
        if "playback" in row["protocols"] and rights.playback_window(*camera) is None:
            return Ended("access_revoked", "the playback grant for this camera was taken away")
        return None
