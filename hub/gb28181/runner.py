"""Runs the SIP service: configured devices synced into the store, then serve forever."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from gb28181.cascade import CascadeClient
from gb28181.service import ServiceSettings, SipService
from hub.auth import keys
from hub.auth.credentials import CredentialBox
from hub.config import CityConfig
from hub.gb28181.cascade_store import PgCascadeDirectory, load_uppers, sync_uppers
from hub.gb28181.control import serve_control
from hub.gb28181.relay_push import RelayPusher
from hub.gb28181.store import PgDirectory, add_device
from hub.relays import relay_bases, relay_service_headers

log = logging.getLogger(__name__)


def credential_box(config: CityConfig) -> CredentialBox:
    access = config.access
    explicit = access.credentials_key.get_secret_value() if access.credentials_key else None
    return CredentialBox(*keys.credentials_fernet_keys(explicit, config.hub.verification_secrets()))


def settings_of(config: CityConfig) -> ServiceSettings:
    g = config.gb28181
    secret = config.hub.secret_key.get_secret_value()
    return ServiceSettings(
        platform_id=g.platform_id, domain=g.domain, host=g.host, port=g.port,
        # Shared by every instance of the city: a nonce from one is good at another.
        nonce_secret=keys.derive(secret, "gb28181-nonce"), algorithm=g.algorithm,
        expires_min_s=g.expires_min_s, expires_max_s=g.expires_max_s,
        keepalive_s=g.keepalive_s, missed_keepalives=g.missed_keepalives,
        catalog_timeout_s=g.catalog_timeout_s, zone=config.ingest.local_timezone)


def sync_devices(dsn: str, config: CityConfig, box: CredentialBox) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for d in config.gb28181.devices:
            add_device(conn, box, d.id, d.department, d.site, d.password.get_secret_value(),
                       name=d.name, allow_from=d.allow_from, keepalive_s=d.keepalive_s,
                       system=d.system.value, kind=d.kind, media_transport=d.media_transport)
        sync_uppers(conn, box, config.gb28181)


async def start_cascades(config: CityConfig, pool: AsyncConnectionPool, box: CredentialBox
                         ) -> list[CascadeClient]:
    """One cascade client per enabled upper platform, sending video through the relays."""
    assert config.database.url is not None
    dsn = config.database.url.get_secret_value()

    def read() -> list[Any]:
        with psycopg.connect(dsn) as conn:
            return load_uppers(conn, box, config.gb28181, config.ingest.local_timezone)

    uppers = await asyncio.to_thread(read)
    play_secret = (config.streams.play_secret or config.hub.secret_key).get_secret_value()
    pusher = RelayPusher(lambda camera: relay_bases(config, camera)[0],
                         relay_service_headers(config, play_secret))
    directory = PgCascadeDirectory(pool, dsn)
    clients = []
    for upper in uppers:
        client = CascadeClient(upper, directory, pusher)
        await client.start()
        clients.append(client)
    return clients


async def start(config: CityConfig) -> tuple[SipService, AsyncConnectionPool]:
    """The service listening, with its pool (close both when done)."""
    assert config.database.url is not None, "database.url is required"
    dsn = config.database.url.get_secret_value()
    box = credential_box(config)
    await asyncio.to_thread(sync_devices, dsn, config, box)
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        dsn, min_size=1, max_size=8, open=False, kwargs={"application_name": "cityhub-sip"})
    await pool.open()
    settings = settings_of(config)
    directory = PgDirectory(pool, box, settings.zone)
    service = SipService(settings, directory)
    g = config.gb28181
    token = control_token(config)
    _server, _task, port = await serve_control(service, token, g.control_host, g.control_port)
    directory.source_query = f"&control=http://{g.control_host}:{port}&token={token}"
    await service.start()
    return service, pool


def control_token(config: CityConfig) -> str:
    return keys.derive(config.hub.secret_key.get_secret_value(), "gb28181-control").hex()


async def serve(config: CityConfig) -> None:
    service, pool = await start(config)
    cascades = await start_cascades(config, pool, credential_box(config))
    try:
        await asyncio.Event().wait()
    finally:
        for client in cascades:
            await client.close()
        await service.close()
        await pool.close()
