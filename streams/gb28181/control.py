"""The relay's calls to the SIP service's control API (INVITE, INFO, BYE of a media call)."""

from __future__ import annotations

import httpx


def post_control(base: str, token: str, path: str, body: dict[str, object]) -> dict[str, object]:
    """POST ``body`` to ``base + path``; RuntimeError naming the path and the service's reason
    when it refuses (httpx.HTTPError when it cannot be reached)."""
    r = httpx.post(f"{base}{path}", json=body, timeout=8.0,
                   headers={"authorization": f"Bearer {token}"})
    if r.status_code != 200:
        detail = r.json().get("detail", r.text[:200]) if r.content else r.status_code
        raise RuntimeError(f"{path}: {detail}")
    return dict(r.json())
