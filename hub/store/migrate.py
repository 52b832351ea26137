"""Schema migrations with Alembic, run programmatically (``cityhub db upgrade``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy import create_engine
from sqlalchemy.engine import URL

MIGRATIONS = Path(__file__).parent / "migrations"


#: libpq keywords that are parts of a URL; any other goes into its query.
_URL_PARTS = {"user", "password", "host", "port", "dbname"}


def sqlalchemy_url(dsn: str) -> str:
    """SQLAlchemy's URL for a libpq URL or key=value DSN, using the psycopg 3 driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if dsn.startswith(prefix):
            return "postgresql+psycopg://" + dsn[len(prefix) :]
    if "=" not in dsn:
        raise ValueError("database url must start with postgresql:// or be a key=value DSN")
    info = {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
    port = info.get("port")
    url = URL.create(
        "postgresql+psycopg",
        username=info.get("user"),
        password=info.get("password"),
        host=info.get("host"),
        port=int(port) if port else None,
        database=info.get("dbname"),
        query={k: v for k, v in info.items() if k not in _URL_PARTS},
    )
    return url.render_as_string(hide_password=False)


def alembic_config(dsn: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(dsn).replace("%", "%%"))
    return cfg


def upgrade(dsn: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(dsn), revision)


def downgrade(dsn: str, revision: str) -> None:
    command.downgrade(alembic_config(dsn), revision)


def current(dsn: str) -> str | None:
    engine = create_engine(sqlalchemy_url(dsn))
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
