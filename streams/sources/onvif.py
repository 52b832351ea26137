"""``onvif://user:pass@host:port[/?profile=main|sub|<token>]``: an ONVIF camera's stream.

The stream URI is asked of the camera (GetStreamUri, onvif-zeep-async) each time the
upstream session starts, so a camera that moves its RTSP port or path keeps working.
``make_element`` runs on the relay's event loop and must not block: it returns an
rtspsrc locked in NULL; a thread resolves the URI (bounded), points the rtspsrc at
it with the same credentials and lets it follow the pipeline. A failure is posted as
an element error, which the stream actor reports and retries with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import threading

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

from streams.onvif.url import OnvifError, OnvifUrl  # noqa: E402
from streams.sources.rtsp import RtspSource  # noqa: E402

log = logging.getLogger(__name__)
RESOLVE_TIMEOUT_S = 8.0  #: the whole GetStreamUri exchange (connect, services, profiles, URI)


class OnvifSource:
    def __init__(self, url: str, username: str | None = None, password: str | None = None,
                 transport: str = "tcp") -> None:
        self.onvif = OnvifUrl.parse(url, username, password)
        self.transport = transport
        self.display_url = self.onvif.display

    async def stream_uri(self) -> str:
        # lazy: the SOAP client (zeep, aiohttp) loads with the first ONVIF camera, not with
        # every relay start (a restart's viewers wait for it: streams/README.md)
        from streams.onvif.client import OnvifDevice  # noqa: PLC0415

        async with OnvifDevice.from_url(self.onvif, RESOLVE_TIMEOUT_S) as dev:
            profile = await dev.profile(self.onvif.profile)
            return await dev.stream_uri(profile.token)

    def make_element(self) -> Gst.Element:
        src = RtspSource("rtsp://unresolved.invalid/", transport=self.transport).make_element()
        src.set_locked_state(True)
        threading.Thread(target=self._resolve, args=(src,), daemon=True,
                         name=f"onvif-{self.onvif.host}").start()
        return src

    def _resolve(self, src: Gst.Element) -> None:
        try:
            uri = asyncio.run(self.stream_uri())
        except OnvifError as exc:
            log.warning("%s: %s", self.display_url, exc)
            _post_error(src, f"ONVIF: {exc}")
            return
        rtsp = RtspSource(uri, self.onvif.username, self.onvif.password, self.transport)
        log.info("%s: stream %s", self.display_url, rtsp.display_url)
        rtsp.configure(src)
        # Follow the pipeline: one not started yet starts the source with it later; one
        # stopped meanwhile leaves (or puts) it in NULL, so no orphan connection remains.
        src.set_locked_state(False)
        src.sync_state_with_parent()
        parent = src.get_parent()
        if parent is None or parent.target_state == Gst.State.NULL:
            src.set_state(Gst.State.NULL)


def _post_error(src: Gst.Element, message: str) -> None:
    error = GLib.Error.new_literal(GLib.quark_from_string("onvif"), message, 1)
    src.post_message(Gst.Message.new_error(src, error, message))
