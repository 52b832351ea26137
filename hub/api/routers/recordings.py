"""Export of a time range from several cameras at once: one signed bundle.

``POST /recordings/exports {"cameras", "start", "end", "purpose"}`` checks the caller's
playback right on every camera first (none is cut unless all may be), then has each
camera's relay cut its MP4 (``hub.recordings_export``). The ZIP holds one MP4 and the
relay's signed segment manifest per camera, ``export.json`` (what was asked, by whom,
why) and one ``manifest.json`` over all of them signed with the hub's Ed25519 key
(``python -m hub.audit.evidence BUNDLE.zip KEY.pem`` checks it offline). Each camera's
export is in the audit log.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import AwareDatetime, Field, model_validator

from core.model import Ident
from hub.api.common import Strict, Text
from hub.audit import evidence
from hub.auth.access import Caller, require
from hub.auth.roles import Role
from hub.recordings_export import may_play_back, relay_export

router = APIRouter(prefix="/recordings", tags=["recordings"])
#: A bundle is built in memory: an hour of 16 cameras at 2 Mb/s is ~14 GB; keep it sane.
MAX_SPAN_S = 3600


class ExportIn(Strict):
    cameras: list[Ident] = Field(min_length=1, max_length=16)
    start: AwareDatetime
    end: AwareDatetime
    purpose: Text = Field(description="Why the footage is taken (case number): audited.")

    @model_validator(mode="after")
    def _range(self) -> ExportIn:
        span = (self.end - self.start).total_seconds()
        if not 0 < span <= MAX_SPAN_S:
            raise ValueError(f"end must be after start, at most {MAX_SPAN_S} s later")
        return self


@router.post(
    "/exports",
    summary="Export a time range from several cameras as one signed bundle",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}},
                     "description": "ZIP: recordings/<camera>.mp4 and .manifest.json per "
                     "camera, export.json, manifest.json, manifest.sig"}},
)
def export(body: ExportIn, caller: Caller = require(Role.analyst)) -> Response:
    start, end = body.start.timestamp(), body.end.timestamp()
    cameras = [may_play_back(caller, c, start, end, unknown=422)
               for c in dict.fromkeys(body.cameras)]
    export_id = uuid.uuid4().hex
    missing: list[dict[str, str]] = []
    media: list[evidence.MediaFile] = []
    for camera in cameras:
        footage = relay_export(caller, camera, start, end, missing)
        if footage is None:
            continue
        media += footage.files()
        caller.audit("recording.export", target_type="camera", target_id=camera["id"],
                     department=camera["department_id"], export=export_id, start=start, end=end,
                     purpose=body.purpose, segments=len(footage.manifest["segments"]))
    if not media:
        reasons = "; ".join(m["reason"] for m in missing)
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"nothing recorded in that range on any camera ({reasons})")
    asked: dict[str, Any] = {"id": export_id, "cameras": [c["id"] for c in cameras],
                             "start": start, "end": end, "purpose": body.purpose}
    files = {"export.json": json.dumps(asked, indent=2, sort_keys=True).encode()}
    head = {"format": "cityhub-recordings/1", "export_id": export_id}
    bundle, _manifest = evidence.sign_bundle(head, files, media, missing,
                                             caller.principal.actor, caller.runtime.signing_key)
    return Response(bundle, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="recordings-{export_id}.zip"'})
