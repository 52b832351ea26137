"""Play tokens on the RTSP re-serve, checked before any media is built.

A reader shows its token either in the URL (``rtsp://relay:8554/<camera>?token=<play token>``)
or, for readers that cannot add a query (some wall decoders, NVRs), as the password of
Basic authentication (``rtsp://viewer:<play token>@relay:8554/<camera>``; the user name is
ignored). Without either, the relay answers ``401`` with a Basic challenge, so clients that
hold credentials send them; with a bad token it answers ``401`` again. A connection that
showed a valid token for a camera may go on without it (SETUP/PLAY URLs are built from the
Content-Base, which drops the query). ffmpeg truncates URL credentials to 127 characters,
shorter than a play token: give ffmpeg ``?token=``. The check runs in
gst-rtsp-server's auth hook (``auth.check.url``), so refused requests never reach the media
factory (no upstream pull, no GStreamer assertion noise).
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable
from urllib.parse import parse_qs, unquote

import gi

gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, GstRtsp, GstRtspServer  # noqa: E402

from streams.auth.tokens import PlayGrant  # noqa: E402

log = logging.getLogger(__name__)

#: camera_id, token -> the grant (True where tokens carry none), False if refused
TokenCheck = Callable[[str, str | None], "PlayGrant | bool"]
#: keep a view's closer until the returned release is called (streams.auth.guard.ViewGuard)
Watch = Callable[["PlayGrant", Callable[[str], None]], Callable[[], None]]


def token_from_request(query: str | None, authorization: str | None) -> str | None:
    """The play token of a request: ``?token=`` first, else the Basic password."""
    token = next(iter(parse_qs(query or "").get("token", [])), None)
    if token:  # some readers append the control path to the query: "token=T/stream=0"
        return token.split("/")[0]
    if authorization and authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        _user, sep, password = decoded.partition(":")
        return unquote(password) if sep and password else None
    return None


class PlayTokenAuth(GstRtspServer.RTSPAuth):
    """gst-rtsp-server auth that lets a request through when it carries a valid play token."""

    def __init__(self, check_token: TokenCheck, watch: Watch | None = None) -> None:
        super().__init__()
        self.check_token = check_token
        self.watch = watch
        self.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
        self.refused = 0
        # id(client) -> (client, cameras it showed a valid token for); GLib thread only
        self._granted: dict[int, tuple[GstRtspServer.RTSPClient, set[str]]] = {}
        self._watched: dict[int, dict[str, Callable[[], None]]] = {}  # id(client) -> releases

    def do_authenticate(self, ctx: GstRtspServer.RTSPContext) -> bool:
        return False  # only reached for refused requests: the default check then answers 401

    def do_check(self, ctx: GstRtspServer.RTSPContext, check: str) -> bool:
        if check != GstRtspServer.RTSP_AUTH_CHECK_URL:
            return True  # factory access/construct: the URL check already decided
        url = ctx.uri
        # "/<camera>" on DESCRIBE, "/<camera>/stream=0" on SETUP
        camera = unquote((url.abspath if url else "") or "").strip("/").split("/")[0]
        header = None
        if ctx.request is not None:
            res, value = ctx.request.get_header(GstRtsp.RTSPHeaderField.AUTHORIZATION, 0)
            header = value if res == GstRtsp.RTSPResult.OK else None
        token = token_from_request(url.query if url else None, header)
        client = ctx.client
        granted = self._granted.get(id(client))
        if camera and token is None and granted is not None and camera in granted[1]:
            return True
        grant = self.check_token(camera, token) if camera else False
        if grant:
            if client is not None:
                self._grant(client, camera, grant)
            return True
        self.refused += 1
        if token:
            log.info("rtsp %s: refused (invalid play token)", camera or "?")
        # The default check passes any URL; its factory-access check authenticates, and since
        # authenticate() fails it answers 401 with the Basic challenge and refuses.
        return GstRtspServer.RTSPAuth.do_check(
            self, ctx, GstRtspServer.RTSP_AUTH_CHECK_MEDIA_FACTORY_ACCESS
        )

    def _grant(self, client: GstRtspServer.RTSPClient, camera: str, grant: object) -> None:
        entry = self._granted.get(id(client))
        if entry is None:
            entry = self._granted[id(client)] = (client, set())
            client.connect("closed", self._closed)
        entry[1].add(camera)
        if self.watch is not None and isinstance(grant, PlayGrant):
            views = self._watched.setdefault(id(client), {})
            if grant.token_id not in views:
                views[grant.token_id] = self.watch(grant, lambda why: self._end(client, why))

    def _end(self, client: GstRtspServer.RTSPClient, why: str) -> None:
        """Access ended (any thread): drop the reader's connection on the GLib thread."""
        log.info("rtsp: closing a reader: %s", why)
        GLib.idle_add(lambda: client.close() and False)

    def _closed(self, client: GstRtspServer.RTSPClient) -> None:
        self._granted.pop(id(client), None)
        for release in self._watched.pop(id(client), {}).values():
            release()
