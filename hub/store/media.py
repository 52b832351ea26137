"""Media held by the hub: copies of edge boxes' pictures and clips, and the media store.

Edge boxes publish every picture and clip their events reference (``edge/media/<sha256>``
topics); ingest keeps the bytes in the ``media`` table (migration 0006) in the same
transaction as the rest of its batch. Readers (event console, evidence bundles) look a
reference up by its sha256 there first, then in the files of ``access.media_dir``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from hub.audit.evidence import resolve_media

SUFFIX = {"image/jpeg": ".jpg", "video/mp4": ".mp4"}


@dataclass(frozen=True)
class MediaBlob:
    sha256: str
    content_type: str
    data: bytes
    department: str
    site: str


class MediaMismatch(ValueError):
    """A stored file whose bytes do not match the sha256 its event pinned."""


async def store_media(conn: psycopg.AsyncConnection[Any], blobs: Sequence[MediaBlob]) -> int:
    """Insert blobs not stored yet (content-addressed: a re-send is a no-op); how many."""
    stored = 0
    async with conn.cursor() as cur:
        for b in {b.sha256: b for b in blobs}.values():
            await cur.execute(
                "INSERT INTO media (sha256, content_type, size, data, department_id, site_id) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (sha256) DO NOTHING",
                (b.sha256, b.content_type, len(b.data), b.data, b.department, b.site),
            )
            stored += cur.rowcount
    return stored


def load_media(
    conn: psycopg.Connection[Any], ref: dict[str, Any], media_dir: Path, max_bytes: int
) -> tuple[bytes, str] | None:
    """(bytes, file suffix) of a media reference the hub holds, else None (then only its
    source, e.g. the edge box, may have it). Raises MediaMismatch for a stored file that
    does not match the reference's sha256."""
    sha = ref.get("sha256")
    if isinstance(sha, str) and sha:
        row = conn.execute(
            "SELECT data, content_type FROM media WHERE sha256 = %s AND size <= %s",
            (sha.lower(), max_bytes),
        ).fetchone()
        if row is not None:
            return bytes(row[0]), SUFFIX.get(row[1], "")
    path = resolve_media(str(ref.get("uri", "")), media_dir)
    if path is None or path.stat().st_size > max_bytes:
        return None
    data = path.read_bytes()
    if sha and hashlib.sha256(data).hexdigest() != sha:
        raise MediaMismatch("stored file does not match its sha256")
    return data, path.suffix
