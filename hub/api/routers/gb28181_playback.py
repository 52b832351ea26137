"""A GB/T 28181 channel's recordings kept on its device (NVR), played to a viewer through
the relay: ``POST /gb28181/channels/{camera}/playback {"start", "end"}`` gives a play
token (``rtsp`` + ``playback``, limited to that stretch) and the relay's RTSP URL
``/{camera}/device?start&end`` (the relay INVITEs the device with ``s=Playback``; pause,
seek and speed go to it as MANSRTSP), and for a browser its fMP4 WebSocket
``/playback/{camera}/device?start&end`` (the relay's playback protocol, same token). The
same rule as the relay's own recordings: a playback grant on the camera (403 without), the
stretch within its time window; the view is a view session (revocation ends it) and
audited ``video.playback.authorize`` with ``source: device``, its start and stop by the
relay."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field, model_validator

from core.model import Ident
from hub.api.common import Strict
from hub.api.routers.gb28181 import channel_of
from hub.api.routers.streams import _playback_window, open_view
from hub.auth import view_guard
from hub.auth.access import Caller, require
from hub.relays import relay_bases

router = APIRouter(prefix="/gb28181", tags=["gb28181"])
MAX_SPAN_S = 24 * 3600  #: one INVITE's window (as the cascade accepts)


class DevicePlayIn(Strict):
    start: float = Field(gt=0, description="unix s")
    end: float = Field(gt=0, description="unix s; after start, at most 24 h later")

    @model_validator(mode="after")
    def _span(self) -> DevicePlayIn:
        if not 0 < self.end - self.start <= MAX_SPAN_S:
            raise ValueError(f"end must be after start, at most {MAX_SPAN_S} s later")
        return self


class DevicePlayOut(BaseModel):
    token: str = Field(description="Append as &token= to rtsp_url. Short-lived.")
    session_id: str
    camera: str
    device: str
    start: int
    end: int
    expires_at: datetime
    rtsp_url: str = Field(description="The device's recording of [start, end] over RTSP.")
    playback_url: str = Field(description="The same as fMP4 over a WebSocket (browsers); "
                              "append &token=.")


@router.post("/channels/{camera_id}/playback", response_model=DevicePlayOut,
             summary="Play a GB/T 28181 channel's recording kept on its device")
def device_playback(camera_id: Ident, body: DevicePlayIn,
                    caller: Caller = require(*view_guard.VIEW_ROLES)) -> dict[str, Any]:
    camera = caller.camera_or_404(camera_id)
    lo, hi = _playback_window(caller, camera)  # 403 without a playback grant
    start = math.ceil(max(body.start, lo or 0))  # whole seconds (t=), inside the grant
    end = math.floor(min(body.end, hi or body.end))
    if not start < end:
        raise HTTPException(422, "nothing of [start, end] is within the playback grant")
    channel = channel_of(caller, camera_id)
    token, grant, expires = open_view(
        caller, camera, ["playback", "rtsp"], [lo, hi], (float(start), float(end)),
        source="device", device=channel["device_id"], channel=channel["id"], start=start,
        end=end)
    http_base, rtsp_base = relay_bases(caller.runtime.config, camera_id)
    stretch = f"device?start={start}&end={end}"
    return {"token": token, "session_id": grant.token_id, "camera": camera_id,
            "device": channel["device_id"], "start": start, "end": end, "expires_at": expires,
            "rtsp_url": f"{rtsp_base}/{camera_id}/{stretch}",
            "playback_url": f"{http_base.replace('http', 'ws', 1)}/playback/{camera_id}/{stretch}"}
