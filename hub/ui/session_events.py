"""A WHEP session's event stream, piped from the relay to the browser.

WebRTC media flows from the relay to the browser over UDP, so a browser sees a relay that
died only when frames stop coming (its stall watch, 1.5 s). This stream runs through the
hub's gateway on TCP: when the relay dies, the gateway's connection to it breaks at once and
the gateway tells the browser so (``event: relay-lost``) before it closes. A stream that
breaks without that event is the hub going away, which the media outlives: the player opens
the stream again. The relay's own events (``open``, ``closed``) pass unchanged.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
from fastapi import HTTPException
from fastapi.responses import Response, StreamingResponse

from core.http import EVENT_STREAM_HEADERS, async_client

#: The relay sends a comment every 15 s (streams/http/viewers.py KEEPALIVE_S): three missed
#: mean a relay that hangs, which is lost as surely as one that died.
READ_TIMEOUT = httpx.Timeout(5.0, read=45.0)


async def pipe_events(url: str) -> Response:
    """The relay's event stream at ``url``: its refusal (404 once the session is gone, 502
    when the relay cannot be reached) or the stream, ended by ``relay-lost`` if it breaks."""
    client = async_client(timeout=READ_TIMEOUT)
    try:
        upstream = await client.send(client.build_request("GET", url), stream=True)
    except httpx.HTTPError:
        await client.aclose()
        raise HTTPException(502, "relay unreachable") from None
    if upstream.status_code != 200:
        body = await upstream.aread()
        await upstream.aclose()
        await client.aclose()
        return Response(body, status_code=upstream.status_code,
                        media_type=upstream.headers.get("content-type"))
    return StreamingResponse(_relayed(client, upstream), media_type="text/event-stream",
                             headers=EVENT_STREAM_HEADERS)


async def _relayed(client: httpx.AsyncClient, upstream: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    except httpx.HTTPError as exc:  # the relay died or hangs: its media has stopped
        why = json.dumps({"reason": f"relay connection lost ({type(exc).__name__})"})
        yield f"event: relay-lost\ndata: {why}\n\n".encode()
    finally:
        await upstream.aclose()
        await client.aclose()
