"""Camera credentials at rest: sealed with Fernet, written through functions the API may
call but whose tables it cannot read (migrations 0002_access, 0022_camera_secret_parts).
Only the relay (and PTZ, as the owner) unseals.

An edit may send one part alone (a new URL, a new password): the API cannot read the
sealed whole to merge into, so each part is sealed on its own and laid over the whole
when it is opened; storing the whole again drops the parts."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

import psycopg
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

log = logging.getLogger(__name__)
PARTS = ("url", "username", "password")
#: The whole and its parts, as the owner reads them.
_SEALED = ("SELECT s.camera_id, s.sealed, coalesce(array_agg(p.part) FILTER (WHERE p.part IS NOT"
           " NULL), '{}') AS parts, coalesce(array_agg(p.sealed) FILTER (WHERE p.part IS NOT"
           " NULL), '{}') AS part_values"
           " FROM camera_secrets s LEFT JOIN camera_secret_parts p USING (camera_id)")


class CredentialBox:
    def __init__(self, fernet_key: bytes, *older: bytes) -> None:
        """Seals with ``fernet_key``; opens with it or any of ``older``."""
        self._fernet = MultiFernet([Fernet(k) for k in (fernet_key, *older)])

    def seal(self, url: str, username: str | None, password: str | None) -> bytes:
        body = json.dumps({"url": url, "username": username, "password": password})
        return self._fernet.encrypt(body.encode())

    def unseal(self, sealed: bytes) -> dict[str, str | None]:
        try:
            return dict(json.loads(self._fernet.decrypt(sealed)))
        except InvalidToken as exc:
            raise ValueError("camera credentials do not open with this key") from exc

    def unseal_with_parts(self, sealed: bytes, parts: Iterable[tuple[str, bytes]]
                          ) -> dict[str, str | None]:
        """The whole with each later-sent part laid over it."""
        creds = self.unseal(sealed)
        for name, value in parts:
            creds[name] = self.unseal(bytes(value)).get(name)
        return creds

    def store(
        self,
        conn: psycopg.Connection[Any],
        camera_id: str,
        url: str,
        username: str | None,
        password: str | None,
    ) -> None:
        conn.execute(
            "SELECT cityhub_set_camera_secret(%s, %s)",
            (camera_id, self.seal(url, username, password)),
        )

    def store_parts(self, conn: psycopg.Connection[Any], camera_id: str,
                    parts: dict[str, str]) -> bool:
        """Change only the parts given (``url``, ``username``, ``password``); False when the
        camera has no credentials yet to change."""
        for name, value in parts.items():
            if name not in PARTS:
                raise ValueError(f"not a credential part: {name}")
            row = conn.execute("SELECT cityhub_set_camera_secret_part(%s, %s, %s)", (
                camera_id, name, self._fernet.encrypt(json.dumps({name: value}).encode()),
            )).fetchone()
            if row is None or row[0] is not True:
                return False
        return True


def read_for_relay(
    conn: psycopg.Connection[Any], box: CredentialBox, camera_id: str
) -> dict[str, str | None] | None:
    """The relay's way in (connects as the owner, not as the API role)."""
    row = conn.execute(f"{_SEALED} WHERE s.camera_id = %s GROUP BY s.camera_id",
                       (camera_id,)).fetchone()
    return box.unseal_with_parts(bytes(row[1]), zip(row[2], row[3], strict=True)) if row else None


def cameras_for_relay(conn: psycopg.Connection[Any], box: CredentialBox) -> list[dict[str, Any]]:
    """Every camera in the store with a way in (not retired), for the relays that pull them
    (as the owner: the API role reads neither other departments' cameras nor secrets)."""
    rows = conn.execute(
        f"WITH s AS ({_SEALED} GROUP BY s.camera_id) SELECT c.id, c.department_id, c.always_on,"
        " c.recording, s.sealed, s.parts, s.part_values FROM cameras c JOIN s ON s.camera_id = c.id"
        " WHERE c.retired_at IS NULL ORDER BY c.id"
    ).fetchall()
    out = []
    for camera_id, department, always_on, recording, sealed, names, values in rows:
        try:
            creds = box.unseal_with_parts(bytes(sealed), zip(names, values, strict=True))
        except ValueError:  # sealed under a key no longer held: that camera is left out
            log.warning("camera %s: credentials do not open with the hub's keys", camera_id)
            continue
        if creds.get("url"):
            out.append({"id": camera_id, "department": department, "always_on": always_on,
                        "recording": recording, **creds})
    return out
