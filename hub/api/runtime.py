"""What the API needs while it runs: configuration, the connection pool, keys, live events."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from hub.api.live import LiveHub
from hub.audit import signing
from hub.audit.batcher import AuditBatcher
from hub.auth import keys
from hub.auth.credentials import CredentialBox
from hub.config import CityConfig

log = logging.getLogger(__name__)
API_ROLE = "cityhub_api"


def api_dsn(config: CityConfig, replica: bool = False) -> str:
    """The DSN of the non-owner role the API connects as; with ``replica``, on the read
    replica (``database.read_url``) when one is configured."""
    source = config.database.read_url if replica else None
    if source is None:
        if config.access.api_database_url is not None:
            return config.access.api_database_url.get_secret_value()
        if config.database.url is None:
            raise ValueError("database.url (or access.api_database_url) must be set")
        source = config.database.url
    info = psycopg.conninfo.conninfo_to_dict(source.get_secret_value())
    info["user"] = API_ROLE
    info.pop("password", None)
    if config.access.api_role_password is not None:
        info["password"] = config.access.api_role_password.get_secret_value()
    return psycopg.conninfo.make_conninfo("", **info)


@dataclass
class Runtime:
    config: CityConfig
    pool: ConnectionPool
    access_key: str  #: signs access tokens (derived from hub.secret_key)
    play_secret: str  #: hub.secret_key itself: the relay verifies play tokens with it
    access_keys: tuple[str, ...]  #: verify access tokens: access_key, then from each verify key
    play_secrets: tuple[str, ...]  #: verify play tokens: play_secret, then hub.verify_secret_keys
    signing_key: signing.Ed25519PrivateKey
    credentials: CredentialBox
    media_dir: Path
    roots_dir: Path
    live: LiveHub
    apool: AsyncConnectionPool  #: the store's read-only queries (on database.read_url if set)
    audit: AuditBatcher  #: group commit of entries outside a request's own transaction
    #: "now" for the login throttle; tests replace it instead of sleeping through delays
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @classmethod
    def from_config(cls, config: CityConfig, open_pool: bool = True) -> Runtime:
        secret = config.hub.secret_key.get_secret_value()
        state = config.state_dir
        access = config.access
        ring = config.hub.verification_secrets()
        explicit = access.credentials_key.get_secret_value() if access.credentials_key else None
        fernet = keys.credentials_fernet_keys(explicit, ring)
        dsn = api_dsn(config)
        pool = ConnectionPool(
            dsn,
            min_size=1,
            max_size=config.database.pool_size,
            open=open_pool,
            kwargs={"application_name": "cityhub-api"},
            name="cityhub-api",
        )
        return cls(
            config=config,
            pool=pool,
            access_key=keys.access_token_key(secret),
            play_secret=secret,
            access_keys=tuple(keys.access_token_key(s) for s in ring),
            play_secrets=ring,
            signing_key=signing.load_or_create(
                access.signing_key_file or state / "keys" / "evidence-ed25519.pem"
            ),
            credentials=CredentialBox(*fernet),
            media_dir=(access.media_dir or state / "media").absolute(),
            roots_dir=(access.audit_roots_dir or state / "audit-roots").absolute(),
            live=LiveHub(dsn),
            # Searches, counts, series and latest values: read-only, so on the replica.
            apool=AsyncConnectionPool(
                api_dsn(config, replica=True),
                min_size=1,
                max_size=config.database.pool_size,
                open=False,
                kwargs={"application_name": "cityhub-api"},
                name="cityhub-api-async",
            ),
            audit=AuditBatcher(pool),
        )

    def close(self) -> None:
        self.audit.close()
        self.pool.close()
