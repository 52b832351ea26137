"""HTTP clients that are cheap to make.

httpx builds a TLS context for every client it makes (the CA bundle read and parsed: about
30 ms of CPU, on the caller's event loop). The hub's relay gateway makes a client per request,
and a wall of tiles coming back after a relay restart sends some fifty at once (offers, event
streams, hang-ups): the hub's loop was blocked for a second and more. Every client here shares
one context, made once (an ``ssl.SSLContext`` is safe to share between connections).
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx

#: Headers of a server-sent event stream: never stored by a cache (events can be
#: confidential) and never buffered by a reverse proxy (nginx holds a response otherwise).
EVENT_STREAM_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verification (certifi's CA bundle), made once per process."""
    return httpx.create_ssl_context()


def async_client(**kwargs: Any) -> httpx.AsyncClient:
    """``httpx.AsyncClient(**kwargs)`` on the shared TLS context."""
    return httpx.AsyncClient(verify=tls_context(), **kwargs)


def sync_client(**kwargs: Any) -> httpx.Client:
    """``httpx.Client(**kwargs)`` on the shared TLS context."""
    return httpx.Client(verify=tls_context(), **kwargs)
