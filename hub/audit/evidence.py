"""Evidence bundles: an event with its snapshot and clip, and a signed manifest.

A bundle is a ZIP holding ``event.json``, the media files, ``manifest.json``
(SHA-256 of every other file, who exported it, when, which key) and
``manifest.sig`` (Ed25519 over the manifest's exact bytes, base64). Anyone with
the published public key verifies it offline::

    python -m hub.audit.evidence bundle.zip public-key.pem
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hub.audit import signing

MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"
MAX_MEDIA_BYTES = 512 * 1024 * 1024


@dataclass
class MediaFile:
    name: str  #: name inside the bundle, e.g. ``media/snapshot-1.jpg``
    data: bytes
    expected_sha256: str | None = None  #: from the event's MediaRef, checked before export


def build(
    event: dict[str, Any],
    media: list[MediaFile],
    missing: list[dict[str, str]],
    exported_by: str,
    key: Ed25519PrivateKey,
) -> tuple[bytes, dict[str, Any]]:
    """The bundle's bytes and its manifest."""
    files: dict[str, bytes] = {
        "event.json": json.dumps(event, indent=2, sort_keys=True, default=str).encode()
    }
    head = {"format": "cityhub-evidence/1", "event_id": str(event.get("id"))}
    return sign_bundle(head, files, media, missing, exported_by, key)


def sign_bundle(
    head: dict[str, Any],
    files: dict[str, bytes],
    media: list[MediaFile],
    missing: list[dict[str, str]],
    exported_by: str,
    key: Ed25519PrivateKey,
) -> tuple[bytes, dict[str, Any]]:
    """A ZIP of ``files`` and ``media`` with one manifest over all of them, signed;
    ``head`` says what the bundle is (event evidence, a recordings export)."""
    files = dict(files)
    for m in media:
        files[m.name] = m.data
    manifest = {
        **head,
        "exported_at": datetime.now(UTC).isoformat(),
        "exported_by": exported_by,
        "key_id": signing.key_id(key),
        "algorithm": "Ed25519",
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
        "missing_media": missing,
    }
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
        z.writestr(MANIFEST, manifest_bytes)
        z.writestr(SIGNATURE, signing.sign(key, manifest_bytes))
    return out.getvalue(), manifest


def verify(bundle: bytes, public: Ed25519PublicKey) -> list[str]:
    """Problems found (empty list: the bundle is intact and signed by ``public``'s owner)."""
    problems: list[str] = []
    try:
        z = zipfile.ZipFile(io.BytesIO(bundle))
        manifest_bytes = z.read(MANIFEST)
        signature = z.read(SIGNATURE).decode()
        manifest = json.loads(manifest_bytes)
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        return [f"not a cityhub evidence bundle: {exc}"]
    if not signing.verify(public, manifest_bytes, signature):
        problems.append("manifest signature does not verify with this public key")
    listed = manifest.get("files", {})
    present = set(z.namelist()) - {MANIFEST, SIGNATURE}
    for name in sorted(present - set(listed)):
        problems.append(f"{name}: in the bundle but not in the manifest")
    for name, sha in sorted(listed.items()):
        if name not in present:
            problems.append(f"{name}: listed in the manifest but missing")
        elif hashlib.sha256(z.read(name)).hexdigest() != sha:
            problems.append(f"{name}: content does not match its SHA-256")
    return problems


def resolve_media(uri: str, media_dir: Path) -> Path | None:
    """A media URI as a file under ``media_dir`` (relative or file://), never outside it."""
    raw = uri.removeprefix("file://")
    if "://" in raw:
        return None
    root = media_dir.resolve()
    path = (root / raw.lstrip("/")) if not Path(raw).is_absolute() else Path(raw)
    path = path.resolve()
    if root not in path.parents:
        return None
    return path if path.is_file() else None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m hub.audit.evidence BUNDLE.zip PUBLIC_KEY.pem", file=sys.stderr)
        return 2
    problems = verify(Path(args[0]).read_bytes(), signing.load_public(Path(args[1]).read_bytes()))
    for p in problems:
        print(p)
    print("bundle OK" if not problems else f"bundle FAILED ({len(problems)} problems)")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
