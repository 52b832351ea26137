"""Sub-keys derived from the one configured ``hub.secret_key`` (HKDF-SHA256, one label each).

Access tokens and sealed camera credentials get keys of their own, so that a key
used for one purpose can never verify or open anything of another purpose.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def derive(secret: str, label: str, length: int = 32) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=b"cityhub", info=label.encode()
    ).derive(secret.encode())


def access_token_key(secret: str) -> str:
    return base64.urlsafe_b64encode(derive(secret, "access-token")).decode()


def credentials_fernet_key(secret: str) -> bytes:
    return base64.urlsafe_b64encode(derive(secret, "camera-credentials"))


def credentials_fernet_keys(explicit: str | None, secrets: Sequence[str]) -> list[bytes]:
    """Keys of sealed camera credentials, sealing key first: ``access.credentials_key`` if
    set, else derived from the signing key, then from each key still accepted (opening only,
    so that rotating the signing key does not lock sealed credentials out at once)."""
    if explicit:
        return [explicit.encode()]
    return [credentials_fernet_key(s) for s in secrets]
