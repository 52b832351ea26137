"""The edge box's HTTP listener: local source systems push here; snapshots are served here.

``POST /push/{format}?system=...``: a weigh-in-motion station, an ANPR camera
(ISAPI alerts) or any configured ``adapters`` plugin posts its native payload;
it is adapted on the box and the events go through the outbox (evidence),
readings as telemetry. A payload that cannot be adapted is kept under
``dead-letter/`` with the reason and answered 422; a full outbox answers 503 so
the source retries (nothing is acknowledged that was not stored).
Every push is authenticated first (edge/push_auth.py): 401 with digest challenges for
missing or wrong credentials, 403 for an address or format the device may not use;
the body of a refused push is never read.
``GET /snapshots/{sha256}.jpg`` and ``GET /clips/{sha256}.mp4`` serve evidence media,
``GET /health`` the current health report.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from adapters import registry
from adapters.base import Adapted, AdapterError, Origin
from adapters.model import Event, Reading, ReadingRow
from core.model import SourceSystem
from edge.config import EdgeConfig
from edge.evidence import SnapshotStore
from edge.outbox import OutboxError
from edge.push_auth import PushAuth, Verdict

_SHA = re.compile(r"^[0-9a-f]{64}$")

Submit = Callable[[list[Event], list[Reading]], None]


def dead_letter(directory: Path, fmt: str, payload: bytes, reasons: list[str]) -> Path:
    """Keep a rejected payload with its reasons for inspection."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = directory / f"{time.time_ns()}-{fmt[:40]}"
    stem.with_suffix(".bin").write_bytes(payload)
    stem.with_suffix(".json").write_text(json.dumps({"format": fmt, "reasons": reasons[:50]}))
    return stem


class Rejected(HTTPException):
    """An error answered as JSON ``{"detail": ...}``; the detail may be structured."""

    def __init__(self, status_code: int, detail: Any) -> None:
        super().__init__(status_code)
        self.body = detail


async def _error_json(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.body if isinstance(exc, Rejected) else exc.detail
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)


def build_app(
    config: EdgeConfig,
    submit: Submit,
    snapshots: SnapshotStore,
    health: Callable[[], dict[str, Any]],
    guard: PushAuth,
    clips_dir: Path | None = None,
) -> Starlette:
    """The listener's routes (Starlette only: an edge box carries no FastAPI)."""
    dead = Path(config.state_dir) / "dead-letter"

    async def push(request: Request) -> Response:
        fmt: str = request.path_params["fmt"]
        host = request.client.host if request.client else None
        verdict = guard.check(
            request.headers.get("authorization"), request.method, _target(request), host, fmt
        )
        if not verdict.accepted:
            return _refusal(guard, verdict)
        system = request.query_params.get("system")
        if fmt not in config.adapters:
            raise HTTPException(404, f"adapter {fmt[:40]!r} is not enabled on this box")
        body = await _read_limited(request, config.listener.max_body_bytes)
        adapted, beats, reasons = _adapt(config, dead, fmt, system, body)
        try:
            readings = [r.to_model() for r in [*adapted.readings, *beats]]  # SenML: tuples
            await asyncio.to_thread(submit, adapted.events, readings)  # fsync off the loop
        except OutboxError as exc:
            raise HTTPException(503, f"cannot store now, retry: {exc}") from None
        return JSONResponse(
            {
                "events": len(adapted.events),
                "readings": len(readings),
                "rejected": reasons[:20],
                "ids": [str(e.id) for e in adapted.events][:100],
            }
        )

    async def snapshot(request: Request) -> FileResponse:
        sha = str(request.path_params["name"]).removesuffix(".jpg")
        path = snapshots.path(sha) if _SHA.match(sha) else None
        if path is None or not path.exists():
            raise HTTPException(404, "no such snapshot")
        return FileResponse(path, media_type="image/jpeg")

    async def clip(request: Request) -> FileResponse:
        sha = str(request.path_params["name"]).removesuffix(".mp4")
        path = clips_dir / f"{sha}.mp4" if clips_dir is not None and _SHA.match(sha) else None
        if path is None or not path.exists():
            raise HTTPException(404, "no such clip")
        return FileResponse(path, media_type="video/mp4")

    async def get_health(request: Request) -> JSONResponse:
        return JSONResponse(health())

    routes = [
        Route("/push/{fmt}", push, methods=["POST"]),
        Route("/snapshots/{name}", snapshot, methods=["GET"]),
        Route("/clips/{name}", clip, methods=["GET"]),
        Route("/health", get_health, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: _error_json})


def _target(request: Request) -> str:
    """The request target as the client sent it (what a digest response covers)."""
    target = request.scope["raw_path"].decode("latin-1")
    if request.scope["query_string"]:
        target += "?" + request.scope["query_string"].decode("latin-1")
    return target


def _adapt(
    config: EdgeConfig, dead: Path, fmt: str, system: str | None, body: bytes
) -> tuple[Adapted, list[ReadingRow], list[str]]:
    """The pushed payload adapted, its keep-alives as liveness readings and the reasons of
    its rejected records (dead-lettered); 422 when nothing in it is usable."""
    try:
        adapter = registry.get(fmt)
        sys_ = SourceSystem(system) if system else adapter.systems[0]
        if sys_ not in adapter.systems:
            raise AdapterError(f"adapter {fmt} does not serve system {sys_.value}")
        origin = Origin(config.site.department, config.site.id, sys_, datetime.now(UTC))
        adapted = adapter.adapt(body, origin)
        beats = [h.reading(origin) for h in adapted.heartbeats]
    except (AdapterError, ValueError) as exc:
        dead_letter(dead, fmt, body, [str(exc)])
        raise HTTPException(422, f"payload rejected: {exc}") from None
    reasons = [r.reason for r in adapted.rejects]
    if reasons:
        dead_letter(dead, fmt, body, reasons)
    if not adapted.events and not adapted.readings and not adapted.heartbeats:
        raise Rejected(422, {"rejected": reasons[:20]})
    return adapted, beats, reasons


def _refusal(guard: PushAuth, verdict: Verdict) -> Response:
    """401 with fresh digest challenges (one per algorithm), or 403; the reason, no more."""
    response = JSONResponse({"detail": verdict.reason}, status_code=verdict.status)
    if verdict.status == 401:
        for value in guard.challenges(verdict.stale):
            response.headers.append("www-authenticate", value)
    return response


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"payload larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"payload larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
