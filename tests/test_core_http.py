"""core/http.py: every client shares one TLS context (httpx would build one per client, ~30 ms
of CPU each), and that context still verifies certificates and host names."""

from __future__ import annotations

import asyncio
import ssl

from core.http import async_client, sync_client, tls_context


def test_clients_share_one_verifying_tls_context() -> None:
    ctx = tls_context()
    assert ctx is tls_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    with sync_client(timeout=1) as one:
        pool = one._transport._pool  # type: ignore[attr-defined]
        assert pool._ssl_context is ctx
    other = async_client(timeout=1)
    assert other._transport._pool._ssl_context is ctx  # type: ignore[attr-defined]
    asyncio.run(other.aclose())
